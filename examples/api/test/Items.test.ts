/**
 * The items API against the contract (shared API.md), in memory over a real
 * database: PGlite locally, a fresh database on Postgres in CI.
 *
 * Requests go through the typed client wherever it can express them; raw
 * requests are kept for what it cannot send (invalid values, omitted keys,
 * filters outside the query schema, malformed JSON, odd headers) and for the
 * exact problem+json bodies and headers it does not show.
 */
import { assert, describe, it } from "@effect/vitest"
import { UserId } from "@org/accounts/AccountsApi"
import * as Pagination from "@org/core/Pagination"
import { Problem } from "@org/http"
import { DateTime, Effect, Schema } from "effect"
import { HttpApiClient } from "effect/http-api"
import { Api } from "../src/client.ts"
import { Item } from "../src/domain/Item.ts"
import { type Reply, refused, serve, wireObject } from "./client.ts"

const saw = { name: "Saw", description: "Cuts wood", price: 12.5, quantity: 3, category: "tools" }

const assertProblem = (reply: Reply, status: number) => {
  assert.strictEqual(reply.status, status, reply.text)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.deepInclude(reply.body, { status })
  assert.hasAllKeys(reply.body, [
    "type",
    "title",
    "status",
    "instance",
    "requestId",
    ...Object.keys(reply.body).filter((k) => ["detail", "errors"].includes(k))
  ])
}

// The field pointers of a validation problem, read with the kit's problem schema.
const pointers = (reply: Reply): ReadonlyArray<string> =>
  (Schema.decodeUnknownSync(Problem.Body)(reply.body).errors ?? []).map((error) => error.pointer)

// A page the raw requests (filters are outside the client's query schema) get back, decoded.
const decodeItemPage = Schema.decodeUnknownSync(Pagination.Page(Item.schema))
const names = (reply: Reply): Array<string> => decodeItemPage(reply.body).items.map((item) => item.name)

const decodeGet = HttpApiClient.decodeResponse(Api, { group: "items", endpoint: "get" })
const decodeCreate = HttpApiClient.decodeResponse(Api, { group: "items", endpoint: "create" })

const itemKeys = [
  "id",
  "name",
  "description",
  "price",
  "quantity",
  "category",
  "ownerId",
  "createdAt",
  "updatedAt",
  "version"
]

describe("items API", () => {
  it.effect(
    "create, read, list, update, delete per the contract",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const [created, createdResponse] = yield* api.typed.items.create({
          payload: saw,
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(createdResponse.status, 201)
        const item = created.body
        assert.hasAllKeys(item, itemKeys)
        assert.deepInclude(item, { ...saw, version: 1, ownerId: UserId.make(api.user.id) })
        assert.match(item.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        assert.strictEqual(created.headers.location, `/api/v1/items/${item.id}`)
        // The wire: exactly these keys (a decoder would drop others), timestamps in ISO 8601 with ms.
        const wire = yield* wireObject(yield* createdResponse.text)
        assert.hasAllKeys(wire, itemKeys)
        assert.match(String(wire.createdAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

        const [fetched, fetchedResponse] = yield* api.typed.items.get({
          params: { id: item.id },
          headers: {},
          responseMode: "decoded-and-response"
        })
        assert.deepStrictEqual(fetched.body, item)
        assert.deepStrictEqual(yield* wireObject(yield* fetchedResponse.text), wire)

        // A typed client cannot leave out `description` and `category`: the contract's defaults.
        const minimal = yield* api.call("POST", "/api/v1/items", { name: "Nail", price: 0, quantity: 0 })
        assert.strictEqual(minimal.status, 201, minimal.text)
        assert.deepInclude(minimal.body, { description: null, category: null })

        const [list, listResponse] = yield* api.typed.items.list({
          query: {
            sort: [
              { field: "price", direction: "desc" },
              { field: "name", direction: "asc" }
            ],
            page: 1,
            size: 20
          },
          responseMode: "decoded-and-response"
        })
        assert.deepStrictEqual(Object.keys(yield* wireObject(yield* listResponse.text)).sort(), [
          "items",
          "page",
          "pages",
          "size",
          "total"
        ])
        assert.deepInclude(list, { page: 1, size: 20, total: 2, pages: 1 })
        assert.deepStrictEqual(
          list.items.map((i) => i.name),
          ["Saw", "Nail"]
        )

        const [patched, patchedResponse] = yield* api.typed.items.update({
          params: { id: item.id },
          headers: {},
          payload: { price: 9.99, category: null },
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(patchedResponse.status, 200)
        assert.deepInclude(patched.body, { price: 9.99, category: null, version: 2, name: "Saw" })
        assert.isAtLeast(
          DateTime.toEpochMillis(patched.body.updatedAt),
          DateTime.toEpochMillis(item.updatedAt)
        )

        const [, deleted] = yield* api.typed.items.delete({
          params: { id: item.id },
          headers: {},
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(deleted.status, 204)
        const gone = yield* refused(
          api.typed.items.get({ params: { id: item.id }, headers: {}, responseMode: "response-only" }),
          decodeGet
        )
        assert.strictEqual(gone.problem._tag, "NotFoundProblem")
        assertProblem(yield* api.call("GET", `/api/v1/items/${item.id}`), 404)
        const after = yield* api.typed.items.list({ query: {} })
        assert.strictEqual(after.total, 1)
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "the contract's list query: filters, sort with ties by id, paging",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const rows = [
          { name: "Table saw", price: 499, quantity: 1, category: "tools" },
          { name: "Hand saw", price: 25, quantity: 4, category: "tools" },
          { name: "Saw horse", price: 25, quantity: 2, category: "garden" },
          { name: "Rake", price: 15, quantity: 9, category: "garden" },
          { name: "Jigsaw", price: 89.9, quantity: 3, category: "power" },
          { name: "Sawdust", price: 5, quantity: 100, category: "tools" },
          { name: "Chainsaw", price: 300, quantity: 1, category: null }
        ]
        for (const row of rows) yield* api.typed.items.create({ payload: { ...row, description: null } })
        // Filters (`field[op]=value`) are outside the client's query schema: raw requests.
        const page = yield* api.call(
          "GET",
          "/api/v1/items?page=1&size=20&sort=-price,name&price[gte]=10&category[in]=tools,garden&name[ilike]=%25saw%25"
        )
        assert.strictEqual(page.status, 200, page.text)
        assert.deepStrictEqual(names(page), ["Table saw", "Hand saw", "Saw horse"])
        assert.deepInclude(decodeItemPage(page.body), { page: 1, size: 20, total: 3, pages: 1 })
        const none = yield* api.call("GET", "/api/v1/items?category[null]=true")
        assert.deepStrictEqual(names(none), ["Chainsaw"])
        const bare = yield* api.call("GET", "/api/v1/items?category=garden&sort=name")
        assert.deepStrictEqual(names(bare), ["Rake", "Saw horse"])
        const bad = yield* api.call("GET", "/api/v1/items?ownerSecret[eq]=1&price[gte]=ten")
        assertProblem(bad, 400)
        assert.deepStrictEqual(pointers(bad), ["/ownerSecret[eq]", "/price[gte]"])
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "rejects what the contract forbids with a 400 naming the field",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        // None of these can leave a typed client (its schemas refuse them before sending): raw.
        const bad: Array<readonly [unknown, string]> = [
          [{ ...saw, price: 12.345 }, "/price"],
          [{ ...saw, price: -0.01 }, "/price"],
          [{ ...saw, price: 1e10 }, "/price"],
          [{ ...saw, price: "Infinity" }, "/price"],
          [{ ...saw, quantity: 2_147_483_648 }, "/quantity"],
          [{ ...saw, quantity: -1 }, "/quantity"],
          [{ ...saw, name: "" }, "/name"],
          [{ ...saw, name: "   " }, "/name"],
          [{ ...saw, name: "n".repeat(201) }, "/name"],
          [{ ...saw, name: "nul\u0000byte" }, "/name"],
          [{ ...saw, name: "lone \uD800 surrogate" }, "/name"],
          [{ ...saw, description: "d".repeat(2001) }, "/description"],
          [{ ...saw, category: "c".repeat(51) }, "/category"],
          [{ ...saw, ownerId: "00000000-0000-0000-0000-000000000001" }, "/ownerId"],
          [{ ...saw, version: 5 }, "/version"],
          [{ price: 1, quantity: 1 }, "/name"]
        ]
        for (const [body, pointer] of bad) {
          const reply = yield* api.call("POST", "/api/v1/items", body)
          assertProblem(reply, 400)
          assert.include(pointers(reply), pointer, JSON.stringify(body).slice(0, 80))
        }
        const [ok, okResponse] = yield* api.typed.items.create({
          payload: { ...saw, name: "n".repeat(200), price: 9_999_999_999.99 },
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(okResponse.status, 201)
        assert.deepInclude(ok.body, { name: "n".repeat(200), price: 9_999_999_999.99 })
        assertProblem(yield* api.call("GET", "/api/v1/items?page=0"), 400)
        assertProblem(yield* api.call("GET", "/api/v1/items?size=101"), 400)
        assertProblem(yield* api.call("GET", "/api/v1/items?sort=ownerId"), 400)
        assertProblem(yield* api.call("GET", "/api/v1/items/123"), 400)
        assertProblem(yield* api.call("PATCH", `/api/v1/items/${ok.body.id}`, { name: null }), 400)
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "every response carries a request id and the security headers; unknown routes 404, wrong methods 405",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const [ready, readyResponse] = yield* api.typed.health.ready({ responseMode: "decoded-and-response" })
        const [, liveResponse] = yield* api.typed.health.live({ responseMode: "decoded-and-response" })
        const fromTyped = (response: typeof liveResponse) => ({
          status: response.status,
          header: (name: string): string | null => response.headers[name] ?? null
        })
        const fromRaw = (reply: Reply) => ({
          status: reply.status,
          header: (name: string) => reply.headers.get(name)
        })
        // A caller's request id, unknown routes, wrong methods and malformed JSON: raw.
        const replies = [
          fromTyped(liveResponse),
          fromTyped(readyResponse),
          fromRaw(yield* api.call("GET", "/api/v1/items", undefined, { "x-request-id": "caller-id.1" })),
          fromRaw(yield* api.call("GET", "/nope")),
          fromRaw(yield* api.call("PUT", "/api/v1/items")),
          fromRaw(yield* api.call("POST", "/api/v1/items", "{"))
        ]
        assert.deepStrictEqual(
          replies.map((r) => r.status),
          [200, 200, 200, 404, 405, 400]
        )
        assert.strictEqual(replies[2]!.header("x-request-id"), "caller-id.1")
        for (const reply of replies) {
          assert.match(reply.header("x-request-id") ?? "", /^[A-Za-z0-9._-]{1,128}$/)
          assert.strictEqual(reply.header("x-content-type-options"), "nosniff")
          assert.strictEqual(reply.header("x-frame-options"), "DENY")
          assert.strictEqual(
            reply.header("content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
          )
          assert.isNull(reply.header("x-powered-by"))
        }
        assert.include(replies[4]!.header("allow") ?? "", "GET")
        assert.include(replies[4]!.header("allow") ?? "", "POST")
        assert.deepInclude(ready, { status: "pass", checks: { database: { status: "pass" } } })
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "bodies over the limit get 413",
    () =>
      Effect.gen(function* () {
        const api = yield* serve({ bodyLimit: 1024 })
        const payload = { ...saw, description: "x".repeat(2000) }
        const tooLarge = yield* refused(
          api.typed.items.create({ payload, responseMode: "response-only" }),
          decodeCreate
        )
        assert.strictEqual(tooLarge.problem._tag, "PayloadTooLargeProblem")
        // The exact problem body: raw.
        assertProblem(yield* api.call("POST", "/api/v1/items", payload), 413)
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "OpenAPI 3.1 lists every route and documents its errors",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        // The document is served beside the API, not one of its endpoints: raw.
        const spec = (yield* api.call("GET", "/openapi.json")).body
        assert.match(spec.openapi, /^3\.1/)
        assert.containsAllKeys(spec.paths, [
          "/health/live",
          "/health/ready",
          "/api/v1/items",
          "/api/v1/items/{id}"
        ])
        for (const [path, operations] of Object.entries<
          Record<string, { responses: Record<string, unknown> }>
        >(spec.paths)) {
          for (const [method, operation] of Object.entries(operations)) {
            assert.containsAllKeys(operation.responses, ["400", "500"], `${method} ${path}`)
          }
        }
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "lengths count characters as the document does: 200 emoji fit a name, 201 do not",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const emoji = "\u{1F600}"
        const fits = yield* api.call("POST", "/api/v1/items", {
          name: emoji.repeat(200),
          price: 1,
          quantity: 1
        })
        assert.strictEqual(fits.status, 201, fits.text)
        assert.strictEqual([...fits.body.name].length, 200)
        const over = yield* api.call("POST", "/api/v1/items", {
          name: emoji.repeat(201),
          price: 1,
          quantity: 1
        })
        assert.strictEqual(over.status, 400, over.text)
        const spec = yield* api.call("GET", "/openapi.json", undefined, { authorization: "" })
        const text = JSON.stringify(spec.body)
        assert.include(text, '"maxLength":200')
        // a price the document allows is one the server takes, and the other way round
        assert.include(text, '"multipleOf":0.01')
        const cents = yield* api.call("POST", "/api/v1/items", {
          name: "Cents",
          price: 7875994132.13,
          quantity: 1
        })
        assert.strictEqual(cents.status, 201, cents.text)
      }).pipe(Effect.scoped),
    60_000
  )
})
