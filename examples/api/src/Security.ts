/**
 * The example API's security services, composed from configuration: signing
 * keys (configured, or generated once and kept under `DATA_DIR` outside
 * production), access tokens and MFA challenges (`@org/auth` Jwt), Argon2id
 * in a worker pool, refresh-token rotation in Postgres, the MFA encryption
 * key, CAPTCHA (none by default), the accounts store and use cases, and the
 * authentication middleware.
 *
 * @since 0.1.0
 */
import { Argon2, Jwt, JwtKeys, RefreshTokens, SecretBox } from "@org/auth"
import { Captcha, type PasswordHasher } from "@org/core"
import { Duration, Effect, FileSystem, Layer, Path, Redacted } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

import { Accounts, AuthSettings } from "./Accounts.ts"
import type * as AppConfig from "./AppConfig.ts"
import { InvalidConfig } from "./AppConfig.ts"
import { PublicKeys } from "./AuthHandlers.ts"
import { AuthenticationLive } from "./Server.ts"
import * as User from "./User.ts"

/**
 * How long an MFA challenge (the first step of an MFA login) is valid.
 *
 * @since 0.1.0
 * @category constants
 */
export const mfaChallengeTtl: Duration.Input = "5 minutes"

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
 * The secrets the security services start from: the signing keys and the
 * MFA encryption key, from configuration or, outside production, generated
 * once and kept under `DATA_DIR`. Resolved before anything else starts, so a
 * bad or missing key stops the process with one line naming the variable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadSecrets = (config: AppConfig.AppConfig) =>
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
          ? new InvalidConfig({ variable: error.source, problem: error.problem })
          : new InvalidConfig({
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
            new InvalidConfig({ variable: "DATA_DIR", problem: `cannot keep the MFA key: ${error.message}` })
        )
      ))
    const mfaKey = yield* SecretBox.keyFromBase64(mfaKeyText).pipe(
      Effect.mapError((error) => new InvalidConfig({ variable: "MFA_ENCRYPTION_KEY", problem: error.reason }))
    )
    return { keys, mfaKey }
  })

/**
 * The token, password and account services from a validated configuration
 * and its secrets (`loadSecrets`). The revocation store comes from context
 * (memory, or Redis over Postgres: see `Caching.ts`); `passwords` is the
 * password hasher (Argon2id with OWASP parameters by default; tests pass
 * `Argon2.layerTest()`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: {
  readonly config: AppConfig.AppConfig
  readonly keys: JwtKeys.KeySet
  readonly mfaKey: SecretBox.Key
  readonly passwords?: Layer.Layer<PasswordHasher.PasswordHasher, Argon2.InvalidParameters> | undefined
  /** The CAPTCHA verifier of register and login; none (`Captcha.layerNoop`) by default. */
  readonly captcha?: Layer.Layer<Captcha.CaptchaVerifier> | undefined
}) => {
  const { config, keys, mfaKey } = options
  const Tokens = Jwt.layer({
    keys,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl
  })
  const Settings = Layer.succeed(
    AuthSettings,
    AuthSettings.of({
      mfaIssuer: config.jwt.issuer,
      mfaKey,
      accessTtl: config.jwt.accessTtl,
      mfaChallengeTtl: Duration.fromInputUnsafe(mfaChallengeTtl)
    })
  )
  // The parameters are the kit's defaults (or the caller's test ones): a
  // failure here is a programming error, not a configuration one.
  const Passwords = Layer.orDie(options.passwords ?? Argon2.layer())
  const Refresh = RefreshTokens.layerSql({ ttl: config.jwt.refreshTtl }).pipe(
    Layer.provide(SecureRandom.layerWebCrypto)
  )
  const Base = Layer.mergeAll(
    Tokens,
    Settings,
    Passwords,
    Refresh,
    options.captcha ?? Captcha.layerNoop,
    User.layer
  )
  return Layer.mergeAll(
    Accounts.layer,
    AuthenticationLive,
    Layer.succeed(PublicKeys, JwtKeys.jwks(keys))
  ).pipe(Layer.provideMerge(Base))
}

/**
 * Creates or repairs the configured admin account (`ADMIN_EMAIL`,
 * `ADMIN_PASSWORD`) at start; nothing when they are unset.
 *
 * @since 0.1.0
 * @category layers
 */
export const seedAdmin = (config: AppConfig.AppConfig) =>
  Layer.effectDiscard(
    config.admin === undefined
      ? Effect.void
      : Effect.flatMap(Accounts, (accounts) =>
          accounts.seedAdmin(config.admin!.email, config.admin!.password).pipe(
            Effect.catchTags({
              WeakPassword: (error) =>
                Effect.fail(
                  new InvalidConfig({
                    variable: "ADMIN_PASSWORD",
                    problem: `is too weak: ${error.reasons.join("; ")}`
                  })
                ),
              EmailTaken: () =>
                Effect.fail(new InvalidConfig({ variable: "ADMIN_EMAIL", problem: "could not be created" }))
            })
          )
        )
  )
