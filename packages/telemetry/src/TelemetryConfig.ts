/**
 * The standard OpenTelemetry variables, read with Effect's `Config`: where to
 * export (`OTEL_EXPORTER_OTLP_ENDPOINT` and the per-signal endpoints), how
 * (`OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_HEADERS`), who we are
 * (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`), what to keep
 * (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`) and the off switch
 * (`OTEL_SDK_DISABLED`). A bad value is one `ConfigError` naming the
 * variable (`AppConfig.fromConfigError` renders it as one line).
 *
 * @since 0.4.0
 */
import { AppConfig } from "@org/core"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

/**
 * `OTEL_EXPORTER_OTLP_PROTOCOL`. gRPC is not offered: Effect's exporters speak OTLP/HTTP.
 *
 * @since 0.4.0
 * @category models
 */
export type Protocol = "http/protobuf" | "http/json"

/**
 * The samplers of `OTEL_TRACES_SAMPLER`.
 *
 * @since 0.4.0
 * @category models
 */
export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio"

/**
 * A sampler: its name and, for the ratio samplers, the ratio in [0, 1]
 * (`OTEL_TRACES_SAMPLER_ARG`, default 1).
 *
 * @since 0.4.0
 * @category models
 */
export interface SamplerConfig {
  readonly name: SamplerName
  readonly ratio: number
}

/**
 * The settings, with each signal's endpoint resolved (`undefined`: that
 * signal is not exported).
 *
 * @since 0.4.0
 * @category models
 */
export interface TelemetryConfig {
  readonly disabled: boolean
  readonly endpoints: {
    readonly traces: string | undefined
    readonly metrics: string | undefined
    readonly logs: string | undefined
  }
  readonly protocol: Protocol
  /** Header values may be credentials (`Authorization=Bearer ...`): kept `Redacted`. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly serviceName: string | undefined
  readonly resourceAttributes: Readonly<Record<string, string>>
  readonly sampler: SamplerConfig
}

/**
 * Whether anything is exported: not disabled and at least one endpoint.
 *
 * @example
 * ```ts
 * import { TelemetryConfig } from "@org/telemetry"
 * import { ConfigProvider, Effect } from "effect"
 *
 * const config = Effect.runSync(
 *   TelemetryConfig.config.parse(ConfigProvider.fromEnv({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" } }))
 * )
 * TelemetryConfig.isEnabled(config) // true
 * ```
 *
 * @since 0.4.0
 * @category predicates
 */
export const isEnabled = (config: TelemetryConfig): boolean =>
  !config.disabled &&
  (config.endpoints.traces !== undefined ||
    config.endpoints.metrics !== undefined ||
    config.endpoints.logs !== undefined)

// --- pure parsers (a `Result` whose failure is the problem, without the variable name)

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const decodeComponent = Schema.decodeUnknownResult(Schema.StringFromUriComponent)

/**
 * Parses the `key=value,key2=value2` lists of `OTEL_EXPORTER_OTLP_HEADERS`
 * and `OTEL_RESOURCE_ATTRIBUTES`: keys and values trimmed, values
 * percent-decoded, empty entries skipped, the last repeated key wins.
 *
 * @example
 * ```ts
 * import { TelemetryConfig } from "@org/telemetry"
 *
 * TelemetryConfig.parseList("api-key=a%20b, x=1", { headerNames: true })
 * // Result.succeed({ "api-key": "a b", x: "1" })
 * ```
 *
 * @since 0.4.0
 * @category parsing
 */
export const parseList = (
  raw: string,
  options: { readonly headerNames?: boolean | undefined } = {}
): Result.Result<Record<string, string>, string> => {
  const out: Record<string, string> = {}
  for (const entry of raw.split(",")) {
    if (entry.trim() === "") continue
    const eq = entry.indexOf("=")
    if (eq === -1)
      return Result.fail(`has an entry without "=" (${JSON.stringify(entry.trim().slice(0, 40))})`)
    const key = entry.slice(0, eq).trim()
    if (key === "") return Result.fail("has an entry with an empty key")
    if (options.headerNames === true && !headerName.test(key))
      return Result.fail(`has an invalid header name ${JSON.stringify(key.slice(0, 40))}`)
    const value = decodeComponent(entry.slice(eq + 1).trim())
    if (Result.isFailure(value)) return Result.fail(`has a badly percent-encoded value for "${key}"`)
    Object.defineProperty(out, key, {
      value: value.success,
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return Result.succeed(out)
}

/**
 * Checks an OTLP/HTTP endpoint: an absolute `http:` or `https:` URL.
 *
 * @example
 * ```ts
 * import { TelemetryConfig } from "@org/telemetry"
 *
 * TelemetryConfig.parseEndpoint("localhost:4318") // a failure: not an http(s) URL
 * ```
 *
 * @since 0.4.0
 * @category parsing
 */
export const parseEndpoint = (raw: string): Result.Result<URL, string> => {
  const url = URL.canParse(raw.trim()) ? new URL(raw.trim()) : undefined
  return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
    ? Result.succeed(url)
    : Result.fail(`must be an http:// or https:// URL (got ${JSON.stringify(raw.slice(0, 60))})`)
}

/**
 * The generic endpoint with the signal's path appended, as the OTel spec
 * says (`http://c:4318` -> `http://c:4318/v1/traces`; a path prefix is kept).
 *
 * @example
 * ```ts
 * import { TelemetryConfig } from "@org/telemetry"
 *
 * TelemetryConfig.signalUrl(new URL("http://collector:4318/otel/"), "traces") // "http://collector:4318/otel/v1/traces"
 * ```
 *
 * @since 0.4.0
 * @category parsing
 */
export const signalUrl = (base: URL, signal: "traces" | "metrics" | "logs"): string => {
  const url = new URL(base.href)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/${signal}`
  return url.href
}

/**
 * Parses `OTEL_TRACES_SAMPLER_ARG` for the ratio samplers: a number in [0, 1].
 *
 * @example
 * ```ts
 * import { TelemetryConfig } from "@org/telemetry"
 *
 * TelemetryConfig.parseRatio("0.25") // Result.succeed(0.25)
 * ```
 *
 * @since 0.4.0
 * @category parsing
 */
export const parseRatio = (raw: string): Result.Result<number, string> => {
  const text = raw.trim()
  const ratio = text === "" ? Number.NaN : Number(text)
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1
    ? Result.succeed(ratio)
    : Result.fail(`must be a number between 0 and 1 (got ${JSON.stringify(raw.slice(0, 40))})`)
}

// --- configs

const fromResult = <A>(name: string, result: Result.Result<A, string>) =>
  Result.isSuccess(result)
    ? Effect.succeed(result.success)
    : Effect.fail(AppConfig.configError(name, result.failure))

const optionalString = (name: string): Config.Config<string | undefined> =>
  Config.String(name).pipe(
    Config.option,
    Config.map((value) => (Option.isSome(value) && value.value.trim() !== "" ? value.value : undefined))
  )

const endpoint = (name: string) =>
  optionalString(name).pipe(
    Config.mapEffect((raw) =>
      raw === undefined ? Effect.succeed(undefined) : fromResult(name, parseEndpoint(raw))
    )
  )

const list = (name: string, headerNames: boolean): Config.Config<Record<string, string>> =>
  optionalString(name).pipe(
    Config.mapEffect((raw) =>
      raw === undefined
        ? Effect.succeed<Record<string, string>>({})
        : fromResult(name, parseList(raw, { headerNames }))
    )
  )

/**
 * `OTEL_SDK_DISABLED`: `true` or `false` (case-insensitive), default `false`.
 *
 * @since 0.4.0
 * @category config
 */
export const disabled: Config.Config<boolean> = AppConfig.literal(
  "OTEL_SDK_DISABLED",
  ["false", "true"],
  "false"
).pipe(Config.map((value) => value === "true"))

/**
 * `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (default) or `http/json`.
 *
 * @since 0.4.0
 * @category config
 */
export const protocol: Config.Config<Protocol> = AppConfig.literal(
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  ["http/protobuf", "http/json"],
  "http/protobuf"
)

/**
 * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`; default `parentbased_always_on`.
 *
 * @since 0.4.0
 * @category config
 */
export const sampler: Config.Config<SamplerConfig> = Config.all({
  name: AppConfig.literal(
    "OTEL_TRACES_SAMPLER",
    [
      "parentbased_always_on",
      "always_on",
      "always_off",
      "traceidratio",
      "parentbased_always_off",
      "parentbased_traceidratio"
    ],
    "parentbased_always_on"
  ),
  arg: optionalString("OTEL_TRACES_SAMPLER_ARG")
}).pipe(
  Config.mapEffect(
    ({ arg, name }): Effect.Effect<SamplerConfig, Config.ConfigError> =>
      name === "traceidratio" || name === "parentbased_traceidratio"
        ? arg === undefined
          ? Effect.succeed({ name, ratio: 1 })
          : Effect.map(fromResult("OTEL_TRACES_SAMPLER_ARG", parseRatio(arg)), (ratio) => ({ name, ratio }))
        : Effect.succeed({ name, ratio: name.endsWith("always_off") ? 0 : 1 })
  )
)

/**
 * All the variables as one `Config`.
 *
 * @example
 * ```ts
 * import { AppConfig } from "@org/core"
 * import { TelemetryConfig } from "@org/telemetry"
 * import { ConfigProvider, Effect } from "effect"
 *
 * const exit = Effect.runSyncExit(
 *   TelemetryConfig.config
 *     .parse(ConfigProvider.fromEnv({ env: { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" } }))
 *     .pipe(Effect.mapError(AppConfig.fromConfigError))
 * )
 * // Invalid configuration: OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json (got "grpc")
 * ```
 *
 * @since 0.4.0
 * @category config
 */
export const config: Config.Config<TelemetryConfig> = Config.all({
  disabled,
  base: endpoint("OTEL_EXPORTER_OTLP_ENDPOINT"),
  traces: endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
  metrics: endpoint("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
  logs: endpoint("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
  protocol,
  headers: list("OTEL_EXPORTER_OTLP_HEADERS", true),
  serviceName: optionalString("OTEL_SERVICE_NAME"),
  resourceAttributes: list("OTEL_RESOURCE_ATTRIBUTES", false),
  sampler
}).pipe(
  Config.map(({ base, headers, logs, metrics, resourceAttributes, serviceName, traces, ...rest }) => {
    // Per the spec a per-signal endpoint is used as is; the generic one gets `/v1/<signal>`.
    const resolve = (own: URL | undefined, signal: "traces" | "metrics" | "logs") =>
      own !== undefined ? own.href : base !== undefined ? signalUrl(base, signal) : undefined
    return {
      ...rest,
      endpoints: {
        traces: resolve(traces, "traces"),
        metrics: resolve(metrics, "metrics"),
        logs: resolve(logs, "logs")
      },
      headers: Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, Redacted.make<string>(v, { label: k })])
      ),
      serviceName: serviceName?.trim() ?? resourceAttributes["service.name"],
      resourceAttributes
    }
  })
)

/**
 * The settings when nothing is configured: nothing exported.
 *
 * @since 0.4.0
 * @category constants
 */
export const off: TelemetryConfig = {
  disabled: false,
  endpoints: { traces: undefined, metrics: undefined, logs: undefined },
  protocol: "http/protobuf",
  headers: {},
  serviceName: undefined,
  resourceAttributes: {},
  sampler: { name: "parentbased_always_on", ratio: 1 }
}
