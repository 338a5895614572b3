import { assert, describe, it } from "@effect/vitest"
import { Telemetry, TelemetryConfig, TelemetryLogger } from "@org/telemetry"
import { Effect, Layer, Metric, Redacted, Tracer } from "effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import { TestConsole } from "effect/testing"
import * as OtlpReceiver from "./fixtures/OtlpReceiver.ts"

const configFor = (
  url: string,
  protocol: TelemetryConfig.Protocol,
  overrides: Partial<TelemetryConfig.TelemetryConfig> = {}
): TelemetryConfig.TelemetryConfig => ({
  ...TelemetryConfig.off,
  protocol,
  endpoints: { traces: `${url}/v1/traces`, metrics: `${url}/v1/metrics`, logs: `${url}/v1/logs` },
  serviceName: "telemetry-test",
  resourceAttributes: { "deployment.environment": "test" },
  ...overrides
})

const fast = {
  exportInterval: "50 millis",
  metricsExportInterval: "50 millis",
  shutdownTimeout: "2 seconds"
} as const

const jobs = Metric.counter("jobs_done")

// One traced unit of work with a log line inside; returns its span's ids.
const work = Effect.gen(function* () {
  const span = yield* Effect.currentSpan
  yield* Effect.log("inside work").pipe(Effect.annotateLogs({ requestId: "req-1" }))
  yield* Metric.update(jobs, 1)
  yield* Effect.void.pipe(Effect.withSpan("child"))
  return { traceId: span.traceId, spanId: span.spanId }
}).pipe(Effect.withSpan("work"))

describe("Telemetry", () => {
  for (const protocol of ["http/json", "http/protobuf"] as const) {
    it.live(`exports spans, metrics and logs over ${protocol}, flushed when the layer closes`, () =>
      Effect.gen(function* () {
        const receiver = yield* OtlpReceiver.make()
        const ids = yield* work.pipe(Effect.provide(Telemetry.layer(configFor(receiver.url, protocol), fast)))
        const paths = new Set(receiver.received.map((r) => r.path))
        assert.deepStrictEqual([...paths].sort(), ["/v1/logs", "/v1/metrics", "/v1/traces"])
        for (const r of receiver.received)
          assert.include(r.contentType, protocol === "http/json" ? "json" : "protobuf")
        const decoded = receiver.decode()
        assert.strictEqual(decoded.resource["service.name"], "telemetry-test")
        assert.strictEqual(decoded.resource["deployment.environment"], "test")
        const workSpan = decoded.spans.find((s) => s.name === "work")
        const child = decoded.spans.find((s) => s.name === "child")
        assert.isDefined(workSpan)
        assert.strictEqual(workSpan?.traceId, ids.traceId)
        assert.strictEqual(child?.parentSpanId, ids.spanId)
        assert.strictEqual(child?.traceId, ids.traceId)
        assert.include(decoded.metrics, "jobs_done")
        const log = decoded.logs.find((l) => l.body === "inside work")
        assert.isDefined(log)
        // The log record carries the span it was written in.
        assert.strictEqual(log?.traceId, ids.traceId)
        assert.strictEqual(log?.spanId, ids.spanId)
        assert.strictEqual(log?.attributes.requestId, "req-1")
      })
    )
  }

  it.live("parentbased_traceidratio 0 drops root spans but keeps children of a sampled parent", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make()
      const parent = Tracer.externalSpan({
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: "00f067aa0ba902b7",
        sampled: true
      })
      const config = configFor(receiver.url, "http/json", {
        sampler: { name: "parentbased_traceidratio", ratio: 0 }
      })
      yield* Effect.gen(function* () {
        yield* Effect.void.pipe(Effect.withSpan("dropped-root"))
        yield* Effect.void.pipe(Effect.withSpan("dropped-child"), Effect.withSpan("dropped-root-2"))
        yield* Effect.void.pipe(Effect.withSpan("kept-child"), Effect.withParentSpan(parent))
      }).pipe(Effect.provide(Telemetry.layer(config, fast)))
      const names = receiver.decode().spans.map((s) => s.name)
      assert.deepStrictEqual(names, ["kept-child"])
      assert.strictEqual(receiver.decode().spans[0]?.traceId, parent.traceId)
    })
  )

  it.live("disabled or without endpoint: nothing sent, no connection, tracing off (no-op spans)", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make()
      const disabled = configFor(receiver.url, "http/protobuf", { disabled: true })
      for (const config of [disabled, TelemetryConfig.off]) {
        const [tracer, span] = yield* Effect.gen(function* () {
          yield* work
          return [yield* Effect.tracer, yield* Effect.currentSpan.pipe(Effect.withSpan("inside"))] as const
        }).pipe(Effect.provide(Telemetry.layer(config, fast)))
        assert.strictEqual(tracer, Tracer.nativeTracer)
        // A span nobody receives is not made: no ids, no timing.
        assert.strictEqual(span.spanId, "noop")
      }
      yield* Effect.sleep("100 millis")
      assert.strictEqual(receiver.connections(), 0)
      assert.strictEqual(receiver.received.length, 0)
      // With a traces endpoint, spans are real.
      const on = yield* Effect.currentSpan.pipe(
        Effect.withSpan("inside"),
        Effect.provide(Telemetry.layer(configFor(receiver.url, "http/protobuf"), fast))
      )
      assert.notStrictEqual(on.spanId, "noop")
      assert.match(on.spanId, /^[0-9a-f]{16}$/)
    })
  )

  it.live("posts through the HttpClient it is given (the runner gives Node's undici client)", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make()
      const posted: Array<string> = []
      const client = Layer.succeed(
        HttpClient.HttpClient,
        HttpClient.make((request) =>
          Effect.sync(() => {
            posted.push(request.url)
            return HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))
          })
        )
      )
      yield* work.pipe(
        Effect.provide(
          Telemetry.layer(configFor(receiver.url, "http/protobuf"), { ...fast, httpClient: client })
        )
      )
      assert.includeMembers(posted, [`${receiver.url}/v1/traces`, `${receiver.url}/v1/logs`])
      assert.strictEqual(receiver.connections(), 0)
    })
  )

  it.live("the shutdown flush is bounded by shutdownTimeout when the collector hangs", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make({ hang: true })
      const start = Date.now()
      yield* work.pipe(
        Effect.provide(
          Telemetry.layer(configFor(receiver.url, "http/json"), {
            ...fast,
            exportInterval: "1 hour",
            // 500 ms per signal: time for a loaded machine to send, far below a hang
            shutdownTimeout: "1500 millis"
          })
        )
      )
      const elapsed = Date.now() - start
      assert.isAtLeast(receiver.received.length, 1)
      assert.isBelow(elapsed, 4000)
    })
  )

  it.live("secrets never reach the OTLP payloads (logs, span events)", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make()
      yield* Effect.gen(function* () {
        yield* Effect.log({ password: "p", nested: { token: "t" }, r: Redacted.make("x"), user: "ann" })
        yield* Effect.log("with fields").pipe(
          Effect.annotateLogs({
            authorization: "Bearer sentinel-bearer-123",
            refresh_token: "sentinel-refresh-456"
          })
        )
      }).pipe(
        Effect.withSpan("secrets"),
        Effect.provide(Telemetry.layer(configFor(receiver.url, "http/json"), fast))
      )
      const raw = receiver.received.map((r) => r.body.toString("utf8")).join("\n")
      for (const secret of ['\\"p\\"', '\\"t\\"', '\\"x\\"', "sentinel-bearer-123", "sentinel-refresh-456"])
        assert.notInclude(raw, secret)
      const decoded = receiver.decode()
      const body = decoded.logs.find((l) => l.body.includes("password"))?.body ?? ""
      assert.include(body, "ann")
      assert.strictEqual(body.split("<redacted>").length - 1, 3)
      assert.strictEqual(
        decoded.logs.find((l) => l.body === "with fields")?.attributes.authorization,
        "<redacted>"
      )
      // Effect's tracer logger copied the lines into span events: redacted too.
      assert.isAtLeast(decoded.spans.find((s) => s.name === "secrets")?.events.length ?? 0, 2)
    })
  )

  it.live("with TelemetryLogger outside, the JSON line and the OTLP record share the trace id", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make()
      const { ids, lines } = yield* Effect.gen(function* () {
        const ids = yield* work
        return { ids, lines: yield* TestConsole.logLines }
      }).pipe(
        Effect.provide(
          Telemetry.layer(configFor(receiver.url, "http/json"), fast).pipe(
            Layer.provideMerge(TelemetryLogger.layer({ format: "json" }))
          )
        ),
        Effect.provide(TestConsole.layer)
      )
      const line = JSON.parse(String(lines.find((l) => String(l).includes("inside work"))))
      assert.strictEqual(line.trace_id, ids.traceId)
      assert.strictEqual(line.span_id, ids.spanId)
      assert.strictEqual(line.request_id, "req-1")
      const log = receiver.decode().logs.find((l) => l.body === "inside work")
      assert.strictEqual(log?.traceId, ids.traceId)
    })
  )
})
