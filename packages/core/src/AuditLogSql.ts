/**
 * The `AuditLog` on `effect/sql` (Postgres dialect): one row per event id in
 * `audit_log`.
 *
 * `record` is one `INSERT ... ON CONFLICT (id) DO NOTHING`, so an event the
 * outbox delivers twice (or two dispatchers deliver at once) is stored
 * exactly once. `list` reads a page and the total in one statement
 * (`count(*) OVER ()`), ordered by `occurred_at DESC, id DESC`; the
 * migration's indexes serve that order alone and under each filter.
 *
 * Database failures are defects: the outbox dispatcher retries a failed
 * delivery, and a failed listing is a 500.
 *
 * @since 0.3.0
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as AuditLog from "./AuditLog.ts"
import * as Pagination from "./Pagination.ts"

/**
 * The table the log reads and writes (created by `migration`).
 *
 * @since 0.3.0
 * @category models
 */
export const table = "audit_log"

/**
 * Creates the table and its indexes (idempotent). Add it to the
 * application's migrations.
 *
 * @example
 * ```ts
 * import { Migrations } from "@org/sql"
 * import { AuditLogSql } from "@org/core"
 *
 * const Database = Migrations.layer({ "1_audit_log": AuditLogSql.migration })
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
    actor_id text NULL,
    request_id text NULL,
    occurred_at timestamptz NOT NULL,
    data jsonb NOT NULL
  )`
    // Every listing is newest first: one index for the unfiltered order, and
    // one per filter that ends in the same order, so a page is an index range.
    const indexes: ReadonlyArray<readonly [string, string]> = [
      ["occurred_at", "occurred_at DESC, id DESC"],
      ["type", "type, occurred_at DESC, id DESC"],
      ["aggregate_id", "aggregate_id, occurred_at DESC, id DESC"],
      ["actor_id", "actor_id, occurred_at DESC, id DESC"]
    ]
    for (const [name, columns] of indexes) {
      yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS ${table}_${name} ON ${table} (${columns})`)
    }
  }
)

interface Row {
  readonly id: string
  readonly type: string
  readonly aggregate_type: string
  readonly aggregate_id: string
  readonly actor_id: string | null
  readonly request_id: string | null
  readonly occurred_at: string
  readonly data: string
  readonly total: number
}

const decodeEntry = Schema.decodeUnknownEffect(AuditLog.Entry)
const decodeJson = Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.Json))

/**
 * Makes the log over the `SqlClient` in context. The table must exist (see
 * `migration`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuditLogSql } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const log = yield* AuditLogSql.make
 *   return yield* log.list({ actorId: "user-7" }, { page: 1, size: 20 })
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make: Effect.Effect<AuditLog.AuditLog["Service"], never, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    const t = sql(table)
    return AuditLog.AuditLog.of({
      record: Effect.fn("AuditLog.record")(function* (event) {
        const entry = AuditLog.fromEnvelope(event)
        yield* sql`INSERT INTO ${t} ${sql.insert({
          id: entry.id,
          type: entry.type,
          aggregate_type: entry.aggregateType,
          aggregate_id: entry.aggregateId,
          actor_id: entry.actorId,
          request_id: entry.requestId,
          occurred_at: DateTime.formatIso(entry.occurredAt),
          data: JSON.stringify(entry.data)
        })} ON CONFLICT (id) DO NOTHING`.pipe(Effect.orDie)
      }),
      list: Effect.fn("AuditLog.list")(function* (filter, page) {
        const request = Pagination.request(page)
        const conditions = [
          ...(filter.type === undefined ? [] : [sql`type = ${filter.type}`]),
          ...(filter.aggregateId === undefined ? [] : [sql`aggregate_id = ${filter.aggregateId}`]),
          ...(filter.actorId === undefined ? [] : [sql`actor_id = ${filter.actorId}`])
        ]
        // Text out, whatever the driver (the aliases shadow the columns: order by the columns): the ISO instant (UTC, milliseconds) and the JSON.
        const rows =
          yield* sql<Row>`SELECT id::text AS id, type, aggregate_type, aggregate_id, actor_id, request_id,
            to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
            data::text AS data, count(*) OVER ()::int AS total
          FROM ${t} AS a WHERE ${sql.and(conditions)}
          ORDER BY a.occurred_at DESC, a.id DESC
          LIMIT ${request.size} OFFSET ${Pagination.offset(request)}`.pipe(Effect.orDie)
        const items = yield* Effect.forEach(rows, (row) =>
          Effect.flatMap(decodeJson(row.data), (data) =>
            decodeEntry({
              id: row.id,
              type: row.type,
              aggregateType: row.aggregate_type,
              aggregateId: row.aggregate_id,
              actorId: row.actor_id,
              requestId: row.request_id,
              occurredAt: row.occurred_at,
              data
            })
          )
        ).pipe(Effect.orDie)
        // A page past the end has no row to carry the total: count apart then.
        const total =
          rows[0] !== undefined
            ? Number(rows[0].total)
            : request.page === 1
              ? 0
              : yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM ${t} WHERE ${sql.and(
                  conditions
                )}`.pipe(
                  Effect.map((counted) => Number(counted[0]?.n ?? 0)),
                  Effect.orDie
                )
        return Pagination.makePage(items, request, total)
      })
    })
  }
)

/**
 * Provides `AuditLog` on the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { AuditLogSql } from "@org/core"
 * import { PgDatabase } from "@org/sql"
 *
 * const Audit = AuditLogSql.layer.pipe(Layer.provide(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<AuditLog.AuditLog, never, SqlClient.SqlClient> = Layer.effect(
  AuditLog.AuditLog,
  make
)
