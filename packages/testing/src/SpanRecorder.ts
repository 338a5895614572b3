/**
 * An in-memory tracer for tests: every span the code under test opens is
 * kept, in order, for a test to inspect its name, parent, kind and
 * attributes. Provide `layer` (or use `tracer` where a `Tracer` is wanted
 * directly, as `@effect/opentelemetry`'s tests do).
 *
 * @since 0.4.0
 */
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/**
 * A recording: the spans so far, a filter by name, a reset, the tracer and
 * its layer.
 *
 * @since 0.4.0
 * @category models
 */
export interface Recording {
  readonly spans: ReadonlyArray<Tracer.NativeSpan>
  readonly named: (name: string) => ReadonlyArray<Tracer.NativeSpan>
  /** Forgets the spans so far (the next ones are recorded as before). */
  readonly clear: () => void
  readonly tracer: Tracer.Tracer
  readonly layer: Layer.Layer<never>
}

/**
 * A fresh recording tracer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SpanRecorder } from "@org/testing"
 *
 * const recording = SpanRecorder.make()
 * Effect.runSync(Effect.void.pipe(Effect.withSpan("work"), Effect.provide(recording.layer)))
 * recording.named("work").length // 1
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const make = (): Recording => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return {
    spans,
    named: (name) => spans.filter((span) => span.name === name),
    clear: () => {
      spans.length = 0
    },
    tracer,
    layer: Layer.succeed(Tracer.Tracer, tracer)
  }
}

/**
 * The span's parent span id, if it has a parent span.
 *
 * @since 0.4.0
 * @category accessors
 */
export const parentId = (span: Tracer.NativeSpan): string | undefined =>
  Option.isSome(span.parent) ? span.parent.value.spanId : undefined
