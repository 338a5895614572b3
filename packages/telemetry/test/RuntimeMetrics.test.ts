import { performance } from "node:perf_hooks"
import { assert, describe, it } from "@effect/vitest"
import { RuntimeMetrics } from "@org/telemetry"
import { type Duration, Effect, Layer, Metric } from "effect"

type Snapshot = Metric.Metric.Snapshot

const gaugeValue = (snapshots: ReadonlyArray<Snapshot>, id: string): number | undefined => {
  const found = snapshots.find((s) => s.id === id)
  return found !== undefined && found.type === "Gauge" ? Number(found.state.value) : undefined
}

// Blocks the event loop, as a long synchronous handler would.
const block = (millis: number) =>
  Effect.sync(() => {
    const until = performance.now() + millis
    while (performance.now() < until) {
      // spin
    }
  })

const sampled = <A, E, R>(effect: Effect.Effect<A, E, R>, interval: Duration.Input = "50 millis") =>
  effect.pipe(
    Effect.provide(
      RuntimeMetrics.layer({ interval, resolution: "5 millis" }).pipe(
        Layer.provideMerge(Layer.succeed(Metric.MetricRegistry, new Map()))
      )
    )
  )

describe("RuntimeMetrics", () => {
  it.live("samples event-loop delay, utilization, heap and RSS gauges with plausible values", () =>
    sampled(
      Effect.gen(function* () {
        yield* Effect.sleep("200 millis")
        const snapshots = yield* Metric.snapshot
        const names = RuntimeMetrics.metricNames
        const [min, p50, p90, p99, max, mean] = [
          names.delayMin,
          names.delayP50,
          names.delayP90,
          names.delayP99,
          names.delayMax,
          names.delayMean
        ].map((id) => gaugeValue(snapshots, id))
        for (const value of [min, p50, p90, p99, max, mean]) {
          assert.isDefined(value)
          assert.isAtLeast(value!, 0)
          assert.isBelow(value!, 5, "seconds, not nanoseconds")
        }
        assert.isAtMost(min!, p50!)
        assert.isAtMost(p50!, p99!)
        assert.isAtMost(p99!, max!)

        const utilization = gaugeValue(snapshots, names.utilization)
        assert.isDefined(utilization)
        assert.isAtLeast(utilization!, 0)
        assert.isAtMost(utilization!, 1)

        const heap = snapshots.filter((s) => s.id === names.heapUsed)
        assert.isAbove(heap.length, 1, "one series per V8 heap space")
        assert.isTrue(heap.some((s) => s.attributes?.["v8js.heap.space.name"] === "new_space"))
        const heapUsed = heap.reduce((sum, s) => sum + (s.type === "Gauge" ? Number(s.state.value) : 0), 0)
        assert.isAbove(heapUsed, 1_000_000)
        const rss = gaugeValue(snapshots, names.memoryUsage)
        assert.isAbove(rss!, heapUsed, "the resident set holds the heap")
        assert.isTrue(snapshots.filter((s) => s.id === names.heapLimit).length === heap.length)
      })
    )
  )

  it.live("a blocked event loop shows in the delay maximum of its interval", () =>
    sampled(
      Effect.gen(function* () {
        // The sample that covers the block shows for a whole interval (300 ms):
        // poll more often than that, until it shows.
        yield* Effect.sleep("60 millis")
        yield* block(100)
        let worst = 0
        for (let i = 0; i < 100 && worst < 0.08; i++) {
          yield* Effect.sleep("20 millis")
          worst = Math.max(
            worst,
            gaugeValue(yield* Metric.snapshot, RuntimeMetrics.metricNames.delayMax) ?? 0
          )
        }
        assert.isAtLeast(worst, 0.08, `max delay ${worst} s after a 100 ms block`)
      }),
      "300 millis"
    )
  )
})
