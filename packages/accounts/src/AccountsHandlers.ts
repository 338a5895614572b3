/**
 * The server side of `AccountsApi`: one handler builder per group, thin,
 * over the `Accounts` use cases. They map errors to problems: every
 * credential failure is the same 401 detail; an unreachable revocation
 * store is a 503.
 *
 * Mount each group you added to your API with `HttpApiBuilder.group`. The
 * builders are typed by the definition's own groups, so the compiler checks
 * each line against your served API where you write it: a group that is
 * not in the API, or that was built from another definition, does not
 * compile.
 *
 * @example
 * ```ts
 * import { AccountsApi, AccountsHandlers } from "@org/accounts"
 * import { Rbac } from "@org/core"
 * import { HttpApp } from "@org/http"
 * import { Layer } from "effect"
 * import { HttpApi, HttpApiBuilder } from "effect/http-api"
 *
 * const policy = Rbac.make({ permissions: ["users:manage"], roles: { user: {}, admin: { permissions: ["users:manage"] } } })
 * const accounts = AccountsApi.make({ policy, permissions: { read: "users:manage", manage: "users:manage" } })
 * class Api extends HttpApp.api(HttpApi.make("my-api").add(accounts.auth).add(accounts.session)) {}
 *
 * // only the groups this API mounts
 * export const Handlers = Layer.mergeAll(
 *   HttpApiBuilder.group(Api, "auth", AccountsHandlers.auth(accounts)),
 *   HttpApiBuilder.group(Api, "session", AccountsHandlers.session(accounts))
 * )
 * ```
 *
 * @since 0.2.0
 */
import type { JwtKeys, PasswordPolicy } from "@org/auth"
import type { Captcha, RevocationStore } from "@org/core"
import { Problem, RateLimit } from "@org/http"
import { Context, Effect, Option, Schema } from "effect"
import { HttpServerRequest } from "effect/http"
import type { HttpApiBuilder, HttpApiGroup } from "effect/http-api"
import { Accounts, type InvalidCredentials, type MfaStateConflict } from "./Accounts.ts"
import type * as AccountsApi from "./AccountsApi.ts"
import type { PublicUser } from "./Users.ts"

const unauthorized = new Problem.Unauthorized({ detail: "The credentials, token or code were not accepted." })

const unavailable = (error: RevocationStore.RevocationUnavailable) =>
  Effect.andThen(
    Effect.logWarning("revocation store unavailable").pipe(Effect.annotateLogs("operation", error.operation)),
    Effect.fail(
      new Problem.ServiceUnavailable({ detail: "Sessions cannot be changed right now. Try again shortly." })
    )
  )

const captchaFailed = (error: Captcha.CaptchaFailed) =>
  Effect.fail(
    new Problem.BadRequest({
      detail: "The CAPTCHA was missing or not solved.",
      errors: [{ in: "header", pointer: "/x-captcha-token", message: error.reason }]
    })
  )

const weakPassword = (pointer: string) => (error: PasswordPolicy.WeakPassword) =>
  Effect.fail(
    new Problem.BadRequest({
      detail: "The password is too weak.",
      errors: error.reasons.map((message) => ({ in: "body" as const, pointer, message }))
    })
  )

const remoteAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  Option.getOrUndefined(request.remoteAddress)
)

/**
 * The public signing keys, served by the `jwks` group.
 *
 * @since 0.2.0
 * @category services
 */
export class PublicKeys extends Context.Service<PublicKeys, ReturnType<typeof JwtKeys.jwks>>()(
  "@org/accounts/PublicKeys"
) {}

// A group as the served API holds it: `ApiDefinition.prepare` added
// `Problem.Middleware` to every endpoint (the groups carry their own
// `Authentication` and `RateLimit.Middleware`).
type Served<Group extends HttpApiGroup.Constraint> = HttpApiGroup.AddMiddleware<Group, Problem.Middleware>

type HandlersOf<Group extends HttpApiGroup.Constraint> = HttpApiBuilder.Handlers.FromGroup<Served<Group>>

const roleFilter =
  <P extends string, R extends string>(definition: AccountsApi.Definition<P, R>) =>
  (user: PublicUser) => ({ ...user, roles: user.roles.filter(definition.policy.isRole) })

/**
 * `auth` (public): register, login, refresh, MFA verify.
 *
 * @since 0.2.0
 * @category layers
 */
export const auth =
  <P extends string, R extends string>(definition: AccountsApi.Definition<P, R>) =>
  (handlers: HandlersOf<AccountsApi.Definition<P, R>["auth"]>) =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const toWire = roleFilter(definition)
      // AUTH_RATE_LIMIT per account too (the middleware counts per address):
      // many addresses guessing one account's password or code share one window.
      const limiter = yield* RateLimit.Limiter
      const perAccount = (key: string) => Effect.asVoid(limiter.take("auth", key))
      return handlers
        .handle("register", ({ payload, headers }) =>
          Effect.flatMap(remoteAddress, (address) =>
            accounts.register({
              email: payload.email,
              password: payload.password,
              name: payload.name,
              captchaToken: headers["x-captcha-token"],
              remoteAddress: address
            })
          ).pipe(
            Effect.map(toWire),
            Effect.catchTags({
              EmailTaken: () =>
                Effect.fail(new Problem.Conflict({ detail: "An account with this email already exists." })),
              WeakPassword: weakPassword("/password"),
              CaptchaFailed: captchaFailed
            })
          )
        )
        .handle("login", ({ payload, headers }) =>
          Effect.andThen(perAccount(`account:${payload.email.trim().toLowerCase()}`), remoteAddress).pipe(
            Effect.flatMap((address) =>
              accounts.login({
                email: payload.email,
                password: payload.password,
                captchaToken: headers["x-captcha-token"],
                remoteAddress: address
              })
            ),
            Effect.catchTags({
              InvalidCredentials: () => Effect.fail(unauthorized),
              CaptchaFailed: captchaFailed
            })
          )
        )
        .handle("refresh", ({ payload }) =>
          accounts
            .refresh(payload.refresh_token)
            .pipe(Effect.catchTag("InvalidCredentials", () => Effect.fail(unauthorized)))
        )
        .handle("mfaVerify", ({ payload }) =>
          // keyed by the challenge token's signature: one challenge, a bounded number of guesses
          Effect.andThen(
            perAccount(`mfa:${payload.mfa_token.slice(payload.mfa_token.lastIndexOf(".") + 1).slice(0, 86)}`),
            accounts.mfaVerify({ mfaToken: payload.mfa_token, code: payload.code })
          ).pipe(
            Effect.catchTags({
              InvalidCredentials: () => Effect.fail(unauthorized),
              RevocationUnavailable: unavailable
            })
          )
        )
    })

/**
 * `session` (bearer): logout, password change, me, MFA enroll, confirm, disable.
 *
 * @since 0.2.0
 * @category layers
 */
export const session =
  <P extends string, R extends string>(definition: AccountsApi.Definition<P, R>) =>
  (handlers: HandlersOf<AccountsApi.Definition<P, R>["session"]>) =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const { policy } = definition
      const isPermission = Schema.is(policy.Permission)
      // The MFA endpoints fail the same two ways.
      const mfaProblems = <A, R>(effect: Effect.Effect<A, InvalidCredentials | MfaStateConflict, R>) =>
        effect.pipe(
          Effect.catchTags({
            InvalidCredentials: () => Effect.fail(unauthorized),
            MfaStateConflict: (error) => Effect.fail(new Problem.Conflict({ detail: error.detail }))
          })
        )
      return handlers
        .handle("logout", ({ payload }) =>
          accounts
            .logout(payload?.refresh_token ?? undefined)
            .pipe(Effect.catchTag("RevocationUnavailable", unavailable))
        )
        .handle("changePassword", ({ payload }) =>
          accounts
            .changePassword({ currentPassword: payload.current_password, newPassword: payload.new_password })
            .pipe(
              Effect.catchTags({
                InvalidCredentials: () => Effect.fail(unauthorized),
                WeakPassword: weakPassword("/new_password"),
                RevocationUnavailable: unavailable
              })
            )
        )
        .handle("me", () =>
          accounts.me.pipe(
            Effect.map((me) => ({
              ...me,
              roles: me.roles.filter(policy.isRole),
              permissions: me.permissions.filter(isPermission)
            })),
            Effect.catchTag("InvalidCredentials", () => Effect.fail(unauthorized))
          )
        )
        .handle("mfaEnroll", () => accounts.mfaEnroll.pipe(mfaProblems))
        .handle("mfaConfirm", ({ payload }) => accounts.mfaConfirm(payload.code).pipe(mfaProblems))
        .handle("mfaDisable", ({ payload }) => accounts.mfaDisable(payload.code).pipe(mfaProblems))
    })

/**
 * `users` (bearer + permission): list, set roles, delete.
 *
 * @since 0.2.0
 * @category layers
 */
export const users =
  <P extends string, R extends string>(definition: AccountsApi.Definition<P, R>) =>
  (handlers: HandlersOf<AccountsApi.Definition<P, R>["users"]>) =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const toWire = roleFilter(definition)
      const notFound = () => Effect.fail(new Problem.NotFound({ detail: "No such user." }))
      return handlers
        .handle("list", ({ query }) =>
          Effect.map(accounts.listUsers({ page: query.page ?? 1, size: query.size ?? 20 }), (page) => ({
            ...page,
            items: page.items.map(toWire)
          }))
        )
        .handle("setRoles", ({ params, payload }) =>
          accounts
            .setRoles(params.id, payload.roles)
            .pipe(
              Effect.map(toWire),
              Effect.catchTags({ UserNotFound: notFound, RevocationUnavailable: unavailable })
            )
        )
        .handle("delete", ({ params }) =>
          accounts
            .deleteUser(params.id)
            .pipe(Effect.catchTags({ UserNotFound: notFound, RevocationUnavailable: unavailable }))
        )
    })

/**
 * `jwks` (public): the public keys in `PublicKeys`.
 *
 * @since 0.2.0
 * @category layers
 */
export const jwks =
  <P extends string, R extends string>(_definition: AccountsApi.Definition<P, R>) =>
  (handlers: HandlersOf<AccountsApi.Definition<P, R>["jwks"]>) =>
    Effect.map(PublicKeys, (keys) => {
      const body = { keys: keys.keys.map((key) => ({ ...key })) }
      return handlers.handle("jwks", () => Effect.succeed(body))
    })
