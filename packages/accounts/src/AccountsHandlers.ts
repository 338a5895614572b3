/**
 * The server side of `AccountsApi`: one handler layer per group, thin, over
 * the `Accounts` use cases. They map errors to problems: every credential
 * failure is the same 401 detail; an unreachable revocation store is a 503.
 *
 * Pass your served API (the one you give `HttpApp.layer`) and the
 * definition it was built from; mount the layers of the groups you added.
 *
 * @example
 * ```ts
 * import { AccountsApi, AccountsHandlers } from "@org/accounts"
 * import { Rbac } from "@org/core"
 * import { HttpApp } from "@org/http"
 * import { HttpApi } from "effect/http-api"
 *
 * const policy = Rbac.make({ permissions: ["users:manage"], roles: { user: {}, admin: { permissions: ["users:manage"] } } })
 * const accounts = AccountsApi.make({ policy, permissions: { read: "users:manage", manage: "users:manage" } })
 * class Api extends HttpApp.api(HttpApi.make("my-api").add(accounts.auth).add(accounts.session)) {}
 *
 * // only the groups this API mounts
 * export const Handlers = [AccountsHandlers.auth(Api, accounts), AccountsHandlers.session(Api, accounts)]
 * ```
 *
 * @since 0.2.0
 */
import type { JwtKeys, PasswordPolicy } from "@org/auth"
import type { Captcha, RevocationStore } from "@org/core"
import { Problem } from "@org/http"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { HttpServerRequest } from "effect/http"
import { type HttpApi, HttpApiBuilder, type HttpApiGroup } from "effect/http-api"
import { Accounts, type InvalidCredentials, type MfaStateConflict, type PublicUser } from "./Accounts.ts"
import type * as AccountsApi from "./AccountsApi.ts"

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

type AccountsGroups<P extends string, R extends string> = HttpApiGroup.AddMiddleware<
  | AccountsApi.Definition<P, R>["auth"]
  | AccountsApi.Definition<P, R>["session"]
  | AccountsApi.Definition<P, R>["users"]
  | AccountsApi.Definition<P, R>["jwks"],
  Problem.Middleware
>

// The served API holds the definition's groups (and others): seen through
// the definition's types, its handlers are checked against the endpoints.
// `HttpApp.api` added `Problem.Middleware` to each group, as the type says;
// a group that is not there is a programming error, reported at start.
const served = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  P extends string,
  R extends string
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  name: "auth" | "session" | "users" | "jwks"
): HttpApi.HttpApi<ApiId, AccountsGroups<P, R>> => {
  if (!Object.hasOwn(api.groups, name)) {
    throw new Error(
      `AccountsHandlers.${name}: the API "${api.identifier}" has no "${name}" group; add it first`
    )
  }
  return api as unknown as HttpApi.HttpApi<ApiId, AccountsGroups<P, R>>
}

const roleFilter =
  <P extends string, R extends string>(definition: AccountsApi.Definition<P, R>) =>
  (user: PublicUser) => ({ ...user, roles: user.roles.filter(definition.policy.isRole) })

/**
 * `auth` (public): register, login, refresh, MFA verify.
 *
 * @since 0.2.0
 * @category layers
 */
export const auth = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  P extends string,
  R extends string
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  definition: AccountsApi.Definition<P, R>
) =>
  HttpApiBuilder.group(served<ApiId, Groups, P, R>(api, "auth"), "auth", (handlers) =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const toWire = roleFilter(definition)
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
          Effect.flatMap(remoteAddress, (address) =>
            accounts.login({
              email: payload.email,
              password: payload.password,
              captchaToken: headers["x-captcha-token"],
              remoteAddress: address
            })
          ).pipe(
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
          accounts.mfaVerify({ mfaToken: payload.mfa_token, code: payload.code }).pipe(
            Effect.catchTags({
              InvalidCredentials: () => Effect.fail(unauthorized),
              RevocationUnavailable: unavailable
            })
          )
        )
    })
  )

/**
 * `session` (bearer): logout, password change, me, MFA enroll, confirm, disable.
 *
 * @since 0.2.0
 * @category layers
 */
export const session = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  P extends string,
  R extends string
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  definition: AccountsApi.Definition<P, R>
) =>
  HttpApiBuilder.group(served<ApiId, Groups, P, R>(api, "session"), "session", (handlers) =>
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
  )

/**
 * `users` (bearer + permission): list, set roles, delete.
 *
 * @since 0.2.0
 * @category layers
 */
export const users = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  P extends string,
  R extends string
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  definition: AccountsApi.Definition<P, R>
) =>
  HttpApiBuilder.group(served<ApiId, Groups, P, R>(api, "users"), "users", (handlers) =>
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
  )

/**
 * `jwks` (public): the public keys in `PublicKeys`.
 *
 * @since 0.2.0
 * @category layers
 */
export const jwks = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  P extends string,
  R extends string
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  _definition: AccountsApi.Definition<P, R>
) =>
  HttpApiBuilder.group(served<ApiId, Groups, P, R>(api, "jwks"), "jwks", (handlers) =>
    Effect.map(PublicKeys, (keys) => {
      const body = { keys: keys.keys.map((key) => ({ ...key })) }
      return handlers.handle("jwks", () => Effect.succeed(body))
    })
  )

/**
 * The handler layers of all four groups.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <
  ApiId extends string,
  Groups extends HttpApiGroup.Constraint,
  P extends string,
  R extends string
>(
  api: HttpApi.HttpApi<ApiId, Groups>,
  definition: AccountsApi.Definition<P, R>
) =>
  Layer.mergeAll(
    auth(api, definition),
    session(api, definition),
    users(api, definition),
    jwks(api, definition)
  )
