/**
 * The auth and users endpoints of the example API (shared API.md):
 * definitions only, no server code. Public endpoints (`auth`) and endpoints
 * that need a bearer token (`session`, `users`) are separate groups, so the
 * security middleware and its documented 401/403/503 apply to exactly the
 * protected ones.
 *
 * Token responses use OAuth-style snake_case fields, as the contract says;
 * everything else is camelCase.
 *
 * @since 0.1.0
 */
import { Pagination } from "@org/core"
import { Authentication, type CrudGroup, Problem } from "@org/http"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { UserId } from "./Item.ts"
import { policy } from "./Policy.ts"
import { DisplayName, Email, Password, User } from "./User.ts"

/**
 * An access token and its refresh token.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenPair = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("Bearer"),
  expires_in: Schema.Int,
  refresh_token: Schema.String
})

/**
 * The first step of a login to an account with MFA: exchange `mfa_token`
 * and a code at `/auth/mfa/verify` within `expires_in` seconds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MfaChallenge = Schema.Struct({
  mfa_required: Schema.Literal(true),
  mfa_token: Schema.String,
  expires_in: Schema.Int
})

/**
 * A TOTP code (6 digits) or a recovery code.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Code = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(64))

const opaque = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))

/**
 * The caller's own account, with the permissions its roles grant.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Me = Schema.Struct({
  id: UserId,
  email: Schema.String,
  name: Schema.NullOr(Schema.String),
  roles: Schema.Array(policy.Role),
  permissions: Schema.Array(policy.Permission),
  mfaEnabled: Schema.Boolean
})

/**
 * The header a CAPTCHA verifier reads (absent unless a deployment adds one).
 *
 * @since 0.1.0
 * @category schemas
 */
export const CaptchaHeaders = {
  "x-captcha-token": Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096)))
}

/**
 * `/api/v1/auth`: register, login, refresh, and the second step of an MFA
 * login. No token needed.
 *
 * @since 0.1.0
 * @category groups
 */
export const AuthGroup = HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("register", "/register", {
      payload: Schema.Struct({ email: Email, password: Password, name: Schema.optionalKey(DisplayName) }),
      headers: CaptchaHeaders,
      success: User.pipe(HttpApiSchema.status(201)),
      error: [Problem.Conflict, Problem.BadRequest]
    }),
    HttpApiEndpoint.post("login", "/login", {
      payload: Schema.Struct({ email: Email, password: Password }),
      headers: CaptchaHeaders,
      success: Schema.Union([TokenPair, MfaChallenge]),
      error: [Problem.Unauthorized, Problem.BadRequest]
    }),
    HttpApiEndpoint.post("refresh", "/refresh", {
      payload: Schema.Struct({ refresh_token: opaque }),
      success: TokenPair,
      error: Problem.Unauthorized
    }),
    HttpApiEndpoint.post("mfaVerify", "/mfa/verify", {
      payload: Schema.Struct({ mfa_token: opaque.check(Schema.isMaxLength(8192)), code: Code }),
      success: TokenPair,
      error: [Problem.Unauthorized, Problem.ServiceUnavailable]
    })
  )
  .prefix("/api/v1/auth")
  .annotateMerge(
    OpenApi.annotations({ title: "Auth", description: "Accounts, tokens and the MFA login step" })
  )

/**
 * `/api/v1/auth`: what a signed-in caller does with its own session and
 * account.
 *
 * @since 0.1.0
 * @category groups
 */
export const SessionGroup = HttpApiGroup.make("session")
  .add(
    HttpApiEndpoint.post("logout", "/logout", {
      payload: Schema.Struct({ refresh_token: Schema.optionalKey(opaque) }),
      success: HttpApiSchema.NoContent
    }),
    HttpApiEndpoint.get("me", "/me", { success: Me }),
    HttpApiEndpoint.post("mfaEnroll", "/mfa/enroll", {
      success: Schema.Struct({ secret: Schema.String, otpauth_uri: Schema.String }),
      error: Problem.Conflict
    }),
    HttpApiEndpoint.post("mfaConfirm", "/mfa/confirm", {
      payload: Schema.Struct({ code: Code }),
      success: Schema.Struct({ recovery_codes: Schema.Array(Schema.String) }),
      error: Problem.Conflict
    }),
    HttpApiEndpoint.post("mfaDisable", "/mfa/disable", {
      payload: Schema.Struct({ code: Code }),
      success: HttpApiSchema.NoContent,
      error: Problem.Conflict
    })
  )
  .middleware(Authentication.Authentication)
  .prefix("/api/v1/auth")
  .annotateMerge(
    OpenApi.annotations({ title: "Session", description: "The signed-in caller's session and MFA" })
  )

/**
 * `/api/v1/users`: list accounts, set roles, delete (admins).
 *
 * @since 0.1.0
 * @category groups
 */
export const UsersGroup = HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.get("list", "/", {
      query: {
        page: Schema.optionalKey(Pagination.PageNumber),
        size: Schema.optionalKey(Pagination.PageSize)
      },
      success: Pagination.Page(User)
    }).annotateMerge(Authentication.requires(policy, "users:read")),
    HttpApiEndpoint.put("setRoles", "/:id/roles", {
      params: { id: UserId },
      payload: Schema.Struct({
        roles: Schema.Array(policy.Role).check(
          Schema.isMaxLength(policy.roles.length),
          Schema.makeFilter((roles) => new Set(roles).size === roles.length, { expected: "distinct roles" })
        )
      }),
      success: User,
      error: Problem.NotFound
    }).annotateMerge(Authentication.requires(policy, "users:manage")),
    HttpApiEndpoint.delete("delete", "/:id", {
      params: { id: UserId },
      success: HttpApiSchema.NoContent,
      error: Problem.NotFound
    }).annotateMerge(Authentication.requires(policy, "users:manage"))
  )
  .middleware(Authentication.Authentication)
  .prefix("/api/v1/users")
  .annotateMerge(OpenApi.annotations({ title: "Users", description: "Accounts and their roles (admins)" }))

/**
 * `GET /.well-known/jwks.json`: the public keys that verify access tokens.
 *
 * @since 0.1.0
 * @category groups
 */
export const JwksGroup = HttpApiGroup.make("jwks")
  .add(
    HttpApiEndpoint.get("jwks", "/.well-known/jwks.json", {
      success: Schema.Struct({ keys: Schema.Array(Schema.Record(Schema.String, Schema.Unknown)) })
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Keys", description: "JSON Web Key Set (RFC 7517)" }))

/**
 * Route permissions of the items group.
 *
 * @since 0.1.0
 * @category annotations
 */
export const itemPermissions: NonNullable<Parameters<typeof CrudGroup.make>[1]["annotations"]> = {
  list: Authentication.requires(policy, "items:read"),
  get: Authentication.requires(policy, "items:read"),
  create: Authentication.requires(policy, "items:create"),
  update: Authentication.requires(policy, "items:update:own", "items:update:any"),
  delete: Authentication.requires(policy, "items:delete:own", "items:delete:any")
}
