/**
 * Handlers of the auth, session, users and JWKS groups: thin, they call
 * `Accounts` and map its errors to problems. Every credential failure is
 * the same 401 detail; an unreachable revocation store is a 503.
 *
 * @since 0.1.0
 */
import type { JwtKeys } from "@org/auth"
import type { Captcha, RevocationStore } from "@org/core"
import { Problem } from "@org/http"
import { Context, Effect, Layer, Option } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Accounts } from "./Accounts.ts"
import { Api } from "./Api.ts"

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

const remoteAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  Option.getOrUndefined(request.remoteAddress)
)

/**
 * The public signing keys.
 *
 * @since 0.1.0
 * @category services
 */
export class PublicKeys extends Context.Service<PublicKeys, ReturnType<typeof JwtKeys.jwks>>()(
  "@org/example-api/PublicKeys"
) {}

/**
 * `/api/v1/auth` (public).
 *
 * @since 0.1.0
 * @category layers
 */
export const AuthHandlers = HttpApiBuilder.group(Api, "auth", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* Accounts
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
          Effect.catchTags({
            EmailTaken: () =>
              Effect.fail(new Problem.Conflict({ detail: "An account with this email already exists." })),
            WeakPassword: (error) =>
              Effect.fail(
                new Problem.BadRequest({
                  detail: "The password is too weak.",
                  errors: error.reasons.map((message) => ({
                    in: "body" as const,
                    pointer: "/password",
                    message
                  }))
                })
              ),
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
 * `/api/v1/auth` (bearer).
 *
 * @since 0.1.0
 * @category layers
 */
export const SessionHandlers = HttpApiBuilder.group(Api, "session", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* Accounts
    const conflict = (error: { readonly detail: string }) =>
      Effect.fail(new Problem.Conflict({ detail: error.detail }))
    return handlers
      .handle("logout", ({ payload }) =>
        accounts.logout(payload.refresh_token).pipe(Effect.catchTag("RevocationUnavailable", unavailable))
      )
      .handle("me", () =>
        accounts.me.pipe(Effect.catchTag("InvalidCredentials", () => Effect.fail(unauthorized)))
      )
      .handle("mfaEnroll", () =>
        accounts.mfaEnroll.pipe(
          Effect.catchTags({
            InvalidCredentials: () => Effect.fail(unauthorized),
            MfaStateConflict: conflict
          })
        )
      )
      .handle("mfaConfirm", ({ payload }) =>
        accounts.mfaConfirm(payload.code).pipe(
          Effect.catchTags({
            InvalidCredentials: () => Effect.fail(unauthorized),
            MfaStateConflict: conflict
          })
        )
      )
      .handle("mfaDisable", ({ payload }) =>
        accounts.mfaDisable(payload.code).pipe(
          Effect.catchTags({
            InvalidCredentials: () => Effect.fail(unauthorized),
            MfaStateConflict: conflict
          })
        )
      )
  })
)

/**
 * `/api/v1/users` (admins).
 *
 * @since 0.1.0
 * @category layers
 */
export const UsersHandlers = HttpApiBuilder.group(Api, "users", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* Accounts
    const notFound = () => Effect.fail(new Problem.NotFound({ detail: "No such user." }))
    return handlers
      .handle("list", ({ query }) => accounts.listUsers({ page: query.page ?? 1, size: query.size ?? 20 }))
      .handle("setRoles", ({ params, payload }) =>
        accounts
          .setRoles(params.id, payload.roles)
          .pipe(Effect.catchTags({ UserNotFound: notFound, RevocationUnavailable: unavailable }))
      )
      .handle("delete", ({ params }) =>
        accounts
          .deleteUser(params.id)
          .pipe(Effect.catchTags({ UserNotFound: notFound, RevocationUnavailable: unavailable }))
      )
  })
)

/**
 * `GET /.well-known/jwks.json`.
 *
 * @since 0.1.0
 * @category layers
 */
export const JwksHandlers = HttpApiBuilder.group(Api, "jwks", (handlers) =>
  Effect.map(PublicKeys, (jwks) => {
    const body = { keys: jwks.keys.map((key) => ({ ...key })) }
    return handlers.handle("jwks", () => Effect.succeed(body))
  })
)

/**
 * All four groups.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Layer.mergeAll(AuthHandlers, SessionHandlers, UsersHandlers, JwksHandlers)
