import { assert, describe, it } from "@effect/vitest"
import { IdempotencyStore, Principal } from "@org/core"
import { Widget } from "@org/testing"
import { Duration, Effect, Fiber, Layer, Logger, Schema } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest, HttpServerRequest } from "effect/http"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  OpenApi
} from "effect/http-api"
import { CrudGroup, HttpApp, Idempotency, Problem } from "../src/index.ts"
import { type Client, type Reply, serve } from "./fixtures/client.ts"

// Stands in for Authentication: the caller named by `x-user` is the principal.
class FakeAuth extends HttpApiMiddleware.Service<FakeAuth, { provides: Principal.CurrentPrincipal }>()(
  "test/FakeAuth"
) {}

const principal = (subject: string): Principal.Principal => ({
  subject,
  roles: [],
  permissions: new Set(),
  tokenId: `t-${subject}`,
  issuedAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER
})

const FakeAuthLive = Layer.succeed(FakeAuth, (httpEffect) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.provideService(
      httpEffect,
      Principal.CurrentPrincipal,
      principal(request.headers["x-user"] ?? "alice")
    )
  )
)

const Thing = Schema.Struct({ id: Schema.Int, name: Schema.String })

class Api extends HttpApp.api(
  HttpApi.make("idempotent").add(
    HttpApiGroup.make("things")
      .add(
        Idempotency.endpoint(
          HttpApiEndpoint.post("create", "/things", {
            payload: Schema.Struct({ name: Schema.String, status: Schema.optionalKey(Schema.Int) }),
            success: HttpApiSchema.WithHeaders(Thing.pipe(HttpApiSchema.status(201)), {
              location: Schema.String,
              etag: Schema.String
            }),
            error: Problem.Conflict
          })
        ),
        // Without it: the header changes nothing.
        HttpApiEndpoint.post("plain", "/plain", {
          payload: Schema.Struct({ name: Schema.String }),
          success: Thing
        })
      )
      // Added after: the principal's middleware runs outside, so Idempotency sees the subject.
      .middleware(FakeAuth)
  )
) {}

interface Counters {
  created: number
  plain: number
}

const app = (
  counters: Counters,
  options: { readonly delay?: number; readonly idempotency?: Idempotency.Options } = {}
) =>
  HttpApp.layer({
    api: Api,
    handlers: HttpApiBuilder.group(Api, "things", (h) =>
      h
        .handle("create", ({ payload }) =>
          Effect.gen(function* () {
            if (options.delay !== undefined) yield* Effect.sleep(Duration.millis(options.delay))
            if (payload.status === 409) return yield* Effect.fail(new Problem.Conflict({ detail: "taken" }))
            if (payload.status === 500) return yield* Effect.die(new Error("boom"))
            const id = ++counters.created
            return HttpApiSchema.withHeaders({
              body: { id, name: payload.name },
              headers: { location: `/things/${id}`, etag: `"${id}"` }
            })
          })
        )
        .handle("plain", ({ payload }) => Effect.sync(() => ({ id: ++counters.plain, name: payload.name })))
    ).pipe(
      Layer.provide(
        Layer.merge(
          Idempotency.layer(options.idempotency).pipe(Layer.provide(IdempotencyStore.layerMemory)),
          FakeAuthLive
        )
      )
    ),
    accessLog: false
  }).pipe(Layer.provide(Logger.layer([])))

const post = (client: Client, body: unknown, headers: Record<string, string> = {}, path = "/things") =>
  client.call("POST", path, { body: JSON.stringify(body), headers })

const sameResponse = (a: Reply, b: Reply) => {
  assert.strictEqual(b.status, a.status)
  assert.strictEqual(b.text, a.text)
  for (const name of ["location", "etag", "content-type"]) {
    assert.strictEqual(b.headers.get(name), a.headers.get(name), name)
  }
}

describe("Idempotency", () => {
  it.live("the same key and body replay the first response; the handler runs once", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters))
      const first = yield* post(client, { name: "a" }, { "idempotency-key": "key-1" })
      assert.strictEqual(first.status, 201, first.text)
      assert.deepStrictEqual(first.body, { id: 1, name: "a" })
      assert.strictEqual(first.headers.get("location"), "/things/1")
      assert.isNull(first.headers.get("idempotent-replayed"))
      const again = yield* post(client, { name: "a" }, { "idempotency-key": "key-1" })
      sameResponse(first, again)
      assert.strictEqual(again.headers.get("idempotent-replayed"), "true")
      assert.strictEqual(counters.created, 1)
      // another key is another operation; no key is no protection
      const other = yield* post(client, { name: "a" }, { "idempotency-key": "key-2" })
      assert.strictEqual(other.body.id, 2)
      yield* post(client, { name: "a" })
      yield* post(client, { name: "a" })
      assert.strictEqual(counters.created, 4)
    }).pipe(Effect.scoped)
  )

  it.live("the same key with another body, method-path or bytes is a 422 problem", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters))
      assert.strictEqual((yield* post(client, { name: "a" }, { "idempotency-key": "k" })).status, 201)
      const other = yield* post(client, { name: "b" }, { "idempotency-key": "k" })
      assert.strictEqual(other.status, 422, other.text)
      assert.strictEqual(other.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(other.body.type, "/docs/problems#idempotency-key-reused")
      assert.strictEqual(other.body.status, 422)
      // same JSON value, other bytes: the fingerprint is of the bytes
      const spaced = yield* client.call("POST", "/things", {
        body: '{ "name": "a" }',
        headers: { "idempotency-key": "k" }
      })
      assert.strictEqual(spaced.status, 422, spaced.text)
      assert.strictEqual(counters.created, 1)
    }).pipe(Effect.scoped)
  )

  it.live("two identical concurrent requests run the handler once and get the same response", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters, { delay: 150 }))
      const [a, b] = yield* Effect.all(
        [
          post(client, { name: "race" }, { "idempotency-key": "race" }),
          post(client, { name: "race" }, { "idempotency-key": "race" })
        ],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(a.status, 201, a.text)
      sameResponse(a, b)
      assert.strictEqual(counters.created, 1)
    }).pipe(Effect.scoped)
  )

  it.live("a duplicate that outwaits `wait` gets 409 with Retry-After", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters, { delay: 600, idempotency: { wait: "100 millis" } }))
      const [a, b] = yield* Effect.all(
        [
          post(client, { name: "slow" }, { "idempotency-key": "slow" }),
          Effect.andThen(
            Effect.sleep("50 millis"),
            post(client, { name: "slow" }, { "idempotency-key": "slow" })
          )
        ],
        { concurrency: "unbounded" }
      )
      assert.strictEqual(a.status, 201, a.text)
      assert.strictEqual(b.status, 409, b.text)
      assert.strictEqual(b.body.type, "/docs/problems#idempotency-key-in-progress")
      const retryAfter = Number(b.headers.get("retry-after"))
      assert.isTrue(retryAfter >= 1 && retryAfter <= 60, `${retryAfter}`)
      assert.strictEqual(counters.created, 1)
    }).pipe(Effect.scoped)
  )

  it.live("an invalid key is a 400 problem naming the header, and nothing runs", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters))
      for (const key of ["", "x".repeat(256), "has space", "tab\there", "é"]) {
        const reply = yield* client.send(
          new Request("http://localhost/things", {
            method: "POST",
            body: JSON.stringify({ name: "a" }),
            headers: [
              ["content-type", "application/json"],
              ["idempotency-key", key]
            ]
          })
        )
        assert.strictEqual(reply.status, 400, `${JSON.stringify(key)}: ${reply.text}`)
        assert.strictEqual(reply.body.type, Problem.types.validation)
        assert.deepStrictEqual(
          reply.body.errors.map((e: Problem.FieldError) => [e.in, e.pointer]),
          [["header", "/idempotency-key"]]
        )
      }
      assert.strictEqual(counters.created, 0)
      const longest = yield* post(client, { name: "a" }, { "idempotency-key": "~".repeat(255) })
      assert.strictEqual(longest.status, 201, longest.text)
    }).pipe(Effect.scoped)
  )

  it.live("keys are scoped per client: the same key from two subjects is two operations", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters))
      const alice = yield* post(client, { name: "a" }, { "idempotency-key": "shared", "x-user": "alice" })
      const bob = yield* post(client, { name: "a" }, { "idempotency-key": "shared", "x-user": "bob" })
      assert.strictEqual(alice.body.id, 1)
      assert.strictEqual(bob.body.id, 2)
      const bobAgain = yield* post(client, { name: "a" }, { "idempotency-key": "shared", "x-user": "bob" })
      assert.strictEqual(bobAgain.body.id, 2)
      // bob's other body is a mismatch for bob only, not a replay of alice's
      const bobOther = yield* post(client, { name: "z" }, { "idempotency-key": "shared", "x-user": "bob" })
      assert.strictEqual(bobOther.status, 422)
      assert.strictEqual(counters.created, 2)
    }).pipe(Effect.scoped)
  )

  it.live("a 500 and a typed failure are not stored: a retry runs again", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters))
      const failed = yield* post(client, { name: "a", status: 500 }, { "idempotency-key": "boom" })
      assert.strictEqual(failed.status, 500)
      const retried = yield* post(client, { name: "a", status: 500 }, { "idempotency-key": "boom" })
      assert.strictEqual(retried.status, 500)
      assert.isNull(retried.headers.get("idempotent-replayed"))
      const conflict = yield* post(client, { name: "a", status: 409 }, { "idempotency-key": "c" })
      assert.strictEqual(conflict.status, 409, conflict.text)
      assert.strictEqual(conflict.body.detail, "taken")
      const again = yield* post(client, { name: "a", status: 409 }, { "idempotency-key": "c" })
      assert.strictEqual(again.status, 409)
      assert.isNull(again.headers.get("idempotent-replayed"))
      // a failed key stays usable for its own body
      assert.strictEqual(counters.created, 0)
    }).pipe(Effect.scoped)
  )

  it.live("a key expires after its ttl: the same key then runs again", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters, { idempotency: { ttl: "200 millis" } }))
      assert.strictEqual((yield* post(client, { name: "a" }, { "idempotency-key": "k" })).body.id, 1)
      assert.strictEqual((yield* post(client, { name: "a" }, { "idempotency-key": "k" })).body.id, 1)
      yield* Effect.sleep("300 millis")
      assert.strictEqual((yield* post(client, { name: "b" }, { "idempotency-key": "k" })).body.id, 2)
    }).pipe(Effect.scoped)
  )

  it.live("an endpoint without Idempotency.endpoint ignores the header", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const client = yield* serve(app(counters))
      yield* post(client, { name: "a" }, { "idempotency-key": "k" }, "/plain")
      const second = yield* post(client, { name: "a" }, { "idempotency-key": "k" }, "/plain")
      assert.strictEqual(second.body.id, 2)
      assert.strictEqual(counters.plain, 2)
    }).pipe(Effect.scoped)
  )

  it.live("a store that cannot answer gives 503, and the handler does not run", () =>
    Effect.gen(function* () {
      const counters = { created: 0, plain: 0 }
      const dead = Layer.succeed(IdempotencyStore.IdempotencyStore, {
        begin: () =>
          Effect.fail(new IdempotencyStore.IdempotencyUnavailable({ operation: "begin", cause: "down" })),
        complete: () => Effect.succeed(false),
        abandon: () => Effect.void
      })
      const client = yield* serve(
        HttpApp.layer({
          api: Api,
          handlers: HttpApiBuilder.group(Api, "things", (h) =>
            h
              .handle("create", () => Effect.die("unreachable"))
              .handle("plain", () => Effect.sync(() => ({ id: ++counters.plain, name: "x" })))
          ).pipe(Layer.provide(Layer.merge(Idempotency.layer().pipe(Layer.provide(dead)), FakeAuthLive))),
          accessLog: false
        }).pipe(Layer.provide(Logger.layer([])))
      )
      const reply = yield* post(client, { name: "a" }, { "idempotency-key": "k" })
      assert.strictEqual(reply.status, 503, reply.text)
      assert.strictEqual(reply.headers.get("retry-after"), "5")
    }).pipe(Effect.scoped)
  )

  it.live("a typed client receives the 409 and the 422 as errors of the endpoint", () =>
    Effect.gen(function* () {
      const { handler } = yield* Effect.acquireRelease(
        Effect.sync(() =>
          HttpApp.toWebHandler(app({ created: 0, plain: 0 }, { delay: 400, idempotency: { wait: 0 } }))
        ),
        ({ dispose }) => Effect.promise(dispose)
      )
      const client = yield* HttpApiClient.make(Api, {
        baseUrl: "http://localhost",
        transformClient: HttpClient.mapRequest(HttpClientRequest.setHeader("idempotency-key", "typed-1"))
      }).pipe(
        Effect.provide(FetchHttpClient.layer),
        Effect.provideService(FetchHttpClient.Fetch, (input, init) => handler(new Request(input, init)))
      )
      const first = yield* Effect.forkChild(client.things.create({ payload: { name: "a" } }))
      yield* Effect.sleep("100 millis")
      const busy = yield* Effect.flip(client.things.create({ payload: { name: "a" } }))
      assert.instanceOf(busy, Idempotency.InProgress)
      assert.isAtLeast((busy as Idempotency.InProgress).retryAfter, 1)
      assert.strictEqual((yield* Fiber.join(first)).body.name, "a")
      const reused = yield* Effect.flip(client.things.create({ payload: { name: "b" } }))
      assert.instanceOf(reused, Idempotency.KeyReused)
    }).pipe(Effect.scoped)
  )

  it.live("OpenAPI documents the header, the 409 and the 422 on that endpoint only", () =>
    Effect.gen(function* () {
      const client = yield* serve(app({ created: 0, plain: 0 }))
      const spec = (yield* client.call("GET", "/openapi.json")).body
      const create = spec.paths["/things"].post
      const plain = spec.paths["/plain"].post
      assert.isTrue(
        create.parameters.some(
          (p: { name: string; in: string }) => p.name === "Idempotency-Key" && p.in === "header"
        )
      )
      assert.property(create.responses, "422")
      assert.property(create.responses, "409")
      assert.notProperty(plain.responses, "422")
      assert.isFalse((plain.parameters ?? []).some((p: { name: string }) => p.name === "Idempotency-Key"))
    }).pipe(Effect.scoped)
  )

  it("CrudGroup's `idempotent` puts the middleware, its 409/422 and the header on the listed operations only", () => {
    const spec = OpenApi.fromApi(
      HttpApi.make("crud").add(
        CrudGroup.make("widgets", { entity: Widget.Widget, path: "/widgets", idempotent: ["update"] })
      )
    )
    const item = spec.paths["/widgets/{id}"]!
    const collection = spec.paths["/widgets"]!
    const hasHeader = (operation: { readonly parameters?: ReadonlyArray<{ readonly name: string }> }) =>
      (operation.parameters ?? []).some((p) => p.name === "Idempotency-Key")
    assert.property(item.patch!.responses, "422")
    assert.isTrue(hasHeader(item.patch!))
    for (const operation of [collection.post!, collection.get!, item.get!, item.delete!]) {
      assert.notProperty(operation.responses, "422")
      assert.isFalse(hasHeader(operation))
    }
  })
})
