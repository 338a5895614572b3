/**
 * Schema migrations that run when the application starts: a record of
 * effects keyed `<id>_<name>`, applied in id order by Effect's `Migrator`
 * through `@effect/sql-pg`'s `PgMigrator`.
 *
 * The migrator records applied ids in `effect_sql_migrations` and runs all
 * pending migrations in one transaction that first takes
 * `LOCK TABLE effect_sql_migrations IN ACCESS EXCLUSIVE MODE`: a second
 * process starting at the same time waits for the first to commit, then finds
 * nothing left to apply. Only ids above the highest applied id run, so a
 * migration added later with a lower id is skipped: always append.
 *
 * @since 0.1.0
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as PgMigrator from "@effect/sql-pg/PgMigrator"
import { Effect, Layer } from "effect"
import type { SqlClient, SqlError } from "effect/sql"
import { Migrator } from "effect/sql"

/**
 * One migration: an effect that changes the schema through `SqlClient`.
 *
 * @since 0.1.0
 * @category models
 */
export type Migration = Effect.Effect<void, unknown, SqlClient.SqlClient>

/**
 * Migrations keyed `<id>_<name>`, ids being positive integers.
 *
 * @since 0.1.0
 * @category models
 */
export type Migrations = Readonly<Record<string, Migration>>

/**
 * Where the migrator keeps its bookkeeping.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Table of applied migrations; defaults to `effect_sql_migrations`. */
  readonly table?: string
}

const keyPattern = /^(\d+)_(.+)$/

const isValidKey = (key: string): boolean => {
  const match = keyPattern.exec(key)
  // Id 0 would never run: the migrator skips ids at or below the latest one, which starts at 0.
  return match !== null && Number(match[1]) > 0
}

/**
 * A `Migrator` loader for a record of migrations. Unlike `Migrator.fromRecord`,
 * which silently drops keys it cannot parse, it fails on any key that is not
 * `<id>_<name>` with a positive id.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Migrations } from "@org/sql"
 *
 * const loader = Migrations.loader({ "1_create_items": Effect.void })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const loader = (migrations: Migrations): Migrator.Loader =>
  Effect.suspend(() => {
    const invalid = Object.keys(migrations).filter((key) => !isValidKey(key))
    return invalid.length === 0
      ? Migrator.fromRecord(migrations)
      : Effect.fail(
          new Migrator.MigrationError({
            kind: "BadState",
            message: `Migration keys must be "<id>_<name>" with a positive integer id: ${invalid.join(", ")}`
          })
        )
  })

// PgMigrator can dump the schema with pg_dump, so it asks for these even
// though a run without `schemaDirectory` never uses them.
const DumpServices = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.merge(NodeFileSystem.layer, NodePath.layer)
)

/**
 * Applies the pending migrations and returns the `[id, name]` pairs it applied
 * (empty when the database was up to date, for example because another process
 * applied them first).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { Migrations } from "@org/sql"
 *
 * const applied = Migrations.run({
 *   "1_create_items": Effect.gen(function*() {
 *     const sql = yield* SqlClient.SqlClient
 *     yield* sql`CREATE TABLE items (id uuid PRIMARY KEY, name text NOT NULL)`
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  migrations: Migrations,
  options: Options = {}
): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError.SqlError,
  SqlClient.SqlClient | PgClient.PgClient
> =>
  PgMigrator.run({
    loader: loader(migrations),
    ...(options.table === undefined ? {} : { table: options.table })
  }).pipe(
    Effect.tap((applied) =>
      applied.length === 0
        ? Effect.void
        : Effect.logInfo(`Migrations applied: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`)
    ),
    Effect.provide(DumpServices)
  )

/**
 * A layer that applies the migrations when it is built, so anything built on
 * top of it sees a migrated database.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { Migrations, PgDatabase } from "@org/sql"
 *
 * const Database = Migrations.layer({
 *   "1_create_items": Effect.gen(function*() {
 *     const sql = yield* SqlClient.SqlClient
 *     yield* sql`CREATE TABLE items (id uuid PRIMARY KEY, name text NOT NULL)`
 *   })
 * }).pipe(Layer.provideMerge(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  migrations: Migrations,
  options: Options = {}
): Layer.Layer<never, Migrator.MigrationError | SqlError.SqlError, SqlClient.SqlClient | PgClient.PgClient> =>
  Layer.effectDiscard(run(migrations, options))
