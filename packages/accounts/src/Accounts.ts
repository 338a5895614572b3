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
 * Events (`AccountsEvents`): when the context the layer is built in holds an
 * `EventBus`, each use case raises its security events; without one it
 * raises nothing and runs as it always did (no transaction is opened for
 * events). With a bus the layer also needs a `UnitOfWork` (it dies at build
 * otherwise): a write and its event are committed together (the outbox gets
 * the event atomically), and a refused step whose failure must be on record
 * (`LoginFailed`, `RefreshReuseDetected`, a counted MFA failure) commits its
 * event in a transaction of its own before the request fails. A sync
 * subscriber that vetoes an event (`EventVetoed`) is a defect here: the
 * write rolls back and the request answers 500. Both unknown emails and
 * wrong passwords record a `LoginFailed`, so the two still cost the same.
 *
 * @since 0.2.0
 */

import { createHash } from "node:crypto"
import { Jwt, type PasswordPolicy, RecoveryCodes, RefreshTokens, SecretBox, Totp } from "@org/auth"
import {
  AccessTokens,
  Captcha,
  DomainEvent,
  EventBus,
  Pagination,
  PasswordHasher,
  Principal,
  RevocationStore,
  UnitOfWork
} from "@org/core"
import { Clock, Context, Duration, Effect, Layer, Option, Redacted, Result, Schema } from "effect"
import * as AccountsEvents from "./AccountsEvents.ts"
import { type Account, EmailTaken, type PublicUser, Users } from "./Users.ts"

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

/** The pseudonym of an email no account has (see `AccountsEvents`). */
const emailHash = (email: string) =>
  createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 16)

const methodOf = (code: string): "mfa" | "recovery-code" =>
  /^[0-9]{6}$/.test(code.trim()) ? "mfa" : "recovery-code"

const make = Effect.gen(function* () {
  const bus = yield* Effect.serviceOption(EventBus.EventBus)
  const unitOfWork = yield* Effect.serviceOption(UnitOfWork.UnitOfWork)
  if (Option.isSome(bus)) {
    if (Option.isNone(unitOfWork)) {
      return yield* Effect.die(
        new Error("Accounts: an EventBus is in context but no UnitOfWork: provide one (UnitOfWork.layerSql)")
      )
    }
    yield* bus.value.register(AccountsEvents.all)
  }
  // A write and the events it raises commit together; without a bus there
  // is nothing to join, so no transaction is opened.
  const atomically = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Option.isSome(bus) && Option.isSome(unitOfWork) ? unitOfWork.value.transaction(effect) : effect
  const raise = <D extends DomainEvent.AnyDefinition>(
    definition: D,
    aggregateId: string,
    payload: D["payload"]["Type"],
    actorId?: string | undefined
  ): Effect.Effect<void> => {
    if (Option.isNone(bus)) return Effect.void
    const publish = Effect.flatMap(definition.make(aggregateId, payload), (event) =>
      bus.value.publish([event])
    )
    // A veto rolls the write back: a defect, since no caller can act on it.
    return Effect.orDie(actorId === undefined ? publish : DomainEvent.withMetadata(publish, { actorId }))
  }
  // An event that must be on record although the request fails: its own transaction.
  const record = <D extends DomainEvent.AnyDefinition>(
    definition: D,
    aggregateId: string,
    payload: D["payload"]["Type"]
  ) => atomically(raise(definition, aggregateId, payload))
  const rolesChanged = (
    id: string,
    before: ReadonlyArray<string>,
    after: ReadonlyArray<string>,
    actorId: string | undefined
  ) =>
    before.length === after.length && before.every((role) => after.includes(role))
      ? Effect.void
      : raise(AccountsEvents.RolesChanged, id, { before, after }, actorId)
  const actorOf = Effect.map(Effect.serviceOption(Principal.CurrentPrincipal), (principal) =>
    Option.isSome(principal) ? principal.value.subject : undefined
  )

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
      Effect.map(pair(account, refresh.familyId, refresh.token), (tokens) => ({
        tokens,
        sessionId: refresh.familyId
      }))
    )

  const liveAccount = (id: string) =>
    Effect.flatMap(
      users.findById(id),
      Option.match({ onNone: () => Effect.fail(new InvalidCredentials()), onSome: Effect.succeed })
    )

  // A code is either a TOTP (digits only) or a recovery code. A refusal is
  // counted (a write): run it in a transaction that commits although the
  // request then fails.
  const checkSecondFactor = (account: Account, code: string, options: { readonly enable: boolean }) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const method = methodOf(code)
      const outcome = (result: "accepted" | "rejected" | "locked") => ({ method, result })
      if (account.mfaSecret === null) return outcome("rejected")
      if (account.mfaLockedUntil !== null && account.mfaLockedUntil > now) return outcome("locked")
      const trimmed = code.trim()
      let accepted = false
      if (method === "mfa") {
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
      return outcome(accepted ? "accepted" : "rejected")
    })

  // The configured admin's account, already there: the configured password
  // (every session ends when it changes, so nobody else keeps access) and
  // the admin roles.
  const ensureAdmin = (account: Account, password: Redacted.Redacted<string>) =>
    Effect.gen(function* () {
      if (!(yield* hasher.verify(account.passwordHash, password))) {
        const passwordHash = yield* hasher.hash(password)
        yield* atomically(
          Effect.gen(function* () {
            yield* users.setPasswordHash(account.id, passwordHash)
            const sessionsEnded = yield* refreshTokens.revokeUser(account.id, "password-changed")
            yield* raise(AccountsEvents.PasswordChanged, account.id, { source: "seed", sessionsEnded })
          })
        )
        const now = yield* Clock.currentTimeMillis
        yield* revocations.revokeSubject(account.id, now, now + accessTtlMillis)
      }
      const missing = settings.adminRoles.filter((role) => !account.roles.includes(role))
      if (missing.length > 0) {
        yield* atomically(
          Effect.gen(function* () {
            const updated = yield* users.setRoles(account.id, [...account.roles, ...missing])
            if (Option.isSome(updated))
              yield* rolesChanged(account.id, account.roles, updated.value.roles, undefined)
          })
        )
      }
    })

  return traced({
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
        return yield* atomically(
          Effect.gen(function* () {
            const account = yield* users.create({
              email: input.email,
              name: input.name ?? null,
              passwordHash,
              roles: settings.defaultRoles
            })
            yield* raise(
              AccountsEvents.UserRegistered,
              account.id,
              { email: account.email, roles: account.roles },
              account.id
            )
            return toUser(account)
          })
        )
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
          yield* record(AccountsEvents.LoginFailed, AccountsEvents.unknownUser, {
            reason: "unknown-email",
            method: "password",
            emailHash: emailHash(input.email)
          })
          return yield* Effect.fail(new InvalidCredentials())
        }
        const account = found.value
        if (!(yield* hasher.verify(account.passwordHash, password))) {
          yield* record(AccountsEvents.LoginFailed, account.id, {
            reason: "wrong-password",
            method: "password"
          })
          return yield* Effect.fail(new InvalidCredentials())
        }
        const rehashed = hasher.needsRehash(account.passwordHash)
          ? Option.some(yield* hasher.hash(password))
          : Option.none()
        return yield* atomically(
          Effect.gen(function* () {
            if (Option.isSome(rehashed)) yield* users.setPasswordHash(account.id, rehashed.value)
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
            const session = yield* startSession(account)
            yield* raise(
              AccountsEvents.LoginSucceeded,
              account.id,
              { method: "password", sessionId: session.sessionId },
              account.id
            )
            return session.tokens
          })
        )
      }),

    mfaVerify: (input: { readonly mfaToken: string; readonly code: string }) =>
      Effect.gen(function* () {
        const method = methodOf(input.code)
        const verified = yield* Effect.option(codec.verify(input.mfaToken, { typ: mfaChallengeType }))
        if (Option.isNone(verified)) {
          yield* record(AccountsEvents.LoginFailed, AccountsEvents.unknownUser, {
            reason: "invalid-challenge",
            method
          })
          return yield* Effect.fail(new InvalidCredentials())
        }
        const challenge = verified.value
        const spent = yield* revocations.isRevoked({
          tokenId: challenge.tokenId,
          subject: challenge.subject,
          issuedAt: challenge.issuedAt
        })
        if (spent) {
          yield* record(AccountsEvents.LoginFailed, challenge.subject, { reason: "challenge-spent", method })
          return yield* Effect.fail(new InvalidCredentials())
        }
        const account = yield* liveAccount(challenge.subject)
        const outcome = yield* atomically(
          Effect.gen(function* () {
            const factor = account.mfaEnabled
              ? yield* checkSecondFactor(account, input.code, { enable: false })
              : { method, result: "rejected" as const }
            if (factor.result !== "accepted") {
              yield* raise(AccountsEvents.LoginFailed, account.id, {
                reason: factor.result === "locked" ? "mfa-locked" : "wrong-second-factor",
                method: factor.method
              })
              return Result.fail(new InvalidCredentials())
            }
            yield* revocations.revokeToken(challenge.tokenId, challenge.expiresAt)
            const session = yield* startSession(account)
            yield* raise(
              AccountsEvents.LoginSucceeded,
              account.id,
              { method: factor.method, sessionId: session.sessionId },
              account.id
            )
            return Result.succeed(session.tokens)
          })
        )
        return yield* Effect.fromResult(outcome)
      }),

    refresh: (token: string) =>
      Effect.gen(function* () {
        const rotated = yield* refreshTokens.rotate(token).pipe(
          Effect.tapError((error) =>
            Effect.logInfo("refresh refused").pipe(Effect.annotateLogs("reason", error.reason))
          ),
          Effect.tapError((error) =>
            error.reason === "reused"
              ? record(AccountsEvents.RefreshReuseDetected, error.userId ?? AccountsEvents.unknownUser, {
                  ...(error.familyId === undefined ? {} : { sessionId: error.familyId })
                })
              : Effect.void
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
        const passwordHash = yield* hasher.hash(Redacted.make(input.newPassword))
        yield* atomically(
          Effect.gen(function* () {
            const sessionsEnded = yield* refreshTokens.revokeUser(account.id, "password-changed", {
              except: principal.sessionId
            })
            yield* users.setPasswordHash(account.id, passwordHash)
            yield* raise(
              AccountsEvents.PasswordChanged,
              account.id,
              { source: "user", sessionsEnded },
              account.id
            )
          })
        )
      }),

    logout: (refreshToken: string | undefined) =>
      Effect.gen(function* () {
        const principal = yield* Principal.CurrentPrincipal
        yield* atomically(
          Effect.gen(function* () {
            yield* revocations.revokeToken(principal.tokenId, principal.expiresAt)
            if (refreshToken !== undefined)
              yield* refreshTokens.revokeByToken(refreshToken, principal.subject, "logout")
            if (principal.sessionId !== undefined)
              yield* refreshTokens.revokeFamily(principal.sessionId, "logout")
            yield* raise(
              AccountsEvents.LoggedOut,
              principal.subject,
              principal.sessionId === undefined ? {} : { sessionId: principal.sessionId },
              principal.subject
            )
          })
        )
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
        const outcome = yield* atomically(
          Effect.gen(function* () {
            const factor = yield* checkSecondFactor(account, code, { enable: true })
            if (factor.result !== "accepted") return Result.fail(new InvalidCredentials())
            const codes = yield* RecoveryCodes.generate()
            yield* users.replaceRecoveryCodes(account.id, codes.map(RecoveryCodes.hash))
            yield* raise(AccountsEvents.MfaEnabled, account.id, { recoveryCodes: codes.length }, account.id)
            return Result.succeed({ recovery_codes: codes })
          })
        )
        return yield* Effect.fromResult(outcome)
      }),

    mfaDisable: (code: string) =>
      Effect.gen(function* () {
        const principal = yield* Principal.CurrentPrincipal
        const account = yield* liveAccount(principal.subject)
        if (!account.mfaEnabled)
          return yield* Effect.fail(new MfaStateConflict({ detail: "MFA is not enabled." }))
        const outcome = yield* atomically(
          Effect.gen(function* () {
            const factor = yield* checkSecondFactor(account, code, { enable: false })
            if (factor.result !== "accepted") return Result.fail(new InvalidCredentials())
            yield* users.disableMfa(account.id)
            yield* raise(AccountsEvents.MfaDisabled, account.id, { method: factor.method }, account.id)
            return Result.succeed(undefined)
          })
        )
        return yield* Effect.fromResult(outcome)
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
        const actor = yield* actorOf
        return yield* atomically(
          Effect.gen(function* () {
            const before = yield* users.findById(id)
            const updated = yield* users.setRoles(id, newRoles)
            if (Option.isNone(before) || Option.isNone(updated)) return yield* Effect.fail(new UserNotFound())
            yield* rolesChanged(id, before.value.roles, updated.value.roles, actor)
            return toUser(updated.value)
          })
        )
      }),

    deleteUser: (id: string) =>
      Effect.gen(function* () {
        if (Option.isNone(yield* users.findById(id))) return yield* Effect.fail(new UserNotFound())
        // Revoke first: if that cannot be recorded (503), the account is not
        // deleted either, so no deleted user is left with working tokens.
        const now = yield* Clock.currentTimeMillis
        const until = now + accessTtlMillis + 60_000
        yield* revocations.revokeSubject(id, until, until)
        const actor = yield* actorOf
        yield* atomically(
          Effect.gen(function* () {
            yield* refreshTokens.revokeUser(id, "user-deleted")
            if (!(yield* users.delete(id))) return yield* Effect.fail(new UserNotFound())
            yield* raise(AccountsEvents.UserDeleted, id, {}, actor)
          })
        )
      }),

    /**
     * Makes sure the configured admin exists with that password and the
     * admin role. An existing account with that email (someone may have
     * registered it first) gets the configured password and loses every
     * session, so nobody else keeps access to the admin account. Instances
     * starting together on one database all succeed, with one account.
     */
    seedAdmin: (email: string, password: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        yield* settings.passwordCheck(Redacted.value(password), { email })
        const found = yield* users.findByEmail(email)
        if (Option.isSome(found)) return yield* ensureAdmin(found.value, password)
        const passwordHash = yield* hasher.hash(password)
        const created = yield* atomically(
          Effect.gen(function* () {
            const account = yield* users.create({
              email,
              name: "Administrator",
              passwordHash,
              roles: settings.adminRoles
            })
            yield* raise(AccountsEvents.UserRegistered, account.id, {
              email: account.email,
              roles: account.roles
            })
          })
        ).pipe(
          Effect.as(true),
          // Another instance starting at the same moment created it between
          // the look-up and the insert: carry on as if it had been there.
          Effect.catchTag("EmailTaken", () => Effect.succeed(false))
        )
        if (created) return
        const winner = yield* users.findByEmail(email)
        if (Option.isNone(winner)) return yield* Effect.fail(new EmailTaken())
        yield* ensureAdmin(winner.value, password)
      })
  })
})

// Every use case in a span `Accounts.<name>` (a child of the request's), so
// a trace shows which use case a request ran and how long it took.
// The stack would point here, not at the caller: not worth an Error per call.
const spanOptions = { captureStackTrace: false } as const

const traced = <T extends Record<string, unknown>>(useCases: T): T =>
  // The same keys and shapes: each value is the use case, wrapped.
  Object.fromEntries(
    Object.entries(useCases).map(([name, useCase]) => [
      name,
      Effect.isEffect(useCase)
        ? Effect.withSpan(useCase, `Accounts.${name}`, spanOptions)
        : typeof useCase === "function"
          ? (...args: Array<unknown>) => Effect.withSpan(useCase(...args), `Accounts.${name}`, spanOptions)
          : useCase
    ])
  ) as T

/**
 * The use cases as a service. `Accounts.layer` needs the `Users` store,
 * `AccountsSettings`, the token services (`AccessTokens`, `Jwt.Codec`,
 * `RefreshTokens`), `PasswordHasher`, `RevocationStore` and a
 * `CaptchaVerifier`; `AccountsServer.layer` provides all of them from
 * configuration. Optional: an `EventBus` (with a `UnitOfWork`) in the
 * context it is built in, to raise `AccountsEvents` (see the module doc).
 *
 * @since 0.2.0
 * @category services
 */
export class Accounts extends Context.Service<Accounts, Effect.Success<typeof make>>()(
  "@org/accounts/Accounts"
) {
  static readonly layer = Layer.effect(Accounts, make)
}
