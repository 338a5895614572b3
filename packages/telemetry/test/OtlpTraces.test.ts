import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Tracer } from "effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Option from "effect/Option"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"
import * as OtlpTraces from "../src/internal/otlpTraces.ts"
import * as Protobuf from "./fixtures/protobuf.ts"

// What one test span is made of: every input `OtlpTracer` turns into bytes.
interface SpanSpec {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parent: { readonly traceId: string; readonly spanId: string } | undefined
  readonly kind: Tracer.SpanKind
  readonly start: bigint
  readonly end: bigint
  readonly attributes: ReadonlyArray<readonly [string, unknown]>
  readonly events: ReadonlyArray<readonly [string, bigint, Record<string, unknown> | undefined]>
  readonly links: ReadonlyArray<{
    readonly traceId: string
    readonly spanId: string
    readonly attributes: Record<string, unknown>
  }>
  readonly exit: "success" | "failure" | "die" | "interrupt"
}

const hexId = (length: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`)) },
    // Ids from outside (a caller's header) are not always clean hex.
    { weight: 1, arbitrary: fc.string({ maxLength: length + 3 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9A-Fa-f]{1,40}$/) }
  )

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  // Long values take more than one length byte.
  { weight: 1, arbitrary: fc.string({ minLength: 100, maxLength: 400 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 60, maxLength: 200 }) }
)

const value: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.boolean(),
  fc.integer(),
  fc.integer({ min: 0, max: 2 ** 31 }),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(2 ** 60, -(2 ** 62), 2 ** 64, Number.NaN, Number.POSITIVE_INFINITY, -0),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean()), { maxLength: 4 }),
  fc.constantFrom(null, undefined, { nested: { a: 1 } }, new Date(0), Symbol.for("s"))
)

const attributeRecord = fc.dictionary(fc.string({ maxLength: 12 }), value, { maxKeys: 4 })

const time = fc.bigInt({ min: 0n, max: 2n ** 63n })

const spanSpec: fc.Arbitrary<SpanSpec> = fc.record({
  name: text,
  traceId: hexId(32),
  spanId: hexId(16),
  parent: fc.option(fc.record({ traceId: hexId(32), spanId: hexId(16) }), { nil: undefined }),
  kind: fc.constantFrom("internal", "server", "client", "producer", "consumer"),
  start: time,
  end: time,
  attributes: fc.array(fc.tuple(fc.oneof(fc.constantFrom("http.route", "url.path"), text), value), {
    maxLength: 12
  }),
  events: fc.array(fc.tuple(text, time, fc.option(attributeRecord, { nil: undefined })), { maxLength: 3 }),
  links: fc.array(fc.record({ traceId: hexId(32), spanId: hexId(16), attributes: attributeRecord }), {
    maxLength: 2
  }),
  exit: fc.constantFrom("success", "failure", "die", "interrupt")
})

const exitOf = (spec: SpanSpec): Exit.Exit<unknown, unknown> => {
  switch (spec.exit) {
    case "success":
      return Exit.void
    case "failure":
      return Exit.fail({ _tag: "NotFound", message: spec.name })
    case "die":
      return Exit.die(new Error(`boom ${spec.name}`))
    case "interrupt":
      return Exit.failCause(Cause.interrupt(1))
  }
}

// A client that keeps every body and answers 200.
const capturing = () => {
  const bodies: Array<Uint8Array> = []
  const layer = Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.sync(() => {
        if (request.body._tag === "Uint8Array") bodies.push(request.body.body)
        return HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))
      })
    )
  )
  return { bodies, layer }
}

const options = {
  url: "http://127.0.0.1:4318/v1/traces",
  resource: { serviceName: "equivalence", attributes: { "deployment.environment": "test", "host.cores": 2 } },
  exportInterval: "1 hour",
  maxBatchSize: 1000
} as const

/** The bytes a tracer sends for `specs`, each span made, filled and ended as Effect's fiber would. */
const bodiesOf = <R>(
  make: Effect.Effect<Tracer.Tracer, never, R>,
  specs: ReadonlyArray<SpanSpec>,
  extra: Layer.Layer<Exclude<R, OtlpExporter.Flusher | HttpClient.HttpClient | Scope.Scope>>
) => {
  const { bodies, layer } = capturing()
  return Effect.gen(function* () {
    const tracer = yield* make
    for (const spec of specs) {
      const span = tracer.span({
        name: spec.name,
        parent:
          spec.parent === undefined
            ? Option.none()
            : Option.some(Tracer.externalSpan({ traceId: spec.parent.traceId, spanId: spec.parent.spanId })),
        annotations: Context.empty(),
        links: spec.links.map((link) => ({
          span: Tracer.externalSpan({ traceId: link.traceId, spanId: link.spanId }),
          attributes: link.attributes
        })),
        startTime: spec.start,
        kind: spec.kind,
        root: spec.parent === undefined,
        sampled: true
      })
      // Both tracers draw random ids lazily into these fields: fix them.
      const ids = span as unknown as { _traceId: string | undefined; _spanId: string }
      if (spec.parent === undefined) ids._traceId = spec.traceId
      ids._spanId = spec.spanId
      for (const [key, value] of spec.attributes) span.attribute(key, value)
      for (const [name, at, attributes] of spec.events) span.event(name, at, attributes)
      span.end(spec.end, exitOf(spec))
    }
    yield* (yield* OtlpExporter.Flusher).flush
    return bodies
  }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(layer, OtlpExporter.layerFlusher, extra)))
}

const effects = (specs: ReadonlyArray<SpanSpec>) =>
  bodiesOf(OtlpTracer.make(options), specs, OtlpSerialization.layerProtobuf)
const ours = (specs: ReadonlyArray<SpanSpec>) => bodiesOf(OtlpTraces.make(options), specs, Layer.empty)

const concat = (parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts.map((part) => Buffer.from(part)))

describe("OtlpTraces", () => {
  it.effect("sends the bytes Effect's OtlpTracer sends for the same spans (property)", () =>
    Effect.gen(function* () {
      const samples = fc.sample(fc.array(spanSpec, { minLength: 1, maxLength: 6 }), {
        numRuns: 300,
        seed: 4242
      })
      for (const specs of samples) {
        const expected = concat(yield* effects(specs))
        const actual = concat(yield* ours(specs))
        if (!expected.equals(actual)) {
          assert.fail(
            `bytes differ for ${JSON.stringify(specs, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}\n` +
              `expected ${expected.toString("hex")}\nactual   ${actual.toString("hex")}`
          )
        }
      }
    })
  )

  it.effect("a batch is one ExportTraceServiceRequest: resource, scope, then every span in order", () =>
    Effect.gen(function* () {
      const specs = fc.sample(spanSpec, { numRuns: 1200, seed: 7 }).map((spec, i) => ({
        ...spec,
        name: `span ${i}`,
        exit: "success" as const
      }))
      const bodies = yield* ours(specs)
      // 1,000 per request, then the rest at the flush.
      assert.strictEqual(bodies.length, 2)
      const names = bodies.flatMap((body) => {
        const resourceSpans = Protobuf.all(body, 1)
        assert.strictEqual(resourceSpans.length, 1)
        const resource = Protobuf.first(resourceSpans[0]!, 1)!
        const keys = Protobuf.all(resource, 1).map((kv) => Protobuf.text(Protobuf.first(kv, 1)))
        assert.includeMembers(keys, ["service.name", "deployment.environment", "host.cores"])
        const scopeSpans = Protobuf.all(resourceSpans[0]!, 2)
        assert.strictEqual(scopeSpans.length, 1)
        assert.strictEqual(Protobuf.text(Protobuf.first(Protobuf.first(scopeSpans[0]!, 1)!, 1)), "effect")
        return Protobuf.all(scopeSpans[0]!, 2).map((span) => Protobuf.text(Protobuf.first(span, 5)))
      })
      assert.deepStrictEqual(
        names,
        specs.map((spec) => spec.name)
      )
    })
  )

  it.effect("unsampled spans are not sent; a span ends once", () =>
    Effect.gen(function* () {
      const { bodies, layer } = capturing()
      yield* Effect.gen(function* () {
        const tracer = yield* OtlpTraces.make(options)
        const make = (name: string, sampled: boolean) =>
          tracer.span({
            name,
            parent: Option.none(),
            annotations: Context.empty(),
            links: [],
            startTime: 1n,
            kind: "internal",
            root: true,
            sampled
          })
        make("dropped", false).end(2n, Exit.void)
        const kept = make("kept", true)
        kept.end(2n, Exit.void)
        kept.end(3n, Exit.void)
        kept.attribute("late", 1)
        yield* (yield* OtlpExporter.Flusher).flush
      }).pipe(Effect.scoped, Effect.provide(Layer.merge(layer, OtlpExporter.layerFlusher)))
      const spans = bodies.flatMap((body) =>
        Protobuf.all(Protobuf.first(Protobuf.first(body, 1)!, 2)!, 2).map((span) => Protobuf.read(span))
      )
      assert.strictEqual(spans.length, 1)
      assert.strictEqual(Protobuf.text(spans[0]!.find((f) => f.field === 5)?.bytes), "kept")
      assert.isUndefined(spans[0]!.find((f) => f.field === 9))
    })
  )

  it.effect(
    "a value whose toJSON and toString throw is sent as Effect formats it, and the next span is intact",
    () =>
      Effect.gen(function* () {
        const hostile = {
          toJSON() {
            throw new Error("no")
          },
          toString() {
            throw new Error("no")
          }
        }
        const [first, second] = fc.sample(spanSpec, { numRuns: 2, seed: 11 })
        const specs = [{ ...first!, attributes: [["hostile", hostile] as const] }, second!]
        const expected = concat(yield* effects(specs))
        const actual = concat(yield* ours(specs))
        assert.isAbove(actual.length, 0)
        assert.isTrue(expected.equals(actual))
      })
  )
})
