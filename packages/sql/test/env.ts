/**
 * What this test run may use, read once from the process environment.
 */

/** The Postgres server of this run, if any. */
export const databaseUrl: string | undefined = process.env.DATABASE_URL || undefined

/** `REQUIRE_SERVICES=1`: a missing server must fail the run, not skip tests. */
export const requireServices: boolean = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")

/** Tests that only make sense on real Postgres are skipped when there is none and none is required. */
export const skipWithoutPostgres: boolean = databaseUrl === undefined && !requireServices

/** Whether this run also has a Postgres server (given, or required). */
export const withServer: boolean = databaseUrl !== undefined || requireServices

/**
 * How many random scenarios a property runs on a backend. With a server in
 * the run, embedded PGlite (the same engine, compiled to WASM) runs a
 * quarter of them: it checks the embedded path, and the server carries the
 * statistics. Alone, PGlite runs them all.
 */
export const scenarios = (backend: { readonly embedded: boolean }, n: number): number =>
  backend.embedded && withServer ? Math.max(10, Math.ceil(n / 4)) : n
