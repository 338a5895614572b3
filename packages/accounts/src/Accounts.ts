/**
 * The account use cases behind the accounts API: register, login (with the
 * MFA second step), refresh rotation, logout, password change, MFA
 * enrollment, user administration, and the admin seeded from configuration.
 * Handlers (`AccountsHandlers`) only map the errors below to problems.
 *
 * Security decisions, each one deliberate:
 * - one error, `InvalidCredentials`, for an unknown email, a wrong password,
 *   a bad refresh token, a bad or replayed code and an expired challenge;
 *   an unknown email still costs one password verification (`dummyVerify`);
 * - a refresh token is rotated on every use and its reuse revokes the family;
 * - an MFA challenge is a signed token of its own type (`mfa+jwt`), never
 *   accepted as an access token, spent (revoked) when used;
 * - `maxMfaFailures` wrong second factors lock the account's MFA for
 *   `mfaLockout`;
 * - a role change refuses the subject's older access tokens (refresh gets
 *   one with the new roles); a deletion refuses all of them and revokes
 *   every refresh family; a password change refuses every older access
 *   token and every other session (the caller keeps its refresh token).
 *
 * @since 0.2.0
 */
import { Jwt, type PasswordPolicy, RecoveryCodes, RefreshTokens, SecretBox, Totp } from "@org/auth"
import { AccessTokens, Captcha, Pagination, PasswordHasher, Principal, RevocationStore } from "@org/core"
import { Clock, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { type Account, type PublicUser, Users } from "./Users.ts"

/**
 * The credentials (or token, or code) were not accepted. Deliberately says
 * nothing about which part was wrong.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {}

/**
 * The request conflicts with the account's MFA state (already enabled, not
 * enrolled, not enabled).
 *
 * @since 0.2.0
 * @category errors
 */
export class MfaStateConflict extends Schema.TaggedError<MfaStateConflict>()("MfaStateConflict", {
  detail: Schema.String
}) {}

/**
 * No live account has that id.
 *
 * @since 0.2.0
 * @category errors
 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", {}) {}

/**
 * Whether a password is acceptable, given the account it is for.
 * `PasswordPolicy.validate` from `@org/auth` by default.
 *
 * @since 0.2.0
 * @category models
 */
export type PasswordCheck = (
  password: string,
  context: { readonly email: string; readonly name?: string | undefined }
) => Effect.Effect<void, PasswordPolicy.WeakPassword>

/**
 * Settings of the use cases: what differs between teams.
 *
 * @since 0.2.0
 * @category services
 */
export class AccountsSettings extends Context.Service<
  AccountsSettings,
  {
    /** The roles' permissions (`policy.permissionsOf` of an `Rbac` policy). */
    readonly permissionsOf: (roles: ReadonlyArray<string>) => ReadonlySet<string>
    /** Whether a stored role still exists in the policy (others are dropped when read). */
    readonly isRole: (role: string) => boolean
    /** The roles of a newly registered account. */
    readonly defaultRoles: ReadonlyArray<string>
    /** The roles the seeded admin gets (added to any it has). */
    readonly adminRoles: ReadonlyArray<string>
    /** Shown in authenticator apps (`otpauth://` issuer). */
    readonly mfaIssuer: string
    /** Encrypts TOTP secrets at rest. */
    readonly mfaKey: SecretBox.Key
    /** The access-token lifetime (how long a revocation entry must last). */
    readonly accessTtl: Duration.Duration
    /** How long an MFA challenge is valid. */
    readonly mfaChallengeTtl: Duration.Duration
    /** Wrong second factors in a row before MFA locks. */
    readonly maxMfaFailures: number
    /** How long MFA stays locked. */
    readonly mfaLockout: Duration.Duration
    /** The password policy of register, password change and the admin seed. */
    readonly passwordCheck: PasswordCheck
  }
>()("@org/accounts/AccountsSettings") {}

/**
 * The type of MFA challenge tokens.
 *
 * @since 0.2.0
 * @category constants
 */
export const mfaChallengeType = "mfa+jwt"

/**
 * An OAuth-style token pair.
 *
 * @since 0.2.0
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
 * @since 0.2.0
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
  const settings = yield* AccountsSettings
  const accessTtlMillis = Duration.toMillis(settings.accessTtl)
  const roles = (account: Account) => account.roles.filter(settings.isRole)
  const toUser = (account: Account): PublicUser => ({
    id: account.id,
    email: account.email,
    name: account.name,
    roles: roles(account),
    mfaEnabled: account.mfaEnabled,
    createdAt: account.createdAt,
    updatedAt: account.updatedAt
  })

  const pair = (account: Account, sessionId: string, refreshToken: string) =>
    Effect.map(tokens.issue({ subject: account.id, roles: roles(account), sessionId }), (access) => ({
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
        yield* users.recordMfaFailure(
          account.id,
          settings.maxMfaFailures,
          now + Duration.toMillis(settings.mfaLockout)
        )
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
        yield* settings.passwordCheck(input.password, { email: input.email, name: input.name })
        const passwordHash = yield* hasher.hash(Redacted.make(input.password))
        const account = yield* users.create({
          email: input.email,
          name: input.name ?? null,
          passwordHash,
          roles: settings.defaultRoles
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

    changePassword: (input: { readonly currentPassword: string; readonly newPassword: string }) =>
      Effect.gen(function* () {
        const principal = yield* Principal.CurrentPrincipal
        const account = yield* liveAccount(principal.subject)
        if (!(yield* hasher.verify(account.passwordHash, Redacted.make(input.currentPassword))))
          return yield* Effect.fail(new InvalidCredentials())
        yield* settings.passwordCheck(input.newPassword, {
          email: account.email,
          name: account.name ?? undefined
        })
        // Revoke first: if that cannot be recorded (503), the password stays
        // as it was, so nobody is left believing the old sessions are gone.
        // Access tokens issued before this second are refused (the caller's
        // too: it refreshes with its kept refresh token, and gets one issued
        // in this second, which `iat` cannot tell apart); every other
        // session ends.
        const now = yield* Clock.currentTimeMillis
        yield* revocations.revokeSubject(account.id, Math.floor(now / 1000) * 1000 - 1, now + accessTtlMillis)
        yield* refreshTokens.revokeUser(account.id, "password-changed", { except: principal.sessionId })
        yield* users.setPasswordHash(account.id, yield* hasher.hash(Redacted.make(input.newPassword)))
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
        roles: roles(account),
        permissions: [...settings.permissionsOf(roles(account))].sort(),
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
        Pagination.makePage(items.map(toUser), { ...request, sort: [] }, total)
      ),

    setRoles: (id: string, newRoles: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        if (Option.isNone(yield* users.findById(id))) return yield* Effect.fail(new UserNotFound())
        // Tokens issued before this second carry the old roles: refuse them.
        // Revoked before the change, so a 503 here leaves nothing half done.
        const now = yield* Clock.currentTimeMillis
        yield* revocations.revokeSubject(id, Math.floor(now / 1000) * 1000 - 1, now + accessTtlMillis)
        const updated = yield* users.setRoles(id, newRoles)
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
        yield* settings.passwordCheck(Redacted.value(password), { email })
        const found = yield* users.findByEmail(email)
        if (Option.isNone(found)) {
          yield* users.create({
            email,
            name: "Administrator",
            passwordHash: yield* hasher.hash(password),
            roles: settings.adminRoles
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
        const missing = settings.adminRoles.filter((role) => !account.roles.includes(role))
        if (missing.length > 0) yield* users.setRoles(account.id, [...account.roles, ...missing])
      })
  }
})

/**
 * The use cases as a service. `Accounts.layer` needs the `Users` store,
 * `AccountsSettings`, the token services (`AccessTokens`, `Jwt.Codec`,
 * `RefreshTokens`), `PasswordHasher`, `RevocationStore` and a
 * `CaptchaVerifier`; `AccountsServer.layer` provides all of them from
 * configuration.
 *
 * @since 0.2.0
 * @category services
 */
export class Accounts extends Context.Service<Accounts, Effect.Success<typeof make>>()(
  "@org/accounts/Accounts"
) {
  static readonly layer = Layer.effect(Accounts, make)
}
