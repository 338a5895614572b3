/**
 * Hostile input at every route the OpenAPI document lists (generated routes
 * included): random path segments, query strings, headers and bodies, well
 * formed and not, sent as nobody, with a forged token, as a user or as an
 * admin. Whatever arrives, the answer is never a 5xx; every refusal is a
 * problem (`application/problem+json`, `status` equal to the HTTP status, a
 * `type`, a `title` and the request id), with no stack frame or SQL error in
 * it; and the security headers are on every response. Twice: with the
 * in-memory stores, and with the stores in Redis.
 */
import { assert, describe, it } from "@effect/vitest"
import { IoRedis } from "@org/redis"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as RedisEnv from "../../../packages/redis/test/env.ts"
import * as Stores from "../src/server/Stores.ts"
import { type AppOptions, admin, password, type Reply, type Session, serve } from "./client.ts"

interface Operation {
  readonly method: string
  readonly path: string
  readonly query: ReadonlyArray<string>
  readonly body: boolean
}

// What the document says of each operation: enough to aim the input at it.
const operationsOf = (document: {
  readonly paths: Record<
    string,
    Record<
      string,
      {
        readonly parameters?: ReadonlyArray<{ readonly in: string; readonly name: string }>
        requestBody?: unknown
      }
    >
  >
}): ReadonlyArray<Operation> =>
  Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      query: (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
      body: operation.requestBody !== undefined
    }))
  )

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 40
})
const anyText = fc.string({ unit: "binary", maxLength: 60 })

// Values a field might be given: right-looking, wrong-typed, hostile.
const scalar = fc.oneof(
  anyText,
  fc.constantFrom("", " ", "0", "-1", "1e400", "NaN", "true", "null", "12.345", "2026-13-45T99:00:00Z"),
  fc.constantFrom(
    "'; DROP TABLE items; --",
    "%",
    "_",
    "\\",
    "\u0000",
    "$1",
    "::text",
    "{{x}}",
    "a".repeat(5000)
  ),
  fc.uuid().map(String),
  fc.double().map(String),
  fc.integer().map(String)
)

const fieldNames = [
  "email",
  "password",
  "name",
  "refresh_token",
  "mfa_token",
  "code",
  "current_password",
  "new_password",
  "roles",
  "description",
  "price",
  "quantity",
  "category",
  "ownerId",
  "id",
  "version",
  "__proto__",
  "constructor"
]

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  scalar,
  fc.array(scalar, { maxLength: 4 }),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, 0.005, 12.5)
)

// Close to what the API takes, so some requests get past validation.
const nearlyRight = fc
  .oneof(
    fc.record(
      {
        name: fc.string({ minLength: 1, maxLength: 30 }),
        price: fc.integer({ min: 0, max: 100_000 }).map((cents) => cents / 100),
        quantity: fc.nat(),
        description: fc.option(fc.string({ maxLength: 30 })),
        category: fc.option(fc.string({ maxLength: 10 }))
      },
      { requiredKeys: ["name", "price", "quantity"] }
    ),
    fc.record({ email: fc.emailAddress(), password: fc.string({ minLength: 10, maxLength: 30 }) }),
    fc.record({ code: fc.stringMatching(/^[0-9]{6}$/) }),
    fc.record({ roles: fc.subarray(["user", "admin", "auditor"]) })
  )
  .map((object) => JSON.stringify(object))

const body = fc.oneof(
  nearlyRight,
  // an object around the fields the API knows, with values of any type
  fc
    .dictionary(fc.oneof(fc.constantFrom(...fieldNames), printable), jsonish, { maxKeys: 6 })
    .map((object) => JSON.stringify(object)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.constantFrom(
    "",
    "{",
    "[",
    '"',
    "nul",
    "{}",
    "[]",
    "null",
    '{"a":1,"a":2}',
    '{"__proto__":{"roles":["admin"]}}',
    `${"[".repeat(5000)}${"]".repeat(5000)}`,
    '{"price":1e400}',
    "\uFEFF{}"
  )
)

const validOperators = ["eq", "ne", "lt", "lte", "gt", "gte", "in", "like", "ilike", "null"]
const operators = [...validOperators, "between", "", "EQ", "0"]

// A query the list endpoints may well accept: paging, sorting and filters on
// the fields the document names, with values near the field's type. This is
// what reaches the database.
const plausibleQuery = (names: ReadonlyArray<string>) => {
  const fields = names.filter((name) => !["page", "size", "sort"].includes(name))
  const value = fc.oneof(
    fc.integer({ min: -5, max: 1000 }).map(String),
    fc.constantFrom("12.5", "0", "true", "false", "%saw%", "_", "a,b", "2026-01-01T00:00:00Z", "2026-01-01"),
    fc.uuid().map(String),
    fc.string({ maxLength: 8 })
  )
  const pair = fc.oneof(
    fc.integer({ min: 1, max: 6 }).map((page): [string, string] => ["page", String(page)]),
    fc.integer({ min: 1, max: 100 }).map((size): [string, string] => ["size", String(size)]),
    fields.length === 0
      ? fc.constant<[string, string]>(["page", "1"])
      : fc
          .subarray(
            fields.flatMap((field) => [field, `-${field}`]),
            { minLength: 1, maxLength: 3 }
          )
          .map((sorted): [string, string] => ["sort", sorted.join(",")]),
    fields.length === 0
      ? fc.constant<[string, string]>(["size", "5"])
      : fc
          .tuple(fc.constantFrom(...fields), fc.constantFrom(...validOperators), value)
          .map(([field, op, v]): [string, string] => [`${field}[${op}]`, v])
  )
  return fc.uniqueArray(pair, { maxLength: 4, selector: ([key]) => key }).map((pairs) => {
    const text = new URLSearchParams(pairs).toString()
    return text === "" ? "" : `?${text}`
  })
}

const hostileQuery = (names: ReadonlyArray<string>) =>
  fc
    .tuple(
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(...names, "page", "size", "sort"),
            fc
              .tuple(fc.constantFrom(...names, "password_hash", "x"), fc.constantFrom(...operators))
              .map(([name, op]) => `${name}[${op}]`),
            printable
          ),
          fc.oneof(scalar, fc.constantFrom("-price,name", "name,-", "-", ",", "1,2,3", "true,false"))
        ),
        { maxLength: 4 }
      ),
      // and sometimes what no encoder would produce
      fc.constantFrom("", "", "", "&%ZZ=1", "&a[b][c]=1", "&[=]", "&page=1&page=2", "&%00=%00", "&size=%FF")
    )
    .map(([pairs, raw]) => {
      const encoded = new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, v])).toString()
      const text = `${encoded}${raw}`.replace(/^&/, "")
      return text === "" ? "" : `?${text}`
    })

const query = (names: ReadonlyArray<string>) =>
  fc.oneof({ arbitrary: plausibleQuery(names), weight: 2 }, { arbitrary: hostileQuery(names), weight: 1 })

const segment = (known: fc.Arbitrary<string>) =>
  fc.oneof(
    known,
    fc.uuid().map(String),
    anyText.map(encodeURIComponent),
    fc.constantFrom(
      "%ZZ",
      "%",
      "..",
      "%2e%2e",
      "a%2Fb",
      "%00",
      "x".repeat(300),
      "00000000-0000-0000-0000-000000000000"
    )
  )

const contentTypes = [
  "application/json",
  "application/json; charset=utf-8",
  "application/merge-patch+json",
  "application/json; charset=latin1",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "json"
]

// 400 requests at the app built with `options`, checking every answer.
const attack = (options: AppOptions = {}) =>
  Effect.gen(function* () {
    const api = yield* serve(options)
    const document = (yield* api.call("GET", "/openapi.json", undefined, { authorization: "" })).body
    const operations = operationsOf(document)
    assert.isAtLeast(operations.length, 20)
    // Who calls: nobody, the user, the admin, or a forged or misplaced credential.
    // A logout, an admin's roles change or delete can end the user's or the
    // admin's session or take the user's rights; after such a call both
    // sign in again and the user gets its role back, so the rest of the run
    // still reaches past authentication and authorization.
    const sessions = { user: api.user, boss: yield* api.login(admin.email, admin.password) }
    const renew = Effect.gen(function* () {
      const me = (session: Session) => api.call("GET", "/api/v1/auth/me", undefined, session.auth)
      if ((yield* me(sessions.boss)).status !== 200) {
        sessions.boss = yield* api.login(admin.email, admin.password)
      }
      const user = yield* me(sessions.user)
      if (user.status !== 200) {
        const login = { email: sessions.user.email, password }
        const gone = (yield* api.call("POST", "/api/v1/auth/login", login)).status !== 200
        sessions.user = gone ? yield* api.signUp() : yield* api.login(login.email, login.password)
      } else if (JSON.stringify(user.body.roles) !== '["user"]') {
        const path = `/api/v1/users/${sessions.user.id}/roles`
        const restored = yield* api.call("PUT", path, { roles: ["user"] }, sessions.boss.auth)
        assert.strictEqual(restored.status, 200, restored.text)
        sessions.user = yield* api.login(sessions.user.email, password)
      }
    })
    const credentials: Record<string, () => string> = {
      none: () => "",
      user: () => sessions.user.auth.authorization!,
      admin: () => sessions.boss.auth.authorization!,
      forged: () => "Bearer x.y.z",
      empty: () => "Bearer ",
      basic: () => "Basic YTpi",
      refreshAsAccess: () => `Bearer ${sessions.user.refresh}`
    }
    const created = yield* api.call("POST", "/api/v1/items", { name: "Saw", price: 12.5, quantity: 3 })
    assert.strictEqual(created.status, 201, created.text)
    // ids that exist: the item's and the user's (the admin's own is left out:
    // a random roles change would demote it)
    const known = fc.oneof(
      fc.constant(created.body.id as string),
      fc.constant(null).map(() => sessions.user.id)
    )
    const request = fc.constantFrom(...operations).chain((operation) =>
      fc.record({
        operation: fc.constant(operation),
        path: fc
          .array(segment(known), {
            minLength: operation.path.split("{").length - 1,
            maxLength: operation.path.split("{").length - 1
          })
          .map((values) => {
            let i = 0
            return operation.path.replace(/\{[^}]+\}/g, () => values[i++]!)
          }),
        query: query(operation.query),
        body: operation.body || operation.method !== "GET" ? fc.option(body) : fc.constant(null),
        headers: fc.record(
          {
            authorization: fc.oneof(
              { arbitrary: fc.constantFrom("user", "admin"), weight: 5 },
              { arbitrary: fc.constantFrom(...Object.keys(credentials)), weight: 2 }
            ),
            "content-type": fc.oneof(
              { arbitrary: fc.constant("application/json"), weight: 4 },
              { arbitrary: fc.constantFrom(...contentTypes), weight: 1 }
            ),
            "if-match": fc.oneof(printable, fc.constantFrom('"1"', "*", 'W/"1"', '"1", "2"')),
            "if-none-match": fc.oneof(printable, fc.constantFrom('"1"', "*")),
            "idempotency-key": printable,
            "x-request-id": printable,
            "x-captcha-token": printable
          },
          { requiredKeys: ["authorization"] }
        )
      })
    )
    const touchesSessions = new Set([
      "/api/v1/auth/logout",
      "/api/v1/auth/password",
      "/api/v1/users/{id}",
      "/api/v1/users/{id}/roles"
    ])
    let sent = 0
    const statuses = new Map<number, number>()
    const check = (input: typeof request extends fc.Arbitrary<infer A> ? A : never) =>
      Effect.gen(function* () {
        const { operation, path, query, body, headers } = input
        const sentHeaders = { ...headers, authorization: credentials[headers.authorization]!() }
        const reply: Reply = yield* api.call(
          operation.method,
          `${path}${query}`,
          body ?? undefined,
          sentHeaders
        )
        sent++
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
        const what = `${operation.method} ${path}${query} -> ${reply.status} ${reply.text.slice(0, 300)}`
        assert.isBelow(reply.status, 500, what)
        assert.strictEqual(reply.headers.get("x-content-type-options"), "nosniff", what)
        assert.strictEqual(reply.headers.get("x-frame-options"), "DENY", what)
        assert.match(reply.headers.get("x-request-id") ?? "", /^[A-Za-z0-9._-]{1,128}$/, what)
        assert.isNull(reply.headers.get("x-powered-by"), what)
        // no stack frame, no module path, no database error, whatever was sent
        assert.notMatch(
          reply.text,
          /\bat \S+ \(|node_modules|SqlError|syntax error at or near|relation "/,
          what
        )
        if (reply.status >= 400) {
          assert.match(reply.headers.get("content-type") ?? "", /^application\/problem\+json/, what)
          assert.strictEqual(reply.body?.status, reply.status, what)
          assert.isString(reply.body?.type, what)
          assert.isString(reply.body?.title, what)
          assert.strictEqual(reply.body?.requestId, reply.headers.get("x-request-id"), what)
        }
        if (touchesSessions.has(operation.path)) yield* renew
      })
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(request, (input) => Effect.runPromise(check(input))),
        { numRuns: 400, endOnFailure: true }
      )
    )
    assert.isAtLeast(sent, 400)
    // the input reached past the edge: refusals of several kinds and some successes
    const seen = [...statuses.keys()]
    assert.includeMembers(seen, [400, 401, 403, 404, 415])
    assert.isTrue(
      seen.some((status) => status < 300),
      `no success among ${JSON.stringify([...statuses])}`
    )
  }).pipe(Effect.scoped)

const invariants =
  "is never a 5xx; every refusal is a problem naming its status, with no stack or SQL; security headers on all"

describe("hostile input at every route", () => {
  it.effect(invariants, () => attack(), 120_000)
})

// The same with the cache, rate limits, idempotency records and revocations
// in Redis, as the example runs when REDIS_URL is set.
describe.skipIf(RedisEnv.skipRedis)("hostile input at every route, stores in Redis", () => {
  it.live(
    invariants,
    () => attack({ stores: Stores.layerRedisFrom(IoRedis.layer({ url: RedisEnv.url })) }),
    120_000
  )
})
