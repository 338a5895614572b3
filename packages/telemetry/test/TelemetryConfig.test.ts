import { assert, describe, it } from "@effect/vitest"
import { AppConfig } from "@org/core"
import { TelemetryConfig } from "@org/telemetry"
import { ConfigProvider, Effect, Exit, Redacted, Result } from "effect"
import * as fc from "fast-check"

const load = (env: Record<string, string>) =>
  TelemetryConfig.config
    .parse(ConfigProvider.fromEnv({ env }))
    .pipe(Effect.mapError(AppConfig.fromConfigError))

const failure = (env: Record<string, string>): string => {
  const exit = Effect.runSyncExit(load(env))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return String(exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error.message : r._tag)))
}

describe("TelemetryConfig", () => {
  it.effect("nothing set: off, protobuf, parentbased_always_on", () =>
    Effect.gen(function* () {
      const config = yield* load({})
      assert.isFalse(TelemetryConfig.isEnabled(config))
      assert.strictEqual(config.protocol, "http/protobuf")
      assert.deepStrictEqual(config.sampler, { name: "parentbased_always_on", ratio: 1 })
    })
  )

  it.effect("the generic endpoint gets /v1/<signal>; a per-signal endpoint is used as is", () =>
    Effect.gen(function* () {
      const config = yield* load({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/prefix/",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/custom/path"
      })
      assert.deepStrictEqual(config.endpoints, {
        traces: "https://traces.example/custom/path",
        metrics: "http://collector:4318/prefix/v1/metrics",
        logs: "http://collector:4318/prefix/v1/logs"
      })
      assert.isTrue(TelemetryConfig.isEnabled(config))
      const disabled = yield* load({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_SDK_DISABLED: "TRUE"
      })
      assert.isFalse(TelemetryConfig.isEnabled(disabled))
    })
  )

  it.effect("headers are decoded and kept Redacted; resource attributes and service name", () =>
    Effect.gen(function* () {
      const config = yield* load({
        OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20abc, x-tenant = t1 ,",
        OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attrs,deployment.environment=prod%2Feu",
        OTEL_TRACES_SAMPLER: "ParentBased_TraceIdRatio",
        OTEL_TRACES_SAMPLER_ARG: "0.25"
      })
      assert.strictEqual(Redacted.value(config.headers.Authorization!), "Bearer abc")
      assert.strictEqual(Redacted.value(config.headers["x-tenant"]!), "t1")
      assert.notInclude(String(config.headers.Authorization), "abc")
      assert.strictEqual(config.serviceName, "from-attrs")
      assert.strictEqual(config.resourceAttributes["deployment.environment"], "prod/eu")
      assert.deepStrictEqual(config.sampler, { name: "parentbased_traceidratio", ratio: 0.25 })
      const named = yield* load({ OTEL_SERVICE_NAME: "svc", OTEL_RESOURCE_ATTRIBUTES: "service.name=other" })
      assert.strictEqual(named.serviceName, "svc")
    })
  )

  it("a bad value is one line naming the variable", () => {
    assert.match(
      failure({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
      /^Invalid configuration: OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json \(got "grpc"\)$/
    )
    assert.match(
      failure({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }),
      /^Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT must be an http/
    )
    assert.match(
      failure({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "ftp://x" }),
      /^Invalid configuration: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT /
    )
    assert.match(
      failure({ OTEL_EXPORTER_OTLP_HEADERS: "novalue" }),
      /^Invalid configuration: OTEL_EXPORTER_OTLP_HEADERS has an entry without "="/
    )
    assert.match(
      failure({ OTEL_EXPORTER_OTLP_HEADERS: "a=%E0%A4%A" }),
      /^Invalid configuration: OTEL_EXPORTER_OTLP_HEADERS has a badly percent-encoded value/
    )
    assert.match(
      failure({ OTEL_RESOURCE_ATTRIBUTES: "=v" }),
      /^Invalid configuration: OTEL_RESOURCE_ATTRIBUTES has an entry with an empty key/
    )
    assert.match(
      failure({ OTEL_TRACES_SAMPLER: "sometimes" }),
      /^Invalid configuration: OTEL_TRACES_SAMPLER must be one of/
    )
    assert.match(
      failure({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1.5" }),
      /^Invalid configuration: OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1/
    )
    assert.match(
      failure({ OTEL_SDK_DISABLED: "yes" }),
      /^Invalid configuration: OTEL_SDK_DISABLED must be one of false, true/
    )
  })

  it("headers round trip: any token names and any values, percent-encoded", () => {
    const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/)
    fc.assert(
      fc.property(
        fc.dictionary(token, fc.string({ unit: "grapheme", maxLength: 30 }), { maxKeys: 6 }),
        (headers) => {
          const raw = Object.entries(headers)
            .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
            .join(",")
          const parsed = TelemetryConfig.parseList(raw, { headerNames: true })
          assert.isTrue(Result.isSuccess(parsed))
          assert.deepStrictEqual(Result.getOrThrow(parsed), { ...headers })
        }
      )
    )
  })

  it("the signal path is appended once whatever the trailing slashes", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("", "/", "/a", "/a/", "/a//"),
        fc.constantFrom("traces", "metrics", "logs" as const),
        (path, signal) => {
          const url = TelemetryConfig.signalUrl(new URL(`http://c:4318${path}`), signal)
          assert.isTrue(url.endsWith(`/v1/${signal}`))
          assert.notInclude(url.slice("http://".length), "//")
        }
      )
    )
  })
})
