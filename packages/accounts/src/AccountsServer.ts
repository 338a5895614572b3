/**
 * Everything the accounts need on the server, composed from a validated
 * configuration and its secrets (`AccountsConfig`): access tokens and MFA
 * challenges (`Jwt`), Argon2id in a worker pool, refresh-token rotation in
 * SQL, the users store in SQL, the MFA key, CAPTCHA (none by default), the
 * use cases, the authentication middleware with your policy, the public
 * keys, and the admin seed.
 *
 * What it leaves open: a `SqlClient` (tables from `migrations`) and a
 * `RevocationStore` (memory, SQL, or Redis over SQL: your choice).
 *
 * Events: provide an `EventBus` to the layer (e.g. `EventBus.layer` over
 * `OutboxSql`) and the use cases raise `AccountsEvents`, each in the
 * transaction of its write; without one they raise nothing. `layer` brings
 * its own `UnitOfWork` (`UnitOfWork.layerSql` on the `SqlClient`); with
 * `layerWith` provide one next to the bus.
 *
 * @example
 * ```ts
 * import { AccountsConfig, AccountsServer } from "@org/accounts"
 * import { Rbac } from "@org/core"
 * import { Effect, Layer } from "effect"
 *
 * const policy = Rbac.make({ permissions: ["users:manage"], roles: { user: {}, admin: { permissions: ["users:manage"] } } })
 *
 * export const Accounts = Layer.unwrap(
 *   Effect.gen(function* () {
 *     const config = yield* AccountsConfig.load({ issuer: "my-service", audience: "my-service-api" })
 *     const secrets = yield* AccountsConfig.loadSecrets(config)
 *     return AccountsServer.layer({ config, secrets, policy, defaultRoles: ["user"], adminRoles: ["admin"] })
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 */
import { Argon2, Jwt, JwtKeys, PasswordPolicy, RefreshTokens } from "@org/auth"
import { AppConfig, Captcha, type PasswordHasher, RateLimiter, type Rbac, UnitOfWork } from "@org/core"
import { Authentication, RateLimit } from "@org/http"
import { Duration, Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { Accounts, AccountsSettings, type PasswordCheck } from "./Accounts.ts"
import type { AccountsConfig, Secrets } from "./AccountsConfig.ts"
import { PublicKeys } from "./AccountsHandlers.ts"
import type { Users } from "./Users.ts"
import * as UsersSql from "./UsersSql.ts"

/**
 * The migrations of the accounts' tables, in order; add them to yours.
 * (The revocation list's table, if you keep it in SQL, comes from
 * `RevocationStoreSql.migration` in `@org/core`.)
 *
 * @since 0.2.0
 * @category migrations
 */
export const migrations = {
  users: UsersSql.migration,
  refreshTokens: RefreshTokens.migration
} as const

/**
 * Options of `layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<P extends string, R extends string, ERL = never, RRL = never> {
  readonly config: AccountsConfig
  readonly secrets: Secrets
  /** The role policy: route permissions, `me`'s permissions, which stored roles count. */
  readonly policy: Rbac.Policy<P, R>
  /** The roles of a new account. */
  readonly defaultRoles: ReadonlyArray<NoInfer<R>>
  /** The roles of the seeded admin (`ADMIN_EMAIL`). */
  readonly adminRoles: ReadonlyArray<NoInfer<R>>
  /** The password hasher; Argon2id with the OWASP parameters by default (tests: `Argon2.layerTest()`). */
  readonly passwords?: Layer.Layer<PasswordHasher.PasswordHasher, Argon2.InvalidParameters> | undefined
  /** The CAPTCHA verifier of register and login; none by default. */
  readonly captcha?: Layer.Layer<Captcha.CaptchaVerifier> | undefined
  /** The password policy; `PasswordPolicy.validate` by default. */
  readonly passwordCheck?: PasswordCheck | undefined
  /** MFA: how long a login challenge lives (5 minutes), failures before a lock (5), the lock (5 minutes). */
  readonly mfa?:
    | {
        readonly challengeTtl?: Duration.Input | undefined
        readonly maxFailures?: number | undefined
        readonly lockout?: Duration.Input | undefined
      }
    | undefined
  /** Bearer tokens longer than this are refused before any crypto; 8 KiB by default. */
  readonly maxTokenLength?: number | undefined
  /**
   * The rate limits of the accounts' routes (`RateLimit.layer` or
   * `RateLimit.layerConfig()` over a store); `defaultRateLimits` otherwise.
   */
  readonly rateLimits?: Layer.Layer<RateLimit.Middleware | RateLimit.Limiter, ERL, RRL> | undefined
}

/**
 * The accounts' services: `Accounts`, the `Authentication` middleware,
 * `PublicKeys`, and the token services (`AccessTokens`, `Jwt.Codec`,
 * `RefreshTokens`, `PasswordHasher`) for the rest of your app, with the
 * users and refresh-token stores in SQL. Needs a `SqlClient` (tables from
 * `migrations`) and a `RevocationStore`; an `EventBus`, if given, gets the
 * `AccountsEvents` (in the SQL transaction of each write).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <P extends string, R extends string, ERL = never, RRL = never>(
  options: Options<P, R, ERL, RRL>
) =>
  layerWith({
    ...options,
    users: UsersSql.layer,
    refreshTokens: RefreshTokens.layerSql({ ttl: options.config.jwt.refreshTtl }).pipe(
      Layer.provide(SecureRandom.layerWebCrypto)
    )
  }).pipe(
    // The stores write through the `SqlClient`: its transactions are the
    // ones a write and its events must share. Used only with an `EventBus`.
    Layer.provide(UnitOfWork.layerSql)
  )

/**
 * `layer` with stores of your choice, for example all in memory for tests
 * and prototypes (`Users.layerMemory`, `RefreshTokens.layerMemory`). To
 * raise `AccountsEvents`, provide an `EventBus` and the `UnitOfWork` your
 * stores join (`UnitOfWork.layerMemory` for `Users.layerMemory`).
 *
 * @example
 * ```ts
 * import { AccountsServer, Users } from "@org/accounts"
 * import type { AccountsConfig } from "@org/accounts"
 * import { RefreshTokens } from "@org/auth"
 * import { Rbac } from "@org/core"
 * import { Layer } from "effect"
 * import * as SecureRandom from "effect/crypto/SecureRandom"
 *
 * declare const config: AccountsConfig.AccountsConfig
 * declare const secrets: AccountsConfig.Secrets
 * const policy = Rbac.make({ permissions: ["users:manage"], roles: { user: {}, admin: { permissions: ["users:manage"] } } })
 *
 * export const InMemory = AccountsServer.layerWith({
 *   config,
 *   secrets,
 *   policy,
 *   defaultRoles: ["user"],
 *   adminRoles: ["admin"],
 *   users: Users.layerMemory,
 *   refreshTokens: RefreshTokens.layerMemory({ ttl: "7 days" }).pipe(Layer.provide(SecureRandom.layerWebCrypto))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerWith = <P extends string, R extends string, RU, RR, ERL = never, RRL = never>(
  options: Options<P, R, ERL, RRL> & {
    readonly users: Layer.Layer<Users, never, RU>
    readonly refreshTokens: Layer.Layer<RefreshTokens.RefreshTokens, never, RR>
  }
) => {
  const { config, secrets, policy } = options
  const Tokens = Jwt.layer({
    keys: secrets.keys,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtl: config.jwt.accessTtl
  })
  const Settings = Layer.succeed(
    AccountsSettings,
    AccountsSettings.of({
      permissionsOf: policy.permissionsOf,
      isRole: policy.isRole,
      defaultRoles: options.defaultRoles,
      adminRoles: options.adminRoles,
      mfaIssuer: config.jwt.issuer,
      mfaKey: secrets.mfaKey,
      accessTtl: config.jwt.accessTtl,
      mfaChallengeTtl: Duration.fromInputUnsafe(options.mfa?.challengeTtl ?? "5 minutes"),
      maxMfaFailures: options.mfa?.maxFailures ?? 5,
      mfaLockout: Duration.fromInputUnsafe(options.mfa?.lockout ?? "5 minutes"),
      passwordCheck:
        options.passwordCheck ??
        ((password, context) =>
          PasswordPolicy.validate(password, {
            email: context.email,
            ...(context.name === undefined ? {} : { name: context.name })
          }))
    })
  )
  // The parameters are the kit's defaults (or the caller's test ones): a
  // failure here is a programming error, not a configuration one.
  const Passwords = Layer.orDie(options.passwords ?? Argon2.layer())
  const Base = Layer.mergeAll(
    Tokens,
    Settings,
    Passwords,
    options.refreshTokens,
    options.captcha ?? Captcha.layerNoop,
    options.users
  )
  const Services = Layer.mergeAll(
    Accounts.layer,
    Authentication.layer({
      policy,
      ...(options.maxTokenLength === undefined ? {} : { maxTokenLength: options.maxTokenLength })
    }),
    Layer.succeed(PublicKeys, JwtKeys.jwks(secrets.keys))
  ).pipe(Layer.provideMerge(Base), Layer.provideMerge(options.rateLimits ?? defaultRateLimits))
  return Layer.provideMerge(Layer.effectDiscard(seed(config)), Services)
}

/**
 * The limits `layer` applies unless given others: 100 requests a minute per
 * client, 10 a minute on the auth routes (per address and per account),
 * in this process's memory.
 *
 * @since 0.2.0
 * @category layers
 */
export const defaultRateLimits: Layer.Layer<RateLimit.Middleware | RateLimit.Limiter> = RateLimit.layer({
  policies: {
    default: { limit: 100, window: Duration.minutes(1), onUnavailable: "allow" },
    auth: { limit: 10, window: Duration.minutes(1), onUnavailable: "refuse" }
  }
}).pipe(Layer.provide(RateLimiter.layerMemory))

// The configured admin exists after start, or the start fails with one line.
const seed = (config: AccountsConfig) =>
  config.admin === undefined
    ? Effect.void
    : Effect.flatMap(Accounts, (accounts) =>
        accounts.seedAdmin(config.admin!.email, config.admin!.password).pipe(
          Effect.catchTags({
            WeakPassword: (error) =>
              Effect.fail(
                new AppConfig.InvalidConfig({
                  variable: "ADMIN_PASSWORD",
                  problem: `is too weak: ${error.reasons.join("; ")}`
                })
              ),
            EmailTaken: () =>
              Effect.fail(
                new AppConfig.InvalidConfig({ variable: "ADMIN_EMAIL", problem: "could not be created" })
              )
          })
        )
      )
