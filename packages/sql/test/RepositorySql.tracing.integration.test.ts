/**
 * The SQL repository's spans: one `Repository.<method>` span per call with
 * the table and the entity, the parent of the driver's statement spans.
 */

import { assert, layer } from "@effect/vitest"
import { Pagination, RepositorySql } from "@org/core"
import { SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { SpanRecorder, Widget } from "@org/testing"
import { Effect, Layer, Option, type Tracer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"
import { withServer } from "./env.ts"

// The spans come from the same client code on either database: one
// backend is enough, the server when the run has one (the suite's time budget).
const backends = withServer
  ? [{ name: "Postgres at DATABASE_URL", database: SqlTest.layer }]
  : [{ name: "embedded PGlite", database: PgEmbedded.layer() }]

const parentOf = (span: Tracer.NativeSpan) => Option.getOrUndefined(Option.map(span.parent, (p) => p.spanId))

const table = "traced_widgets"
const TracedWidget = { ...Widget.Widget, table }

const widget = { name: "saw", sku: "S-1", price: 12.5, quantity: 3, active: true, note: null } as const

for (const backend of backends) {
  layer(Layer.mergeAll(backend.database, SecureRandom.layerWebCrypto), { timeout: 60_000 })(
    `RepositorySql tracing on ${backend.name}`,
    (it) => {
      it.effect("each method is a Repository.<method> span over its statements' spans", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
          for (const statement of Widget.createTableNamed(table)) yield* sql.unsafe(statement)
          const traces = SpanRecorder.make()
          yield* Effect.gen(function* () {
            const widgets = yield* RepositorySql.make(TracedWidget)
            const made = yield* widgets.create(widget)
            yield* widgets.findById(made.id)
            yield* widgets.update(made.id, { quantity: 4 })
            yield* widgets.list(Pagination.request({}))
            yield* widgets.count()
            yield* widgets.delete(made.id)
          }).pipe(Effect.provide(traces.layer))

          const methods = traces.spans.filter((span) => span.name.startsWith("Repository."))
          assert.deepStrictEqual(
            methods.map((span) => span.name),
            [
              "Repository.create",
              "Repository.findById",
              "Repository.update",
              "Repository.list",
              "Repository.count",
              "Repository.delete"
            ]
          )
          for (const span of methods) {
            assert.strictEqual(span.attributes.get("db.collection.name"), table)
            assert.strictEqual(span.attributes.get("repository.entity"), "Widget")
            const statements = traces.spans.filter((s) => parentOf(s) === span.spanId)
            assert.isAtLeast(statements.length, 1, `${span.name} has statement spans`)
            for (const statement of statements) {
              assert.strictEqual(statement.kind, "client")
              assert.isString(statement.attributes.get("db.query.text"))
            }
          }
          // A listing reads a page and a count: two statements under one span.
          const list = methods.find((span) => span.name === "Repository.list")!
          assert.strictEqual(traces.spans.filter((s) => parentOf(s) === list.spanId).length, 2)
        })
      )
    }
  )
}
