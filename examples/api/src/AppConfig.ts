/**
 * The example API's configuration, read from the environment (12-factor) and
 * validated at start. A bad value fails with `InvalidConfig`, whose message
 * is one line naming the variable and what is wrong.
 *
 * @since 0.1.0
 */
import { Config, Effect, Option, Schema } from "effect"

/**
 * One configuration variable is missing or malformed.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  variable: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `Invalid configuration: ${this.variable} ${this.problem}`
  }
}

/**
 * `development`, `test` or `production`.
 *
 * @since 0.1.0
 * @category models
 */
export type AppEnv = "development" | "test" | "production"

/**
 * Log levels accepted in `LOG_LEVEL` (case-insensitive).
 *
 * @since 0.1.0
 * @category models
 */
export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "none"] as const

/**
 * The validated configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppConfig {
  readonly env: AppEnv
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly bodyLimit: string
  readonly logLevel: (typeof logLevels)[number]
  readonly logFormat: "pretty" | "json"
}

const oneOf = <const A extends string>(variable: string, allowed: ReadonlyArray<A>, fallback: A) =>
  Config.String(variable).pipe(
    Config.option,
    Effect.mapError((error) => new InvalidConfig({ variable, problem: error.message })),
    Effect.flatMap((value) => {
      const raw = Option.getOrUndefined(value)?.trim().toLowerCase()
      if (raw === undefined || raw === "") return Effect.succeed(fallback)
      const found = allowed.find((a) => a === raw)
      return found === undefined
        ? Effect.fail(
            new InvalidConfig({
              variable,
              problem: `must be one of ${allowed.join(", ")} (got "${raw.slice(0, 40)}")`
            })
          )
        : Effect.succeed(found)
    })
  )

const string = (variable: string, fallback: string) =>
  Config.String(variable).pipe(
    Config.withDefault(fallback),
    Effect.map((value) => (value.trim() === "" ? fallback : value.trim())),
    Effect.mapError((error) => new InvalidConfig({ variable, problem: error.message }))
  )

const port = Effect.flatMap(string("PORT", "3000"), (raw) => {
  const n = Number(raw)
  return /^\d+$/.test(raw) && n >= 0 && n <= 65_535
    ? Effect.succeed(n)
    : Effect.fail(
        new InvalidConfig({
          variable: "PORT",
          problem: `must be an integer from 0 to 65535 (got "${raw.slice(0, 40)}")`
        })
      )
})

/**
 * Reads and validates every variable the app uses at start.
 *
 * @since 0.1.0
 * @category config
 */
export const load: Effect.Effect<AppConfig, InvalidConfig> = Effect.gen(function* () {
  const env = yield* oneOf("APP_ENV", ["development", "test", "production"], "development")
  return {
    env,
    host: yield* string("HOST", "127.0.0.1"),
    port: yield* port,
    dataDir: yield* string("DATA_DIR", ".data"),
    bodyLimit: yield* string("BODY_LIMIT", "1mb"),
    logLevel: yield* oneOf("LOG_LEVEL", logLevels, "info"),
    logFormat: yield* oneOf("LOG_FORMAT", ["pretty", "json"], env === "development" ? "pretty" : "json")
  }
})
