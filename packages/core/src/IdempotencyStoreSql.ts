/**
 * The `IdempotencyStore` on `effect/sql` (Postgres dialect): one row per
 * (scope, key) in `http_idempotency`.
 *
 * `begin` claims a key with one `INSERT ... ON CONFLICT DO UPDATE ... WHERE`:
 * the insert wins when no row exists, the guarded update only when the row
 * has expired or is an in-progress claim of the same fingerprint whose lease
 * ran out. Postgres serialises both on the row, so of N concurrent begins
 * exactly one gets a row back (`Started`); the others read the row and are
 * told `Replay`, `Mismatch` or `Busy`.
 *
 * Time comes from the caller's `Clock` as a bound parameter (as in
 * `RevocationStoreSql`), stored as `double precision` epoch milliseconds.
 * Expired rows are invisible and purged in bounded batches every
 * `purgeEvery` claims.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as IdempotencyStore from "./IdempotencyStore.ts"

/**
 * The table the store reads and writes (created by `migration`).
 *
 * @since 0.2.0
 * @category models
 */
export const table = "http_idempotency"

/**
 * Creates the table and its expiry index (idempotent). Add it to the
 * application's migrations.
 *
 * @example
 * ```ts
 * import { Migrations } from "@org/sql"
 * import { IdempotencyStoreSql } from "@org/core"
 *
 * const Database = Migrations.layer({ "1_http_idempotency": IdempotencyStoreSql.migration })
 * ```
 *
 * @since 0.2.0
 * @category migrations
 */
export const migration: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    // An in-progress row has a claim and no response; a completed row the other way round.
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
      scope text NOT NULL,
      key text NOT NULL,
      fingerprint text NOT NULL,
      state text NOT NULL CHECK (state IN ('in-progress', 'completed')),
      token text NULL,
      lease_until double precision NULL,
      status integer NULL,
      headers text NULL,
      body bytea NULL,
      expires_at double precision NOT NULL,
      PRIMARY KEY (scope, key),
      CHECK ((state = 'in-progress') = (token IS NOT NULL AND lease_until IS NOT NULL)),
      CHECK ((state = 'completed') = (status IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL))
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_expires_at`)} ON ${sql(table)} (expires_at)`
  }
)

/**
 * Deletes up to `limit` expired rows (as of the `Clock`) and returns how many.
 *
 * @example
 * ```ts
 * import { IdempotencyStoreSql } from "@org/core"
 *
 * const purge = IdempotencyStoreSql.purgeExpired(10_000)
 * ```
 *
 * @since 0.2.0
 * @category maintenance
 */
export const purgeExpired = (limit = 1_000): Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const deleted = yield* sql<{ readonly scope: string }>`DELETE FROM ${sql(table)}
      WHERE (scope, key) IN (
        SELECT scope, key FROM ${sql(table)} WHERE expires_at <= ${now} LIMIT ${limit}
      )
      RETURNING scope`
    return deleted.length
  })

/**
 * Options of `make`/`layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Purge expired rows after every `purgeEvery` claims (default 128). */
  readonly purgeEvery?: number
  /** At most this many rows per purge (default 1000). */
  readonly purgeLimit?: number
}

interface Row {
  readonly fingerprint: string
  readonly state: string
  readonly lease_until: number | null
  readonly status: number | null
  readonly headers: string | null
  readonly body: Uint8Array | null
}

const decodeHeaders = Schema.decodeUnknownEffect(
  Schema.fromJsonString(Schema.Record(Schema.String, Schema.String))
)

/**
 * Makes the store over the `SqlClient` in context. The table must exist
 * (see `migration`). Database failures become `IdempotencyUnavailable`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdempotencyStoreSql } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* IdempotencyStoreSql.make()
 *   return yield* store.begin("ip:203.0.113.7", "k1", "POST /items 9f86d0", { ttl: "24 hours", lease: "30 seconds" })
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<IdempotencyStore.IdempotencyStore["Service"], never, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const purgeEvery = Math.max(1, options.purgeEvery ?? 128)
    const purge = purgeExpired(options.purgeLimit ?? 1_000).pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      // Housekeeping: a failed purge is retried later, never reported to the caller.
      Effect.ignore({ log: "Warn", message: "IdempotencyStoreSql: purging expired records failed" })
    )
    let claims = 0
    const afterClaim = Effect.suspend(() => {
      claims = (claims + 1) % purgeEvery
      return claims === 0 ? purge : Effect.void
    })
    const unavailable =
      (operation: string) =>
      (cause: unknown): IdempotencyStore.IdempotencyUnavailable =>
        new IdempotencyStore.IdempotencyUnavailable({ operation: `IdempotencyStoreSql.${operation}`, cause })
    const t = sql(table)

    const claim = (
      scope: string,
      key: string,
      fingerprint: string,
      timing: IdempotencyStore.Timing
    ): Effect.Effect<IdempotencyStore.Begin, SqlError.SqlError | Schema.SchemaError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const token = yield* IdempotencyStore.makeToken
        const { ttl, lease } = IdempotencyStore.timingMillis(timing)
        const claimed = yield* sql<{ readonly token: string }>`INSERT INTO ${t} AS r
            (scope, key, fingerprint, state, token, lease_until, status, headers, body, expires_at)
          VALUES (${scope}, ${key}, ${fingerprint}, 'in-progress', ${token}, ${now + lease}, NULL, NULL, NULL, ${now + ttl})
          ON CONFLICT (scope, key) DO UPDATE SET
            fingerprint = EXCLUDED.fingerprint, state = 'in-progress', token = EXCLUDED.token,
            lease_until = EXCLUDED.lease_until, status = NULL, headers = NULL, body = NULL,
            expires_at = CASE WHEN r.expires_at <= ${now} THEN EXCLUDED.expires_at ELSE r.expires_at END
          WHERE r.expires_at <= ${now}
             OR (r.state = 'in-progress' AND r.lease_until <= ${now} AND r.fingerprint = EXCLUDED.fingerprint)
          RETURNING token`
        if (claimed.length > 0) {
          yield* afterClaim
          return { _tag: "Started", token } as const
        }
        const rows = yield* sql<Row>`SELECT fingerprint, state, lease_until, status, headers, body FROM ${t}
          WHERE scope = ${scope} AND key = ${key} AND expires_at > ${now}`
        const row = rows[0]
        // Abandoned or expired between the two statements: claim again.
        if (row === undefined) return yield* claim(scope, key, fingerprint, timing)
        if (row.fingerprint !== fingerprint) return { _tag: "Mismatch" } as const
        if (row.state === "completed" && row.status !== null && row.headers !== null && row.body !== null) {
          const headers = yield* decodeHeaders(row.headers)
          return {
            _tag: "Replay",
            response: { status: row.status, headers, body: new Uint8Array(row.body) }
          } as const
        }
        return { _tag: "Busy", retryAfterMillis: Math.max(0, Number(row.lease_until) - now) } as const
      })

    return IdempotencyStore.IdempotencyStore.of({
      begin: (scope, key, fingerprint, timing) =>
        claim(scope, key, fingerprint, timing).pipe(Effect.mapError(unavailable("begin"))),
      complete: (scope, key, token, response) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => sql<{ readonly key: string }>`UPDATE ${t} SET
              state = 'completed', token = NULL, lease_until = NULL,
              status = ${response.status}, headers = ${JSON.stringify(response.headers)}, body = ${response.body}
            WHERE scope = ${scope} AND key = ${key} AND state = 'in-progress' AND token = ${token}
              AND expires_at > ${now}
            RETURNING key`
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.mapError(unavailable("complete"))
        ),
      abandon: (scope, key, token) =>
        sql`DELETE FROM ${t}
          WHERE scope = ${scope} AND key = ${key} AND state = 'in-progress' AND token = ${token}`.pipe(
          Effect.asVoid,
          Effect.mapError(unavailable("abandon"))
        )
    })
  })

/**
 * Provides `IdempotencyStore` on the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { IdempotencyStoreSql } from "@org/core"
 * import { PgDatabase } from "@org/sql"
 *
 * const Idempotency = IdempotencyStoreSql.layer().pipe(Layer.provide(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<IdempotencyStore.IdempotencyStore, never, SqlClient.SqlClient> =>
  Layer.effect(IdempotencyStore.IdempotencyStore, make(options))
