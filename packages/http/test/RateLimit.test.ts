import { assert, describe, it } from "@effect/vitest"
import { RateLimiter } from "@org/core"
import { Duration, Effect, Layer, Logger, Schema } from "effect"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { HttpApp, Problem, RateLimit } from "../src/index.ts"
import { type Reply, serve } from "./fixtures/client.ts"

class Api extends HttpApp.api(
  HttpApi.make("limited")
    .add(
      HttpApiGroup.make("things").add(
        HttpApiEndpoint.get("list", "/things", { success: Schema.Array(Schema.String) }),
        HttpApiEndpoint.post("create", "/things", {
          payload: Schema.Struct({ name: Schema.String }),
          success: Schema.String,
          error: Problem.NotFound
        })
      )
    )
    .add(
      HttpApiGroup.make("login")
        .add(HttpApiEndpoint.post("login", "/login", { success: Schema.String }))
        .annotateMerge(RateLimit.policy("auth"))
    )
    .middleware(RateLimit.Middleware)
) {}

const handlers = Layer.mergeAll(
  HttpApiBuilder.group(Api, "things", (h) =>
    h
      .handle("list", () => Effect.succeed(["a", "b"]))
      .handle("create", () => Effect.fail(new Problem.NotFound({ detail: "No such shelf." })))
  ),
  HttpApiBuilder.group(Api, "login", (h) => h.handle("login", () => Effect.succeed("ok")))
)

const policies = {
  default: { limit: 3, window: Duration.minutes(1) },
  auth: { limit: 2, window: Duration.seconds(30), onUnavailable: "refuse" as const }
}

const app = (store: Layer.Layer<RateLimiter.RateLimitStore> = RateLimiter.layerMemory) =>
  HttpApp.layer({
    api: Api,
    handlers: handlers.pipe(Layer.provide(RateLimit.layer({ policies }).pipe(Layer.provide(store)))),
    accessLog: false
  }).pipe(Layer.provide(Logger.layer([])))

// A store whose backend is down.
const deadStore = Layer.succeed(RateLimiter.RateLimitStore, {
  take: () => Effect.fail(new RateLimiter.RateLimitUnavailable({ cause: new Error("connection refused") }))
})

const assertRefused = (reply: Reply, policy: string, limit: number, windowSeconds: number) => {
  assert.strictEqual(reply.status, 429, reply.text)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.strictEqual(reply.body.type, Problem.types.tooManyRequests)
  const retryAfter = Number(reply.headers.get("retry-after"))
  assert.isTrue(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds,
    `${retryAfter}`
  )
  assert.strictEqual(reply.body.retryAfter, retryAfter)
  assert.strictEqual(reply.headers.get("ratelimit-policy"), `"${policy}";q=${limit};w=${windowSeconds}`)
  assert.strictEqual(reply.headers.get("ratelimit"), `"${policy}";r=0;t=${retryAfter}`)
}

describe("RateLimit", () => {
  it.effect(
    "counts a client's requests in a sliding window: headers on each, 429 with Retry-After after",
    () =>
      Effect.gen(function* () {
        const client = yield* serve(app())
        const remaining: Array<string | null> = []
        for (let i = 0; i < 3; i++) {
          const reply = yield* client.call("GET", "/things")
          assert.strictEqual(reply.status, 200, reply.text)
          assert.strictEqual(reply.headers.get("ratelimit-policy"), `"default";q=3;w=60`)
          remaining.push(reply.headers.get("ratelimit"))
        }
        assert.deepStrictEqual(
          remaining.map((header) => header?.split(";").slice(0, 2).join(";")),
          [`"default";r=2`, `"default";r=1`, `"default";r=0`]
        )
        assertRefused(yield* client.call("GET", "/things"), "default", 3, 60)
      }).pipe(Effect.scoped)
  )

  it.effect(
    "a problem the route answers with carries the headers too (400 from decoding, 404 from the handler)",
    () =>
      Effect.gen(function* () {
        const client = yield* serve(app())
        const invalid = yield* client.call("POST", "/things", { body: JSON.stringify({ name: 1 }) })
        assert.strictEqual(invalid.status, 400, invalid.text)
        assert.strictEqual(invalid.headers.get("ratelimit-policy"), `"default";q=3;w=60`)
        assert.match(invalid.headers.get("ratelimit") ?? "", /^"default";r=2;t=\d+$/)
        const missing = yield* client.call("POST", "/things", { body: JSON.stringify({ name: "x" }) })
        assert.strictEqual(missing.status, 404, missing.text)
        assert.match(missing.headers.get("ratelimit") ?? "", /^"default";r=1;t=\d+$/)
        assert.match((yield* client.call("GET", "/things")).headers.get("ratelimit") ?? "", /^"default";r=0;/)
        assertRefused(
          yield* client.call("POST", "/things", { body: JSON.stringify({ name: "x" }) }),
          "default",
          3,
          60
        )
      }).pipe(Effect.scoped)
  )

  it.effect("a group's policy is its own window, apart from the default one", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      assert.strictEqual((yield* client.call("POST", "/login")).status, 200)
      assert.strictEqual((yield* client.call("POST", "/login")).status, 200)
      assertRefused(yield* client.call("POST", "/login"), "auth", 2, 30)
      // the default window is untouched
      assert.strictEqual((yield* client.call("GET", "/things")).status, 200)
    }).pipe(Effect.scoped)
  )

  it.effect("of a burst of 3N concurrent requests exactly N pass", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const replies = yield* Effect.all(
        Array.from({ length: 9 }, () => client.call("GET", "/things")),
        { concurrency: "unbounded" }
      )
      const statuses = replies.map((reply) => reply.status)
      assert.strictEqual(statuses.filter((status) => status === 200).length, 3)
      assert.strictEqual(statuses.filter((status) => status === 429).length, 6)
    }).pipe(Effect.scoped)
  )

  it.effect("a dead store: the default policy lets requests through, the auth policy refuses with 503", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(deadStore))
      const open = yield* client.call("GET", "/things")
      assert.strictEqual(open.status, 200, open.text)
      assert.isNull(open.headers.get("ratelimit"))
      const closed = yield* client.call("POST", "/login")
      assert.strictEqual(closed.status, 503, closed.text)
      assert.strictEqual(closed.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(closed.headers.get("retry-after"), "5")
      assert.notInclude(closed.text, "connection refused")
    }).pipe(Effect.scoped)
  )

  it.effect("OpenAPI lists the 429 and the rate-limit headers on every limited operation", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const spec = yield* client.call("GET", "/openapi.json")
      const things = spec.body.paths["/things"].get.responses
      assert.property(things, "429")
      assert.property(spec.body.paths["/login"].post.responses, "429")
      // and the headers the middleware adds, on the 429 and on successes
      assert.includeMembers(Object.keys(things["429"].headers), [
        "Retry-After",
        "RateLimit",
        "RateLimit-Policy"
      ])
      assert.includeMembers(Object.keys(things["200"].headers), ["RateLimit", "RateLimit-Policy"])
      assert.strictEqual(things["429"].headers["Retry-After"].schema.type, "integer")
    }).pipe(Effect.scoped)
  )
})
