/**
 * OpenTelemetry export for a service, from the standard `OTEL_*` variables
 * (`TelemetryConfig`), with Effect's own OTLP/HTTP exporters (no OTel SDK):
 * traces through a sampling tracer (`Sampler`), metrics, and log records
 * (redacted, `Redaction`), in protobuf or JSON, with the resource (service
 * name, attributes). With protobuf, spans are written by the kit's tracer
 * (the bytes of Effect's `OtlpTracer`, fewer allocations), and sent by
 * Effect's `OtlpExporter` through `Options.httpClient`.
 *
 * With no endpoint, or `OTEL_SDK_DISABLED=true`, the layer provides only a
 * no-op `Flusher`: no exporter, no timer, no connection. With no traces
 * endpoint it also turns tracing off (`References.TracerEnabled`): Effect
 * then makes no-op spans, so requests pay nothing for spans nobody receives,
 * log lines carry no `trace_id`, and no `traceparent` goes out.
 *
 * On shutdown the layer's finalizer exports what is buffered, bounded by
 * `shutdownTimeout` (default 5 s) for all signals together: whoever closes
 * the layer's scope (`Effect.provide`, `Layer.launch`, the runner) waits for
 * that, and no longer.
 *
 * @since 0.4.0
 */
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpLogger from "effect/observability/OtlpLogger"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import * as OtlpTraces from "./internal/otlpTraces.ts"
import * as Redaction from "./Redaction.ts"
import * as Sampler from "./Sampler.ts"
import * as TelemetryConfig from "./TelemetryConfig.ts"

/**
 * What code decides; the environment decides the rest.
 *
 * @since 0.4.0
 * @category models
 */
export interface Options {
  /** `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` sets it; default `unknown_service:node`. */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** The most the shutdown flush of all signals together may take; default 5 seconds. */
  readonly shutdownTimeout?: Duration.Input | undefined
  /** How often buffered spans and log records are sent; default 5 s (spans) and 1 s (logs), Effect's. */
  readonly exportInterval?: Duration.Input | undefined
  /** How often metrics are sent; default Effect's (10 s). */
  readonly metricsExportInterval?: Duration.Input | undefined
  /** Largest batch of spans or log records in one request; default 1000. */
  readonly maxBatchSize?: number | undefined
  /**
   * The HTTP client the exporters post with; default `FetchHttpClient.layer`
   * (the runtime's `fetch`, any runtime). On Node, `NodeHttpClient.layerUndici`
   * from `@effect/platform-node` costs a fifth of the CPU per batch (Node's
   * `fetch` copies and streams the body in JavaScript): the kit's runner
   * passes it.
   */
  readonly httpClient?: Layer.Layer<HttpClient.HttpClient> | undefined
}

/**
 * The default bound of the shutdown flush.
 *
 * @since 0.4.0
 * @category constants
 */
export const defaultShutdownTimeout: Duration.Duration = Duration.seconds(5)

// No traces leave the process: Effect makes no-op spans (no ids, clock reads,
// attributes), so a request pays for none. Log lines then carry no trace ids.
const tracingOff = Layer.succeed(References.TracerEnabled, false)

const defined = <A extends object>(fields: A): A =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as A

/**
 * The exporters for `config` (nothing but a no-op `Flusher` when
 * `TelemetryConfig.isEnabled(config)` is false). Provides Effect's
 * `OtlpExporter.Flusher`, whose `flush` sends what is buffered now.
 *
 * @example
 * ```ts
 * import { Telemetry, TelemetryConfig } from "@org/telemetry"
 * import { Effect } from "effect"
 *
 * const Otel = Telemetry.layer(
 *   {
 *     ...TelemetryConfig.off,
 *     protocol: "http/json",
 *     endpoints: { traces: "http://127.0.0.1:4318/v1/traces", metrics: undefined, logs: undefined }
 *   },
 *   { serviceName: "example-api", shutdownTimeout: "2 seconds" }
 * )
 * const program = Effect.log("hello").pipe(Effect.withSpan("greet"), Effect.provide(Otel))
 * ```
 *
 * @since 0.4.0
 * @category layers
 */
export const layer = (
  config: TelemetryConfig.TelemetryConfig,
  options: Options = {}
): Layer.Layer<OtlpExporter.Flusher> => {
  if (!TelemetryConfig.isEnabled(config)) return Layer.merge(OtlpExporter.layerFlusher, tracingOff)
  const { logs, metrics, traces } = config.endpoints
  const signals = [logs, metrics, traces].filter((url) => url !== undefined).length
  // Each exporter's finalizer runs in turn: share the bound so the total stays within it.
  const shutdownTimeout = Duration.divideUnsafe(
    Duration.fromInputUnsafe(options.shutdownTimeout ?? defaultShutdownTimeout),
    signals
  )
  const headers = Object.fromEntries(
    Object.entries(config.headers).map(([key, value]) => [key, Redacted.value(value)])
  )
  const resource = defined({
    serviceName: config.serviceName ?? options.serviceName ?? "unknown_service:node",
    serviceVersion: options.serviceVersion,
    attributes: config.resourceAttributes
  })
  const common = defined({ resource, headers, shutdownTimeout, maxBatchSize: options.maxBatchSize })
  const Traces =
    traces === undefined
      ? tracingOff
      : Layer.effect(
          Tracer.Tracer,
          Effect.map(
            (config.protocol === "http/json" ? OtlpTracer.make : OtlpTraces.make)({
              ...common,
              url: traces,
              ...defined({ exportInterval: options.exportInterval })
            }),
            (tracer) => Sampler.wrap(tracer, config.sampler)
          )
        )
  const Metrics =
    metrics === undefined
      ? Layer.empty
      : Layer.effectDiscard(
          OtlpMetrics.make({
            ...defined({ resource, headers, shutdownTimeout, exportInterval: options.metricsExportInterval }),
            url: metrics
          })
        )
  // Effect's tracer logger copies log lines into span events, which leave the
  // process with the spans: it is swapped for its redacted version.
  const Logs = Layer.effect(
    Logger.CurrentLoggers,
    Effect.gen(function* () {
      const loggers = new Set<Logger.Logger<unknown, unknown>>()
      for (const existing of yield* Logger.CurrentLoggers) {
        loggers.add(existing === Logger.tracerLogger ? Redaction.tracerLogger : existing)
      }
      if (logs !== undefined) {
        const otlp = yield* OtlpLogger.make({
          ...common,
          url: logs,
          ...defined({ exportInterval: options.exportInterval })
        })
        loggers.add(Redaction.logger(otlp))
      }
      return loggers
    })
  )
  const Serialization =
    config.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
  return Layer.mergeAll(Traces, Metrics, Logs).pipe(
    Layer.provide(Layer.merge(Serialization, options.httpClient ?? FetchHttpClient.layer)),
    Layer.provideMerge(OtlpExporter.layerFlusher)
  )
}

/**
 * `layer` with the settings read from the `OTEL_*` variables; a bad value
 * fails the layer with a `ConfigError` naming the variable.
 *
 * @example
 * ```ts
 * import { Telemetry } from "@org/telemetry"
 * import { Effect } from "effect"
 *
 * const program = Effect.log("hello").pipe(
 *   Effect.withSpan("greet"),
 *   Effect.provide(Telemetry.layerConfig({ serviceName: "example-api" }))
 * )
 * ```
 *
 * @since 0.4.0
 * @category layers
 */
export const layerConfig = (options: Options = {}): Layer.Layer<OtlpExporter.Flusher, Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      return layer(yield* TelemetryConfig.config, options)
    })
  )
