/**
 * The transactional outbox and inbox on Postgres (`effect/sql` with
 * `@effect/sql-pg`): one row per event in `event_outbox`, one row per
 * (consumer, event) processed in `event_inbox`. See docs/adr/0011.
 *
 * - `append` is one multi-row `INSERT` on the caller's transaction (inside
 *   `sql.withTransaction` every statement runs on the transaction's
 *   connection) and an `afterCommit` hook that wakes the dispatchers of
 *   this process and, by default, sends one `pg_notify` after the commit,
 *   outside the transaction, shared by the commits in flight (`notify`
 *   option; the numbers behind the default are in the ADR).
 * - `claim` is one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP
 *   LOCKED)` on the database clock: concurrent claimers never get the same
 *   row, and a lease ends by the server's time, not the process's.
 * - Settling matches the lease token, so a claimer whose lease was taken
 *   over settles nothing.
 * - `wakeups` merges the local signal with `LISTEN` on a dedicated
 *   connection (`PgClient.listen`). On embedded PGlite, which serves a single
 *   connection, there is no `LISTEN`: the local signal and the dispatcher's
 *   polling carry delivery.
 * - `stats` is one statement over the partial `pending` and `dead` indexes.
 *
 * @since 0.3.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { DomainEvent, Outbox } from "@org/core"
import type { Scope } from "effect"
import { Cause, DateTime, Effect, Latch, Layer, Option, PubSub, Schema, Stream } from "effect"
import { SqlClient, SqlError } from "effect/sql"

/**
 * The outbox table.
 *
 * @since 0.3.0
 * @category models
 */
export const table = "event_outbox"

/**
 * The inbox table.
 *
 * @since 0.3.0
 * @category models
 */
export const inboxTable = "event_inbox"

/**
 * The notification channel `append` notifies and dispatchers listen on.
 *
 * @since 0.3.0
 * @category models
 */
export const channel = "event_outbox"

/**
 * Creates `event_outbox` and its indexes (idempotent). Add it to the
 * application's migrations.
 *
 * @example
 * ```ts
 * import { Migrations, OutboxSql } from "@org/sql"
 *
 * const Database = Migrations.layer({ "1_event_outbox": OutboxSql.migration, "2_event_inbox": OutboxSql.inboxMigration })
 * ```
 *
 * @since 0.3.0
 * @category migrations
 */
export const migration: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    completed text[] NOT NULL DEFAULT '{}',
    available_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_token text NULL,
    lease_until timestamptz NULL,
    error text NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at timestamptz NULL,
    dead_at timestamptz NULL
  )`
    // The claim query walks pending rows in id order (UUIDv7: creation order); delivered rows leave the index.
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_pending`)} ON ${sql(table)} (id) WHERE state = 'pending'`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_dead`)} ON ${sql(table)} (dead_at, id) WHERE state = 'dead'`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_aggregate`)} ON ${sql(table)} (aggregate_type, aggregate_id)`
  }
)

/**
 * Creates `event_inbox` (idempotent). Add it to the application's
 * migrations when a consumer uses the SQL inbox (`layerInbox`).
 *
 * @example
 * ```ts
 * import { Migrations, OutboxSql } from "@org/sql"
 *
 * const Database = Migrations.layer({ "1_event_inbox": OutboxSql.inboxMigration })
 * ```
 *
 * @since 0.3.0
 * @category migrations
 */
export const inboxMigration: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(inboxTable)} (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (consumer, event_id)
    )`
  }
)

/**
 * Deletes up to `limit` delivered events older than `olderThan` (database
 * clock) and returns how many. Dead letters are kept until replayed.
 *
 * @example
 * ```ts
 * import { OutboxSql } from "@org/sql"
 *
 * const purge = OutboxSql.purgeDelivered({ olderThan: "7 days", limit: 10_000 })
 * ```
 *
 * @since 0.3.0
 * @category maintenance
 */
export const purgeDelivered = (options: {
  readonly olderThan: Duration
  readonly limit?: number | undefined
}): Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly id: string }>`DELETE FROM ${sql(table)} WHERE id IN (
      SELECT id FROM ${sql(table)}
      WHERE state = 'delivered'
        AND delivered_at < clock_timestamp() - (${Outbox.millis(options.olderThan)} * interval '1 millisecond')
      LIMIT ${options.limit ?? 1_000}
    ) RETURNING id`
    return rows.length
  })

type Duration = Parameters<typeof Outbox.millis>[0]

/**
 * Options of `make`/`layer`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /**
   * How other processes learn of new events (default `"batched"`):
   *
   * - `"batched"`: after commit, one background fiber per outbox sends
   *   `pg_notify` outside any transaction, at most one per
   *   `notifyInterval`, so the appends committed meanwhile share one
   *   notification. Commits never take the
   *   notification queue's lock; a crash between commit and notification
   *   leaves the event to the pollers.
   * - `"transaction"`: `pg_notify` inside every appending transaction (in
   *   the same statement as the insert). Postgres serialises the commits of
   *   notifying transactions on one lock.
   * - `"off"`: no notification; other processes poll.
   */
  readonly notify?: "batched" | "transaction" | "off" | undefined
  /** With `"batched"`: the least time between two notifications of this outbox (default 10 ms). */
  readonly notifyInterval?: Duration | undefined
  /** `LISTEN` for other processes' appends (default true; never on PGlite). */
  readonly listen?: boolean | undefined
  /** The pause before listening again after the listening connection failed (default 1 s). */
  readonly listenRetry?: Duration | undefined
}

interface ClaimRow {
  readonly payload: unknown
  readonly attempts: number
  readonly completed: ReadonlyArray<string> | string
  readonly lease_token: string
}

interface DeadRow {
  readonly payload: unknown
  readonly attempts: number
  readonly completed: ReadonlyArray<string> | string
  readonly error: string | null
  readonly dead_at: Date | string
}

const decodeEnvelope = Schema.decodeUnknownEffect(DomainEvent.Envelope)
const encodeEnvelope = Schema.encodeEffect(DomainEvent.Envelope)
const decodeEnvelopeJson = Schema.decodeUnknownEffect(Schema.fromJsonString(DomainEvent.Envelope))

// sql-pg parses jsonb and text[] already; a driver that does not hands back text.
const envelopeOf = (payload: unknown): Effect.Effect<DomainEvent.Envelope, Schema.SchemaError> =>
  typeof payload === "string" ? decodeEnvelopeJson(payload) : decodeEnvelope(payload)

const textArray = (value: ReadonlyArray<string> | string): ReadonlyArray<string> =>
  typeof value !== "string"
    ? value
    : value === "{}"
      ? []
      : value
          .slice(1, -1)
          .split(",")
          .map((item) => (item.startsWith('"') ? item.slice(1, -1).replace(/\\(.)/g, "$1") : item))

/**
 * Makes the outbox over the `SqlClient` in context (a `PgClient` too, for
 * `LISTEN`). The table must exist (see `migration`). Database failures are
 * defects: the dispatcher logs them and tries again; in `append` they fail
 * the caller's transaction.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OutboxSql } from "@org/sql"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const outbox = yield* OutboxSql.make()
 *     return yield* outbox.claim({ limit: 100, lease: "1 minute" })
 *   })
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Outbox.Outbox["Service"], never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pg = yield* Effect.serviceOption(PgClient.PgClient)
    const t = sql(table)
    const [version] = yield* sql<{ readonly version: string }>`SELECT version() AS version`.pipe(Effect.orDie)
    const embedded = version?.version.includes("PGlite") ?? false
    const notifyMode = embedded ? "off" : (options.notify ?? "batched")
    const notify = notifyMode === "transaction"
    const listen = (options.listen ?? true) && !embedded && Option.isSome(pg)
    const local = yield* PubSub.sliding<void>(1)
    const localWake = Effect.asVoid(PubSub.publish(local, undefined))
    let wake = localWake
    if (notifyMode === "batched") {
      const pending = yield* Latch.make(false)
      const spacing = Outbox.millis(options.notifyInterval ?? "10 millis")
      // Opened by every commit; each turn of the loop sends one notification for all of them.
      yield* Effect.gen(function* () {
        yield* pending.await
        yield* pending.close
        yield* sql`SELECT pg_notify(${channel}, '')`.pipe(
          Effect.catchCause((cause) =>
            Effect.logWarning("OutboxSql: NOTIFY failed; pollers will find the events", cause)
          )
        )
        // The first commit after a quiet spell notifies at once; under load, one notification per interval.
        if (spacing > 0) yield* Effect.sleep(spacing)
      }).pipe(Effect.forever, Effect.forkScoped)
      wake = Effect.andThen(localWake, Effect.asVoid(pending.open))
    }
    const ms = (millis: number) => sql`(${millis} * interval '1 millisecond')`
    // The union of the stored list and `names`, bound as one JSON parameter.
    const merged = (names: ReadonlyArray<string>) =>
      sql`ARRAY(SELECT DISTINCT name FROM unnest(completed || ARRAY(
        SELECT jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))) AS name)`

    const remote: Stream.Stream<void> =
      Option.isSome(pg) && listen
        ? Stream.unwrap(Effect.map(pg.value.listen(channel), (queue) => Stream.fromQueue(queue))).pipe(
            Stream.map(() => undefined),
            Stream.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause)
                ? Stream.failCause(cause)
                : Stream.fromEffect(
                    Effect.logWarning("OutboxSql: LISTEN failed; retrying", cause).pipe(
                      Effect.andThen(Effect.sleep(Outbox.millis(options.listenRetry ?? "1 second", 1)))
                    )
                  )
            ),
            Stream.forever,
            Stream.orDie
          )
        : Stream.never

    return Outbox.Outbox.of({
      append: (events) =>
        events.length === 0
          ? Effect.void
          : Effect.gen(function* () {
              const rows = yield* Effect.forEach(events, (event) =>
                Effect.map(encodeEnvelope(event), (encoded) => ({
                  id: event.id,
                  type: event.type,
                  aggregate_type: event.aggregateType,
                  aggregate_id: event.aggregateId,
                  occurred_at: encoded.occurredAt,
                  payload: JSON.stringify(encoded)
                }))
              )
              const [first, ...rest] = rows
              if (first === undefined) return
              const insert = sql`INSERT INTO ${t} ${sql.insert([first, ...rest])} ON CONFLICT (id) DO NOTHING`
              // One round trip either way. The notification is delivered at commit and dropped on
              // rollback; Postgres folds identical notifications of one transaction into one.
              yield* notify
                ? sql`WITH inserted AS (${insert} RETURNING id)
                    SELECT pg_notify(${channel}, '') FROM (SELECT count(*) AS n FROM inserted) AS c WHERE c.n > 0`
                : insert
              yield* sql.afterCommit(wake)
            }).pipe(Effect.orDie),
      claim: ({ lease, limit }) =>
        Effect.gen(function* () {
          const token = yield* Outbox.makeLease
          const rows = yield* sql<ClaimRow>`UPDATE ${t} SET
              lease_token = ${token},
              lease_until = clock_timestamp() + ${ms(Outbox.millis(lease, 1))},
              attempts = attempts + 1
            WHERE id IN (
              SELECT id FROM ${t}
              WHERE state = 'pending' AND available_at <= clock_timestamp()
                AND (lease_until IS NULL OR lease_until <= clock_timestamp())
              ORDER BY id
              LIMIT ${Math.max(0, Math.floor(limit))}
              FOR UPDATE SKIP LOCKED
            )
            RETURNING payload, attempts, completed, lease_token`
          const claimed = yield* Effect.forEach(rows, (row) =>
            Effect.map(
              envelopeOf(row.payload),
              (event): Outbox.Claimed => ({
                event,
                attempts: row.attempts,
                completed: textArray(row.completed),
                lease: row.lease_token
              })
            )
          )
          return claimed.sort((a, b) => (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0))
        }).pipe(Effect.orDie),
      complete: (id, lease) =>
        sql<{ readonly id: string }>`UPDATE ${t} SET
            state = 'delivered', lease_token = NULL, lease_until = NULL, delivered_at = clock_timestamp()
          WHERE id = ${id} AND state = 'pending' AND lease_token = ${lease}
          RETURNING id`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      retry: (id, lease, options) =>
        sql<{ readonly id: string }>`UPDATE ${t} SET
            lease_token = NULL, lease_until = NULL, error = ${options.error},
            available_at = clock_timestamp() + ${ms(Outbox.millis(options.after))},
            completed = ${merged(options.completed)}
          WHERE id = ${id} AND state = 'pending' AND lease_token = ${lease}
          RETURNING id`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      deadLetter: (id, lease, options) =>
        sql<{ readonly id: string }>`UPDATE ${t} SET
            state = 'dead', lease_token = NULL, lease_until = NULL, error = ${options.error},
            dead_at = clock_timestamp(),
            completed = ${merged(options.completed)}
          WHERE id = ${id} AND state = 'pending' AND lease_token = ${lease}
          RETURNING id`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      deadLetters: (options) =>
        Effect.gen(function* () {
          const rows = yield* sql<DeadRow>`SELECT payload, attempts, completed, error, dead_at FROM ${t}
            WHERE state = 'dead' ORDER BY dead_at, id LIMIT ${options?.limit ?? 100}`
          return yield* Effect.forEach(rows, (row) =>
            Effect.map(
              envelopeOf(row.payload),
              (event): Outbox.DeadLetter => ({
                event,
                attempts: row.attempts,
                completed: textArray(row.completed),
                error: row.error ?? "",
                deadAt: DateTime.makeUnsafe(row.dead_at)
              })
            )
          )
        }).pipe(Effect.orDie),
      replay: (ids) =>
        ids.length === 0
          ? Effect.succeed(0)
          : sql<{ readonly id: string }>`UPDATE ${t} SET
                state = 'pending', attempts = 0, dead_at = NULL, available_at = clock_timestamp(),
                lease_token = NULL, lease_until = NULL
              WHERE state = 'dead' AND ${sql.in("id", uuids(ids))}
              RETURNING id`.pipe(
              Effect.tap((rows) => (rows.length > 0 ? wake : Effect.void)),
              Effect.map((rows) => rows.length),
              Effect.orDie
            ),
      // Through the partial `pending` and `dead` indexes: the cost follows the backlog, not the delivered rows.
      stats: sql<{
        readonly pending: number | string
        readonly dead: number | string
        readonly oldest_pending: Date | string | null
      }>`SELECT
          (SELECT count(*) FROM ${t} WHERE state = 'pending') AS pending,
          (SELECT count(*) FROM ${t} WHERE state = 'dead') AS dead,
          (SELECT min(occurred_at) FROM ${t} WHERE state = 'pending') AS oldest_pending`.pipe(
        Effect.map(
          ([row]): Outbox.Stats => ({
            pending: Number(row?.pending ?? 0),
            dead: Number(row?.dead ?? 0),
            oldestPending: Option.map(Option.fromNullishOr(row?.oldest_pending), (at) =>
              DateTime.makeUnsafe(at)
            )
          })
        ),
        Effect.orDie
      ),
      get: (id) =>
        isUuid(id)
          ? sql<{
              readonly state: "pending" | "delivered" | "dead"
              readonly attempts: number
              readonly completed: ReadonlyArray<string> | string
            }>`SELECT state, attempts, completed FROM ${t} WHERE id = ${id}`.pipe(
              Effect.map((rows) =>
                Option.map(Option.fromNullishOr(rows[0]), (row) => ({
                  state: row.state,
                  attempts: row.attempts,
                  completed: textArray(row.completed)
                }))
              ),
              Effect.orDie
            )
          : Effect.succeedNone,
      wakeups: Stream.merge(Stream.fromPubSub(local), remote)
    })
  })

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (id: string) => uuidPattern.test(id)
// A string that is not a uuid cannot name a row; binding it would fail the whole statement.
const uuids = (ids: ReadonlyArray<string>) => {
  const valid = ids.filter(isUuid)
  return valid.length === 0 ? ["00000000-0000-0000-0000-000000000000"] : valid
}

/**
 * Provides `Outbox` on the `SqlClient` (and `PgClient`) in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { OutboxSql, PgDatabase } from "@org/sql"
 *
 * const Events = OutboxSql.layer().pipe(Layer.provide(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Outbox.Outbox, never, SqlClient.SqlClient> =>
  Layer.effect(Outbox.Outbox, make(options))

/**
 * Makes the inbox over the `SqlClient` in context: `once` runs in one
 * transaction (a savepoint inside the caller's), inserting the (consumer,
 * event) row first; only when the row is new does the effect run, so its
 * writes and the row commit or roll back together. A concurrent second
 * delivery waits on the row's lock, then finds it and gets `None`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OutboxSql } from "@org/sql"
 *
 * const program = Effect.gen(function* () {
 *   const inbox = yield* OutboxSql.makeInbox
 *   return yield* inbox.once("audit", "0190e7a2-7c4e-7a1b-8c3d-4e5f60718293", Effect.succeed("written"))
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeInbox: Effect.Effect<Outbox.Inbox["Service"], never, SqlClient.SqlClient> = Effect.map(
  SqlClient.SqlClient,
  (sql) =>
    Outbox.Inbox.of({
      once: <A, E, R>(consumer: string, eventId: string, effect: Effect.Effect<A, E, R>) =>
        sql
          .withTransaction(
            Effect.flatMap(
              sql<{ readonly event_id: string }>`INSERT INTO ${sql(inboxTable)} (consumer, event_id)
                VALUES (${consumer}, ${eventId}) ON CONFLICT DO NOTHING RETURNING event_id`.pipe(
                Effect.orDie
              ),
              (rows) => (rows.length === 0 ? Effect.succeedNone : Effect.map(effect, Option.some))
            )
          )
          // BEGIN/COMMIT failing is nothing a consumer can act on.
          .pipe(Effect.catchIf(SqlError.isSqlError, Effect.die)) as Effect.Effect<Option.Option<A>, E, R>
    })
)

/**
 * Provides `Inbox` on the `SqlClient` in context (see `makeInbox`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { OutboxSql, PgDatabase } from "@org/sql"
 *
 * const Inbox = OutboxSql.layerInbox.pipe(Layer.provide(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerInbox: Layer.Layer<Outbox.Inbox, never, SqlClient.SqlClient> = Layer.effect(
  Outbox.Inbox,
  makeInbox
)
