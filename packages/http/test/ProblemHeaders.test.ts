/**
 * Typed problems that carry response headers (`Retry-After`), the kit's own
 * problem tags, and the 304 of a CRUD read in OpenAPI.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, type Repository, RepositoryMemory } from "@org/core"
import { Widget } from "@org/testing"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpRouter } from "effect/http"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpApiSchema
} from "effect/http-api"
import { TestClock } from "effect/testing"
import { CrudGroup, HttpApp, Problem } from "../src/index.ts"
import { serve } from "./fixtures/client.ts"

class Upstream extends Schema.TaggedError<Upstream>()("Upstream", {}) {}

class Api extends HttpApp.api(
  HttpApi.make("headers")
    .add(
      HttpApiGroup.make("quotes").add(
        HttpApiEndpoint.get("quote", "/quote", {
          success: Schema.Struct({ price: Schema.Finite }),
          error: Problem.ServiceUnavailable
        }),
        HttpApiEndpoint.get("busy", "/busy", {
          success: HttpApiSchema.NoContent,
          error: Problem.TooManyRequests
        })
      )
    )
    .add(CrudGroup.make("widgets", { entity: Widget.Widget, path: "/widgets" }))
) {}

class Widgets extends Context.Service<Widgets, Repository.ForEntity<typeof Widget.Widget>>()(
  "test/Widgets"
) {}

// The upstream always fails: two calls trip the breaker, which then stays
// open for 2.5 s, so the third call is refused at once.
const QuotesHandlers = HttpApiBuilder.group(Api, "quotes", (handlers) =>
  Effect.gen(function* () {
    const breaker = yield* CircuitBreaker.make<Upstream>({
      name: "quotes-upstream",
      trip: { consecutiveFailures: 2 },
      openFor: "2500 millis"
    })
    const calls = yield* Ref.make(0)
    const upstream = Effect.andThen(
      Ref.update(calls, (n) => n + 1),
      Effect.fail(new Upstream())
    )
    return handlers
      .handle("quote", () =>
        breaker.execute(upstream).pipe(
          Effect.catchTags({
            CircuitOpen: (open) => Effect.fail(Problem.fromCircuitOpen(open)),
            Upstream: () => Effect.fail(new Problem.ServiceUnavailable({ detail: "The upstream failed." }))
          })
        )
      )
      .handle("busy", () => Effect.fail(new Problem.TooManyRequests({ retryAfter: 7 })))
  })
)

const app = () =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(
      QuotesHandlers,
      HttpApiBuilder.group(
        Api,
        "widgets",
        CrudGroup.handlers({ entity: Widget.Widget, repository: Widgets })
      ).pipe(
        Layer.provide(Layer.effect(Widgets, RepositoryMemory.make(Widget.Widget))),
        Layer.provide(SecureRandom.layerWebCrypto)
      )
    ),
    // A plain route whose failure no endpoint declares: rendered by the router-level renderer.
    routes: [
      HttpRouter.add("GET", "/plain-busy", Effect.fail(new Problem.ServiceUnavailable({ retryAfter: 12 })))
    ]
  })

describe("Problem headers", () => {
  it.effect("a 503 from an open circuit carries Retry-After, from a declared endpoint error", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const first = yield* client.call("GET", "/quote")
      assert.strictEqual(first.status, 503)
      assert.isNull(first.headers.get("retry-after"), "no Retry-After when the problem gives none")
      yield* client.call("GET", "/quote")
      const refused = yield* client.call("GET", "/quote")
      assert.strictEqual(refused.status, 503, refused.text)
      assert.strictEqual(refused.headers.get("content-type"), "application/problem+json")
      // 2.5 s rounded up to whole seconds
      assert.strictEqual(refused.headers.get("retry-after"), "3")
      assert.strictEqual(refused.body.retryAfter, 3)
      assert.strictEqual(refused.body.type, Problem.types.serviceUnavailable)
      assert.strictEqual(refused.body.requestId, refused.headers.get("x-request-id"))
      assert.notInclude(refused.text, "quotes-upstream")
    }).pipe(Effect.scoped)
  )

  it.effect("a 429 carries Retry-After; so does a problem no endpoint declares", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const busy = yield* client.call("GET", "/busy")
      assert.strictEqual(busy.status, 429)
      assert.strictEqual(busy.headers.get("retry-after"), "7")
      assert.strictEqual(busy.body.status, 429)
      const plain = yield* client.call("GET", "/plain-busy")
      assert.strictEqual(plain.status, 503, plain.text)
      assert.strictEqual(plain.headers.get("retry-after"), "12")
      assert.strictEqual(plain.body.instance, "/plain-busy")
    }).pipe(Effect.scoped)
  )

  it.effect("the breaker's Retry-After is honest: after that many seconds the next call is let through", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make<Upstream>({
        name: "clocked",
        trip: { consecutiveFailures: 1 },
        openFor: "4 seconds"
      })
      yield* Effect.exit(breaker.execute(Effect.fail(new Upstream())))
      const open = yield* Effect.flip(breaker.execute(Effect.void))
      const seconds = Problem.fromCircuitOpen(open).retryAfter ?? 0
      assert.strictEqual(seconds, 4)
      yield* TestClock.adjust(`${seconds - 1} seconds`)
      assert.strictEqual((yield* Effect.flip(breaker.execute(Effect.void)))._tag, "CircuitOpen")
      yield* TestClock.adjust("1 second")
      yield* breaker.execute(Effect.void)
    }).pipe(Effect.scoped)
  )

  it("the headers come from the instance, and only classes that declare them have any", () => {
    assert.deepStrictEqual(Problem.headersOf(new Problem.ServiceUnavailable({ retryAfter: 0 })), {
      "retry-after": "0"
    })
    assert.deepStrictEqual(Problem.headersOf(new Problem.ServiceUnavailable({})), {})
    assert.deepStrictEqual(Problem.headersOf(new Problem.NotFound({})), {})
    assert.deepStrictEqual(Problem.headersOf("not a problem"), {})
  })
})

describe("Problem tags", () => {
  it("are the kit's own, so catchTag tells them from Effect's problems", () => {
    const ours = [new Problem.BadRequest({}), new Problem.InternalServerError({})]
    const effects = [new HttpApiError.BadRequestProblem({}), new HttpApiError.InternalServerErrorProblem({})]
    for (const problem of ours)
      assert.notInclude(
        effects.map((e) => e._tag),
        problem._tag
      )
    const failWith = (
      ours: boolean
    ): Effect.Effect<never, Problem.BadRequest | HttpApiError.BadRequestProblem> =>
      ours ? Effect.fail(new Problem.BadRequest({})) : Effect.fail(new HttpApiError.BadRequestProblem({}))
    const whose = (ours: boolean) =>
      Effect.runSync(
        failWith(ours).pipe(
          Effect.catchTag("ValidationProblem", () => Effect.succeed("ours")),
          Effect.catchTag("BadRequestProblem", () => Effect.succeed("effect's"))
        )
      )
    assert.strictEqual(whose(true), "ours")
    assert.strictEqual(whose(false), "effect's")
  })
})

describe("CRUD reads in OpenAPI", () => {
  it.effect("document the 304 of a conditional GET", () =>
    Effect.gen(function* () {
      const client = yield* serve(app())
      const spec = yield* client.call("GET", "/openapi.json")
      const get = spec.body.paths["/widgets/{id}"].get
      assert.property(get.responses, "304")
      assert.property(get.responses["304"].headers, "ETag")
      assert.property(get.responses, "200")
    }).pipe(Effect.scoped)
  )
})
