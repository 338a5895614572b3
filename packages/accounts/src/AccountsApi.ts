/**
 * The accounts API as a definition: schemas and HttpApi groups, no server
 * code, so a typed client (`HttpApiClient.make`) can import it alone.
 * `make` builds the groups for your role policy and path prefix; add the
 * ones you mount to your `HttpApi` and serve each with
 * `HttpApiBuilder.group(Api, name, AccountsHandlers[name](definition))`.
 *
 * Four groups, so each gets exactly the security it needs:
 * - `auth` (public): register, login, refresh, the second step of an MFA login;
 * - `session` (bearer): logout, password change, me, MFA enroll/confirm/disable;
 * - `users` (bearer + a permission): list accounts, set roles, delete;
 * - `jwks` (public): the keys that verify access tokens.
 *
 * Token responses use OAuth-style snake_case fields; everything else is
 * camelCase.
 *
 * @example
 * ```ts
 * import { AccountsApi } from "@org/accounts"
 * import { Rbac } from "@org/core"
 * import { HttpApi } from "effect/http-api"
 *
 * const policy = Rbac.make({
 *   permissions: ["users:read", "users:manage"],
 *   roles: { user: {}, admin: { permissions: ["users:read", "users:manage"] } }
 * })
 * const accounts = AccountsApi.make({ policy, permissions: { read: "users:read", manage: "users:manage" } })
 * const Api = HttpApi.make("my-api").add(accounts.auth).add(accounts.session).add(accounts.users).add(accounts.jwks)
 * ```
 *
 * @since 0.2.0
 */

import * as Entity from "@org/core/Entity"
import * as Pagination from "@org/core/Pagination"
import type * as Rbac from "@org/core/Rbac"
import * as Authentication from "@org/http/Authentication"
import * as Problem from "@org/http/Problem"
import * as RateLimit from "@org/http/RateLimit"
import * as SecurityHeaders from "@org/http/SecurityHeaders"
import { Schema, SchemaTransformation } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"

/**
 * A user id (UUID v7, as the users store assigns them).
 *
 * @since 0.2.0
 * @category schemas
 */
export const UserId = Entity.Uuid.pipe(Schema.brand("UserId"))

/**
 * @since 0.2.0
 * @category models
 */
export type UserId = typeof UserId.Type

// No spaces and no invisible characters (controls, bidirectional overrides,
// zero-width joiners: Unicode category C), which would let two addresses
// look the same to a person.
const emailPattern = /^[^\s@\p{C}]+@[^\s@\p{C}.]+(\.[^\s@\p{C}.]+)+$/u

/**
 * An email address: trimmed and lower-cased on decoding; at most 254
 * characters, one `@`, a dotted domain, no spaces, control, format or
 * bidirectional characters.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Email = Schema.String.check(Schema.isMaxLength(320)).pipe(
  Schema.decodeTo(
    Schema.String.check(
      Schema.isMaxLength(254),
      Schema.makeFilter((s: string) => emailPattern.test(s), { expected: "an email address" })
    ),
    SchemaTransformation.transform({
      decode: (s: string) => s.trim().toLowerCase(),
      encode: (s: string) => s
    })
  )
)

/**
 * A password as submitted: a string of at most 1 KiB (the password policy
 * decides what is strong enough; the cap keeps hashing cost bounded).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Password = Schema.String.check(Schema.isMaxLength(1024))

/**
 * A display name.
 *
 * @since 0.2.0
 * @category schemas
 */
export const DisplayName = Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(100))

/**
 * A TOTP code (6 digits) or a recovery code.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Code = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(64))

const opaque = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))

// The most verification keys a JWKS document lists (`JwtKeys` refuses more).
const JwksMaxKeys = 100

/**
 * An access token and its refresh token.
 *
 * @since 0.2.0
 * @category schemas
 */
export const TokenPair = Schema.Struct({
  access_token: Schema.String.check(Schema.isMaxLength(8192)),
  token_type: Schema.Literal("Bearer"),
  expires_in: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_147_483_647 })),
  refresh_token: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))
})

/**
 * @since 0.2.0
 * @category models
 */
export type TokenPair = typeof TokenPair.Type

/**
 * The first step of a login to an account with MFA: exchange `mfa_token`
 * and a code at `/auth/mfa/verify` within `expires_in` seconds.
 *
 * @since 0.2.0
 * @category schemas
 */
export const MfaChallenge = Schema.Struct({
  mfa_required: Schema.Literal(true),
  mfa_token: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512)),
  expires_in: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_147_483_647 }))
})

/**
 * @since 0.2.0
 * @category models
 */
export type MfaChallenge = typeof MfaChallenge.Type

/**
 * The header a CAPTCHA verifier reads (absent unless a deployment adds one).
 *
 * @since 0.2.0
 * @category schemas
 */
export const CaptchaHeaders = {
  "x-captcha-token": Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096)))
}

/**
 * An account as the API shows it (never the hash or the MFA secret).
 *
 * @since 0.2.0
 * @category schemas
 */
export const User = <R extends string>(roles: Schema.Literals<ReadonlyArray<R>>) =>
  Schema.Struct({
    id: UserId,
    email: Schema.String.check(Schema.isMaxLength(320)),
    name: Schema.NullOr(Schema.String.check(Schema.isMaxLength(100))),
    roles: Schema.Array(roles).check(Schema.isMaxLength(roles.literals.length)),
    mfaEnabled: Schema.Boolean,
    createdAt: Entity.Timestamp,
    updatedAt: Entity.Timestamp
  })

/**
 * Options of `make`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<P extends string, R extends string> {
  /** The role policy: roles on the wire are its roles. */
  readonly policy: Rbac.Policy<P, R>
  /** Which permissions open the users group: reading the list, and changing roles or deleting. */
  readonly permissions: { readonly read: P; readonly manage: P }
  /** The path prefix of the `auth`, `session` and `users` groups; `/api/v1` by default. */
  readonly prefix?: `/${string}` | undefined
}

/**
 * The four groups (and the schemas that depend on the policy).
 *
 * @example
 * ```ts
 * import { AccountsApi } from "@org/accounts"
 * import { Rbac } from "@org/core"
 *
 * const policy = Rbac.make({ permissions: ["users:admin"], roles: { member: {}, owner: { permissions: ["users:admin"] } } })
 * const accounts = AccountsApi.make({ policy, permissions: { read: "users:admin", manage: "users:admin" }, prefix: "/v2" })
 * // accounts.auth is mounted under /v2/auth, accounts.users under /v2/users
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <P extends string, R extends string>(options: Options<P, R>) => {
  const { policy } = options
  const prefix = options.prefix ?? "/api/v1"
  const UserSchema = User(policy.Role)
  const Me = Schema.Struct({
    id: UserId,
    email: Schema.String.check(Schema.isMaxLength(320)),
    name: Schema.NullOr(Schema.String.check(Schema.isMaxLength(100))),
    roles: Schema.Array(policy.Role).check(Schema.isMaxLength(policy.roles.length)),
    permissions: Schema.Array(policy.Permission).check(Schema.isMaxLength(policy.permissions.length)),
    mfaEnabled: Schema.Boolean
  })

  const auth = HttpApiGroup.make("auth")
    .add(
      HttpApiEndpoint.post("register", "/register", {
        payload: Schema.Struct({ email: Email, password: Password, name: Schema.optionalKey(DisplayName) }),
        headers: CaptchaHeaders,
        success: UserSchema.pipe(HttpApiSchema.status(201)),
        error: [Problem.Conflict, Problem.BadRequest]
      }).annotate(OpenApi.Summary, "Create an account"),
      HttpApiEndpoint.post("login", "/login", {
        payload: Schema.Struct({ email: Email, password: Password }),
        headers: CaptchaHeaders,
        success: Schema.Union([TokenPair, MfaChallenge]),
        // 429/503: the per-account limit of AUTH_RATE_LIMIT (see AccountsHandlers)
        error: [Problem.Unauthorized, Problem.BadRequest, RateLimit.Exceeded, Problem.ServiceUnavailable]
      }).annotate(OpenApi.Summary, "Log in with email and password"),
      HttpApiEndpoint.post("refresh", "/refresh", {
        payload: Schema.Struct({ refresh_token: opaque }),
        success: TokenPair,
        error: Problem.Unauthorized
      }).annotate(OpenApi.Summary, "Exchange a refresh token for a new token pair"),
      HttpApiEndpoint.post("mfaVerify", "/mfa/verify", {
        payload: Schema.Struct({ mfa_token: opaque.check(Schema.isMaxLength(8192)), code: Code }),
        success: TokenPair,
        error: [Problem.Unauthorized, Problem.ServiceUnavailable, RateLimit.Exceeded]
      }).annotate(OpenApi.Summary, "Complete a login with a TOTP or recovery code")
    )
    .middleware(RateLimit.Middleware)
    .prefix(`${prefix}/auth`)
    // AUTH_RATE_LIMIT: by address here, and by account in the handlers
    .annotateMerge(RateLimit.policy("auth"))
    // tokens and account data: never cached, even for requests without credentials (RFC 6749 5.1)
    .annotate(SecurityHeaders.NoStore, true)
    .annotateMerge(
      OpenApi.annotations({ title: "Auth", description: "Accounts, tokens and the MFA login step" })
    )

  const session = HttpApiGroup.make("session")
    .add(
      // No body at all is a plain logout of this access token and its session.
      HttpApiEndpoint.post("logout", "/logout", {
        payload: [Schema.Struct({ refresh_token: Schema.optionalKey(opaque) }), Schema.Null],
        success: HttpApiSchema.NoContent
      })
        .annotate(OpenApi.Summary, "Log out this session")
        .annotate(SecurityHeaders.ClearSiteData, ["cache", "storage"]),
      HttpApiEndpoint.post("changePassword", "/password", {
        payload: Schema.Struct({ current_password: Password, new_password: Password }),
        success: HttpApiSchema.NoContent,
        error: Problem.BadRequest
      })
        .annotate(OpenApi.Summary, "Change the password (other sessions end)")
        .annotateMerge(RateLimit.policy("auth")),
      HttpApiEndpoint.get("me", "/me", { success: Me }).annotate(OpenApi.Summary, "The signed-in account"),
      HttpApiEndpoint.post("mfaEnroll", "/mfa/enroll", {
        success: Schema.Struct({
          secret: Schema.String.check(Schema.isMaxLength(128)),
          otpauth_uri: Schema.String.check(Schema.isMaxLength(2048))
        }),
        error: Problem.Conflict
      }).annotate(OpenApi.Summary, "Start MFA enrolment"),
      HttpApiEndpoint.post("mfaConfirm", "/mfa/confirm", {
        payload: Schema.Struct({ code: Code }),
        success: Schema.Struct({
          recovery_codes: Schema.Array(Schema.String.check(Schema.isMaxLength(64))).check(
            Schema.isMaxLength(64)
          )
        }),
        error: Problem.Conflict
      }).annotate(OpenApi.Summary, "Confirm MFA and get recovery codes"),
      HttpApiEndpoint.post("mfaDisable", "/mfa/disable", {
        payload: Schema.Struct({ code: Code }),
        success: HttpApiSchema.NoContent,
        error: Problem.Conflict
      }).annotate(OpenApi.Summary, "Turn MFA off")
    )
    .middleware(Authentication.Authentication)
    // outside Authentication: anonymous callers by address, verified ones by subject
    .middleware(RateLimit.Middleware)
    .prefix(`${prefix}/auth`)
    .annotateMerge(
      OpenApi.annotations({
        title: "Session",
        description: "The signed-in caller's session, password and MFA"
      })
    )

  const users = HttpApiGroup.make("users")
    .add(
      HttpApiEndpoint.get("list", "/", {
        query: {
          page: Schema.optionalKey(Pagination.PageNumberParam),
          size: Schema.optionalKey(Pagination.PageSizeParam)
        },
        success: Pagination.Page(UserSchema)
      })
        .annotate(OpenApi.Summary, "List accounts")
        .annotateMerge(Authentication.requires(policy, options.permissions.read)),
      HttpApiEndpoint.put("setRoles", "/:id/roles", {
        params: { id: UserId },
        payload: Schema.Struct({
          roles: Schema.Array(policy.Role).check(
            Schema.isMaxLength(policy.roles.length),
            Schema.makeFilter((roles) => new Set(roles).size === roles.length, { expected: "distinct roles" })
          )
        }),
        success: UserSchema,
        error: Problem.NotFound
      })
        .annotate(OpenApi.Summary, "Set an account's roles")
        .annotateMerge(Authentication.requires(policy, options.permissions.manage)),
      HttpApiEndpoint.delete("delete", "/:id", {
        params: { id: UserId },
        success: HttpApiSchema.NoContent,
        error: Problem.NotFound
      })
        .annotate(OpenApi.Summary, "Delete an account (its sessions end)")
        .annotateMerge(Authentication.requires(policy, options.permissions.manage))
    )
    .middleware(Authentication.Authentication)
    // outside Authentication: anonymous callers by address, verified ones by subject
    .middleware(RateLimit.Middleware)
    .prefix(`${prefix}/users`)
    .annotateMerge(OpenApi.annotations({ title: "Users", description: "Accounts and their roles (admins)" }))

  const jwks = HttpApiGroup.make("jwks")
    .add(
      HttpApiEndpoint.get("jwks", "/.well-known/jwks.json", {
        success: Schema.Struct({
          keys: Schema.Array(Schema.Record(Schema.String, Schema.Unknown)).check(
            Schema.isMaxLength(JwksMaxKeys)
          )
        })
      }).annotate(OpenApi.Summary, "Public signing keys (JWKS)")
    )
    .middleware(RateLimit.Middleware)
    .annotateMerge(OpenApi.annotations({ title: "Keys", description: "JSON Web Key Set (RFC 7517)" }))

  return { policy, prefix, User: UserSchema, Me, auth, session, users, jwks } as const
}

/**
 * What `make` returns.
 *
 * @since 0.2.0
 * @category models
 */
export type Definition<P extends string, R extends string> = ReturnType<typeof make<P, R>>
