/**
 * The durable `RevocationStore` on `effect/sql` (Postgres dialect): one row
 * per entry in `auth_revocations`, keyed by kind and id. It is the copy that
 * survives a Redis restart or flush, and the source a Redis tier is rebuilt
 * from (`entries`).
 *
 * Time comes from the caller's `Clock` as a bound parameter, never from the
 * database's `now()`, so the store agrees with the in-memory one to the
 * millisecond and tests can drive it with `TestClock`. Times are stored as
 * `double precision` epoch milliseconds: exact for every integer a JS number
 * holds exactly, and compared with the same semantics as the memory store.
 *
 * Expired rows are invisible to every query and are purged in bounded
 * batches every `purgeEvery` writes (and on demand with `purgeExpired`), so
 * the table stays about as large as the set of live revocations.
 *
 * @since 0.1.0
 */

import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as RevocationStore from "./RevocationStore.ts"

/**
 * The table the store reads and writes (created by `migration`).
 *
 * @since 0.1.0
 * @category models
 */
export const table = "auth_revocations"

/**
 * Creates the table and its expiry index (idempotent). Add it to the
 * application's migrations, e.g. `"3_auth_revocations": RevocationStoreSql.migration`.
 *
 * @example
 * ```ts
 * import { Migrations } from "@org/sql"
 * import { RevocationStoreSql } from "@org/core"
 *
 * const Database = Migrations.layer({ "1_auth_revocations": RevocationStoreSql.migration })
 * ```
 *
 * @since 0.1.0
 * @category migrations
 */
export const migration: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    // A token row has no cut-off and a subject row always has one: the CHECK
    // keeps a bad write from turning into a silently wrong answer.
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
      kind text NOT NULL CHECK (kind IN ('token', 'subject')),
      id text NOT NULL,
      cutoff double precision NULL,
      expires_at double precision NOT NULL,
      PRIMARY KEY (kind, id),
      CHECK ((kind = 'subject') = (cutoff IS NOT NULL))
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_expires_at`)} ON ${sql(table)} (expires_at)`
  }
)

/**
 * Deletes up to `limit` expired rows (as of the `Clock`) and returns how many
 * it deleted. The store calls it on its own every few writes; a job may call
 * it too.
 *
 * @example
 * ```ts
 * import { RevocationStoreSql } from "@org/core"
 *
 * const purge = RevocationStoreSql.purgeExpired(10_000)
 * ```
 *
 * @since 0.1.0
 * @category maintenance
 */
export const purgeExpired = (limit = 1_000): Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    // Bounded so one purge after a long quiet period cannot hold locks on a huge batch.
    const deleted = yield* sql<{ readonly kind: string }>`DELETE FROM ${sql(table)}
      WHERE (kind, id) IN (
        SELECT kind, id FROM ${sql(table)} WHERE expires_at <= ${now} LIMIT ${limit}
      )
      RETURNING kind`
    return deleted.length
  })

/**
 * Options of `make`/`layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Purge expired rows after every `purgeEvery` writes (default 128). */
  readonly purgeEvery?: number
  /** At most this many rows per purge (default 1000). */
  readonly purgeLimit?: number
}

interface Row {
  readonly kind: string
  readonly id: string
  readonly cutoff: number | null
  readonly expires_at: number
}

/**
 * Makes the store over the `SqlClient` in context. The table must exist
 * (see `migration`). Database failures become `RevocationUnavailable`
 * naming the operation.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RevocationStoreSql } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RevocationStoreSql.make()
 *   yield* store.revokeToken("0190f3c2-jti", Date.UTC(2030, 0, 1))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<RevocationStore.RevocationStore["Service"], never, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const purgeEvery = Math.max(1, options.purgeEvery ?? 128)
    const purge = purgeExpired(options.purgeLimit ?? 1_000).pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      // Housekeeping: a failed purge is retried by a later write, never reported to the caller.
      Effect.ignore({ log: "Warn", message: "RevocationStoreSql: purging expired revocations failed" })
    )
    let writes = 0
    const afterWrite = Effect.suspend(() => {
      writes = (writes + 1) % purgeEvery
      return writes === 0 ? purge : Effect.void
    })
    const unavailable =
      (operation: string) =>
      (cause: SqlError.SqlError): RevocationStore.RevocationUnavailable =>
        new RevocationStore.RevocationUnavailable({ operation: `RevocationStoreSql.${operation}`, cause })
    const t = sql(table)

    return RevocationStore.RevocationStore.of({
      revokeToken: (tokenId, until) =>
        sql`INSERT INTO ${t} AS r (kind, id, cutoff, expires_at) VALUES ('token', ${tokenId}, NULL, ${until})
          ON CONFLICT (kind, id) DO UPDATE SET expires_at = GREATEST(r.expires_at, EXCLUDED.expires_at)`.pipe(
          Effect.andThen(afterWrite),
          Effect.mapError(unavailable("revokeToken"))
        ),
      revokeSubject: (subject, cutoff, until) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          // An expired row that was not purged yet must not lend its cut-off to
          // the new entry: it counts as absent, as it does everywhere else.
          (now) => sql`INSERT INTO ${t} AS r (kind, id, cutoff, expires_at)
            VALUES ('subject', ${subject}, ${cutoff}, ${until})
            ON CONFLICT (kind, id) DO UPDATE SET
              cutoff = CASE WHEN r.expires_at <= ${now} THEN EXCLUDED.cutoff
                            ELSE GREATEST(r.cutoff, EXCLUDED.cutoff) END,
              expires_at = GREATEST(r.expires_at, EXCLUDED.expires_at)`
        ).pipe(Effect.andThen(afterWrite), Effect.mapError(unavailable("revokeSubject"))),
      // One round trip for both keys; each branch is a primary-key lookup.
      isRevoked: (ref) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => sql<{ readonly revoked: boolean }>`SELECT EXISTS (
            SELECT 1 FROM ${t}
            WHERE (kind = 'token' AND id = ${ref.tokenId} AND expires_at > ${now})
               OR (kind = 'subject' AND id = ${ref.subject} AND expires_at > ${now} AND cutoff >= ${ref.issuedAt})
          ) AS revoked`
        ).pipe(
          Effect.map((rows) => rows[0]?.revoked === true),
          Effect.mapError(unavailable("isRevoked"))
        ),
      entries: Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => sql<Row>`SELECT kind, id, cutoff, expires_at FROM ${t} WHERE expires_at > ${now}`
      ).pipe(
        Effect.map((rows) =>
          rows.map(
            (row): RevocationStore.Entry =>
              row.kind === "subject"
                ? {
                    _tag: "Subject",
                    subject: row.id,
                    cutoff: Number(row.cutoff),
                    until: Number(row.expires_at)
                  }
                : { _tag: "Token", tokenId: row.id, until: Number(row.expires_at) }
          )
        ),
        Effect.mapError(unavailable("entries"))
      )
    })
  })

/**
 * Provides `RevocationStore` on the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { RevocationStoreSql } from "@org/core"
 * import { PgDatabase } from "@org/sql"
 *
 * const Revocations = RevocationStoreSql.layer().pipe(Layer.provide(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<RevocationStore.RevocationStore, never, SqlClient.SqlClient> =>
  Layer.effect(RevocationStore.RevocationStore, make(options))
