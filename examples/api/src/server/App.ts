/**
 * The example API's server side as layers: the handlers of every group,
 * readiness checks, and the services behind them. `main.ts` hands `make` to
 * the kit's runner; tests compose it with a test database and test-strength
 * keys.
 *
 * @since 0.1.0
 */

import type { AccountsConfig } from "@org/accounts"
import { AccountsHandlers, AccountsServer } from "@org/accounts"
import type { Argon2 } from "@org/auth"
import { AppConfig, type AuditLog, type Captcha, type PasswordHasher, type RateLimiter } from "@org/core"
import { AuditGroup, type Cors, Docs, Health, HttpApp, Idempotency, Metrics, RateLimit } from "@org/http"
import { PgDatabase } from "@org/sql"
import { Config, Effect, Layer, Result } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { IpNetwork } from "effect/net"
import { Api, accounts } from "../api/Api.ts"
import { policy } from "../domain/Policy.ts"
import * as Events from "./Events.ts"
import * as Items from "./Items.ts"
// @org/cli:imports (`pnpm gen entity` adds its imports below this line, one chunk each)

/**
 * The example's token defaults (`JWT_ISSUER`, `JWT_AUDIENCE` override them).
 *
 * @since 0.1.0
 * @category config
 */
export const accountsDefaults: AccountsConfig.Defaults = {
  issuer: "org-example",
  audience: "org-example-api"
}

/**
 * Readiness: the database answers `SELECT 1` within 2 seconds.
 *
 * @since 0.1.0
 * @category layers
 */
export const DatabaseCheck = Health.check("database", PgDatabase.ready("2 seconds"), { timeout: "3 seconds" })

/**
 * Items and accounts (with the example's roles: `user` for a new account,
 * `admin` for the seeded one), and the `Idempotency-Key` middleware (24 h).
 * Needs a `SqlClient`, a `RevocationStore`, a `CacheStore`, an
 * `InvalidationBus` and an `IdempotencyStore` (see `Stores.ts`).
 *
 * @since 0.1.0
 * @category layers
 */
export const services = (options: {
  readonly config: AccountsConfig.AccountsConfig
  readonly secrets: AccountsConfig.Secrets
  readonly passwords?: Layer.Layer<PasswordHasher.PasswordHasher, Argon2.InvalidParameters> | undefined
  readonly captcha?: Layer.Layer<Captcha.CaptchaVerifier> | undefined
  /** The rate limits; from the environment unless given (tests give their own). */
  readonly rateLimits?:
    | Layer.Layer<RateLimit.Middleware | RateLimit.Limiter, Config.ConfigError, RateLimiter.RateLimitStore>
    | undefined
  /** Where events go besides the bus's subscribers; the environment's (`NATS_URL`) unless given. */
  readonly destinations?: Layer.Layer<Events.Destinations, never, AuditLog.AuditLog> | undefined
}) =>
  Layer.mergeAll(
    // items through the command and query buses, raising their events
    Items.layer.pipe(Layer.provide(Items.ItemsStore.layer)),
    // Idempotency-Key on POST /api/v1/items, over the store of `Stores.ts`
    Idempotency.layer({ ttl: "24 hours" }),
    AccountsServer.layer({
      config: options.config,
      secrets: options.secrets,
      policy,
      defaultRoles: ["user"],
      adminRoles: ["admin"],
      passwords: options.passwords,
      captcha: options.captcha,
      // RATE_LIMIT, AUTH_RATE_LIMIT over the store of `Stores.ts`
      rateLimits: options.rateLimits ?? RateLimit.layerConfig()
    })
    // @org/cli:services (`pnpm gen entity` adds its repositories above this line)
  ).pipe(
    // the event bus, its outbox and dispatcher, the audit log: items and accounts raise events
    Layer.provideMerge(
      options.destinations === undefined ? Events.layer : Events.layerFrom(options.destinations)
    )
  )

/**
 * The served app from its services (`services`, or test doubles); it still
 * needs a `SqlClient` (for the database check) and the HTTP platform.
 *
 * @since 0.1.0
 * @category layers
 */
export const make = <E, R>(options: {
  readonly bodyLimit?: number | undefined
  readonly services: Layer.Layer<Layer.Success<ReturnType<typeof services>>, E, R>
  /** Router-level middlewares, first outermost. */
  readonly middlewares?: ReadonlyArray<HttpApp.Middleware> | undefined
  /** The proxies whose `X-Forwarded-*` headers count (`trustedProxies`); none when omitted. */
  readonly trustedProxies?: ReadonlyArray<IpNetwork.IpNetwork> | undefined
  /** CORS; `Cors.CurrentPolicy` (none, or `CORS_ORIGINS` through `Cors.layerConfig()`) when omitted. */
  readonly cors?: Cors.Options | undefined
}) =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(
      Items.ItemsHandlers,
      HttpApiBuilder.group(Api, "audit", AuditGroup.handlers),
      Layer.mergeAll(
        HttpApiBuilder.group(Api, "auth", AccountsHandlers.auth(accounts)),
        HttpApiBuilder.group(Api, "session", AccountsHandlers.session(accounts)),
        HttpApiBuilder.group(Api, "users", AccountsHandlers.users(accounts)),
        HttpApiBuilder.group(Api, "jwks", AccountsHandlers.jwks(accounts))
      ),
      Health.layer(Api)
      // @org/cli:handlers (`pnpm gen entity` adds its handlers above this line)
    ).pipe(
      Layer.provide(Layer.merge(DatabaseCheck, options.services)),
      Layer.provideMerge(Health.Checks.layer)
    ),
    bodyLimit: options.bodyLimit,
    middlewares: options.middlewares,
    trustedProxies: options.trustedProxies,
    cors: options.cors,
    // GET /docs (Scalar, offline) and /docs/problems, with the relaxed headers for those paths only.
    routes: [
      Docs.layer(Api, { problems: Idempotency.problemTypes }),
      // GET /metrics (Prometheus text); METRICS_TOKEN, when set, must come as a bearer token
      Metrics.route().pipe(Layer.provide(Metrics.layerConfig), Layer.orDie)
    ],
    securityHeaders: Docs.securityHeaders()
  })

/**
 * `TRUSTED_PROXIES` (comma-separated addresses or CIDR networks, none by
 * default): `X-Forwarded-For` names the client only when the connection
 * comes from one of them (`HttpApp.Options.trustedProxies`, Effect's
 * `HttpMiddleware.xForwardedHeaders` first in the pipeline), so rate limits
 * count the real client behind your load balancer, metrics and spans see its
 * scheme, and nobody else can choose the address they are counted under.
 *
 * @since 0.2.0
 * @category config
 */
export const trustedProxies = Effect.gen(function* () {
  const entries = yield* Config.String("TRUSTED_PROXIES").pipe(Config.withDefault(""))
  const networks: Array<IpNetwork.IpNetwork> = []
  for (const entry of entries.split(",").map((e) => e.trim())) {
    if (entry === "") continue
    const network = IpNetwork.fromString(
      entry.includes("/") ? entry : `${entry}/${entry.includes(":") ? 128 : 32}`
    )
    if (Result.isFailure(network)) {
      return yield* Effect.fail(
        new AppConfig.InvalidConfig({
          variable: "TRUSTED_PROXIES",
          problem: `"${entry.slice(0, 60)}" is not an address or CIDR network`
        })
      )
    }
    networks.push(network.success)
  }
  return networks.length === 0 ? undefined : networks
})
