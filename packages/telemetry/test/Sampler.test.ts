import { assert, describe, it } from "@effect/vitest"
import { Sampler } from "@org/telemetry"
import { Effect, Tracer } from "effect"
import * as fc from "fast-check"

const sampledWith = (
  sampler: Parameters<typeof Sampler.wrap>[1],
  effect: Effect.Effect<Tracer.Span, unknown>
) => effect.pipe(Effect.provideService(Tracer.Tracer, Sampler.wrap(Tracer.nativeTracer, sampler)))

const spanIn = (name: string) => Effect.currentSpan.pipe(Effect.withSpan(name))

describe("Sampler", () => {
  it("traceIdRatio: 0 keeps nothing, 1 everything, and about the ratio of random ids", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{32}$/), (id) => {
        assert.isFalse(Sampler.traceIdRatio(id, 0))
        assert.isTrue(Sampler.traceIdRatio(id, 1))
        // Monotone: kept at 0.2 implies kept at 0.5.
        if (Sampler.traceIdRatio(id, 0.2)) assert.isTrue(Sampler.traceIdRatio(id, 0.5))
      })
    )
    const ids = fc.sample(fc.stringMatching(/^[0-9a-f]{32}$/), { numRuns: 4000, seed: 42 })
    const kept = ids.filter((id) => Sampler.traceIdRatio(id, 0.25)).length / ids.length
    assert.closeTo(kept, 0.25, 0.04)
  })

  it.effect("parentbased_traceidratio 0: roots dropped, children follow the parent's flag", () =>
    Effect.gen(function* () {
      const sampler = { name: "parentbased_traceidratio", ratio: 0 } as const
      assert.isFalse((yield* sampledWith(sampler, spanIn("root"))).sampled)
      const sampledParent = Tracer.externalSpan({
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: "00f067aa0ba902b7",
        sampled: true
      })
      const child = yield* sampledWith(sampler, spanIn("child").pipe(Effect.withParentSpan(sampledParent)))
      assert.isTrue(child.sampled)
      assert.strictEqual(child.traceId, sampledParent.traceId)
      const unsampledParent = Tracer.externalSpan({ ...sampledParent, sampled: false })
      assert.isFalse(
        (yield* sampledWith(sampler, spanIn("c").pipe(Effect.withParentSpan(unsampledParent)))).sampled
      )
      // A grandchild of a dropped root is dropped.
      const grandchild = yield* sampledWith(sampler, spanIn("gc").pipe(Effect.withSpan("root")))
      assert.isFalse(grandchild.sampled)
    })
  )

  it.effect("traceidratio (not parent based) decides from the trace id, ignoring the parent's flag", () =>
    Effect.gen(function* () {
      const parent = Tracer.externalSpan({
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: "00f067aa0ba902b7",
        sampled: false
      })
      const expected = Sampler.traceIdRatio(parent.traceId, 0.5)
      const child = yield* sampledWith(
        { name: "traceidratio", ratio: 0.5 },
        spanIn("c").pipe(Effect.withParentSpan(parent))
      )
      assert.strictEqual(child.sampled, expected)
      assert.isFalse((yield* sampledWith({ name: "always_off", ratio: 0 }, spanIn("r"))).sampled)
      assert.isTrue(
        (yield* sampledWith(
          { name: "parentbased_always_off", ratio: 0 },
          spanIn("c").pipe(Effect.withParentSpan({ ...parent, sampled: true }))
        )).sampled
      )
    })
  )

  it.effect("ratio roots: the kept ones are the ones whose trace id passes", () =>
    Effect.gen(function* () {
      const spans = yield* Effect.forEach(Array.from({ length: 400 }), () =>
        sampledWith({ name: "traceidratio", ratio: 0.5 }, spanIn("root"))
      )
      const kept = spans.filter((s) => s.sampled)
      for (const span of kept) assert.isTrue(Sampler.traceIdRatio(span.traceId, 0.5))
      assert.isAbove(kept.length, 120)
      assert.isBelow(kept.length, 280)
    })
  )
})
