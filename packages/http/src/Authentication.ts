/**
 * Bearer authentication and route-level authorization for `HttpApi`
 * endpoints. Add the middleware to a group (or endpoint) and declare on each
 * endpoint the permissions it needs; the middleware then, before the payload
 * is even decoded:
 *
 * 1. refuses a missing, empty or malformed `Authorization` header, and a
 *    token longer than `maxTokenLength` (8 KiB), with 401 before any crypto;
 * 2. verifies the token (`AccessTokens` port) and checks it is not revoked
 *    (`RevocationStore` port): any failure is the same 401, so a caller
 *    cannot tell an expired token from a forged one;
 * 3. if no revocation source can answer, refuses with 503 (fail closed);
 * 4. refuses with 403 when the caller holds none of the permissions the
 *    endpoint declares;
 * 5. provides `CurrentPrincipal` to the handler, which does the
 *    object-level checks (`Rbac.requireOwnerOr`).
 *
 * Every 401 carries `WWW-Authenticate: Bearer` (added by the pipeline's
 * security headers), and every response to a request with credentials
 * carries `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
 * import * as Rbac from "@org/core/Rbac"
 * import * as Authentication from "@org/http/Authentication"
 *
 * const policy = Rbac.make({ permissions: ["reports:read"], roles: { analyst: { permissions: ["reports:read"] } } })
 * const Reports = HttpApiGroup.make("reports")
 *   .add(HttpApiEndpoint.get("list", "/reports").annotateMerge(Authentication.requires(policy, "reports:read")))
 *   .middleware(Authentication.Authentication)
 * ```
 *
 * @since 0.1.0
 */
import * as AccessTokens from "@org/core/AccessTokens"
import * as DomainEvent from "@org/core/DomainEvent"
import * as Principal from "@org/core/Principal"
import type * as Rbac from "@org/core/Rbac"
import * as RevocationStore from "@org/core/RevocationStore"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as HttpApiSecurity from "effect/http-api/HttpApiSecurity"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as HttpObservability from "./HttpObservability.ts"
import * as Problem from "./Problem.ts"
import * as RateLimit from "./RateLimit.ts"

/**
 * The endpoint annotation naming the permissions of a route: the caller
 * must hold at least one of them. An endpoint without it only needs a valid
 * token. Build it with `requires`, which checks the names against a policy.
 *
 * @since 0.1.0
 * @category annotations
 */
export class RequiredPermissions extends Context.Service<RequiredPermissions, ReadonlyArray<string>>()(
  "@org/http/Authentication/RequiredPermissions"
) {}

/**
 * The annotation for an endpoint that needs one of `permissions`, typed by
 * the policy: a permission the policy does not declare does not compile.
 *
 * @example
 * ```ts
 * import { Rbac } from "@org/core"
 * import { Authentication } from "@org/http"
 *
 * const policy = Rbac.make({ permissions: ["a:read"], roles: { reader: { permissions: ["a:read"] } } })
 * const annotation = Authentication.requires(policy, "a:read")
 * ```
 *
 * @since 0.1.0
 * @category annotations
 */
export const requires = <P extends string>(
  _policy: Rbac.Policy<P, string>,
  ...permissions: readonly [P, ...Array<P>]
): Context.Context<never> => Context.make(RequiredPermissions, permissions)

/**
 * The middleware: Bearer security, provides `CurrentPrincipal`, fails with
 * 401, 403 or 503 problems (all documented in OpenAPI).
 *
 * @since 0.1.0
 * @category middleware
 */
export class Authentication extends HttpApiMiddleware.Service<
  Authentication,
  { provides: Principal.CurrentPrincipal }
>()("@org/http/Authentication", {
  security: { bearer: HttpApiSecurity.bearer },
  error: [Problem.Unauthorized, Problem.Forbidden, Problem.ServiceUnavailable, RateLimit.Exceeded]
}) {}

/**
 * Options of `layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Maps the roles of a token to permissions (an `Rbac.Policy`). */
  readonly policy: { readonly permissionsOf: (roles: ReadonlyArray<string>) => ReadonlySet<string> }
  /** Longer tokens are refused before any parsing; 8 KiB by default. */
  readonly maxTokenLength?: number | undefined
}

const invalid = new Problem.Unauthorized({
  detail: "The access token is missing, invalid, expired or revoked."
})

// Every 401 is the same to the caller; the metric says why.
const refuse = (reason: HttpObservability.RefusalReason) =>
  Effect.andThen(HttpObservability.countRefusal(401, reason), Effect.fail(invalid))

/**
 * The middleware's implementation over the `AccessTokens` and
 * `RevocationStore` services.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { type Rbac, RevocationStore } from "@org/core"
 * import { Authentication } from "@org/http"
 *
 * declare const policy: Rbac.Policy<string, string> // your Rbac.make policy
 *
 * const AuthenticationLive = Authentication.layer({ policy }).pipe(Layer.provide(RevocationStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Authentication, never, AccessTokens.AccessTokens | RevocationStore.RevocationStore> =>
  Layer.effect(
    Authentication,
    Effect.gen(function* () {
      const tokens = yield* AccessTokens.AccessTokens
      const revocations = yield* RevocationStore.RevocationStore
      const limiter = yield* Effect.serviceOption(RateLimit.Limiter)
      const maxLength = options.maxTokenLength ?? 8192
      // The request path is flat `flatMap`s with handlers made once, not
      // generators: it runs on every authenticated request.
      const onFailure = {
        InvalidToken: (error: AccessTokens.InvalidToken) =>
          Effect.andThen(
            Effect.logDebug("access token refused").pipe(Effect.annotateLogs("reason", error.reason)),
            refuse("invalid-token")
          ),
        RevocationUnavailable: (error: RevocationStore.RevocationUnavailable) =>
          Effect.andThen(
            Effect.logWarning("no revocation source answered; refusing the request").pipe(
              Effect.annotateLogs("operation", error.operation)
            ),
            Effect.andThen(
              HttpObservability.countRefusal(503, "revocation-unavailable"),
              Effect.fail(
                new Problem.ServiceUnavailable({
                  detail: "Credentials cannot be checked right now. Try again shortly."
                })
              )
            )
          )
      }
      const principalOf = (claims: AccessTokens.Claims): Principal.Principal => ({
        subject: claims.subject,
        roles: claims.roles,
        permissions: options.policy.permissionsOf(claims.roles),
        tokenId: claims.tokenId,
        issuedAt: claims.issuedAt,
        expiresAt: claims.expiresAt,
        ...(claims.sessionId === undefined ? {} : { sessionId: claims.sessionId })
      })
      const checked = (claims: AccessTokens.Claims) =>
        Effect.flatMap(
          revocations.isRevoked({
            tokenId: claims.tokenId,
            subject: claims.subject,
            issuedAt: claims.issuedAt
          }),
          (revoked) => (revoked ? refuse("revoked") : Effect.succeed(principalOf(claims)))
        )
      const authenticate = (
        token: string
      ): Effect.Effect<Principal.Principal, Problem.Unauthorized | Problem.ServiceUnavailable> => {
        if (token === "") return refuse("missing-token")
        if (token.length > maxLength) return refuse("invalid-token")
        return tokens.verify(token).pipe(Effect.flatMap(checked), Effect.catchTags(onFailure))
      }
      // The permissions an endpoint requires, read from its annotations once.
      const requiredOf = new WeakMap<object, ReadonlyArray<string> | null>()
      const required = (endpoint: { readonly annotations: Context.Context<never> }) => {
        let found = requiredOf.get(endpoint)
        if (found === undefined) {
          found = Option.getOrNull(Context.getOption(endpoint.annotations, RequiredPermissions))
          requiredOf.set(endpoint, found)
        }
        return found
      }
      return Authentication.of({
        bearer: (httpEffect, { credential, endpoint, group }) => {
          const serve = (
            principal: Principal.Principal
          ): Effect.Effect<
            Effect.Success<typeof httpEffect>,
            Effect.Error<typeof httpEffect> | Problem.Forbidden
          > => {
            const needed = required(endpoint)
            if (needed !== null && !needed.some((p) => principal.permissions.has(p))) {
              return Effect.andThen(
                HttpObservability.countRefusal(403, "permission"),
                Effect.fail(
                  new Problem.Forbidden({ detail: `This needs the permission ${needed.join(" or ")}.` })
                )
              )
            }
            return httpEffect.pipe(
              Effect.provideService(Principal.CurrentPrincipal, principal),
              // events raised by the request name its actor
              DomainEvent.withMetadata({ actorId: principal.subject })
            )
          }
          const authenticated = authenticate(Redacted.value(credential))
          if (Option.isNone(limiter)) return Effect.flatMap(authenticated, serve)
          const policy = RateLimit.policyOf({ endpoint, group })
          return authenticated.pipe(
            // A refused token counts against its sender's address (the rate
            // limit skipped it, expecting a subject): forged tokens cannot
            // make the server verify signatures without limit.
            Effect.catchTag("UnauthorizedProblem", (refused) =>
              Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
                limiter.value
                  .take(policy, `ip:${Option.getOrElse(request.remoteAddress, () => "unknown")}`)
                  .pipe(Effect.flatMap(RateLimit.announce), Effect.andThen(Effect.fail(refused)))
              )
            ),
            // An authenticated client is limited by subject.
            Effect.flatMap((principal) =>
              limiter.value
                .take(policy, `sub:${principal.subject}`)
                .pipe(Effect.flatMap(RateLimit.announce), Effect.andThen(serve(principal)))
            )
          )
        }
      })
    })
  )
