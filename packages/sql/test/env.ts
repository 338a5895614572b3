/**
 * What this test run may use, read once from the process environment.
 */

/** The Postgres server of this run, if any. */
export const databaseUrl: string | undefined = process.env.DATABASE_URL || undefined

/** `REQUIRE_SERVICES=1`: a missing server must fail the run, not skip tests. */
export const requireServices: boolean = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")

/** Tests that only make sense on real Postgres are skipped when there is none and none is required. */
export const skipWithoutPostgres: boolean = databaseUrl === undefined && !requireServices
