/**
 * Postgres for `@org/core`: a layer chosen by configuration, embedded PGlite
 * on loopback, migrations at start, and an isolated database for tests.
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
 * Postgres from `DATABASE_URL`, else embedded PGlite; readiness check.
 *
 * @since 0.1.0
 * @category modules
 */
export * as PgDatabase from "./PgDatabase.ts"

/**
 * PGlite served on loopback for `@effect/sql-pg`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as PgEmbedded from "./PgEmbedded.ts"

/**
 * An isolated, empty database per test layer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as SqlTest from "./SqlTest.ts"
