/**
 * The accounts' configuration, read with Effect's `Config` from the
 * environment (12-factor), and the secrets it resolves: signing keys and the
 * MFA encryption key, configured or, outside production, generated once and
 * kept under `DATA_DIR`. Every failure is an `AppConfig.InvalidConfig`
 * whose message is one line naming the variable.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `APP_ENV` | `development` | production refuses HS256, generated keys, a missing MFA key |
 * | `DATA_DIR` | `.data` | where development keys are kept |
 * | `JWT_ALGORITHM` | `ES256` | `ES256`, `RS256`; `HS256` only outside production |
 * | `JWT_PRIVATE_KEY`, `JWT_PUBLIC_KEY` | generated in development | PEM or JWK; the public one may be a JWKS with older keys |
 * | `JWT_ISSUER`, `JWT_AUDIENCE` | `defaults` of `load` | checked on every token |
 * | `ACCESS_TOKEN_TTL`, `REFRESH_TOKEN_TTL` | `15 minutes`, `7 days` | 1 second to 1 year |
 * | `MFA_ENCRYPTION_KEY` | generated in development | 32 bytes, base64 |
 * | `ADMIN_EMAIL`, `ADMIN_PASSWORD` | unset | set together: that admin exists after start |
 *
 * @since 0.2.0
 */
import { JwtKeys, SecretBox } from "@org/auth"
import { AppConfig } from "@org/core"
import { Config, Duration, Effect, FileSystem, Option, Path, Redacted } from "effect"
import { Email } from "./AccountsApi.ts"

/**
 * The validated configuration.
 *
 * @since 0.2.0
 * @category models
 */
export interface AccountsConfig {
  readonly env: AppConfig.AppEnv
  readonly dataDir: string
  readonly jwt: {
    readonly algorithm: JwtKeys.Algorithm
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

/**
 * What a deployment's defaults are (issuer, audience, lifetimes).
 *
 * @since 0.2.0
 * @category models
 */
export interface Defaults {
  readonly issuer: string
  readonly audience: string
  readonly accessTtl?: Duration.Input | undefined
  readonly refreshTtl?: Duration.Input | undefined
}

const lifetimeMax = Duration.days(366)

// Durations are Effect's (`15 minutes`, `1 hour`), bounded to something sane.
const lifetime = (name: string, fallback: Duration.Input) =>
  Config.Duration(name).pipe(
    Config.withDefault(Duration.fromInputUnsafe(fallback)),
    Config.mapEffect((value) =>
      Duration.isFinite(value) &&
      Duration.isGreaterThanOrEqualTo(value, Duration.seconds(1)) &&
      Duration.isLessThanOrEqualTo(value, lifetimeMax)
        ? Effect.succeed(value)
        : Effect.fail(
            AppConfig.configError(name, 'must be a duration from 1 second to 1 year such as "15 minutes"')
          )
    )
  )

const optionalText = (name: string) =>
  Config.String(name).pipe(
    Config.map((value) => value.trim()),
    Config.option,
    Config.map((value) => (Option.isSome(value) && value.value !== "" ? value.value : undefined))
  )

const optionalSecret = (name: string) =>
  Config.Redacted(name).pipe(
    Config.option,
    Config.map((value) =>
      Option.isSome(value) && Redacted.value(value.value).trim() !== "" ? value.value : undefined
    )
  )

/**
 * The configuration as an Effect `Config` (for `Config.all` with your own).
 *
 * @since 0.2.0
 * @category config
 */
export const config = (defaults: Defaults): Config.Config<AccountsConfig> =>
  Config.all({
    env: AppConfig.appEnv,
    dataDir: Config.String("DATA_DIR").pipe(Config.withDefault(".data")),
    algorithm: AppConfig.literal("JWT_ALGORITHM", ["ES256", "RS256", "HS256"], "ES256"),
    privateKey: optionalSecret("JWT_PRIVATE_KEY"),
    publicKey: optionalText("JWT_PUBLIC_KEY"),
    issuer: Config.String("JWT_ISSUER").pipe(Config.withDefault(defaults.issuer)),
    audience: Config.String("JWT_AUDIENCE").pipe(Config.withDefault(defaults.audience)),
    accessTtl: lifetime("ACCESS_TOKEN_TTL", defaults.accessTtl ?? "15 minutes"),
    refreshTtl: lifetime("REFRESH_TOKEN_TTL", defaults.refreshTtl ?? "7 days"),
    mfaEncryptionKey: optionalSecret("MFA_ENCRYPTION_KEY"),
    adminEmail: Config.schema(Email, "ADMIN_EMAIL").pipe(Config.option, Config.map(Option.getOrUndefined)),
    adminPassword: optionalSecret("ADMIN_PASSWORD")
  }).pipe(
    Config.mapEffect((raw) => {
      if ((raw.adminEmail === undefined) !== (raw.adminPassword === undefined)) {
        const [missing, other] =
          raw.adminEmail === undefined ? ["ADMIN_EMAIL", "ADMIN_PASSWORD"] : ["ADMIN_PASSWORD", "ADMIN_EMAIL"]
        return Effect.fail(AppConfig.configError(missing, `must be set together with ${other}`))
      }
      if (raw.env === "production" && raw.mfaEncryptionKey === undefined) {
        return Effect.fail(
          AppConfig.configError("MFA_ENCRYPTION_KEY", "is required in production (32 random bytes, base64)")
        )
      }
      return Effect.succeed({
        env: raw.env,
        dataDir: raw.dataDir,
        jwt: {
          algorithm: raw.algorithm,
          privateKey: raw.privateKey,
          publicKey: raw.publicKey,
          issuer: raw.issuer,
          audience: raw.audience,
          accessTtl: raw.accessTtl,
          refreshTtl: raw.refreshTtl
        },
        mfaEncryptionKey: raw.mfaEncryptionKey,
        admin:
          raw.adminEmail === undefined || raw.adminPassword === undefined
            ? undefined
            : { email: raw.adminEmail, password: raw.adminPassword }
      })
    })
  )

/**
 * Reads and validates every accounts variable.
 *
 * @example
 * ```ts
 * import { AccountsConfig } from "@org/accounts"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const config = yield* AccountsConfig.load({ issuer: "my-service", audience: "my-service-api" })
 *   const secrets = yield* AccountsConfig.loadSecrets(config)
 *   return { config, secrets }
 * })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const load = (defaults: Defaults): Effect.Effect<AccountsConfig, AppConfig.InvalidConfig> =>
  Effect.mapError(config(defaults), AppConfig.fromConfigError)

/**
 * A configuration in code, with the defaults `load` would apply: for tests
 * and for services that do not read the environment.
 *
 * @example
 * ```ts
 * import { AccountsConfig } from "@org/accounts"
 * import { Redacted } from "effect"
 *
 * const config = AccountsConfig.make({
 *   issuer: "notes",
 *   audience: "notes-api",
 *   env: "test",
 *   admin: { email: "root@example.test", password: Redacted.make("Notes-Admin-Passw0rd-1") }
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Defaults & {
    readonly env?: AppConfig.AppEnv | undefined
    readonly dataDir?: string | undefined
    readonly admin?: AccountsConfig["admin"]
  }
): AccountsConfig => ({
  env: options.env ?? "development",
  dataDir: options.dataDir ?? ".data",
  jwt: {
    algorithm: "ES256",
    privateKey: undefined,
    publicKey: undefined,
    issuer: options.issuer,
    audience: options.audience,
    accessTtl: Duration.fromInputUnsafe(options.accessTtl ?? "15 minutes"),
    refreshTtl: Duration.fromInputUnsafe(options.refreshTtl ?? "7 days")
  },
  mfaEncryptionKey: undefined,
  admin: options.admin
})

/**
 * Fresh secrets held only in memory (an ES256 key, an MFA key), for tests:
 * nothing is read or written on disk.
 *
 * @example
 * ```ts
 * import { AccountsConfig } from "@org/accounts"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(AccountsConfig.ephemeralSecrets, (secrets) => secrets.keys)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const ephemeralSecrets: Effect.Effect<Secrets> = Effect.gen(function* () {
  const signer = yield* JwtKeys.fromPrivateKey(yield* JwtKeys.generate("ES256"), {
    alg: "ES256",
    source: "generated"
  })
  return {
    keys: yield* JwtKeys.make({ signer }),
    mfaKey: yield* Effect.flatMap(SecretBox.generateKey, SecretBox.keyFromBase64)
  }
}).pipe(Effect.orDie)

const mfaKeyFile = "mfa-key"

// Outside production a missing MFA key is generated once and kept beside the
// dev signing keys, so TOTP secrets stay readable across restarts.
const loadOrGenerateMfaKey = (dataDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dataDir, mfaKeyFile)
    if (yield* fs.exists(file)) return Redacted.make((yield* fs.readFileString(file)).trim())
    const key = yield* SecretBox.generateKey
    yield* fs.makeDirectory(dataDir, { recursive: true })
    yield* fs.writeFileString(file, `${Redacted.value(key)}\n`, { mode: 0o600 })
    return key
  })

/**
 * The secrets the accounts start from.
 *
 * @since 0.2.0
 * @category models
 */
export interface Secrets {
  readonly keys: JwtKeys.KeySet
  readonly mfaKey: SecretBox.Key
}

/**
 * Resolves the signing keys and the MFA key. Run it before anything else
 * starts (before the database opens), so a bad or missing key stops the
 * process with one line naming the variable.
 *
 * @since 0.2.0
 * @category config
 */
export const loadSecrets = (
  config: AccountsConfig
): Effect.Effect<Secrets, AppConfig.InvalidConfig, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const keys = yield* JwtKeys.fromConfig({
      env: config.env,
      algorithm: config.jwt.algorithm,
      privateKey: config.jwt.privateKey,
      publicKey: config.jwt.publicKey,
      dataDir: config.dataDir
    }).pipe(
      Effect.mapError((error) =>
        error._tag === "InvalidKey"
          ? new AppConfig.InvalidConfig({ variable: error.source, problem: error.problem })
          : new AppConfig.InvalidConfig({
              variable: "DATA_DIR",
              problem: `cannot keep development keys: ${error.message}`
            })
      )
    )
    const mfaKeyText =
      config.mfaEncryptionKey ??
      (yield* loadOrGenerateMfaKey(config.dataDir).pipe(
        Effect.mapError(
          (error) =>
            new AppConfig.InvalidConfig({
              variable: "DATA_DIR",
              problem: `cannot keep the MFA key: ${error.message}`
            })
        )
      ))
    const mfaKey = yield* SecretBox.keyFromBase64(mfaKeyText).pipe(
      Effect.mapError(
        (error) => new AppConfig.InvalidConfig({ variable: "MFA_ENCRYPTION_KEY", problem: error.reason })
      )
    )
    return { keys, mfaKey }
  })
