/**
 * The pool gauges of `PgDatabase.layerPoolMetrics`, on embedded PGlite and
 * on the Postgres at DATABASE_URL.
 */
import { assert, layer } from "@effect/vitest"
import { PgDatabase, SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import { withServer } from "./env.ts"

// The gauges come from the same client code on either database: one
// backend is enough, the server when the run has one (the suite's time budget).
const backends = withServer
  ? [{ name: "Postgres at DATABASE_URL", database: SqlTest.layer }]
  : [{ name: "embedded PGlite", database: PgEmbedded.layer() }]

const gauge = (id: string, attributes: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const found = snapshots.find(
      (s) => s.id === id && Object.entries(attributes).every(([key, value]) => s.attributes?.[key] === value)
    )
    return found !== undefined && found.type === "Gauge" ? Number(found.state.value) : undefined
  })

const connections = (state: "used" | "idle") =>
  gauge(PgDatabase.poolMetricNames.count, { "db.client.connection.state": state })

for (const backend of backends) {
  layer(
    Layer.provideMerge(
      PgDatabase.layerPoolMetrics({ interval: "20 millis", poolName: "test" }),
      backend.database
    ).pipe(Layer.provideMerge(Layer.succeed(Metric.MetricRegistry, new Map()))),
    { timeout: 60_000, excludeTestServices: true }
  )(`PgDatabase.layerPoolMetrics on ${backend.name}`, (it) => {
    it.effect("reports connections in use during a transaction, and the pool's bounds", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const during = yield* sql.withTransaction(
          Effect.andThen(sql`SELECT 1`, Effect.andThen(Effect.sleep("100 millis"), connections("used")))
        )
        assert.isDefined(during)
        assert.isAtLeast(during!, 1, "the transaction's connection is in use")
        yield* Effect.sleep("100 millis")
        const used = yield* connections("used")
        const idle = yield* connections("idle")
        assert.strictEqual(used, 0, "nothing runs after the transaction")
        assert.isAtLeast(idle!, 0)
        const max = yield* gauge(PgDatabase.poolMetricNames.max, { "db.client.connection.pool.name": "test" })
        assert.isAtLeast(max!, 1)
        assert.isAtLeast(max!, used! + idle!)
        assert.strictEqual(yield* gauge(PgDatabase.poolMetricNames.pendingRequests), 0)
      })
    )
  })
}
