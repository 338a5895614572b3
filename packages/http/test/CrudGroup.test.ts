import { assert, describe, it } from "@effect/vitest"
import { type Repository, RepositoryMemory } from "@org/core"
import { Widget } from "@org/testing"
import { Context, Effect, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpApi, HttpApiBuilder } from "effect/http-api"
import * as fc from "fast-check"
import { CrudGroup, HttpApp } from "../src/index.ts"
import { type Reply, serve } from "./fixtures/client.ts"

class Widgets extends Context.Service<Widgets, Repository.ForEntity<typeof Widget.Widget>>()(
  "test/Widgets"
) {}

class Api extends HttpApp.api(
  HttpApi.make("crud").add(CrudGroup.make("widgets", { entity: Widget.Widget, path: "/api/widgets" }))
) {}

const app = () =>
  HttpApp.layer({
    api: Api,
    handlers: HttpApiBuilder.group(
      Api,
      "widgets",
      CrudGroup.handlers({ entity: Widget.Widget, repository: Widgets })
    ).pipe(
      Layer.provide(Layer.effect(Widgets, RepositoryMemory.make(Widget.Widget))),
      Layer.provide(SecureRandom.layerWebCrypto)
    )
  })

const saw = { name: "saw", sku: "S-1", price: 12.5, quantity: 3, active: true }
const json = (body: unknown) => ({ body: JSON.stringify(body) })

const assertProblem = (reply: Reply, status: number) => {
  assert.strictEqual(reply.status, status, reply.text)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.strictEqual(reply.body.status, status)
  assert.isString(reply.body.type)
  assert.isString(reply.body.title)
  assert.isString(reply.body.requestId)
  assert.notInclude(reply.text, "stack")
}

const failingFields = (reply: Reply): Array<string> =>
  (reply.body.errors ?? []).map((e: { readonly pointer: string }) => e.pointer)

// A service of the team's own that `toCreate` uses: given as an Effect, it is
// resolved when the handler layer is built, so it is a requirement of the
// layer, not of each request.
class Naming extends Context.Service<Naming, { readonly prefix: string }>()("test/Naming") {}

const appWithNaming = () =>
  HttpApp.layer({
    api: Api,
    handlers: HttpApiBuilder.group(
      Api,
      "widgets",
      CrudGroup.handlers({
        entity: Widget.Widget,
        repository: Widgets,
        toCreate: Effect.map(
          Naming,
          (naming) => (payload: typeof Widget.Widget.create.Type) =>
            Effect.succeed({ ...payload, name: `${naming.prefix}${payload.name}` })
        )
      })
    ).pipe(
      Layer.provide(Layer.effect(Widgets, RepositoryMemory.make(Widget.Widget))),
      Layer.provide(Layer.succeed(Naming, { prefix: "acme-" })),
      Layer.provide(SecureRandom.layerWebCrypto)
    )
  })

describe("CrudGroup", () => {
  it.effect("create: 201, Location, the stored entity (nullable fields default to null)", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const created = yield* client.call("POST", "/api/widgets", json(saw))
      assert.strictEqual(created.status, 201, created.text)
      assert.strictEqual(created.headers.get("location"), `/api/widgets/${created.body.id}`)
      assert.deepInclude(created.body, { ...saw, note: null, version: 1 })
      assert.strictEqual(created.body.createdAt, created.body.updatedAt)
      const fetched = yield* client.call("GET", `/api/widgets/${created.body.id}`)
      assert.strictEqual(fetched.status, 200)
      assert.deepStrictEqual(fetched.body, created.body)
    }).pipe(Effect.scoped)
  )

  it.effect("a service the helpers use is resolved when the handler layer is built", () =>
    Effect.gen(function* () {
      const client = yield* serve(appWithNaming())
      const created = yield* client.call("POST", "/api/widgets", json(saw))
      assert.strictEqual(created.status, 201, created.text)
      assert.strictEqual(created.body.name, "acme-saw")
    }).pipe(Effect.scoped)
  )

  it.effect("get, update, delete, and 404 afterwards; ids in upper case find the same entity", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const { body: created } = yield* client.call("POST", "/api/widgets", json(saw))
      const path = `/api/widgets/${created.id}`
      const upper = yield* client.call("GET", `/api/widgets/${String(created.id).toUpperCase()}`)
      assert.strictEqual(upper.body.id, created.id)
      const updated = yield* client.call("PATCH", path, json({ price: 10, note: "sharp" }))
      assert.strictEqual(updated.status, 200, updated.text)
      assert.deepInclude(updated.body, { price: 10, note: "sharp", version: 2, name: "saw" })
      const cleared = yield* client.call("PATCH", path, json({ note: null }))
      assert.deepInclude(cleared.body, { note: null, version: 3 })
      const deleted = yield* client.call("DELETE", path)
      assert.strictEqual(deleted.status, 204)
      assert.strictEqual(deleted.text, "")
      assertProblem(yield* client.call("GET", path), 404)
      assertProblem(yield* client.call("PATCH", path, json({ price: 1 })), 404)
      assertProblem(yield* client.call("DELETE", path), 404)
    }).pipe(Effect.scoped)
  )

  it.effect(
    "conditional requests: ETag on every read and write, 304 on a current copy, 412 on a stale write",
    () =>
      Effect.gen(function* () {
        const client = yield* serve(app())
        const created = yield* client.call("POST", "/api/widgets", json(saw))
        assert.strictEqual(created.headers.get("etag"), '"1"')
        const path = `/api/widgets/${created.body.id}`
        const read = yield* client.call("GET", path)
        assert.strictEqual(read.headers.get("etag"), '"1"')
        const notModified = yield* client.call("GET", path, { headers: { "if-none-match": '"1"' } })
        assert.strictEqual(notModified.status, 304)
        assert.strictEqual(notModified.text, "")
        assert.strictEqual(notModified.headers.get("etag"), '"1"')
        const modified = yield* client.call("GET", path, { headers: { "if-none-match": '"7"' } })
        assert.strictEqual(modified.status, 200)

        const updated = yield* client.call("PATCH", path, {
          ...json({ price: 2 }),
          headers: { "if-match": '"1"' }
        })
        assert.strictEqual(updated.status, 200, updated.text)
        assert.strictEqual(updated.headers.get("etag"), '"2"')
        const stale = yield* client.call("PATCH", path, {
          ...json({ price: 3 }),
          headers: { "if-match": '"1"' }
        })
        assertProblem(stale, 412)
        assert.strictEqual((yield* client.call("GET", path)).body.price, 2, "a stale write changed nothing")
        const weak = yield* client.call("PATCH", path, {
          ...json({ price: 3 }),
          headers: { "if-match": 'W/"2"' }
        })
        assertProblem(weak, 412)
        const either = yield* client.call("PATCH", path, {
          ...json({ price: 4 }),
          headers: { "if-match": '"1", "2"' }
        })
        assert.strictEqual(either.status, 200, either.text)
        const any = yield* client.call("PATCH", path, { ...json({ price: 5 }), headers: { "if-match": "*" } })
        assert.strictEqual(any.headers.get("etag"), '"4"')
        assertProblem(yield* client.call("DELETE", path, { headers: { "if-match": '"3"' } }), 412)
        assert.strictEqual(
          (yield* client.call("DELETE", path, { headers: { "if-match": '"4"' } })).status,
          204
        )
        assertProblem(yield* client.call("GET", path, { headers: { "if-none-match": "*" } }), 404)
      }).pipe(Effect.scoped)
  )

  it.effect("a duplicate unique field is a 409 problem", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      yield* client.call("POST", "/api/widgets", json(saw))
      const duplicate = yield* client.call("POST", "/api/widgets", json({ ...saw, name: "other" }))
      assertProblem(duplicate, 409)
      assert.include(duplicate.body.detail, "sku")
    }).pipe(Effect.scoped)
  )

  it.effect("list: page, size, multi-field sort with ties broken by id; totals and pages", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      for (let i = 0; i < 7; i++) {
        yield* client.call("POST", "/api/widgets", json({ ...saw, sku: `S-${i}`, quantity: i % 3, price: i }))
      }
      const page = yield* client.call("GET", "/api/widgets?sort=-quantity,price&page=2&size=3")
      assert.strictEqual(page.status, 200, page.text)
      assert.deepInclude(page.body, { page: 2, size: 3, total: 7, pages: 3 })
      const all = yield* client.call("GET", "/api/widgets?sort=-quantity,price&size=100")
      assert.deepStrictEqual(
        all.body.items.map((w: { readonly quantity: number; readonly price: number }) => [
          w.quantity,
          w.price
        ]),
        [
          [2, 2],
          [2, 5],
          [1, 1],
          [1, 4],
          [0, 0],
          [0, 3],
          [0, 6]
        ]
      )
      assert.deepStrictEqual(page.body.items, all.body.items.slice(3, 6))
      const beyond = yield* client.call("GET", "/api/widgets?page=9")
      assert.deepInclude(beyond.body, { items: [], total: 7, pages: 1, size: 20 })
    }).pipe(Effect.scoped)
  )

  it.effect("filters: field[op]=value, ANDed, decoded with the field's schema", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const rows = [
        { ...saw, sku: "A", name: "Saw", price: 12.5, note: "sharp" },
        { ...saw, sku: "B", name: "hacksaw", price: 8, active: false },
        { ...saw, sku: "C", name: "Hammer", price: 20, quantity: 0 },
        { ...saw, sku: "D", name: "50%_off", price: 1 }
      ]
      for (const row of rows) yield* client.call("POST", "/api/widgets", json(row))
      const skus = (reply: Reply): string =>
        reply.body.items.map((w: { readonly sku: string }) => w.sku).join(",")
      const get = (query: string) => client.call("GET", `/api/widgets?sort=sku&${query}`)
      assert.strictEqual(skus(yield* get("price[gte]=10")), "A,C")
      assert.strictEqual(skus(yield* get("price[gte]=5&price[lt]=15")), "A,B")
      assert.strictEqual(skus(yield* get("name[ilike]=%25SAW%25")), "A,B")
      assert.strictEqual(skus(yield* get("name[like]=%25saw")), "B")
      assert.strictEqual(skus(yield* get("name[like]=%25\\%25\\_%25")), "D")
      assert.strictEqual(skus(yield* get("sku[in]=A,C,Z")), "A,C")
      assert.strictEqual(skus(yield* get("price[between]=8,12.5")), "A,B", "both bounds included")
      assert.strictEqual(skus(yield* get("price[between]=12.5,8")), "", "an empty range matches nothing")
      assert.strictEqual(skus(yield* get("active=false")), "B")
      assert.strictEqual(skus(yield* get("quantity[ne]=3")), "C")
      assert.strictEqual(skus(yield* get("note[null]=true")), "B,C,D")
      assert.strictEqual(skus(yield* get("note[null]=false")), "A")
      assert.strictEqual(skus(yield* get("note[ne]=sharp")), "", "a comparison with a null value is false")
      const filtered = yield* get("price[lte]=12.5&size=1")
      assert.deepInclude(filtered.body, { total: 3, pages: 3 })
    }).pipe(Effect.scoped)
  )

  it.effect("bad filters: a 400 naming each parameter, never SQL, never a 5xx", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const cases: Array<readonly [string, string]> = [
        ["secret=1", "/secret"],
        ["price[regex]=1", "/price[regex]"],
        ["price[gte]=cheap", "/price[gte]"],
        ["quantity=1.5", "/quantity"],
        ["active=maybe", "/active"],
        ["note[null]=yes", "/note[null]"],
        ["price[like]=1%25", "/price[like]"],
        ["name[like]=a\\", "/name[like]"],
        ["createdAt[lt]=yesterday", "/createdAt[lt]"],
        ["id=not-a-uuid", "/id"],
        ["price[between]=1", "/price[between]"],
        ["price[between]=1,2,3", "/price[between]"],
        ["price[between]=1,cheap", "/price[between]"],
        ["name';DROP TABLE widgets;--=1", "/name';DROP TABLE widgets;--"]
      ]
      for (const [query, pointer] of cases) {
        const reply = yield* client.call("GET", `/api/widgets?${query}`)
        assertProblem(reply, 400)
        assert.include(failingFields(reply), pointer, query)
        // The parameter is named (it is the client's own text); no message says anything of SQL.
        for (const error of reply.body.errors)
          assert.notMatch(error.message, /select|where|drop|column|syntax/i, query)
      }
      const several = yield* client.call("GET", "/api/widgets?secret=1&price[gte]=x")
      assert.deepStrictEqual(failingFields(several), ["/secret", "/price[gte]"])
    }).pipe(Effect.scoped)
  )

  it.effect("page and size are digits only: 1e3, +1, 02, 1.0 and blanks are 400s, as the document says", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      for (const query of [
        "page=1e3",
        "page=+1",
        "page=02",
        "page=1.0",
        "page=",
        "page=%201",
        "size=0",
        "size=101"
      ]) {
        const reply = yield* client.call("GET", `/api/widgets?${query}`)
        assertProblem(reply, 400)
        assert.include(failingFields(reply), `/${query.split("=")[0]}`, query)
      }
      const ok = yield* client.call("GET", "/api/widgets?page=2&size=100")
      assert.strictEqual(ok.status, 200, ok.text)
      assert.strictEqual(ok.body.page, 2)
      const spec = yield* client.call("GET", "/openapi.json")
      const page = spec.body.paths["/api/widgets"].get.parameters.find(
        (p: { name: string }) => p.name === "page"
      )
      const pattern = new RegExp(page.schema.pattern)
      assert.isFalse(pattern.test("1e3"))
      assert.isTrue(pattern.test("1000"))
    }).pipe(Effect.scoped)
  )

  it.effect("OpenAPI lists each filterable field as a deepObject parameter with its operators", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const spec = yield* client.call("GET", "/openapi.json")
      const parameters: Array<{
        name: string
        style?: string
        schema: { properties?: Record<string, { readonly multipleOf?: number }> }
      }> = spec.body.paths["/api/widgets"].get.parameters
      const byName = new Map(parameters.map((p) => [p.name, p]))
      for (const field of Widget.Widget.filterable) assert.isTrue(byName.has(field), field)
      const price = byName.get("price")!
      assert.strictEqual(price.style, "deepObject")
      assert.includeMembers(Object.keys(price.schema.properties ?? {}), [
        "eq",
        "gte",
        "in",
        "between",
        "null"
      ])
      assert.notProperty(price.schema.properties, "like", "like is for text only")
      assert.strictEqual(price.schema.properties?.gte?.multipleOf, 0.01)
      assert.property(byName.get("name")!.schema.properties, "ilike")
      // what the document says is what the server takes
      const filtered = yield* client.call(
        "GET",
        "/api/widgets?price[gte]=1.5&name[ilike]=%25a%25&note[null]=true"
      )
      assert.strictEqual(filtered.status, 200, filtered.text)
    }).pipe(Effect.scoped)
  )

  it.effect("a bad sort, page or size does not hide the bad filters: one 400 names them all", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const reply = yield* client.call(
        "GET",
        "/api/widgets?sort=secret&page=0&size=1000&price[gte]=x&secret=1"
      )
      assertProblem(reply, 400)
      assert.sameMembers(failingFields(reply), ["/sort", "/page", "/size", "/price[gte]", "/secret"])
      assert.isTrue(reply.body.errors.every((error: { readonly in: string }) => error.in === "query"))
      // good filters add nothing to the schema's own errors
      const sortOnly = yield* client.call("GET", "/api/widgets?sort=secret&price[gte]=1")
      assert.deepStrictEqual(failingFields(sortOnly), ["/sort"])
    }).pipe(Effect.scoped)
  )

  it.effect("bad input is a 400 problem naming each field, never a 5xx", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const cases: Array<readonly [string, string, { readonly body?: string }, ReadonlyArray<string>]> = [
        ["POST", "/api/widgets", { body: '{"name":' }, [""]],
        ["POST", "/api/widgets", { body: "[]" }, [""]],
        ["POST", "/api/widgets", json({ ...saw, price: "12" }), ["/price"]],
        ["POST", "/api/widgets", json({ ...saw, price: -1, quantity: 1.5 }), ["/price", "/quantity"]],
        ["POST", "/api/widgets", json({ ...saw, admin: true }), ["/admin"]],
        ["POST", "/api/widgets", json({ ...saw, name: "x".repeat(41) }), ["/name"]],
        ["POST", "/api/widgets", json({ ...saw, name: "a\u0000b" }), ["/name"]],
        ["POST", "/api/widgets", json({ ...saw, id: "00000000-0000-4000-8000-000000000000" }), ["/id"]],
        ["GET", "/api/widgets/not-a-uuid", {}, ["/id"]],
        ["GET", "/api/widgets/00000000-0000-4000-8000-00000000000", {}, ["/id"]],
        ["GET", "/api/widgets?page=-1", {}, ["/page"]],
        ["GET", "/api/widgets?page=0&size=101", {}, ["/page", "/size"]],
        ["GET", "/api/widgets?size=abc", {}, ["/size"]],
        ["GET", "/api/widgets?sort=secret", {}, ["/sort"]],
        ["GET", "/api/widgets?sort=name,-name", {}, ["/sort"]],
        ["PATCH", "/api/widgets/00000000-0000-4000-8000-000000000000", json({ version: 9 }), ["/version"]]
      ]
      for (const [method, path, init, fields] of cases) {
        const reply = yield* client.call(method, path, init)
        assertProblem(reply, 400)
        for (const field of fields)
          assert.include(failingFields(reply), field, `${method} ${path} ${init.body}`)
      }
      const unknownSort = yield* client.call("GET", "/api/widgets?sort=secret")
      assert.include(unknownSort.text, 'unknown sort field \\"secret\\"')
    }).pipe(Effect.scoped)
  )

  it.effect("a read answers byte for byte what the schema encodes, also from its per-value body cache", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const text = (min: number, max: number) =>
        fc
          .string({ unit: fc.constantFrom(...'aZ09 -_é€😀"\\/'), minLength: min, maxLength: max })
          .filter((t) => t.trim() === t && t.trim().length > 0)
      const input = fc.record({
        name: text(1, 20),
        price: fc.integer({ min: 0, max: 10_000_000 }).map((cents) => cents / 100),
        quantity: fc.integer({ min: 0, max: 2_147_483_647 }),
        active: fc.boolean(),
        note: fc.option(text(1, 30), { nil: null })
      })
      let n = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(input, async (widget) => {
            const body = { ...widget, sku: `SKU-${n++}` }
            const created = await Effect.runPromise(client.call("POST", "/api/widgets", json(body)))
            assert.strictEqual(created.status, 201, created.text)
            // The create is encoded by the endpoint's schema; the read takes the fast path (twice: the cached body).
            for (let i = 0; i < 2; i++) {
              const read = await Effect.runPromise(client.call("GET", `/api/widgets/${created.body.id}`))
              assert.strictEqual(read.status, 200, read.text)
              assert.strictEqual(read.text, created.text)
              assert.strictEqual(read.headers.get("content-type"), created.headers.get("content-type"))
              assert.strictEqual(read.headers.get("etag"), created.headers.get("etag"))
            }
            // A change is a new value: the read answers the new body, never the remembered one.
            const patched = await Effect.runPromise(
              client.call("PATCH", `/api/widgets/${created.body.id}`, {
                ...json({ quantity: widget.quantity === 0 ? 1 : 0 }),
                headers: { "if-match": created.headers.get("etag") ?? "" }
              })
            )
            assert.strictEqual(patched.status, 200, patched.text)
            const reread = await Effect.runPromise(client.call("GET", `/api/widgets/${created.body.id}`))
            assert.strictEqual(reread.text, patched.text)
            assert.strictEqual(reread.headers.get("etag"), patched.headers.get("etag"))
          }),
          { numRuns: 100 }
        )
      )
    }).pipe(Effect.scoped)
  )

  it.effect("random bodies to create never produce a 5xx", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const body = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .record({ name: fc.string(), sku: fc.string(), price: fc.double(), quantity: fc.integer() })
          .map((v) => JSON.stringify(v)),
        fc.string()
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(body, async (text) => {
            const reply = await Effect.runPromise(client.call("POST", "/api/widgets", { body: text }))
            assert.isBelow(reply.status, 500, text)
            if (reply.status >= 400) assert.strictEqual(reply.body.status, reply.status)
          }),
          { numRuns: 200 }
        )
      )
    }).pipe(Effect.scoped)
  )

  it.effect("OpenAPI documents every route with its problems", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const spec = (yield* client.call("GET", "/openapi.json")).body
      const item = spec.paths["/api/widgets/{id}"]
      const list = spec.paths["/api/widgets"]
      assert.containsAllKeys(list, ["get", "post"])
      assert.containsAllKeys(item, ["get", "patch", "delete"])
      assert.containsAllKeys(list.post.responses, ["201", "400", "409", "500"])
      assert.containsAllKeys(item.get.responses, ["200", "400", "404", "500"])
      assert.containsAllKeys(item.patch.responses, ["200", "400", "404", "409", "412"])
      assert.property(item.get.responses["200"].headers, "etag")
      assert.includeDeepMembers(
        item.patch.parameters.map((p: { readonly name: string; readonly in: string }) => [p.in, p.name]),
        [["header", "if-match"]]
      )
      assert.property(item.patch.responses["404"].content, "application/problem+json")
    }).pipe(Effect.scoped)
  )
})

describe("CrudGroup.SortParam", () => {
  const fields = ["name", "price", "createdAt"] as const
  const Sort = CrudGroup.SortParam(fields)
  it("decodes what it encodes, for any sort over the allowed fields", () => {
    const key = fc.record({ field: fc.constantFrom(...fields), direction: fc.constantFrom("asc", "desc") })
    fc.assert(
      fc.property(fc.uniqueArray(key, { selector: (k) => k.field }), (keys) => {
        const text = Schema.encodeSync(Sort)(keys)
        assert.deepStrictEqual(Schema.decodeSync(Sort)(text), keys)
      })
    )
  })
  it("refuses fields outside the allow-list, whatever they contain", () => {
    fc.assert(
      fc.property(fc.string(), (field) => {
        fc.pre(
          field !== "" &&
            !(fields as ReadonlyArray<string>).includes(field.replace(/^-/, "").trim()) &&
            !field.includes(",")
        )
        assert.throws(() => Schema.decodeUnknownSync(Sort)(field))
      })
    )
  })
})
