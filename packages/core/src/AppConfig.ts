/**
 * What every package's configuration shares: the deployment environment
 * (`APP_ENV`) and one error for a bad or missing variable, whose message is
 * a single line naming the variable. Configuration itself is read with
 * Effect's `Config` (`Config.Port`, `Config.Duration`, `Config.Redacted`,
 * ...); `fromConfigError` turns Effect's multi-line `ConfigError` into that
 * one line.
 *
 * @example
 * ```ts
 * import { AppConfig } from "@org/core"
 * import { Config, Effect } from "effect"
 *
 * const port = Config.Port("PORT").pipe(Config.withDefault(3000))
 * const program = Effect.gen(function* () {
 *   const env = yield* AppConfig.appEnv
 *   return { env, port: yield* port }
 * }).pipe(Effect.mapError(AppConfig.fromConfigError))
 * ```
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

/**
 * One configuration variable is missing or malformed. The message is one
 * line: `Invalid configuration: <VARIABLE> <problem>`.
 *
 * @since 0.2.0
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

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim()

/**
 * Effect's `ConfigError` (a schema failure or an unreadable source) as an
 * `InvalidConfig` naming the first offending variable.
 *
 * @example
 * ```ts
 * import { AppConfig } from "@org/core"
 * import { Config, ConfigProvider, Effect } from "effect"
 *
 * const exit = Effect.runSyncExit(
 *   Config.Port("PORT").parse(ConfigProvider.fromEnv({ env: { PORT: "http" } })).pipe(
 *     Effect.mapError(AppConfig.fromConfigError)
 *   )
 * )
 * // Invalid configuration: PORT must be ...: expected a string representing a finite number
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromConfigError = (error: Config.ConfigError): InvalidConfig => {
  const cause = error.cause
  if (cause._tag === "SourceError")
    return new InvalidConfig({ variable: "(source)", problem: oneLine(cause.message) })
  const [issue] = formatter(cause.issue).issues
  const variable = issue?.path
    ?.map((segment) => String(typeof segment === "object" ? segment.key : segment))
    .join("_")
  const problem = oneLine(issue?.message ?? cause.message)
  return new InvalidConfig({
    variable: variable === undefined || variable === "" ? "(unknown)" : variable,
    problem:
      problem === "Expected string"
        ? "is required"
        : problem.startsWith("Expected")
          ? `is invalid: e${problem.slice(1)}`
          : problem
  })
}

/**
 * The deployment environment. Production is stricter everywhere: no
 * generated keys, no embedded database, no HS256.
 *
 * @since 0.2.0
 * @category models
 */
export type AppEnv = "development" | "test" | "production"

/**
 * A `ConfigError` for `name` with a message of your own, for checks inside
 * `Config.mapEffect` (`fromConfigError` renders it as one line).
 *
 * @example
 * ```ts
 * import { AppConfig } from "@org/core"
 * import { Config, Effect } from "effect"
 *
 * const workers = Config.Int("WORKERS").pipe(
 *   Config.mapEffect((n) => (n >= 1 ? Effect.succeed(n) : Effect.fail(AppConfig.configError("WORKERS", "must be at least 1"))))
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const configError = (name: string, problem: string): Config.ConfigError =>
  new Config.ConfigError(
    new Schema.SchemaError(
      new SchemaIssue.Pointer([name], new SchemaIssue.InvalidValue({ message: problem }))
    )
  )

/**
 * One of a few words, case-insensitive (`JWT_ALGORITHM=es256` is `ES256`),
 * as written in `values`; `fallback` when unset or blank.
 *
 * @example
 * ```ts
 * import { AppConfig } from "@org/core"
 *
 * const format = AppConfig.literal("LOG_FORMAT", ["pretty", "json"], "pretty")
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const literal = <const A extends string>(
  name: string,
  values: readonly [A, ...Array<A>],
  fallback: NoInfer<A>
): Config.Config<A> =>
  Config.String(name).pipe(
    Config.withDefault(fallback),
    Config.mapEffect((raw) => {
      const folded = raw.trim().toLowerCase()
      const found = folded === "" ? fallback : values.find((value) => value.toLowerCase() === folded)
      return found === undefined
        ? Effect.fail(configError(name, `must be one of ${values.join(", ")} (got "${raw.slice(0, 40)}")`))
        : Effect.succeed(found)
    })
  )

/**
 * `APP_ENV`: `development` (the default), `test` or `production`, case
 * insensitive.
 *
 * @since 0.2.0
 * @category config
 */
export const appEnv: Config.Config<AppEnv> = literal(
  "APP_ENV",
  ["development", "test", "production"],
  "development"
)
