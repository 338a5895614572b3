/**
 * The account use cases behind the auth and users endpoints: register,
 * login (with the MFA second step), refresh rotation, logout, MFA
 * enrollment, role changes and deletion, and the admin seeded from
 * configuration. Handlers (`AuthHandlers.ts`) only map the errors below to
 * problems.
 *
 * Security decisions, each one deliberate:
 * - one error, `InvalidCredentials`, for an unknown email, a wrong password,
 *   a bad refresh token, a bad or replayed code and an expired challenge;
 *   an unknown email still costs one password verification (`dummyVerify`);
 * - a refresh token is rotated on every use and its reuse revokes the family;
 * - an MFA challenge is a signed token of its own type (`mfa+jwt`), never
 *   accepted as an access token, spent (revoked) when used;
 * - five wrong second factors lock the account's MFA for five minutes;
 * - a role change refuses the subject's older access tokens (refresh gets
 *   one with the new roles); a deletion refuses all of them and revokes
 *   every refresh family.
 *
 * @since 0.1.0
 */
import { Jwt, PasswordPolicy, RecoveryCodes, RefreshTokens, SecretBox, Totp } from "@org/auth"
import { AccessTokens, Captcha, Pagination, PasswordHasher, Principal, RevocationStore } from "@org/core"
import { Clock, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import type { Permission, Role } from "./Policy.ts"
import { policy } from "./Policy.ts"
import { type Account, toUser, Users } from "./User.ts"

/**
 * The credentials (or token, or code) were not accepted. Deliberately says
 * nothing about which part was wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {}

/**
 * The request conflicts with the account's MFA state (already enabled, not
 * enrolled, not enabled).
 *
 * @since 0.1.0
 * @category errors
 */
export class MfaStateConflict extends Schema.TaggedError<MfaStateConflict>()("MfaStateConflict", {
  detail: Schema.String
}) {}

/**
 * No live account has that id.
 *
 * @since 0.1.0
 * @category errors
 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", {}) {}

/**
 * Settings of the use cases.
 *
 * @since 0.1.0
 * @category services
 */
export class AuthSettings extends Context.Service<
  AuthSettings,
  {
    /** Shown in authenticator apps (`otpauth://` issuer). */
    readonly mfaIssuer: string
    /** Encrypts TOTP secrets at rest. */
    readonly mfaKey: SecretBox.Key
    /** The access-token lifetime (how long a revocation entry must last). */
    readonly accessTtl: Duration.Duration
    /** How long an MFA challenge is valid. */
    readonly mfaChallengeTtl: Duration.Duration
  }
>()("@org/example-api/AuthSettings") {}

/**
 * The type of MFA challenge tokens.
 *
 * @since 0.1.0
 * @category constants
 */
export const mfaChallengeType = "mfa+jwt"

const maxMfaFailures = 5
const mfaLockout = Duration.minutes(5)

/**
 * An OAuth-style token pair.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenPair {
  readonly access_token: string
  readonly token_type: "Bearer"
  readonly expires_in: number
  readonly refresh_token: string
}

/**
 * A login's answer: tokens, or an MFA challenge.
 *
 * @since 0.1.0
 * @category models
 */
export type LoginResult =
  | TokenPair
  | { readonly mfa_required: true; readonly mfa_token: string; readonly expires_in: number }

const make = Effect.gen(function* () {
  const users = yield* Users
  const hasher = yield* PasswordHasher.PasswordHasher
  const tokens = yield* AccessTokens.AccessTokens
  const codec = yield* Jwt.Codec
  const refreshTokens = yield* RefreshTokens.RefreshTokens
  const revocations = yield* RevocationStore.RevocationStore
  const captcha = yield* Captcha.CaptchaVerifier
  const settings = yield* AuthSettings
  const accessTtlMillis = Duration.toMillis(settings.accessTtl)

  const pair = (account: Account, sessionId: string, refreshToken: string) =>
    Effect.map(tokens.issue({ subject: account.id, roles: account.roles, sessionId }), (access) => ({
      access_token: access.token,
      token_type: "Bearer" as const,
      expires_in: Math.round((access.expiresAt - access.issuedAt) / 1000),
      refresh_token: refreshToken
    }))

  const challenge = (
    action: Captcha.Challenge["action"],
    input: { readonly captchaToken: string | undefined; readonly remoteAddress: string | undefined }
  ) => captcha.verify({ token: input.captchaToken, remoteAddress: input.remoteAddress, action })

  const startSession = (account: Account) =>
    Effect.flatMap(refreshTokens.issue(account.id), (refresh) =>
      pair(account, refresh.familyId, refresh.token)
    )

  const liveAccount = (id: string) =>
    Effect.flatMap(
      users.findById(id),
      Option.match({ onNone: () => Effect.fail(new InvalidCredentials()), onSome: Effect.succeed })
    )

  // A code is either a TOTP (digits only) or a recovery code.
  const checkSecondFactor = (account: Account, code: string, options: { readonly enable: boolean }) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (account.mfaSecret === null) return false
      if (account.mfaLockedUntil !== null && account.mfaLockedUntil > now) return false
      const trimmed = code.trim()
      let accepted = false
      if (/^[0-9]{6}$/.test(trimmed)) {
        const secret = yield* SecretBox.open(settings.mfaKey, account.mfaSecret, account.id).pipe(
          Effect.orDie
        )
        const step = Totp.verify({
          secret: Totp.Secret.make(secret),
          code: trimmed,
          now,
          lastUsedStep: account.mfaLastStep ?? undefined,
          window: 1
        })
        accepted = Option.isSome(step) && (yield* users.useTotpStep(account.id, step.value, options))
      } else if (account.mfaEnabled) {
        accepted = yield* users.useRecoveryCode(account.id, RecoveryCodes.hash(trimmed))
      }
      if (!accepted)
        yield* users.recordMfaFailure(account.id, maxMfaFailures, now + Duration.toMillis(mfaLockout))
      return accepted
    })

  return {
    register: (input: {
      readonly email: string
      readonly password: string
      readonly name: string | undefined
      readonly captchaToken: string | undefined
      readonly remoteAddress: string | undefined
    }) =>
      Effect.gen(function* () {
        yield* challenge("register", input)
        yield* PasswordPolicy.validate(input.password, {
          email: input.email,
          ...(input.name === undefined ? {} : { name: input.name })
        })
        const passwordHash = yield* hasher.hash(Redacted.make(input.password))
        const account = yield* users.create({
          email: input.email,
          name: input.name ?? null,
          passwordHash,
          roles: ["user"]
        })
        return toUser(account)
      }),

    login: (input: {
      readonly email: string
      readonly password: string
      readonly captchaToken: string | undefined
      readonly remoteAddress: string | undefined
    }) =>
      Effect.gen(function* () {
        yield* challenge("login", input)
        const password = Redacted.make(input.password)
        const found = yield* users.findByEmail(input.email)
        if (Option.isNone(found)) {
          yield* hasher.dummyVerify(password)
          return yield* Effect.fail(new InvalidCredentials())
        }
        const account = found.value
        if (!(yield* hasher.verify(account.passwordHash, password)))
          return yield* Effect.fail(new InvalidCredentials())
        if (hasher.needsRehash(account.passwordHash)) {
          yield* users.setPasswordHash(account.id, yield* hasher.hash(password))
        }
        if (account.mfaEnabled) {
          const challenge = yield* codec.sign({
            typ: mfaChallengeType,
            subject: account.id,
            ttl: settings.mfaChallengeTtl
          })
          return {
            mfa_required: true as const,
            mfa_token: challenge.token,
            expires_in: Math.round((challenge.expiresAt - challenge.issuedAt) / 1000)
          } satisfies LoginResult
        }
        return yield* startSession(account)
      }),

    mfaVerify: (input: { readonly mfaToken: string; readonly code: string }) =>
      Effect.gen(function* () {
        const challenge = yield* codec
          .verify(input.mfaToken, { typ: mfaChallengeType })
          .pipe(Effect.mapError(() => new InvalidCredentials()))
        const spent = yield* revocations.isRevoked({
          tokenId: challenge.tokenId,
          subject: challenge.subject,
          issuedAt: challenge.issuedAt
        })
        if (spent) return yield* Effect.fail(new InvalidCredentials())
        const account = yield* liveAccount(challenge.subject)
        if (!account.mfaEnabled || !(yield* checkSecondFactor(account, input.code, { enable: false }))) {
          return yield* Effect.fail(new InvalidCredentials())
        }
        yield* revocations.revokeToken(challenge.tokenId, challenge.expiresAt)
        return yield* startSession(account)
      }),

    refresh: (token: string) =>
      Effect.gen(function* () {
        const rotated = yield* refreshTokens.rotate(token).pipe(
          Effect.tapError((error) =>
            Effect.logInfo("refresh refused").pipe(Effect.annotateLogs("reason", error.reason))
          ),
          Effect.mapError(() => new InvalidCredentials())
        )
        const account = yield* users.findById(rotated.userId)
        if (Option.isNone(account)) {
          yield* refreshTokens.revokeFamily(rotated.familyId, "user-deleted")
          return yield* Effect.fail(new InvalidCredentials())
        }
        return yield* pair(account.value, rotated.familyId, rotated.token)
      }),

    logout: (refreshToken: string | undefined) =>
      Effect.gen(function* () {
        const principal = yield* Principal.CurrentPrincipal
        yield* revocations.revokeToken(principal.tokenId, principal.expiresAt)
        if (refreshToken !== undefined)
          yield* refreshTokens.revokeByToken(refreshToken, principal.subject, "logout")
        if (principal.sessionId !== undefined)
          yield* refreshTokens.revokeFamily(principal.sessionId, "logout")
      }),

    me: Effect.gen(function* () {
      const principal = yield* Principal.CurrentPrincipal
      const account = yield* liveAccount(principal.subject)
      return {
        id: account.id,
        email: account.email,
        name: account.name,
        roles: account.roles,
        permissions: [...policy.permissionsOf(account.roles)].sort() as Array<Permission>,
        mfaEnabled: account.mfaEnabled
      }
    }),

    mfaEnroll: Effect.gen(function* () {
      const principal = yield* Principal.CurrentPrincipal
      const account = yield* liveAccount(principal.subject)
      if (account.mfaEnabled)
        return yield* Effect.fail(new MfaStateConflict({ detail: "MFA is already enabled." }))
      const secret = yield* Totp.generateSecret
      yield* users.setPendingMfa(account.id, yield* SecretBox.seal(settings.mfaKey, secret, account.id))
      return {
        secret,
        otpauth_uri: Totp.otpauthUri({ issuer: settings.mfaIssuer, account: account.email, secret })
      }
    }),

    mfaConfirm: (code: string) =>
      Effect.gen(function* () {
        const principal = yield* Principal.CurrentPrincipal
        const account = yield* liveAccount(principal.subject)
        if (account.mfaEnabled)
          return yield* Effect.fail(new MfaStateConflict({ detail: "MFA is already enabled." }))
        if (account.mfaSecret === null) {
          return yield* Effect.fail(
            new MfaStateConflict({ detail: "Enroll first: POST /api/v1/auth/mfa/enroll." })
          )
        }
        if (!(yield* checkSecondFactor(account, code, { enable: true })))
          return yield* Effect.fail(new InvalidCredentials())
        const codes = yield* RecoveryCodes.generate()
        yield* users.replaceRecoveryCodes(account.id, codes.map(RecoveryCodes.hash))
        return { recovery_codes: codes }
      }),

    mfaDisable: (code: string) =>
      Effect.gen(function* () {
        const principal = yield* Principal.CurrentPrincipal
        const account = yield* liveAccount(principal.subject)
        if (!account.mfaEnabled)
          return yield* Effect.fail(new MfaStateConflict({ detail: "MFA is not enabled." }))
        if (!(yield* checkSecondFactor(account, code, { enable: false })))
          return yield* Effect.fail(new InvalidCredentials())
        yield* users.disableMfa(account.id)
      }),

    listUsers: (request: { readonly page: number; readonly size: number }) =>
      Effect.map(users.list(request), ({ items, total }) =>
        Pagination.makePage(items, { ...request, sort: [] }, total)
      ),

    setRoles: (id: string, roles: ReadonlyArray<Role>) =>
      Effect.gen(function* () {
        if (Option.isNone(yield* users.findById(id))) return yield* Effect.fail(new UserNotFound())
        // Tokens issued before this second carry the old roles: refuse them.
        // Revoked before the change, so a 503 here leaves nothing half done.
        const now = yield* Clock.currentTimeMillis
        yield* revocations.revokeSubject(id, Math.floor(now / 1000) * 1000 - 1, now + accessTtlMillis)
        const updated = yield* users.setRoles(id, roles)
        if (Option.isNone(updated)) return yield* Effect.fail(new UserNotFound())
        return toUser(updated.value)
      }),

    deleteUser: (id: string) =>
      Effect.gen(function* () {
        if (Option.isNone(yield* users.findById(id))) return yield* Effect.fail(new UserNotFound())
        // Revoke first: if that cannot be recorded (503), the account is not
        // deleted either, so no deleted user is left with working tokens.
        const now = yield* Clock.currentTimeMillis
        const until = now + accessTtlMillis + 60_000
        yield* revocations.revokeSubject(id, until, until)
        yield* refreshTokens.revokeUser(id, "user-deleted")
        if (!(yield* users.delete(id))) return yield* Effect.fail(new UserNotFound())
      }),

    /**
     * Makes sure the configured admin exists with that password and the
     * admin role. An existing account with that email (someone may have
     * registered it first) gets the configured password and loses every
     * session, so nobody else keeps access to the admin account.
     */
    seedAdmin: (email: string, password: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        yield* PasswordPolicy.validate(Redacted.value(password), { email })
        const found = yield* users.findByEmail(email)
        if (Option.isNone(found)) {
          yield* users.create({
            email,
            name: "Administrator",
            passwordHash: yield* hasher.hash(password),
            roles: ["admin"]
          })
          return
        }
        const account = found.value
        if (!(yield* hasher.verify(account.passwordHash, password))) {
          yield* users.setPasswordHash(account.id, yield* hasher.hash(password))
          yield* refreshTokens.revokeUser(account.id, "password-changed")
          const now = yield* Clock.currentTimeMillis
          yield* revocations.revokeSubject(account.id, now, now + accessTtlMillis)
        }
        if (!account.roles.includes("admin")) yield* users.setRoles(account.id, [...account.roles, "admin"])
      })
  }
})

/**
 * The use cases as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class Accounts extends Context.Service<Accounts, Effect.Success<typeof make>>()(
  "@org/example-api/Accounts"
) {
  static readonly layer = Layer.effect(Accounts, make)
}
