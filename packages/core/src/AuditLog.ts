/**
 * The audit log port: one entry per domain event, kept for people who ask
 * "who did what, when". It is fed by the outbox (`consumer`), so every event
 * of a committed write reaches it, at least once, even across crashes; and
 * `record` is idempotent on the event id, so a redelivered event is stored
 * exactly once.
 *
 * An entry is the event's identity (id, type, aggregate), who and which
 * request raised it (`actorId`, `requestId` from the event's metadata),
 * when, and `data`: the event payload with its secrets removed (see
 * `redact`). `list` pages through entries newest first (`occurredAt`, then
 * id, both descending), filtered by type, aggregate and actor.
 *
 * The store's infrastructure failures are defects: the outbox dispatcher
 * retries a failed delivery, and a failed listing is a 500.
 *
 * Implementations obey the law suite `AuditLogLaws` of `@org/testing`:
 * `layerMemory` here (one process, tests), `AuditLogSql` on `effect/sql`.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as DomainEvent from "./DomainEvent.ts"
import * as Entity from "./Entity.ts"
import * as Pagination from "./Pagination.ts"

/**
 * One audit entry. Its encoded form is the JSON of the audit API
 * (`occurredAt` an ISO string, absent actor or request as `null`).
 *
 * @since 0.3.0
 * @category schemas
 */
export const Entry = Schema.Struct({
  id: Schema.String.check(Schema.isMaxLength(36), Schema.isUUID()),
  type: Schema.String.check(Schema.isMaxLength(DomainEvent.limits.type)),
  aggregateType: Schema.String.check(Schema.isMaxLength(DomainEvent.limits.aggregateType)),
  aggregateId: Schema.String.check(Schema.isMaxLength(DomainEvent.limits.aggregateId)),
  actorId: Schema.NullOr(Schema.String.check(Schema.isMaxLength(DomainEvent.limits.actorId))),
  requestId: Schema.NullOr(Schema.String.check(Schema.isMaxLength(DomainEvent.limits.requestId))),
  occurredAt: Entity.Timestamp,
  data: Schema.Json
})

/**
 * @since 0.3.0
 * @category models
 */
export interface Entry extends Schema.Schema.Type<typeof Entry> {}

/**
 * Which entries `list` returns: every given field must match exactly
 * (the fields AND); an absent field matches everything.
 *
 * @since 0.3.0
 * @category models
 */
export interface Filter {
  readonly type?: string | undefined
  readonly aggregateId?: string | undefined
  readonly actorId?: string | undefined
}

/**
 * The audit log service.
 *
 * @since 0.3.0
 * @category services
 */
export class AuditLog extends Context.Service<
  AuditLog,
  {
    /** Stores the entry of an event; a second record of the same event id changes nothing. */
    readonly record: (event: DomainEvent.Envelope) => Effect.Effect<void>
    /** A page of entries matching `filter`, newest first (page and size are clamped as `Pagination.request` does). */
    readonly list: (
      filter: Filter,
      page: { readonly page: number; readonly size: number }
    ) => Effect.Effect<Pagination.Page<Entry>>
  }
>()("@org/core/AuditLog") {}

/**
 * Keys whose values never reach the audit log: a key is dropped when its
 * name contains one of these words, in any case (`passwordHash`,
 * `mfa_token`, `recovery_codes`, `Set-Cookie`, `otpauth_uri`...). The match
 * is by substring on purpose: a harmless key that happens to contain one
 * (`zipCode`) is dropped too, which is the safe mistake.
 *
 * @since 0.3.0
 * @category redaction
 */
export const secretKeyPattern = /password|passcode|secret|token|code|otp|recovery|authorization|cookie|hash/i

/**
 * Whether a key's value is kept out of the audit log (see
 * `secretKeyPattern`).
 *
 * @since 0.3.0
 * @category redaction
 */
export const isSecretKey = (key: string): boolean => secretKeyPattern.test(key)

// What a `Redacted` turns into when a payload is encoded: `<redacted>` or `<redacted:label>`.
const redactedText = /^<redacted(:[^>]*)?>$/

const isRedactedLooking = (value: unknown): boolean =>
  Redacted.isRedacted(value) || (typeof value === "string" && redactedText.test(value))

/**
 * The payload as the audit log keeps it. The rule, applied at every depth:
 *
 * - an object key matching `secretKeyPattern` is dropped with its value;
 * - a value that is, or looks like, a `Redacted` (the string `<redacted>`
 *   or `<redacted:label>` an encoded `Redacted` becomes) is dropped: the
 *   key from an object, the element from an array;
 * - everything else is kept as it is.
 *
 * A redacted `Redacted` at the top is `null`.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@org/core"
 *
 * AuditLog.redact({ email: "a@example.com", password: "hunter2", mfa: { recoveryCodes: ["x"] } })
 * // { email: "a@example.com", mfa: {} }
 * ```
 *
 * @since 0.3.0
 * @category redaction
 */
export const redact = (value: Schema.Json): Schema.Json => {
  if (isRedactedLooking(value)) return null
  if (Array.isArray(value)) {
    return value.filter((item) => !isRedactedLooking(item)).map(redact)
  }
  if (typeof value === "object" && value !== null) {
    const out: Record<string, Schema.Json> = {}
    for (const [key, item] of Object.entries(value)) {
      if (!isSecretKey(key) && !isRedactedLooking(item)) out[key] = redact(item)
    }
    return out
  }
  return value
}

/**
 * The entry of an event: its identity, actor and request from the metadata,
 * and the redacted payload. Ids are lower-cased, as Postgres prints a uuid.
 *
 * @example
 * ```ts
 * import type { DomainEvent } from "@org/core"
 * import { AuditLog } from "@org/core"
 *
 * declare const event: DomainEvent.Envelope
 * const entry = AuditLog.fromEnvelope(event)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const fromEnvelope = (event: DomainEvent.Envelope): Entry => ({
  id: event.id.toLowerCase(),
  type: event.type,
  aggregateType: event.aggregateType,
  aggregateId: event.aggregateId,
  actorId: event.metadata.actorId ?? null,
  requestId: event.metadata.requestId ?? null,
  occurredAt: event.occurredAt,
  data: redact(event.payload)
})

/**
 * Whether an entry matches a filter (every given field equal).
 *
 * @since 0.3.0
 * @category filters
 */
export const matches =
  (filter: Filter) =>
  (entry: Entry): boolean =>
    (filter.type === undefined || entry.type === filter.type) &&
    (filter.aggregateId === undefined || entry.aggregateId === filter.aggregateId) &&
    (filter.actorId === undefined || entry.actorId === filter.actorId)

/**
 * The audit order: newest first, by `occurredAt` then id, both descending
 * (UUIDv7 ids grow with time, so ids break ties in raising order).
 *
 * @since 0.3.0
 * @category ordering
 */
export const newestFirst = (a: Entry, b: Entry): number => {
  const byTime = DateTime.toEpochMillis(b.occurredAt) - DateTime.toEpochMillis(a.occurredAt)
  if (byTime !== 0) return byTime
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
}

/**
 * An audit log in memory, for one process and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuditLog } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const log = yield* AuditLog.makeMemory
 *   return yield* log.list({ type: "ItemCreated" }, { page: 1, size: 20 })
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<AuditLog["Service"]> = Effect.sync(() => {
  const entries = new Map<string, Entry>()
  return AuditLog.of({
    record: (event) =>
      Effect.sync(() => {
        const entry = fromEnvelope(event)
        if (!entries.has(entry.id)) entries.set(entry.id, entry)
      }),
    list: (filter, page) =>
      Effect.sync(() => {
        const request = Pagination.request(page)
        const matching = [...entries.values()].filter(matches(filter)).sort(newestFirst)
        const start = Pagination.offset(request)
        return Pagination.makePage(matching.slice(start, start + request.size), request, matching.length)
      })
  })
})

/**
 * Provides an in-memory `AuditLog`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<AuditLog> = Layer.effect(AuditLog, makeMemory)

/**
 * Options of `consumer`.
 *
 * @since 0.3.0
 * @category models
 */
export interface ConsumerOptions {
  /** The consumer's stable name; "audit" unless given. */
  readonly name?: string | undefined
  /** Which events are audited; every event unless given. */
  readonly accepts?: ((event: DomainEvent.Envelope) => boolean) | undefined
}

/**
 * The outbox consumer that records events in the `AuditLog` in context.
 * Give it to the outbox dispatcher: every committed event is then audited,
 * once per event id however often it is delivered.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { AuditLog, OutboxDispatcher } from "@org/core"
 *
 * const Dispatcher = Layer.unwrap(
 *   Effect.map(AuditLog.consumer(), (audit) => OutboxDispatcher.layer({ consumers: Effect.succeed([audit]) }))
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
// Structurally an `Outbox.Consumer`: importing the outbox module (server
// code) would keep this one, which API definitions import, off clients.
export const consumer = (
  options: ConsumerOptions = {}
): Effect.Effect<
  {
    readonly name: string
    readonly accepts: (event: DomainEvent.Envelope) => boolean
    readonly handle: (event: DomainEvent.Envelope) => Effect.Effect<void, unknown>
  },
  never,
  AuditLog
> =>
  Effect.map(AuditLog, (log) => ({
    name: options.name ?? "audit",
    accepts: options.accepts ?? (() => true),
    handle: log.record
  }))
