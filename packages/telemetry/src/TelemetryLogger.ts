/**
 * The kit's console logger: one JSON object per line in production
 * (`time`, `level`, `message`, `trace_id`, `span_id`, `request_id`, then the
 * other log annotations as fields, `cause` on failures), Effect's pretty
 * lines in development. Both are redacted (`Redaction`): secrets by field
 * name and `Redacted` values never reach the output.
 *
 * @since 0.4.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import * as Redaction from "./Redaction.ts"

/**
 * `LOG_FORMAT`: one JSON object per line, or human-readable lines.
 *
 * @since 0.4.0
 * @category models
 */
export type Format = "json" | "pretty"

const reserved = new Set(["time", "level", "message", "trace_id", "span_id", "request_id", "cause", "spans"])

// The span a log line belongs to: the fiber's current one, unless it opted out of propagation.
const currentSpan = (fiber: Fiber.Fiber<unknown, unknown>): Tracer.AnySpan | undefined => {
  let span: Tracer.AnySpan | undefined = fiber.cache.span
  while (span !== undefined && Context.get(span.annotations, Tracer.DisablePropagation)) {
    span = span._tag === "Span" && span.parent._tag === "Some" ? span.parent.value : undefined
  }
  return span
}

/**
 * The JSON line of a log event (already redacted), without the newline.
 *
 * @example
 * ```ts
 * import { TelemetryLogger } from "@org/telemetry"
 * import { Effect, Logger } from "effect"
 *
 * const lines: Array<string> = []
 * const capture = Logger.map(TelemetryLogger.formatJson, (line) => lines.push(line))
 * Effect.runSync(Effect.log("hello").pipe(Effect.provide(Logger.layer([capture]))))
 * // lines[0]: {"time":"...","level":"INFO","message":"hello"}
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const formatJson: Logger.Logger<unknown, string> = Logger.make(
  ({ cause, date, fiber, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const line: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.toUpperCase(),
      message: parts.length === 1 ? Redaction.redact(parts[0]) : parts.map(Redaction.redact)
    }
    const span = currentSpan(fiber)
    if (span !== undefined && span.spanId !== "noop") {
      line.trace_id = span.traceId
      line.span_id = span.spanId
    }
    const annotations = Redaction.redactFields(fiber.getRef(References.CurrentLogAnnotations))
    if (annotations.requestId !== undefined) line.request_id = annotations.requestId
    for (const [key, value] of Object.entries(annotations)) {
      if (key === "requestId") continue
      // An annotation named like a line field keeps its value under `field.<name>`.
      Object.defineProperty(line, reserved.has(key) ? `field.${key}` : key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true
      })
    }
    const spans = fiber.getRef(References.CurrentLogSpans)
    if (spans.length > 0) {
      const now = date.getTime()
      line.spans = Object.fromEntries(spans.map(([label, start]) => [label, now - start]))
    }
    if (cause.reasons.length > 0) line.cause = Cause.pretty(cause)
    return JSON.stringify(line, (_key, value) => (typeof value === "bigint" ? value.toString() : value))
  }
)

/**
 * The console logger for `format`: JSON lines on stdout, or Effect's pretty
 * logger; both redacted.
 *
 * @example
 * ```ts
 * import { TelemetryLogger } from "@org/telemetry"
 *
 * const logger = TelemetryLogger.make({ format: "json" })
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const make = (options: { readonly format: Format }): Logger.Logger<unknown, void> =>
  options.format === "json" ? Logger.withConsoleLog(formatJson) : Redaction.logger(Logger.consolePretty())

/**
 * Replaces the loggers with `make(options)` and a redacted version of
 * Effect's tracer logger (which records log lines as span events). Provide
 * it outside `Telemetry.layer` so the OTLP logger joins it.
 *
 * @example
 * ```ts
 * import { Telemetry, TelemetryLogger } from "@org/telemetry"
 * import { Effect, Layer } from "effect"
 *
 * const Observability = Telemetry.layerConfig({ serviceName: "example-api" }).pipe(
 *   Layer.provideMerge(TelemetryLogger.layer({ format: "json" }))
 * )
 * const program = Effect.log("hello").pipe(Effect.provide(Observability))
 * ```
 *
 * @since 0.4.0
 * @category layers
 */
export const layer = (options: { readonly format: Format }): Layer.Layer<never> =>
  Logger.layer([make(options), Redaction.tracerLogger])
