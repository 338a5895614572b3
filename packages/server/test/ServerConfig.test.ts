import { assert, describe, it } from "@effect/vitest"
import { AppConfig } from "@org/core"
import { ConfigProvider, Duration, Effect } from "effect"
import { ServerConfig } from "../src/index.ts"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const load = (env: Record<string, string>, defaults?: ServerConfig.Defaults) =>
  (defaults === undefined ? ServerConfig.load : ServerConfig.loadWith(defaults)).pipe(withEnv(env))

// The error of a refused configuration (a configuration that loads fails the test).
const failure = (env: Record<string, string>) => Effect.flip(load(env))

describe("ServerConfig", () => {
  it.effect(
    "defaults: 127.0.0.1:3000, 1 MiB, info, pretty in development, 10 seconds, the default limits",
    () =>
      Effect.gen(function* () {
        const config = yield* load({})
        assert.deepStrictEqual(
          {
            ...config,
            shutdownTimeout: Duration.toMillis(config.shutdownTimeout),
            headersTimeout: Duration.toMillis(config.headersTimeout),
            requestTimeout: Duration.toMillis(config.requestTimeout),
            keepAliveTimeout: Duration.toMillis(config.keepAliveTimeout)
          },
          {
            env: "development",
            host: "127.0.0.1",
            port: 3000,
            bodyLimit: 1_048_576,
            logLevel: "Info",
            logFormat: "pretty",
            shutdownTimeout: 10_000,
            maxHeaderSize: 16_384,
            maxUrlLength: 8192,
            headersTimeout: 10_000,
            requestTimeout: 30_000,
            keepAliveTimeout: 65_000
          }
        )
        assert.strictEqual(config.maxHeaderSize, ServerConfig.defaultLimits.maxHeaderSize)
        assert.strictEqual(config.maxUrlLength, ServerConfig.defaultLimits.maxUrlLength)
      })
  )

  it.effect("the limits: sizes and durations, from the environment or code-level defaults", () =>
    Effect.gen(function* () {
      const config = yield* load({
        MAX_HEADER_SIZE: "32kb",
        MAX_URL_LENGTH: "2048",
        HEADERS_TIMEOUT: "5 seconds",
        REQUEST_TIMEOUT: "2 minutes",
        KEEP_ALIVE_TIMEOUT: "620 seconds"
      })
      assert.strictEqual(config.maxHeaderSize, 32_768)
      assert.strictEqual(config.maxUrlLength, 2048)
      assert.strictEqual(Duration.toMillis(config.headersTimeout), 5000)
      assert.strictEqual(Duration.toMillis(config.requestTimeout), 120_000)
      assert.strictEqual(Duration.toMillis(config.keepAliveTimeout), 620_000)
      const coded = yield* load({}, { maxUrlLength: 4096, keepAliveTimeout: "5 seconds" })
      assert.strictEqual(coded.maxUrlLength, 4096)
      assert.strictEqual(Duration.toMillis(coded.keepAliveTimeout), 5000)
      // Equal timeouts are allowed: the headers may take the whole request time.
      const equal = yield* load({ HEADERS_TIMEOUT: "30 seconds" })
      assert.strictEqual(Duration.toMillis(equal.headersTimeout), 30_000)
    })
  )

  it.effect("HEADERS_TIMEOUT longer than REQUEST_TIMEOUT is refused (Node would not start)", () =>
    Effect.gen(function* () {
      const error = yield* failure({ HEADERS_TIMEOUT: "1 minute", REQUEST_TIMEOUT: "20 seconds" })
      assert.strictEqual(error.variable, "HEADERS_TIMEOUT")
      assert.strictEqual(
        error.message,
        "Invalid configuration: HEADERS_TIMEOUT must not be longer than REQUEST_TIMEOUT (20s)"
      )
    })
  )

  it.effect("a blank variable counts as unset", () =>
    Effect.gen(function* () {
      const config = yield* load({
        APP_ENV: "",
        HOST: "",
        PORT: "",
        BODY_LIMIT: "",
        LOG_LEVEL: "",
        LOG_FORMAT: "",
        SHUTDOWN_TIMEOUT: "",
        MAX_HEADER_SIZE: "",
        MAX_URL_LENGTH: "",
        HEADERS_TIMEOUT: "",
        REQUEST_TIMEOUT: "",
        KEEP_ALIVE_TIMEOUT: ""
      })
      assert.strictEqual(config.env, "development")
      assert.strictEqual(config.host, "127.0.0.1")
      assert.strictEqual(config.port, 3000)
      assert.strictEqual(config.bodyLimit, 1_048_576)
      assert.strictEqual(config.logLevel, "Info")
      assert.strictEqual(config.logFormat, "pretty")
      assert.strictEqual(Duration.toMillis(config.shutdownTimeout), 10_000)
      assert.strictEqual(config.maxHeaderSize, 16_384)
      assert.strictEqual(Duration.toMillis(config.keepAliveTimeout), 65_000)
    })
  )

  it.effect("reads valid values, trimmed and case-insensitive where it helps", () =>
    Effect.gen(function* () {
      const config = yield* load({
        APP_ENV: "Production",
        HOST: " 0.0.0.0 ",
        PORT: "8080",
        BODY_LIMIT: "512kb",
        LOG_LEVEL: "DEBUG",
        LOG_FORMAT: "Pretty",
        SHUTDOWN_TIMEOUT: "30 seconds"
      })
      assert.strictEqual(config.env, "production")
      assert.strictEqual(config.host, "0.0.0.0")
      assert.strictEqual(config.port, 8080)
      assert.strictEqual(config.bodyLimit, 512 * 1024)
      assert.strictEqual(config.logLevel, "Debug")
      assert.strictEqual(config.logFormat, "pretty")
      assert.strictEqual(Duration.toMillis(config.shutdownTimeout), 30_000)
    })
  )

  it.effect("PORT=0 asks for any free port (Config.Port alone would refuse it)", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* load({ PORT: "0" })).port, 0)
      assert.strictEqual((yield* load({ PORT: "65535" })).port, 65_535)
    })
  )

  it.effect("every log level, and BODY_LIMIT in its other forms", () =>
    Effect.gen(function* () {
      const levels = {
        trace: "Trace",
        debug: "Debug",
        info: "Info",
        warn: "Warn",
        error: "Error",
        fatal: "Fatal",
        none: "None"
      }
      for (const [name, level] of Object.entries(levels)) {
        assert.strictEqual((yield* load({ LOG_LEVEL: name })).logLevel, level)
      }
      assert.strictEqual((yield* load({ BODY_LIMIT: "2mb" })).bodyLimit, 2 * 1024 * 1024)
      assert.strictEqual((yield* load({ BODY_LIMIT: "1.5 MiB" })).bodyLimit, 1_572_864)
      assert.strictEqual((yield* load({ BODY_LIMIT: "1000" })).bodyLimit, 1000)
      assert.strictEqual(
        Duration.toMillis((yield* load({ SHUTDOWN_TIMEOUT: "500 millis" })).shutdownTimeout),
        500
      )
    })
  )

  it.effect("LOG_FORMAT defaults to json outside development, and can be set either way", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* load({ APP_ENV: "production" })).logFormat, "json")
      assert.strictEqual((yield* load({ APP_ENV: "test" })).logFormat, "json")
      assert.strictEqual((yield* load({ APP_ENV: "production", LOG_FORMAT: "pretty" })).logFormat, "pretty")
      assert.strictEqual((yield* load({ LOG_FORMAT: "json" })).logFormat, "json")
    })
  )

  it.effect("code-level defaults apply to unset variables only", () =>
    Effect.gen(function* () {
      const defaults = {
        port: 8080,
        host: "0.0.0.0",
        shutdownTimeout: "25 seconds",
        logLevel: "warn"
      } as const
      const unset = yield* load({}, defaults)
      assert.strictEqual(unset.port, 8080)
      assert.strictEqual(unset.host, "0.0.0.0")
      assert.strictEqual(unset.logLevel, "Warn")
      assert.strictEqual(Duration.toMillis(unset.shutdownTimeout), 25_000)
      const set = yield* load({ PORT: "9000", SHUTDOWN_TIMEOUT: "5 seconds" }, defaults)
      assert.strictEqual(set.port, 9000)
      assert.strictEqual(Duration.toMillis(set.shutdownTimeout), 5000)
    })
  )

  const bad: Array<readonly [string, string]> = [
    ["APP_ENV", "staging"],
    ["HOST", "   "],
    ["PORT", "http"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["BODY_LIMIT", "lots"],
    ["BODY_LIMIT", "10 parsecs"],
    ["LOG_LEVEL", "loud"],
    ["LOG_FORMAT", "xml"],
    ["SHUTDOWN_TIMEOUT", "forever"],
    ["SHUTDOWN_TIMEOUT", "0 seconds"],
    ["SHUTDOWN_TIMEOUT", "Infinity"],
    ["MAX_HEADER_SIZE", "512"],
    ["MAX_HEADER_SIZE", "big"],
    ["MAX_URL_LENGTH", "0"],
    ["MAX_URL_LENGTH", "long"],
    ["HEADERS_TIMEOUT", "0 seconds"],
    ["REQUEST_TIMEOUT", "never"],
    ["KEEP_ALIVE_TIMEOUT", "-5 seconds"]
  ]
  for (const [variable, value] of bad) {
    it.effect(`${variable}=${JSON.stringify(value)} fails with one line naming ${variable}`, () =>
      Effect.gen(function* () {
        const error = yield* failure({ [variable]: value })
        assert.instanceOf(error, AppConfig.InvalidConfig)
        assert.strictEqual(error.variable, variable)
        assert.isTrue(error.message.startsWith(`Invalid configuration: ${variable} `), error.message)
        assert.notInclude(error.message, "\n")
        assert.notInclude(error.message, "    at ")
      })
    )
  }

  it.effect("messages say what is accepted", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        (yield* failure({ PORT: "http" })).message,
        "Invalid configuration: PORT must be an integer from 0 to 65535"
      )
      assert.strictEqual(
        (yield* failure({ LOG_LEVEL: "loud" })).message,
        "Invalid configuration: LOG_LEVEL must be one of trace, debug, info, warn, error, fatal or none"
      )
      assert.strictEqual(
        (yield* failure({ BODY_LIMIT: "lots" })).message,
        "Invalid configuration: BODY_LIMIT must be a size such as 512kb, 1mb or 1048576 (bytes)"
      )
      assert.strictEqual(
        (yield* failure({ SHUTDOWN_TIMEOUT: "forever" })).message,
        'Invalid configuration: SHUTDOWN_TIMEOUT must be a positive duration such as "10 seconds" or "500 millis"'
      )
    })
  )
})
