/**
 * The OpenAPI document tells the truth (issue 12): real responses of every
 * route, successes and problems, validated against `/openapi.json` with a
 * JSON Schema validator nobody here wrote (ajv, draft 2020-12); every
 * operation of the document is exercised at least once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Ajv2020 } from "ajv/dist/2020.js"
import { Effect } from "effect"
import { admin, password, type Reply, serve } from "./client.ts"

type Operation = {
  readonly responses: Record<string, { readonly content?: Record<string, { schema?: unknown }> }>
}

const escapeSegment = (segment: string) => segment.replaceAll("~", "~0").replaceAll("/", "~1")

describe("the OpenAPI document and the server agree", () => {
  it.effect(
    "every operation's real responses validate against its documented schema",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const document = (yield* api.call("GET", "/openapi.json", undefined, { authorization: "" })).body
        const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })
        ajv.addSchema(document, "openapi")
        const paths: Record<string, Record<string, Operation>> = document.paths
        const seen = new Set<string>()
        let validated = 0

        // Finds the documented operation of a concrete path and validates the reply.
        const check = (method: string, path: string, reply: Reply) => {
          const template = Object.keys(paths).find((candidate) =>
            new RegExp(`^${candidate.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path.split("?")[0]!)
          )
          assert.isDefined(template, `${method} ${path} is not in the document`)
          const operation = paths[template!]![method.toLowerCase()]
          assert.isDefined(operation, `${method} ${template} is not in the document`)
          seen.add(`${method.toLowerCase()} ${template}`)
          const status = String(reply.status)
          const response = operation!.responses[status] ?? operation!.responses.default
          assert.isDefined(response, `${method} ${template}: status ${status} is not documented`)
          const contentType = (reply.headers.get("content-type") ?? "").split(";")[0]!.trim()
          if (reply.text === "") {
            assert.isTrue(
              response!.content === undefined ||
                Object.keys(response!.content).length === 0 ||
                status === "304",
              `${method} ${template} ${status}: an empty body where the document promises one`
            )
            return
          }
          const media = response!.content?.[contentType]
          assert.isDefined(media, `${method} ${template} ${status}: ${contentType} is not documented`)
          const pointer = [
            "paths",
            template!,
            method.toLowerCase(),
            "responses",
            status in operation!.responses ? status : "default",
            "content",
            contentType,
            "schema"
          ]
            .map(escapeSegment)
            .join("/")
          const validate = ajv.getSchema(`openapi#/${pointer}`)
          assert.isDefined(validate, pointer)
          const valid = validate!(reply.body)
          validated++
          assert.isTrue(
            valid === true,
            `${method} ${template} ${status}: ${JSON.stringify(validate!.errors)} in ${reply.text.slice(0, 300)}`
          )
        }
        const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
          Effect.tap(api.call(method, path, body, headers), (reply) =>
            Effect.sync(() => check(method, path, reply))
          )
        const anonymous = { authorization: "" }

        // health, keys
        yield* call("GET", "/health/live", undefined, anonymous)
        yield* call("GET", "/health/ready", undefined, anonymous)
        yield* call("GET", "/.well-known/jwks.json", undefined, anonymous)
        // auth: register (201, 409, 400), login (200, 401), refresh, me
        const email = `conformance-${Date.now()}@example.test`
        yield* call("POST", "/api/v1/auth/register", { email, password }, anonymous)
        yield* call("POST", "/api/v1/auth/register", { email, password }, anonymous)
        yield* call("POST", "/api/v1/auth/register", { email: "not-an-email", password: "x" }, anonymous)
        const login = yield* call("POST", "/api/v1/auth/login", { email, password }, anonymous)
        yield* call(
          "POST",
          "/api/v1/auth/login",
          { email, password: "wrong password, long enough" },
          anonymous
        )
        const refreshed = yield* call(
          "POST",
          "/api/v1/auth/refresh",
          { refresh_token: login.body.refresh_token },
          anonymous
        )
        const auth = { authorization: `Bearer ${refreshed.body.access_token}` }
        yield* call("POST", "/api/v1/auth/refresh", { refresh_token: "spent-or-forged" }, anonymous)
        yield* call("GET", "/api/v1/auth/me", undefined, auth)
        yield* call("GET", "/api/v1/auth/me", undefined, anonymous)
        // MFA: enroll, confirm with a wrong code, verify with a forged challenge, disable with a wrong code
        yield* call("POST", "/api/v1/auth/mfa/enroll", undefined, auth)
        yield* call("POST", "/api/v1/auth/mfa/confirm", { code: "000000" }, auth)
        yield* call("POST", "/api/v1/auth/mfa/verify", { mfa_token: "forged", code: "000000" }, anonymous)
        yield* call("POST", "/api/v1/auth/mfa/disable", { code: "000000" }, auth)
        // items: create, list (with filters), get (200, 304 is bodiless, 404), update, delete
        const created = yield* call("POST", "/api/v1/items", { name: "Saw", price: 12.5, quantity: 3 }, auth)
        const id = created.body.id as string
        yield* call("POST", "/api/v1/items", { name: "", price: -1 }, auth)
        yield* call("GET", "/api/v1/items?page=1&size=10&sort=-price&price[gte]=1", undefined, auth)
        yield* call("GET", "/api/v1/items?price[regex]=1", undefined, auth)
        yield* call("GET", `/api/v1/items/${id}`, undefined, auth)
        yield* call("GET", "/api/v1/items/00000000-0000-7000-8000-000000000000", undefined, auth)
        yield* call("PATCH", `/api/v1/items/${id}`, { quantity: 4 }, { ...auth, "if-match": '"1"' })
        yield* call("PATCH", `/api/v1/items/${id}`, { quantity: 5 }, { ...auth, "if-match": '"1"' })
        yield* call("DELETE", `/api/v1/items/${id}`, undefined, auth)
        // @org/cli:conformance (`pnpm gen entity` adds the calls of each generated entity above this line)
        // users (admin only: a 403 for a user), password, logout
        yield* call("GET", "/api/v1/users", undefined, auth)
        // the audit log: a user's 403, an admin's page (the item's events, delivered by now or not) and a 400
        yield* call("GET", "/api/v1/audit", undefined, auth)
        const boss = yield* call(
          "POST",
          "/api/v1/auth/login",
          { email: admin.email, password: admin.password },
          anonymous
        )
        const bossAuth = { authorization: `Bearer ${boss.body.access_token}` }
        yield* call("GET", `/api/v1/audit?aggregateId=${id}`, undefined, bossAuth)
        yield* call("GET", "/api/v1/audit?page=0", undefined, bossAuth)
        yield* call("PUT", `/api/v1/users/${created.body.ownerId}/roles`, { roles: ["admin"] }, auth)
        yield* call("DELETE", `/api/v1/users/${created.body.ownerId}`, undefined, auth)
        yield* call(
          "POST",
          "/api/v1/auth/password",
          { current_password: "wrong one, long enough", new_password: password },
          auth
        )
        yield* call("POST", "/api/v1/auth/logout", undefined, auth)

        const documented = Object.entries(paths).flatMap(([path, operations]) =>
          Object.keys(operations)
            .filter((method) => ["get", "post", "put", "patch", "delete"].includes(method))
            .map((method) => `${method} ${path}`)
        )
        const missed = documented.filter((operation) => !seen.has(operation))
        assert.deepStrictEqual(
          document.servers.map((server: { url: string; "x-internal": boolean }) => [
            server.url,
            server["x-internal"]
          ]),
          [["/", false]]
        )
        const unsummarised = Object.entries(paths).flatMap(([path, operations]) =>
          Object.entries(operations)
            .filter(([, operation]) => typeof (operation as { summary?: unknown }).summary !== "string")
            .map(([method]) => `${method} ${path}`)
        )
        assert.deepStrictEqual(unsummarised, [], "operations without a summary")
        assert.deepStrictEqual(missed, [], "operations no request exercised")
        assert.isAtLeast(validated, 25, "bodies validated")
        // The validator is not vacuous: an item without its fields, or a problem with a
        // status that is not a number, is refused by the same schemas.
        const item = ajv.getSchema(
          `openapi#/${["paths", "/api/v1/items/{id}", "get", "responses", "200", "content", "application/json", "schema"].map(escapeSegment).join("/")}`
        )!
        assert.isFalse(item({ id: "x" }))
        const problem = ajv.getSchema(
          `openapi#/${["paths", "/api/v1/items/{id}", "get", "responses", "404", "content", "application/problem+json", "schema"].map(escapeSegment).join("/")}`
        )!
        assert.isFalse(problem({ type: "/docs/problems#not-found", title: "Not Found", status: "404" }))
      }).pipe(Effect.scoped),
    60_000
  )
})
