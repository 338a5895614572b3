/**
 * The OTel samplers on top of any Effect `Tracer`. Effect decides `sampled`
 * itself (a child of an unsampled parent is unsampled, spans under
 * `Tracer.MinimumTraceLevel` are unsampled) and passes the decision to
 * `tracer.span`; the OTLP tracer exports only sampled spans. `wrap` replaces
 * that decision with the configured sampler's: the parent's flag for the
 * `parentbased_*` samplers, a deterministic test of the trace id for the
 * ratio samplers (the same trace id gives the same answer in every service).
 *
 * @since 0.4.0
 */
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { SamplerConfig } from "./TelemetryConfig.ts"

const twoPow52 = 2 ** 52

/**
 * Whether a trace id falls under the ratio: its last 13 hex digits (52
 * random bits, exact in a double) read as a fraction of 2^52, kept when
 * below `ratio`. Ratio 0 keeps nothing, ratio 1 everything.
 *
 * @example
 * ```ts
 * import { Sampler } from "@org/telemetry"
 *
 * Sampler.traceIdRatio("4bf92f3577b34da6a3ce929d0e0e4736", 1) // true
 * Sampler.traceIdRatio("4bf92f3577b34da6a3ce929d0e0e4736", 0) // false
 * ```
 *
 * @since 0.4.0
 * @category sampling
 */
export const traceIdRatio = (traceId: string, ratio: number): boolean => {
  if (ratio >= 1) return true
  if (ratio <= 0) return false
  const tail = Number.parseInt(traceId.slice(-13), 16)
  return Number.isFinite(tail) && tail / twoPow52 < ratio
}

/**
 * The tracer with the sampler's decision. `always_on` and
 * `parentbased_always_on` are Effect's own behaviour: the tracer is
 * returned as is. Spans Effect already drops for their trace level stay
 * dropped.
 *
 * @example
 * ```ts
 * import { Sampler } from "@org/telemetry"
 * import { Tracer } from "effect"
 *
 * const tracer = Sampler.wrap(Tracer.nativeTracer, { name: "parentbased_traceidratio", ratio: 0.1 })
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const wrap = (tracer: Tracer.Tracer, sampler: SamplerConfig): Tracer.Tracer => {
  if (sampler.name === "always_on" || sampler.name === "parentbased_always_on") return tracer
  const parentBased = sampler.name.startsWith("parentbased_")
  const ratio = sampler.name.endsWith("traceidratio")
    ? sampler.ratio
    : sampler.name.endsWith("always_off")
      ? 0
      : 1
  return Tracer.make({
    span(options) {
      const parent = Option.getOrUndefined(options.parent)
      // Effect folds the parent's flag into `options.sampled`; what remains is the trace-level filter.
      const levelAllows = options.sampled || (parent !== undefined && !parent.sampled)
      if (!levelAllows) return tracer.span(options)
      if (parentBased && parent !== undefined) return tracer.span({ ...options, sampled: parent.sampled })
      if (ratio >= 1 || ratio <= 0) return tracer.span({ ...options, sampled: ratio >= 1 })
      if (parent !== undefined)
        return tracer.span({ ...options, sampled: traceIdRatio(parent.traceId, ratio) })
      // A root span: its trace id exists once the span does, so make it and ask.
      const span = tracer.span({ ...options, sampled: true })
      return traceIdRatio(span.traceId, ratio) ? span : tracer.span({ ...options, sampled: false })
    },
    ...(tracer.context === undefined ? {} : { context: tracer.context })
  })
}
