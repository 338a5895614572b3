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
 * - `stats` counts the pending and parked events and gives the occurrence
 *   of the oldest pending one, for the dispatcher's gauges.
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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import type * as DomainEvent from "./DomainEvent.ts"
import * as UnitOfWork from "./UnitOfWork.ts"

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
 * What the outbox holds now, for gauges: committed events not yet settled
 * (due, leased or waiting for a retry), parked ones, and the earliest
 * `occurredAt` of the pending ones.
 *
 * @since 0.4.0
 * @category models
 */
export interface Stats {
  readonly pending: number
  readonly dead: number
  readonly oldestPending: Option.Option<DateTime.Utc>
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
    readonly retry: (
      id: string,
      lease: string,
      options: {
        readonly after: Duration.Input
        readonly completed: ReadonlyArray<string>
        readonly error: string
      }
    ) => Effect.Effect<boolean>
    /** Parks an event after its last attempt. False when the lease was lost. */
    readonly deadLetter: (
      id: string,
      lease: string,
      options: {
        readonly completed: ReadonlyArray<string>
        readonly error: string
      }
    ) => Effect.Effect<boolean>
    /** Parked events, oldest first. */
    readonly deadLetters: (options?: {
      readonly limit?: number | undefined
    }) => Effect.Effect<ReadonlyArray<DeadLetter>>
    /** Makes parked events pending again; returns how many were. */
    readonly replay: (ids: ReadonlyArray<string>) => Effect.Effect<number>
    /** Counts of pending and parked events, and the oldest pending occurrence (committed events only). */
    readonly stats: Effect.Effect<Stats>
    /** One stored event by id, in whatever state (for tests and tools). */
    readonly get: (id: string) => Effect.Effect<
      Option.Option<{
        readonly state: "pending" | "delivered" | "dead"
        readonly attempts: number
        readonly completed: ReadonlyArray<string>
      }>
    >
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

/**
 * A fresh lease token: 128 random bits from `Random`, as hex.
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeLease: Effect.Effect<string> = Effect.map(
  Effect.all(Array.from({ length: 4 }, () => Random.nextIntBetween(0, 0xffffffff))),
  (parts) => parts.map((part) => part.toString(16).padStart(8, "0")).join("")
)

/**
 * The milliseconds of a duration input, at least `min`.
 *
 * @since 0.3.0
 * @category models
 */
export const millis = (input: Duration.Input, min = 0): number =>
  Math.max(min, Math.ceil(Duration.toMillis(Duration.fromInputUnsafe(input))))

interface MemoryRow {
  readonly event: DomainEvent.Envelope
  /** False until the appending transaction commits: no claimer sees it before. */
  committed: boolean
  state: "pending" | "delivered" | "dead"
  attempts: number
  completed: ReadonlyArray<string>
  availableAt: number
  lease: string | undefined
  leaseUntil: number
  error: string | undefined
  deadAt: number
}

const byId = (a: { readonly event: DomainEvent.Envelope }, b: { readonly event: DomainEvent.Envelope }) =>
  a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0

// A failed attempt gives the row back: the consumers that succeeded are kept,
// the lease is dropped.
const release = (
  row: MemoryRow,
  options: { readonly completed: ReadonlyArray<string>; readonly error: string }
): void => {
  row.completed = [...new Set([...row.completed, ...options.completed])]
  row.error = options.error
  row.lease = undefined
  row.leaseUntil = 0
}

/**
 * Makes an in-memory outbox for one process and tests. Time is the `Clock`
 * of each call (so `TestClock.adjust` ends leases and retry delays).
 * `append` joins the memory unit of work of `UnitOfWork.layerMemory` (an
 * undo in its journal; the wakeup after its commit); outside a transaction
 * it stores and wakes at once.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Outbox } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const outbox = yield* Outbox.makeMemory
 *   const claimed = yield* outbox.claim({ limit: 10, lease: "30 seconds" })
 *   for (const { event, lease } of claimed) yield* outbox.complete(event.id, lease)
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Outbox["Service"]> = Effect.gen(function* () {
  const rows = new Map<string, MemoryRow>()
  // One pending signal is as good as many: a sliding buffer of one never blocks `append`.
  const signal = yield* PubSub.sliding<void>(1)
  const wake = PubSub.publish(signal, undefined)
  const owned = (id: string, lease: string): MemoryRow | undefined => {
    const row = rows.get(id)
    return row !== undefined && row.state === "pending" && row.lease === lease ? row : undefined
  }
  return Outbox.of({
    append: (events) =>
      Effect.flatMap(Effect.all([UnitOfWork.CurrentJournal, Clock.currentTimeMillis]), ([journal, now]) =>
        Effect.suspend(() => {
          const stored: Array<MemoryRow> = []
          for (const event of events) {
            if (rows.has(event.id)) continue
            const row: MemoryRow = {
              event,
              committed: journal === undefined,
              state: "pending",
              attempts: 0,
              completed: [],
              availableAt: now,
              lease: undefined,
              leaseUntil: 0,
              error: undefined,
              deadAt: 0
            }
            rows.set(event.id, row)
            UnitOfWork.recordUndo(journal, () => rows.delete(event.id))
            stored.push(row)
          }
          if (journal === undefined) return Effect.asVoid(wake)
          // Read-committed: the rows become claimable only when the transaction commits.
          journal.afterCommit.push(
            Effect.andThen(
              Effect.sync(() => {
                for (const row of stored) row.committed = true
              }),
              wake
            ).pipe(Effect.asVoid)
          )
          return Effect.void
        })
      ),
    claim: ({ lease, limit }) =>
      Effect.flatMap(Effect.all([Clock.currentTimeMillis, makeLease]), ([now, token]) =>
        Effect.sync(() => {
          const due = [...rows.values()]
            .filter(
              (row) =>
                row.committed && row.state === "pending" && row.availableAt <= now && row.leaseUntil <= now
            )
            .sort(byId)
            .slice(0, Math.max(0, limit))
          const until = now + millis(lease, 1)
          return due.map((row): Claimed => {
            row.lease = token
            row.leaseUntil = until
            row.attempts += 1
            return { event: row.event, attempts: row.attempts, completed: row.completed, lease: token }
          })
        })
      ),
    complete: (id, lease) =>
      Effect.sync(() => {
        const row = owned(id, lease)
        if (row === undefined) return false
        row.state = "delivered"
        row.lease = undefined
        row.leaseUntil = 0
        return true
      }),
    retry: (id, lease, options) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const row = owned(id, lease)
          if (row === undefined) return false
          release(row, options)
          row.availableAt = now + millis(options.after)
          return true
        })
      ),
    deadLetter: (id, lease, options) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const row = owned(id, lease)
          if (row === undefined) return false
          release(row, options)
          row.state = "dead"
          row.deadAt = now
          return true
        })
      ),
    deadLetters: (options) =>
      Effect.sync(() =>
        [...rows.values()]
          .filter((row) => row.state === "dead")
          .sort((a, b) => a.deadAt - b.deadAt || byId(a, b))
          .slice(0, options?.limit ?? 100)
          .map(
            (row): DeadLetter => ({
              event: row.event,
              attempts: row.attempts,
              completed: row.completed,
              error: row.error ?? "",
              deadAt: DateTime.makeUnsafe(row.deadAt)
            })
          )
      ),
    replay: (ids) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Effect.sync(() => {
            let n = 0
            for (const id of new Set(ids)) {
              const row = rows.get(id)
              if (row === undefined || row.state !== "dead") continue
              row.state = "pending"
              row.attempts = 0
              row.availableAt = now
              n++
            }
            return n
          }),
          (n) => (n > 0 ? Effect.as(wake, n) : Effect.succeed(n))
        )
      ),
    stats: Effect.sync((): Stats => {
      let pending = 0
      let dead = 0
      let oldest: DomainEvent.Envelope["occurredAt"] | undefined
      for (const row of rows.values()) {
        if (row.state === "dead") dead++
        if (row.state !== "pending" || !row.committed) continue
        pending++
        if (oldest === undefined || DateTime.isLessThan(row.event.occurredAt, oldest)) {
          oldest = row.event.occurredAt
        }
      }
      return { pending, dead, oldestPending: Option.fromUndefinedOr(oldest) }
    }),
    get: (id) =>
      Effect.sync(() =>
        Option.map(Option.fromNullishOr(rows.get(id)), (row) => ({
          state: row.state,
          attempts: row.attempts,
          completed: row.completed
        }))
      ),
    wakeups: Stream.fromPubSub(signal)
  })
})

/**
 * Provides an in-memory `Outbox` (see `makeMemory`), to use with
 * `UnitOfWork.layerMemory`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Outbox, UnitOfWork } from "@org/core"
 *
 * const Events = Layer.mergeAll(Outbox.layerMemory, Outbox.layerInboxMemory, UnitOfWork.layerMemory)
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Outbox> = Layer.effect(Outbox, makeMemory)

/**
 * Makes an in-memory inbox. The (consumer, event) pair is taken before the
 * effect runs, so a concurrent second delivery gets `None`; a failing or
 * interrupted effect, or a rolled-back memory transaction, releases it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Outbox } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const inbox = yield* Outbox.makeInboxMemory
 *   return yield* inbox.once("audit", "0190e7a2-7c4e-7a1b-8c3d-4e5f60718293", Effect.succeed("written"))
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeInboxMemory: Effect.Effect<Inbox["Service"]> = Effect.sync(() => {
  const processed = new Set<string>()
  return Inbox.of({
    once: <A, E, R>(consumer: string, eventId: string, effect: Effect.Effect<A, E, R>) =>
      Effect.flatMap(UnitOfWork.CurrentJournal, (journal) => {
        const key = JSON.stringify([consumer, eventId])
        if (processed.has(key)) return Effect.succeedNone
        processed.add(key)
        return effect.pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isFailure(exit)) processed.delete(key)
              else UnitOfWork.recordUndo(journal, () => processed.delete(key))
            })
          ),
          Effect.map(Option.some)
        )
      })
  })
})

/**
 * Provides an in-memory `Inbox` (see `makeInboxMemory`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Outbox } from "@org/core"
 *
 * const audit: Outbox.Consumer = {
 *   name: "audit",
 *   accepts: () => true,
 *   handle: (event) =>
 *     Effect.flatMap(Outbox.Inbox, (inbox) => inbox.once("audit", event.id, Effect.log(`audit ${event.id}`))).pipe(
 *       Effect.provide(Outbox.layerInboxMemory)
 *     )
 * }
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerInboxMemory: Layer.Layer<Inbox> = Layer.effect(Inbox, makeInboxMemory)
