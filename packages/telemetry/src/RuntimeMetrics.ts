/**
 * Gauges of the Node.js runtime, under OpenTelemetry's runtime conventions:
 * event-loop delay (`nodejs.eventloop.delay.*`, from `perf_hooks`'
 * `monitorEventLoopDelay`, in seconds), event-loop utilization, V8 heap use
 * by heap space (`v8js.memory.heap.*`) and the resident set size
 * (`process.memory.usage`).
 *
 * A fiber of the layer's scope samples them when the layer starts and then
 * every `interval` (10 seconds by default); the delay figures cover the
 * interval since the previous sample (the histogram is reset each time).
 * Between samples nothing runs but Node's own delay timer (one every
 * `resolution`, 20 ms by default).
 *
 * @since 0.4.0
 */
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"

/**
 * Options of `layer`.
 *
 * @since 0.4.0
 * @category models
 */
export interface Options {
  /** How often the gauges are sampled; 10 seconds when omitted. */
  readonly interval?: Duration.Input | undefined
  /** The sampling step of the event-loop delay timer; 20 ms when omitted (at least 1 ms). */
  readonly resolution?: Duration.Input | undefined
}

/**
 * The names of the gauges.
 *
 * @since 0.4.0
 * @category metrics
 */
export const metricNames = {
  delayMin: "nodejs.eventloop.delay.min",
  delayMax: "nodejs.eventloop.delay.max",
  delayMean: "nodejs.eventloop.delay.mean",
  delayP50: "nodejs.eventloop.delay.p50",
  delayP90: "nodejs.eventloop.delay.p90",
  delayP99: "nodejs.eventloop.delay.p99",
  utilization: "nodejs.eventloop.utilization",
  heapUsed: "v8js.memory.heap.used",
  heapLimit: "v8js.memory.heap.limit",
  memoryUsage: "process.memory.usage"
} as const

const seconds = { unit: "seconds" } as const
const bytes = { unit: "bytes" } as const

const delayGauge = (name: string, description: string) =>
  Metric.gauge(name, { description, attributes: seconds })

const delay = {
  min: delayGauge(metricNames.delayMin, "Event loop minimum delay."),
  max: delayGauge(metricNames.delayMax, "Event loop maximum delay."),
  mean: delayGauge(metricNames.delayMean, "Event loop mean delay."),
  p50: delayGauge(metricNames.delayP50, "Event loop 50 percentile delay."),
  p90: delayGauge(metricNames.delayP90, "Event loop 90 percentile delay."),
  p99: delayGauge(metricNames.delayP99, "Event loop 99 percentile delay.")
}

const utilization = Metric.gauge(metricNames.utilization, {
  description: "Event loop utilization: the share of the interval the loop was busy.",
  attributes: { unit: "1" }
})

const memoryUsage = Metric.gauge(metricNames.memoryUsage, {
  description: "Resident set size of the process.",
  attributes: bytes
})

const heapSpaces = new Map<
  string,
  { readonly used: Metric.Gauge<number>; readonly limit: Metric.Gauge<number> }
>()

const heapSpace = (space: string) => {
  let gauges = heapSpaces.get(space)
  if (gauges === undefined) {
    const attributes = { ...bytes, "v8js.heap.space.name": space }
    gauges = {
      used: Metric.gauge(metricNames.heapUsed, {
        description: "Heap memory used, by heap space.",
        attributes
      }),
      limit: Metric.gauge(metricNames.heapLimit, {
        description: "Heap memory reserved, by heap space.",
        attributes
      })
    }
    heapSpaces.set(space, gauges)
  }
  return gauges
}

// Histogram values are nanoseconds.
const fromNanos = (nanos: number) => nanos / 1e9

/**
 * The gauges, sampled when the layer starts and then every `interval`
 * until its scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Metric } from "effect"
 * import { RuntimeMetrics } from "@org/telemetry"
 *
 * const program = Effect.gen(function* () {
 *   yield* Effect.sleep("1 second")
 *   const snapshot = yield* Metric.snapshot
 *   return snapshot.filter((metric) => metric.id === RuntimeMetrics.metricNames.delayP99)
 * }).pipe(Effect.provide(RuntimeMetrics.layer({ interval: "500 millis" })))
 * ```
 *
 * @since 0.4.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<never> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const resolution = Math.max(
        1,
        Math.round(Duration.toMillis(Duration.fromInputUnsafe(options.resolution ?? Duration.millis(20))))
      )
      const histogram = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const histogram = monitorEventLoopDelay({ resolution })
          histogram.enable()
          return histogram
        }),
        (histogram) => Effect.sync(() => histogram.disable())
      )
      let lastUtilization = performance.eventLoopUtilization()

      const sample = (fiber: Fiber.Fiber<unknown, unknown>) => {
        const context = fiber.context
        // No delay was recorded yet (the first sample): an empty histogram reports nonsense.
        if (histogram.count > 0) {
          delay.min.updateUnsafe(fromNanos(histogram.min), context)
          delay.max.updateUnsafe(fromNanos(histogram.max), context)
          delay.mean.updateUnsafe(fromNanos(histogram.mean), context)
          delay.p50.updateUnsafe(fromNanos(histogram.percentile(50)), context)
          delay.p90.updateUnsafe(fromNanos(histogram.percentile(90)), context)
          delay.p99.updateUnsafe(fromNanos(histogram.percentile(99)), context)
          histogram.reset()
        }
        const now = performance.eventLoopUtilization()
        const share = performance.eventLoopUtilization(now, lastUtilization).utilization
        lastUtilization = now
        if (Number.isFinite(share)) utilization.updateUnsafe(share, context)
        for (const space of v8.getHeapSpaceStatistics()) {
          const gauges = heapSpace(space.space_name)
          gauges.used.updateUnsafe(space.space_used_size, context)
          gauges.limit.updateUnsafe(space.space_size, context)
        }
        memoryUsage.updateUnsafe(process.memoryUsage.rss(), context)
        return Effect.void
      }

      const interval = Duration.fromInputUnsafe(options.interval ?? Duration.seconds(10))
      yield* Effect.forkScoped(Effect.repeat(Effect.withFiber(sample), Schedule.spaced(interval)))
    })
  )
