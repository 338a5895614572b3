import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Deprecation, HttpApp, Problem } from "../src/index.ts"
import { serve } from "./fixtures/client.ts"

const Thing = Schema.Struct({ id: Schema.String })

// v1 is deprecated as a whole (group), v2 replaces it; one v2 endpoint is itself on its way out.
class V1 extends HttpApiGroup.make("thingsV1")
  .add(
    HttpApiEndpoint.get("get", "/api/v1/things/:id", {
      params: { id: Schema.String },
      success: Thing,
      error: Problem.NotFound
    })
  )
  .annotateEndpointsMerge(
    Deprecation.annotation({
      since: "2026-01-01T00:00:00Z",
      sunset: "2026-12-31T23:59:59Z",
      successor: "/api/v2/things"
    })
  ) {}

class V2 extends HttpApiGroup.make("thingsV2")
  .add(
    HttpApiEndpoint.get("get", "/api/v2/things/:id", {
      params: { id: Schema.String },
      success: Thing,
      error: Problem.NotFound
    })
  )
  .add(
    HttpApiEndpoint.get("legacy", "/api/v2/legacy", { success: Thing }).annotateMerge(
      Deprecation.annotation({ sunset: new Date(Date.UTC(2027, 5, 30)) })
    )
  ) {}

class Api extends HttpApp.api(HttpApi.make("deprecation").add(V1).add(V2)) {}

const find = (id: string) =>
  id === "1" ? Effect.succeed({ id }) : Effect.fail(new Problem.NotFound({ detail: `no thing ${id}` }))

const App = HttpApp.layer({
  api: Api,
  handlers: Layer.mergeAll(
    HttpApiBuilder.group(Api, "thingsV1", (h) => h.handle("get", ({ params }) => find(params.id))),
    HttpApiBuilder.group(Api, "thingsV2", (h) =>
      h.handle("get", ({ params }) => find(params.id)).handle("legacy", () => Effect.succeed({ id: "old" }))
    )
  ),
  middlewares: [Deprecation.middleware(Api)]
})

const v1Headers = {
  deprecation: "@1767225600",
  sunset: "Thu, 31 Dec 2026 23:59:59 GMT",
  link: '</api/v2/things>; rel="successor-version"'
}

const deprecationHeaders = (headers: Headers) => ({
  deprecation: headers.get("deprecation"),
  sunset: headers.get("sunset"),
  link: headers.get("link")
})

describe("Deprecation", () => {
  it.effect("a deprecated endpoint's success carries Deprecation, Sunset and the successor Link", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      const reply = yield* client.call("GET", "/api/v1/things/1")
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(deprecationHeaders(reply.headers), v1Headers)
    }).pipe(Effect.scoped)
  )

  it.effect("so do its errors: a declared 404 and a decoding 400's neighbour, HEAD too", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      const missing = yield* client.call("GET", "/api/v1/things/2")
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.headers.get("content-type"), "application/problem+json")
      assert.deepStrictEqual(deprecationHeaders(missing.headers), v1Headers)
      const head = yield* client.call("HEAD", "/api/v1/things/1")
      assert.deepStrictEqual(deprecationHeaders(head.headers), v1Headers)
    }).pipe(Effect.scoped)
  )

  it.effect("without `since`, Deprecation is the time of the response; no Link without a successor", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      // The web handler runs on the real clock: deprecated as of that response.
      const before = Math.floor(Date.now() / 1000)
      const reply = yield* client.call("GET", "/api/v2/legacy")
      const after = Math.floor(Date.now() / 1000)
      assert.strictEqual(reply.status, 200)
      const seconds = Number(/^@(\d+)$/.exec(reply.headers.get("deprecation") ?? "")?.[1])
      assert.isAtLeast(seconds, before)
      assert.isAtMost(seconds, after)
      assert.strictEqual(reply.headers.get("sunset"), "Wed, 30 Jun 2027 00:00:00 GMT")
      assert.isNull(reply.headers.get("link"))
    }).pipe(Effect.scoped)
  )

  it.effect("other endpoints and unknown routes carry none", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      for (const path of ["/api/v2/things/1", "/api/v2/things/2", "/api/v1/nothing"]) {
        const reply = yield* client.call("GET", path)
        assert.deepStrictEqual(
          deprecationHeaders(reply.headers),
          { deprecation: null, sunset: null, link: null },
          path
        )
      }
      const wrongMethod = yield* client.call("DELETE", "/api/v1/things/1")
      assert.strictEqual(wrongMethod.status, 405)
      assert.isNull(wrongMethod.headers.get("deprecation"))
    }).pipe(Effect.scoped)
  )

  it("OpenAPI marks the operations deprecated and names the sunset", () => {
    const spec = OpenApi.fromApi(Api)
    const v1 = spec.paths["/api/v1/things/{id}"]?.get
    assert.strictEqual(v1?.deprecated, true)
    assert.deepInclude(Object.fromEntries(Object.entries(v1 ?? {})), {
      "x-sunset": "2026-12-31T23:59:59.000Z",
      "x-successor-version": "/api/v2/things"
    })
    const legacy = spec.paths["/api/v2/legacy"]?.get
    assert.strictEqual(legacy?.deprecated, true)
    assert.deepInclude(Object.fromEntries(Object.entries(legacy ?? {})), {
      "x-sunset": "2027-06-30T00:00:00.000Z"
    })
    const v2 = spec.paths["/api/v2/things/{id}"]?.get
    assert.isUndefined(v2?.deprecated)
    assert.notProperty(v2, "x-sunset")
  })

  it("headers follows RFC 9745 and RFC 8594", () => {
    const info = Deprecation.info({ since: 1_700_000_000_500, sunset: "2030-01-01" })
    assert.deepStrictEqual(Deprecation.headers(info, 0), {
      deprecation: "@1700000000",
      sunset: "Tue, 01 Jan 2030 00:00:00 GMT"
    })
  })
})
