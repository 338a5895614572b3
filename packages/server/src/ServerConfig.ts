/**
 * The settings every server reads from the environment (12-factor), with
 * Effect's `Config`: where to listen, how large a request body may be, how
 * to log, how long a shutdown may wait for in-flight requests, and the limits
 * Node enforces before the app sees a request (header size, URL length, how
 * long a client may take). A blank variable (`PORT=`) counts as unset. A bad
 * value fails `load` with `AppConfig.InvalidConfig`, whose message is one
 * line naming the variable.
 *
 * | variable | default | accepted |
 * |---|---|---|
 * | `APP_ENV` | `development` | `development`, `test`, `production` |
 * | `HOST` | `127.0.0.1` | an interface address or host name |
 * | `PORT` | `3000` | an integer from 0 to 65535 (0: any free port) |
 * | `BODY_LIMIT` | `1mb` | a size such as `512kb`, `1mb`, `1048576` |
 * | `LOG_LEVEL` | `info` | `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `none` |
 * | `LOG_FORMAT` | `pretty` in development, `json` otherwise | `pretty`, `json` |
 * | `SHUTDOWN_TIMEOUT` | `10 seconds` | a duration such as `30 seconds` or `500 millis` |
 * | `MAX_HEADER_SIZE` | `16kb` | a size of at least `1kb`: request line plus headers |
 * | `MAX_URL_LENGTH` | `8kb` | a size: the longest request target, in characters |
 * | `HEADERS_TIMEOUT` | `10 seconds` | a duration, at most `REQUEST_TIMEOUT` |
 * | `REQUEST_TIMEOUT` | `30 seconds` | a duration: receiving the whole request, body included |
 * | `KEEP_ALIVE_TIMEOUT` | `65 seconds` | a duration: how long an idle connection stays open |
 *
 * @example
 * ```ts
 * import { ServerConfig } from "@org/server"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const config = yield* ServerConfig.load
 *   yield* Effect.logInfo(`will listen on ${config.host}:${config.port}`)
 * })
 * ```
 *
 * @since 0.2.0
 */
import { AppConfig } from "@org/core"
import { BodyLimit } from "@org/http"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"

/**
 * The validated server settings.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerConfig {
  /** `APP_ENV`: the deployment environment. */
  readonly env: AppConfig.AppEnv
  /** `HOST`: the interface to listen on. */
  readonly host: string
  /** `PORT`: the port to listen on; 0 asks the system for a free one. */
  readonly port: number
  /** `BODY_LIMIT`: the largest accepted request body, in bytes. */
  readonly bodyLimit: number
  /** `LOG_LEVEL`: the least severe level that is logged. */
  readonly logLevel: LogLevel.LogLevel
  /** `LOG_FORMAT`: human-readable lines or one JSON object per line. */
  readonly logFormat: LogFormat
  /** `SHUTDOWN_TIMEOUT`: how long in-flight requests may run after a stop signal. */
  readonly shutdownTimeout: Duration.Duration
  /** `MAX_HEADER_SIZE`: the largest request line plus headers, in bytes; more is a 431. */
  readonly maxHeaderSize: number
  /** `MAX_URL_LENGTH`: the longest request target (path and query), in characters; more is a 414. */
  readonly maxUrlLength: number
  /** `HEADERS_TIMEOUT`: how long a client may take to send the request line and headers; then 408. */
  readonly headersTimeout: Duration.Duration
  /** `REQUEST_TIMEOUT`: how long a client may take to send the whole request, body included; then 408. */
  readonly requestTimeout: Duration.Duration
  /** `KEEP_ALIVE_TIMEOUT`: how long a connection may stay idle between requests before it is closed. */
  readonly keepAliveTimeout: Duration.Duration
}

/**
 * The limits Node enforces before the app sees a request: the part of
 * `ServerConfig` that `Runner.layer` gives the Node server.
 *
 * @since 0.2.0
 * @category models
 */
export type Limits = Pick<
  ServerConfig,
  "maxHeaderSize" | "maxUrlLength" | "headersTimeout" | "requestTimeout" | "keepAliveTimeout"
>

/**
 * The default limits: Node's 16 KiB of headers; 8 KiB of URL (RFC 9112 asks
 * servers to accept request lines of at least 8000 octets); 10 s for the
 * headers, which a real client sends in one packet; 30 s for the whole
 * request (1 MiB at about 35 KiB/s); 65 s of keep-alive, above the 60 s idle
 * timeout of the usual load balancers and proxies, so they close an idle
 * connection before the server does and never send a request on a
 * connection the server is closing.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultLimits: Limits = {
  maxHeaderSize: 16_384,
  maxUrlLength: 8192,
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(30),
  keepAliveTimeout: Duration.seconds(65)
}

/**
 * How log lines are written: `pretty` for people, `json` for collectors.
 *
 * @since 0.2.0
 * @category models
 */
export type LogFormat = "pretty" | "json"

/**
 * The names accepted in `LOG_LEVEL` (case-insensitive), with the Effect log
 * level each one selects.
 *
 * @since 0.2.0
 * @category models
 */
export const logLevels = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
} as const satisfies Record<string, LogLevel.LogLevel>

/**
 * Code-level defaults, used when the variable is unset or blank; a value in
 * the environment always wins.
 *
 * @since 0.2.0
 * @category models
 */
export interface Defaults {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly bodyLimit?: number | undefined
  readonly logLevel?: keyof typeof logLevels | undefined
  readonly logFormat?: LogFormat | undefined
  readonly shutdownTimeout?: Duration.Input | undefined
  readonly maxHeaderSize?: number | undefined
  readonly maxUrlLength?: number | undefined
  readonly headersTimeout?: Duration.Input | undefined
  readonly requestTimeout?: Duration.Input | undefined
  readonly keepAliveTimeout?: Duration.Input | undefined
}

// A case-insensitive choice among `values`, surrounding blanks ignored.
const choice = <const A extends string>(values: ReadonlyArray<A>, problem: string) =>
  Schema.Trim.pipe(
    Schema.decodeTo(Schema.String, SchemaTransformation.toLowerCase()),
    Schema.decodeTo(
      Schema.Literals(values).annotate({ message: problem }),
      SchemaTransformation.passthroughSupertype()
    )
  )

// A string read by an existing parser (Effect's duration codec, `BodyLimit.parse`),
// failing with `problem` as the whole message instead of the parser's wording.
const parsed = <A>(
  to: Schema.Codec<A>,
  parse: (input: string) => Option.Option<A>,
  encode: (value: A) => string,
  problem: string
) =>
  Schema.String.pipe(
    Schema.decodeTo(
      to,
      SchemaTransformation.transformEffect<A, string>({
        decode: (input, options) =>
          Option.match(parse(input.trim()), {
            onNone: () => Effect.fail(new SchemaIssue.InvalidValue({ message: problem }, input, options)),
            onSome: Effect.succeed
          }),
        encode: (value) => Effect.succeed(encode(value))
      })
    )
  )

const Host = Schema.Trim.check(Schema.isNonEmpty({ message: "must be a host name or an IP address" }))

const portProblem = "must be an integer from 0 to 65535"

// `Config.Port` starts at 1; port 0 (any free port) is what tests listen on.
const Port = Schema.String.check(Schema.isPattern(/^\s*\d+\s*$/, { message: portProblem })).pipe(
  Schema.decodeTo(
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65_535 }, { message: portProblem })),
    SchemaTransformation.numberFromString
  )
)

const BodyLimitSize = parsed(
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  BodyLimit.parse,
  String,
  "must be a size such as 512kb, 1mb or 1048576 (bytes)"
)

const LogLevelName = choice(
  ["trace", "debug", "info", "warn", "error", "fatal", "none"],
  "must be one of trace, debug, info, warn, error, fatal or none"
)

const LogFormatName = choice(["pretty", "json"], "must be pretty or json")

const PositiveDuration = parsed(
  Schema.Duration,
  (input) =>
    Option.filter(
      Schema.decodeUnknownOption(Schema.DurationFromString)(input),
      (duration) => Duration.isFinite(duration) && Duration.isPositive(duration)
    ),
  (duration) => `${Duration.toMillis(duration)} millis`,
  'must be a positive duration such as "10 seconds" or "500 millis"'
)

// Below 1 KiB not even a request line with a few ordinary headers fits.
const HeaderSize = parsed(
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(1024)),
  (input) => Option.filter(BodyLimit.parse(input), (bytes) => bytes >= 1024),
  String,
  "must be a size of at least 1kb, such as 16kb or 32768 (bytes)"
)

const UrlLength = parsed(
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  (input) => Option.filter(BodyLimit.parse(input), (length) => length >= 1),
  String,
  "must be a positive length such as 8kb or 4096 (characters)"
)

const duration = (name: string, fallback: Duration.Input) =>
  Config.schema(PositiveDuration, name).pipe(Config.withDefault(Duration.fromInputUnsafe(fallback)))

/**
 * The server settings with code-level `defaults` for unset variables.
 *
 * @example
 * ```ts
 * import { ServerConfig } from "@org/server"
 *
 * // Kubernetes waits 30 s before SIGKILL: drain for at most 25 s unless told otherwise.
 * const config = ServerConfig.make({ port: 8080, shutdownTimeout: "25 seconds" })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (defaults: Defaults = {}): Config.Config<ServerConfig> =>
  Config.all({
    env: AppConfig.appEnv,
    host: Config.schema(Host, "HOST").pipe(Config.withDefault(defaults.host ?? "127.0.0.1")),
    port: Config.schema(Port, "PORT").pipe(Config.withDefault(defaults.port ?? 3000)),
    bodyLimit: Config.schema(BodyLimitSize, "BODY_LIMIT").pipe(
      Config.withDefault(defaults.bodyLimit ?? BodyLimit.defaultMaxBytes)
    ),
    logLevel: Config.schema(LogLevelName, "LOG_LEVEL").pipe(
      Config.withDefault(defaults.logLevel ?? "info"),
      Config.map((name) => logLevels[name])
    ),
    logFormat: Config.option(Config.schema(LogFormatName, "LOG_FORMAT")),
    shutdownTimeout: duration("SHUTDOWN_TIMEOUT", defaults.shutdownTimeout ?? "10 seconds"),
    maxHeaderSize: Config.schema(HeaderSize, "MAX_HEADER_SIZE").pipe(
      Config.withDefault(defaults.maxHeaderSize ?? defaultLimits.maxHeaderSize)
    ),
    maxUrlLength: Config.schema(UrlLength, "MAX_URL_LENGTH").pipe(
      Config.withDefault(defaults.maxUrlLength ?? defaultLimits.maxUrlLength)
    ),
    headersTimeout: duration("HEADERS_TIMEOUT", defaults.headersTimeout ?? defaultLimits.headersTimeout),
    requestTimeout: duration("REQUEST_TIMEOUT", defaults.requestTimeout ?? defaultLimits.requestTimeout),
    keepAliveTimeout: duration(
      "KEEP_ALIVE_TIMEOUT",
      defaults.keepAliveTimeout ?? defaultLimits.keepAliveTimeout
    )
  }).pipe(
    // Node refuses to start a server whose headers timeout is longer than its request timeout.
    Config.mapEffect((settings) =>
      Duration.isGreaterThan(settings.headersTimeout, settings.requestTimeout)
        ? Effect.fail(
            AppConfig.configError(
              "HEADERS_TIMEOUT",
              `must not be longer than REQUEST_TIMEOUT (${Duration.format(settings.requestTimeout)})`
            )
          )
        : Effect.succeed(settings)
    ),
    Config.map(
      (settings): ServerConfig => ({
        ...settings,
        logFormat: Option.getOrElse(
          settings.logFormat,
          () => defaults.logFormat ?? (settings.env === "development" ? "pretty" : "json")
        )
      })
    )
  )

/**
 * The server settings with the defaults listed in the module documentation.
 *
 * @since 0.2.0
 * @category config
 */
export const config: Config.Config<ServerConfig> = make()

/**
 * Reads the server settings from the current `ConfigProvider` (the process
 * environment unless one is provided), failing with one `InvalidConfig`
 * that names the first bad variable.
 *
 * @since 0.2.0
 * @category config
 */
export const load: Effect.Effect<ServerConfig, AppConfig.InvalidConfig> = Effect.mapError(
  config,
  AppConfig.fromConfigError
)

/**
 * `load` with code-level defaults.
 *
 * @since 0.2.0
 * @category config
 */
export const loadWith = (defaults: Defaults): Effect.Effect<ServerConfig, AppConfig.InvalidConfig> =>
  Effect.mapError(make(defaults), AppConfig.fromConfigError)
