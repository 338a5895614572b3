/**
 * Postgres for `@org/core`: a layer chosen by configuration, migrations at
 * start, and an isolated database for tests. The embedded database (PGlite)
 * is its own entry point, `@org/sql/PgEmbedded`, and an optional peer
 * dependency: importing this barrel never loads it.
 *
 * @since 0.1.0
 */

/**
 * Migrations applied at start with Effect's `Migrator`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Migrations from "./Migrations.ts"
/**
 * The transactional outbox and inbox on Postgres, with LISTEN/NOTIFY wakeups.
 *
 * @since 0.3.0
 * @category modules
 */
export * as OutboxSql from "./OutboxSql.ts"
/**
 * Postgres from `DATABASE_URL`, else embedded PGlite; readiness check.
 *
 * @since 0.1.0
 * @category modules
 */
export * as PgDatabase from "./PgDatabase.ts"
/**
 * An isolated, empty database per test layer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as SqlTest from "./SqlTest.ts"
