/**
 * The items API against the contract (shared API.md), in memory over a real
 * database: PGlite locally, a fresh database on Postgres in CI.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Reply, serve } from "./client.ts"

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

const pointers = (reply: Reply): Array<string> =>
  (reply.body.errors ?? []).map((e: { readonly pointer: string }) => e.pointer)

describe("items API", () => {
  it.effect(
    "create, read, list, update, delete per the contract",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const created = yield* api.call("POST", "/api/v1/items", saw)
        assert.strictEqual(created.status, 201, created.text)
        const item = created.body
        assert.hasAllKeys(item, [
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
        ])
        assert.deepInclude(item, { ...saw, version: 1, ownerId: api.user.id })
        assert.match(item.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        assert.match(item.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        assert.strictEqual(created.headers.get("location"), `/api/v1/items/${item.id}`)

        const fetched = yield* api.call("GET", `/api/v1/items/${item.id}`)
        assert.deepStrictEqual(fetched.body, item)

        const minimal = yield* api.call("POST", "/api/v1/items", { name: "Nail", price: 0, quantity: 0 })
        assert.deepInclude(minimal.body, { description: null, category: null })

        const list = yield* api.call("GET", "/api/v1/items?sort=-price,name&page=1&size=20")
        assert.deepStrictEqual(Object.keys(list.body).sort(), ["items", "page", "pages", "size", "total"])
        assert.deepInclude(list.body, { page: 1, size: 20, total: 2, pages: 1 })
        assert.deepStrictEqual(
          list.body.items.map((i: { readonly name: string }) => i.name),
          ["Saw", "Nail"]
        )

        const patched = yield* api.call("PATCH", `/api/v1/items/${item.id}`, { price: 9.99, category: null })
        assert.strictEqual(patched.status, 200, patched.text)
        assert.deepInclude(patched.body, { price: 9.99, category: null, version: 2, name: "Saw" })
        assert.isAbove(Date.parse(patched.body.updatedAt), Date.parse(item.updatedAt) - 1)

        const deleted = yield* api.call("DELETE", `/api/v1/items/${item.id}`)
        assert.strictEqual(deleted.status, 204)
        assertProblem(yield* api.call("GET", `/api/v1/items/${item.id}`), 404)
        const after = yield* api.call("GET", "/api/v1/items")
        assert.deepInclude(after.body, { total: 1 })
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
          { name: "Chainsaw", price: 300, quantity: 1 }
        ]
        for (const row of rows) yield* api.call("POST", "/api/v1/items", row)
        const page = yield* api.call(
          "GET",
          "/api/v1/items?page=1&size=20&sort=-price,name&price[gte]=10&category[in]=tools,garden&name[ilike]=%25saw%25"
        )
        assert.strictEqual(page.status, 200, page.text)
        assert.deepStrictEqual(
          page.body.items.map((i: { readonly name: string }) => i.name),
          ["Table saw", "Hand saw", "Saw horse"]
        )
        assert.deepInclude(page.body, { page: 1, size: 20, total: 3, pages: 1 })
        const none = yield* api.call("GET", "/api/v1/items?category[null]=true")
        assert.deepStrictEqual(
          none.body.items.map((i: { readonly name: string }) => i.name),
          ["Chainsaw"]
        )
        const bare = yield* api.call("GET", "/api/v1/items?category=garden&sort=name")
        assert.deepStrictEqual(
          bare.body.items.map((i: { readonly name: string }) => i.name),
          ["Rake", "Saw horse"]
        )
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
        const ok = yield* api.call("POST", "/api/v1/items", {
          ...saw,
          name: "n".repeat(200),
          price: 9_999_999_999.99
        })
        assert.strictEqual(ok.status, 201, ok.text)
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
        const replies = [
          yield* api.call("GET", "/health/live"),
          yield* api.call("GET", "/health/ready"),
          yield* api.call("GET", "/api/v1/items", undefined, { "x-request-id": "caller-id.1" }),
          yield* api.call("GET", "/nope"),
          yield* api.call("PUT", "/api/v1/items"),
          yield* api.call("POST", "/api/v1/items", "{")
        ]
        assert.deepStrictEqual(
          replies.map((r) => r.status),
          [200, 200, 200, 404, 405, 400]
        )
        assert.strictEqual(replies[2]!.headers.get("x-request-id"), "caller-id.1")
        for (const reply of replies) {
          assert.match(reply.headers.get("x-request-id") ?? "", /^[A-Za-z0-9._-]{1,128}$/)
          assert.strictEqual(reply.headers.get("x-content-type-options"), "nosniff")
          assert.strictEqual(reply.headers.get("x-frame-options"), "DENY")
          assert.strictEqual(
            reply.headers.get("content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
          )
          assert.isNull(reply.headers.get("x-powered-by"))
        }
        assert.include(replies[4]!.headers.get("allow") ?? "", "GET")
        assert.include(replies[4]!.headers.get("allow") ?? "", "POST")
        assert.deepInclude(replies[1]!.body, { status: "pass", checks: { database: { status: "pass" } } })
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "bodies over the limit get 413",
    () =>
      Effect.gen(function* () {
        const api = yield* serve({ bodyLimit: 1024 })
        const reply = yield* api.call("POST", "/api/v1/items", { ...saw, description: "x".repeat(2000) })
        assertProblem(reply, 413)
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "OpenAPI 3.1 lists every route and documents its errors",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
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
})
