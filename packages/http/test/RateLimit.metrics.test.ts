import { assert, describe, it } from "@effect/vitest"
import { RateLimiter } from "@org/core"
import { SpanRecorder } from "@org/testing"
import { Duration, Effect, Layer, Logger, Metric } from "effect"
import { RateLimit } from "../src/index.ts"

const policies = {
  default: { limit: 2, window: Duration.minutes(1) },
  auth: { limit: 1, window: Duration.minutes(1), onUnavailable: "refuse" as const }
}

const count = (policy: string, outcome: RateLimit.DecisionOutcome) =>
  Effect.map(Metric.value(RateLimit.decisionCounter(policy, outcome)), (state) => Number(state.count))

// A fresh registry per test: the counters are global series.
const isolated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

const unavailable = Layer.succeed(
  RateLimiter.RateLimitStore,
  RateLimiter.RateLimitStore.of({
    take: () => Effect.fail(new RateLimiter.RateLimitUnavailable({ cause: new Error("down") }))
  })
)

describe("RateLimit decisions", () => {
  it.effect("counts allowed and refused decisions by policy and marks the current span", () => {
    const traces = SpanRecorder.make()
    return Effect.gen(function* () {
      const limiter = yield* RateLimit.makeLimiter({ policies })
      const take = (policy: string, span: string) =>
        Effect.exit(limiter.take(policy, "ip:203.0.113.7").pipe(Effect.withSpan(span)))
      yield* take("default", "first")
      yield* take("default", "second")
      yield* take("default", "third")
      yield* take("unknown", "fourth") // an unknown name counts as `default`
      yield* take("auth", "fifth")
      yield* take("none", "sixth") // exempt: no decision

      assert.strictEqual(yield* count("default", "allowed"), 2)
      assert.strictEqual(yield* count("default", "refused"), 2)
      assert.strictEqual(yield* count("auth", "allowed"), 1)
      assert.strictEqual(yield* count("auth", "refused"), 0)
      assert.strictEqual(yield* count("default", "unavailable"), 0)

      const first = traces.spans.find((span) => span.name === "first")!
      assert.strictEqual(first.attributes.get("ratelimit.policy"), "default")
      assert.strictEqual(first.attributes.get("ratelimit.outcome"), "allowed")
      const third = traces.spans.find((span) => span.name === "third")!
      assert.strictEqual(third.attributes.get("ratelimit.outcome"), "refused")
    }).pipe(Effect.provide(Layer.merge(RateLimiter.layerMemory, traces.layer)), isolated)
  })

  it.effect("counts a store that cannot decide as unavailable, whichever way the policy goes", () => {
    const traces = SpanRecorder.make()
    return Effect.gen(function* () {
      const limiter = yield* RateLimit.makeLimiter({ policies })
      const open = yield* Effect.exit(limiter.take("default", "ip:1").pipe(Effect.withSpan("open")))
      const closed = yield* Effect.exit(limiter.take("auth", "ip:1"))
      assert.strictEqual(open._tag, "Success")
      assert.strictEqual(closed._tag, "Failure")
      assert.strictEqual(yield* count("default", "unavailable"), 1)
      assert.strictEqual(yield* count("auth", "unavailable"), 1)
      assert.strictEqual(yield* count("default", "allowed"), 0)
      const span = traces.spans.find((s) => s.name === "open")!
      assert.strictEqual(span.attributes.get("ratelimit.outcome"), "unavailable")
    }).pipe(Effect.provide(Layer.mergeAll(unavailable, traces.layer, Logger.layer([]))), isolated)
  })
})
