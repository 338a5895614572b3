/**
 * The security-relevant facts the account use cases raise: the audit trail
 * of who registered, logged in (or failed to), ended a session, turned MFA on
 * or off, changed a password, was given other roles or was deleted, and when
 * a stolen refresh token was replayed. Every event's aggregate is the
 * `"User"` whose account it concerns (`aggregateId`: the user id); the acting
 * principal is in the event's metadata (`actorId`): the user for what users
 * do themselves, the admin for role changes and deletions (the target user
 * is then the aggregate), nobody for failed logins (nobody was
 * authenticated).
 *
 * What a payload may hold: non-secret facts an auditor needs. Never a
 * password, hash, access or refresh token, TOTP secret, TOTP code or
 * recovery code (checked by `test/AccountsEvents.test.ts`). Session ids
 * (`sessionId`, the refresh family) are identifiers that access tokens carry
 * in the clear, not credentials: they tie a login to its logout or to a
 * replayed token.
 *
 * A failed login for an email no account has has no user: its aggregate id is
 * `unknownUser` and its payload holds `emailHash`, the first 16 hex digits
 * of the SHA-256 of the normalized (trimmed, lower-cased) email, never the
 * email itself. That is enough to see a campaign against one address (the
 * same hash again and again) or to check whether a given address was tried,
 * without writing into the audit log the addresses attackers (or users'
 * typos) supply. It is pseudonymous, not anonymous: whoever has a candidate
 * address can hash it and compare, which is what an auditor should be able
 * to do.
 *
 * Integration events (relayed to other services by the outbox):
 * `UserRegistered` (provisioning, welcome mail), `RolesChanged` (services
 * that cache permissions) and `UserDeleted` (erase or anonymize the user's
 * data elsewhere; it carries no email so the deletion does not spread the
 * address it is meant to remove). The others stay in this service (audit
 * log, alerts).
 *
 * The events are raised only when an `EventBus` (and a `UnitOfWork`) is in
 * the context the accounts' layer is built in: see `Accounts`.
 *
 * @example
 * ```ts
 * import { AccountsEvents } from "@org/accounts"
 * import { EventBus } from "@org/core"
 * import { Effect, Layer } from "effect"
 *
 * // An alert when a replayed refresh token revokes a session.
 * const alerts = EventBus.subscriber(
 *   AccountsEvents.RefreshReuseDetected,
 *   { name: "reuse-alert", mode: "async" },
 *   (event) => Effect.logWarning(`refresh token replayed for ${event.aggregateId}`)
 * )
 * export const Alerts: Layer.Layer<never, never, EventBus.EventBus> = alerts
 * ```
 *
 * @since 0.3.0
 */
import * as DomainEvent from "@org/core/DomainEvent"
import * as Schema from "effect/Schema"

/**
 * The aggregate type of every accounts event.
 *
 * @since 0.3.0
 * @category constants
 */
export const aggregateType = "User"

/**
 * The aggregate id of a `LoginFailed` whose email no account has.
 *
 * @since 0.3.0
 * @category constants
 */
export const unknownUser = "unknown"

/**
 * How a login step or an MFA change was proven: the password, a TOTP code or
 * a recovery code.
 *
 * @since 0.3.0
 * @category schemas
 */
export const Method = Schema.Literals(["password", "mfa", "recovery-code"])

/**
 * @since 0.3.0
 * @category models
 */
export type Method = typeof Method.Type

/**
 * Why a login step was refused (the client only ever sees `InvalidCredentials`):
 *
 * - `unknown-email`: no live account has that email;
 * - `wrong-password`: the password did not match;
 * - `invalid-challenge`: the MFA challenge token is forged, expired or not one;
 * - `challenge-spent`: the MFA challenge was already used;
 * - `wrong-second-factor`: the TOTP or recovery code was wrong or replayed;
 * - `mfa-locked`: too many wrong second factors: MFA is locked for a while.
 *
 * @since 0.3.0
 * @category schemas
 */
export const FailureReason = Schema.Literals([
  "unknown-email",
  "wrong-password",
  "invalid-challenge",
  "challenge-spent",
  "wrong-second-factor",
  "mfa-locked"
])

/**
 * @since 0.3.0
 * @category models
 */
export type FailureReason = typeof FailureReason.Type

const Roles = Schema.Array(Schema.String)

/**
 * An account was created: by registration or by the admin seed (no actor).
 *
 * @since 0.3.0
 * @category events
 */
export const UserRegistered = DomainEvent.define("UserRegistered", {
  aggregateType,
  payload: Schema.Struct({ email: Schema.String, roles: Roles }),
  integration: true
})

/**
 * A login completed and a session (`sessionId`) started; `method` is the
 * last factor (the password alone, or the TOTP / recovery code after it).
 *
 * @since 0.3.0
 * @category events
 */
export const LoginSucceeded = DomainEvent.define("LoginSucceeded", {
  aggregateType,
  payload: Schema.Struct({ method: Method, sessionId: Schema.String })
})

/**
 * A login step was refused. The aggregate is the account when it is known,
 * `unknownUser` otherwise (then `emailHash` is set: see the module doc).
 *
 * @since 0.3.0
 * @category events
 */
export const LoginFailed = DomainEvent.define("LoginFailed", {
  aggregateType,
  payload: Schema.Struct({
    reason: FailureReason,
    method: Method,
    emailHash: Schema.optionalKey(Schema.String)
  })
})

/**
 * A spent refresh token was presented again: its session (`sessionId`) is
 * revoked. A sign of a stolen token. No actor: whoever presented it is
 * unknown (the thief or the victim).
 *
 * @since 0.3.0
 * @category events
 */
export const RefreshReuseDetected = DomainEvent.define("RefreshReuseDetected", {
  aggregateType,
  payload: Schema.Struct({ sessionId: Schema.optionalKey(Schema.String) })
})

/**
 * The user logged out; `sessionId` is the session of the access token, when
 * it had one.
 *
 * @since 0.3.0
 * @category events
 */
export const LoggedOut = DomainEvent.define("LoggedOut", {
  aggregateType,
  payload: Schema.Struct({ sessionId: Schema.optionalKey(Schema.String) })
})

/**
 * The user confirmed MFA enrollment; `recoveryCodes` is how many recovery
 * codes were issued (the codes themselves never leave the response).
 *
 * @since 0.3.0
 * @category events
 */
export const MfaEnabled = DomainEvent.define("MfaEnabled", {
  aggregateType,
  payload: Schema.Struct({ recoveryCodes: Schema.Int })
})

/**
 * The user turned MFA off, proving it with a TOTP (`mfa`) or a recovery code.
 *
 * @since 0.3.0
 * @category events
 */
export const MfaDisabled = DomainEvent.define("MfaDisabled", {
  aggregateType,
  payload: Schema.Struct({ method: Schema.Literals(["mfa", "recovery-code"]) })
})

/**
 * The password changed: by the user (who keeps the current session), or by
 * the admin seed (`source: "seed"`, no actor); `sessionsEnded` is how many
 * other sessions were revoked.
 *
 * @since 0.3.0
 * @category events
 */
export const PasswordChanged = DomainEvent.define("PasswordChanged", {
  aggregateType,
  payload: Schema.Struct({
    source: Schema.Literals(["user", "seed"]),
    sessionsEnded: Schema.Int
  })
})

/**
 * The account's stored roles changed from `before` to `after`; the actor is
 * the admin (none for the admin seed).
 *
 * @since 0.3.0
 * @category events
 */
export const RolesChanged = DomainEvent.define("RolesChanged", {
  aggregateType,
  payload: Schema.Struct({ before: Roles, after: Roles }),
  integration: true
})

/**
 * The account was deleted (soft) and every session of it revoked; the actor
 * is the admin.
 *
 * @since 0.3.0
 * @category events
 */
export const UserDeleted = DomainEvent.define("UserDeleted", {
  aggregateType,
  payload: Schema.Struct({}),
  integration: true
})

/**
 * Every accounts event definition, for `EventBus.register`, an audit
 * projection or an outbox consumer.
 *
 * @example
 * ```ts
 * import { AccountsEvents } from "@org/accounts"
 * import { EventBus } from "@org/core"
 * import { Effect } from "effect"
 *
 * const registerAll = Effect.flatMap(EventBus.EventBus, (bus) => bus.register(AccountsEvents.all))
 * ```
 *
 * @since 0.3.0
 * @category events
 */
export const all = [
  UserRegistered,
  LoginSucceeded,
  LoginFailed,
  RefreshReuseDetected,
  LoggedOut,
  MfaEnabled,
  MfaDisabled,
  PasswordChanged,
  RolesChanged,
  UserDeleted
] as const

/**
 * Any accounts event.
 *
 * @since 0.3.0
 * @category models
 */
export type AccountsEvent = DomainEvent.EventOf<(typeof all)[number]>
