/**
 * The example API's configuration, read from the environment (12-factor) and
 * validated at start. A bad value fails with `InvalidConfig`, whose message
 * is one line naming the variable and what is wrong.
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Option, Redacted, Schema } from "effect"

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
  readonly jwt: {
    readonly algorithm: "ES256" | "RS256" | "HS256"
    readonly privateKey: Redacted.Redacted<string> | undefined
    readonly publicKey: string | undefined
    readonly issuer: string
    readonly audience: string
    readonly accessTtl: Duration.Duration
    readonly refreshTtl: Duration.Duration
  }
  readonly mfaEncryptionKey: Redacted.Redacted<string> | undefined
  readonly admin: { readonly email: string; readonly password: Redacted.Redacted<string> } | undefined
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

const optional = (variable: string) =>
  Config.String(variable).pipe(
    Config.option,
    Effect.mapError((error) => new InvalidConfig({ variable, problem: error.message })),
    Effect.map((value) => {
      const raw = Option.getOrUndefined(value)
      return raw === undefined || raw.trim() === "" ? undefined : raw
    })
  )

// A positive, finite duration such as "15 minutes" (at least 1 s, at most 1 year).
const duration = (variable: string, fallback: string) =>
  Effect.flatMap(string(variable, fallback), (raw) => {
    const parsed = Duration.fromInput(raw as Duration.Input)
    return Option.isSome(parsed) &&
      Duration.isFinite(parsed.value) &&
      Duration.toMillis(parsed.value) >= 1000 &&
      Duration.toMillis(parsed.value) <= 366 * 24 * 3600 * 1000
      ? Effect.succeed(parsed.value)
      : Effect.fail(
          new InvalidConfig({
            variable,
            problem: `must be a duration from 1 second to 1 year such as "15 minutes" (got "${raw.slice(0, 40)}")`
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
  const algorithm = yield* oneOf("JWT_ALGORITHM", ["es256", "rs256", "hs256"], "es256")
  const adminEmail = yield* optional("ADMIN_EMAIL")
  const adminPassword = yield* optional("ADMIN_PASSWORD")
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    return yield* new InvalidConfig({
      variable: adminEmail === undefined ? "ADMIN_EMAIL" : "ADMIN_PASSWORD",
      problem: "must be set together with " + (adminEmail === undefined ? "ADMIN_PASSWORD" : "ADMIN_EMAIL")
    })
  }
  const privateKey = yield* optional("JWT_PRIVATE_KEY")
  const mfaKey = yield* optional("MFA_ENCRYPTION_KEY")
  if (env === "production" && mfaKey === undefined) {
    return yield* new InvalidConfig({
      variable: "MFA_ENCRYPTION_KEY",
      problem: "is required in production (32 random bytes, base64)"
    })
  }
  return {
    env,
    host: yield* string("HOST", "127.0.0.1"),
    port: yield* port,
    dataDir: yield* string("DATA_DIR", ".data"),
    bodyLimit: yield* string("BODY_LIMIT", "1mb"),
    logLevel: yield* oneOf("LOG_LEVEL", logLevels, "info"),
    logFormat: yield* oneOf("LOG_FORMAT", ["pretty", "json"], env === "development" ? "pretty" : "json"),
    jwt: {
      algorithm: algorithm.toUpperCase() as "ES256" | "RS256" | "HS256",
      privateKey: privateKey === undefined ? undefined : Redacted.make(privateKey),
      publicKey: yield* optional("JWT_PUBLIC_KEY"),
      issuer: yield* string("JWT_ISSUER", "org-example"),
      audience: yield* string("JWT_AUDIENCE", "org-example-api"),
      accessTtl: yield* duration("ACCESS_TOKEN_TTL", "15 minutes"),
      refreshTtl: yield* duration("REFRESH_TOKEN_TTL", "7 days")
    },
    mfaEncryptionKey: mfaKey === undefined ? undefined : Redacted.make(mfaKey),
    admin:
      adminEmail === undefined || adminPassword === undefined
        ? undefined
        : { email: adminEmail.trim().toLowerCase(), password: Redacted.make(adminPassword) }
  }
})
