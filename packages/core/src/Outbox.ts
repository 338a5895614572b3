/**
 * The transactional outbox port: events raised in a transaction are stored
 * with the transaction's writes, and delivered to their consumers after it
 * commits, at least once, even across crashes.
 *
 * One row per event. `append` joins the caller's transaction (a SQL store
 * writes on the transaction's connection; the memory store records an undo in
 * the unit-of-work journal), so a rolled-back write leaves no event and a
 * committed one always has its events.
 *
 * The dispatcher side:
 *
 * - `claim` leases up to `limit` due events (pending, `availableAt` passed,
 *   no live lease) in id order; no other claimer gets a leased event until
 *   its lease ends or it is settled. A claimer that dies loses its lease and
 *   the events come back: delivery is at-least-once, consumers must be
 *   idempotent (see `Inbox`).
 * - Each event records the consumers that already handled it (`completed`),
 *   so a retry delivers only to the others.
 * - `complete` settles an event; `retry` returns it for another attempt
 *   after a delay, keeping the consumers that succeeded; `deadLetter` parks it
 *   after the last attempt; `deadLetters` lists the parked ones and `replay`
 *   makes them pending again (attempts reset, `completed` kept).
 * - `wakeups` signals that events may be due (a commit in this process, a
 *   database notification); a dispatcher still polls for what it misses.
 *
 * Settling methods take the claim's `lease` token: a claimer whose lease
 * expired (and whose event another claimer took) cannot settle it.
 *
 * Implementations obey the law suite `OutboxLaws` of `@org/testing`:
 * `layerMemory` here, the Postgres one in `@org/sql`.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as DateTime from "effect/DateTime"
import type * as DomainEvent from "./DomainEvent.ts"

/**
 * An event leased to one claimer.
 *
 * @since 0.3.0
 * @category models
 */
export interface Claimed {
  readonly event: DomainEvent.Envelope
  /** Attempts so far, this one included (1 on the first claim). */
  readonly attempts: number
  /** Names of the consumers that already handled the event. */
  readonly completed: ReadonlyArray<string>
  /** Proves the claim when settling. */
  readonly lease: string
}

/**
 * An event parked after its last attempt.
 *
 * @since 0.3.0
 * @category models
 */
export interface DeadLetter {
  readonly event: DomainEvent.Envelope
  readonly attempts: number
  readonly completed: ReadonlyArray<string>
  /** The last failure, as text (no stack traces). */
  readonly error: string
  readonly deadAt: DateTime.Utc
}

/**
 * One destination of the outbox's events: an async event handler, a relay to
 * a broker. `name` is stable across deployments: it is recorded in an
 * event's `completed` list and in the inbox.
 *
 * @since 0.3.0
 * @category models
 */
export interface Consumer {
  readonly name: string
  /** Which events this consumer takes. */
  readonly accepts: (event: DomainEvent.Envelope) => boolean
  /** Handles one event; a failure is retried by the dispatcher's policy. */
  readonly handle: (event: DomainEvent.Envelope) => Effect.Effect<void, unknown>
}

/**
 * The outbox service.
 *
 * @since 0.3.0
 * @category services
 */
export class Outbox extends Context.Service<
  Outbox,
  {
    /** Stores events in the caller's transaction. */
    readonly append: (events: ReadonlyArray<DomainEvent.Envelope>) => Effect.Effect<void>
    /** Leases up to `limit` due events for `lease`. */
    readonly claim: (options: {
      readonly limit: number
      readonly lease: Duration.Input
    }) => Effect.Effect<ReadonlyArray<Claimed>>
    /** Settles a delivered event. False when the lease was lost. */
    readonly complete: (id: string, lease: string) => Effect.Effect<boolean>
    /** Returns an event for another attempt after `after`. False when the lease was lost. */
    readonly retry: (id: string, lease: string, options: {
      readonly after: Duration.Input
      readonly completed: ReadonlyArray<string>
      readonly error: string
    }) => Effect.Effect<boolean>
    /** Parks an event after its last attempt. False when the lease was lost. */
    readonly deadLetter: (id: string, lease: string, options: {
      readonly completed: ReadonlyArray<string>
      readonly error: string
    }) => Effect.Effect<boolean>
    /** Parked events, oldest first. */
    readonly deadLetters: (options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<DeadLetter>>
    /** Makes parked events pending again; returns how many were. */
    readonly replay: (ids: ReadonlyArray<string>) => Effect.Effect<number>
    /** One stored event by id, in whatever state (for tests and tools). */
    readonly get: (id: string) => Effect.Effect<Option.Option<{
      readonly state: "pending" | "delivered" | "dead"
      readonly attempts: number
      readonly completed: ReadonlyArray<string>
    }>>
    /** Signals that events may be due. */
    readonly wakeups: Stream.Stream<void>
  }
>()("@org/core/Outbox") {}

/**
 * The inbox port: which events a consumer has already processed, so an event
 * delivered twice (at-least-once) takes effect once.
 *
 * @since 0.3.0
 * @category services
 */
export class Inbox extends Context.Service<
  Inbox,
  {
    /**
     * Runs `effect` unless `consumer` already processed `eventId`, and records
     * the id in the same transaction as the effect's writes: `Some` with the
     * result the first time, `None` after. A failing `effect` records nothing.
     */
    readonly once: <A, E, R>(
      consumer: string,
      eventId: string,
      effect: Effect.Effect<A, E, R>
    ) => Effect.Effect<Option.Option<A>, E, R>
  }
>()("@org/core/Outbox/Inbox") {}
