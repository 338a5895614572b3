/**
 * The cost of the transactional outbox on a real Postgres, in one run:
 * item-like inserts per transaction (8 concurrent writers) without the
 * outbox, with the outbox append but no NOTIFY, and with the append plus one
 * NOTIFY per transaction; then the delay from commit to delivery (p50/p99)
 * to a dispatcher on another connection pool, woken by LISTEN or by polling
 * only. Needs DATABASE_URL (skipped without it); it creates and drops its own
 * database (`SqlTest`). Usage: `DATABASE_URL=postgresql://... ./node_modules/.bin/pnpm bench outbox`.
 */
import { performance } from "node:perf_hooks"
import { Context, type Duration, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as DomainEvent from "../packages/core/src/DomainEvent.ts"
import * as Outbox from "../packages/core/src/Outbox.ts"
import * as OutboxDispatcher from "../packages/core/src/OutboxDispatcher.ts"
import * as OutboxSql from "../packages/sql/src/OutboxSql.ts"
import * as SqlTest from "../packages/sql/src/SqlTest.ts"
import type { Comparison, Result } from "./harness.ts"

const url = process.env.DATABASE_URL
const writers = 8

type PgClientService = Layer.Success<typeof SqlTest.layer>

const ItemCreated = DomainEvent.define("ItemCreated", {
  aggregateType: "Item",
  payload: DomainEvent.Envelope.fields.payload
})

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  if (url === undefined || url === "") {
    console.log("outbox: skipped (DATABASE_URL is not set)")
    return []
  }
  const scope = Scope.makeUnsafe()
  try {
    // A fresh database on the DATABASE_URL server, dropped when the scope closes.
    const context = await Effect.runPromise(Scope.provide(Layer.build(SqlTest.layer), scope))
    const sql = Context.get(context, SqlClient.SqlClient)
    const on = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | Scope.Scope | PgClientService>) =>
      Effect.runPromise(Scope.provide(Effect.provideContext(effect, context), scope))
    if ((await on(SqlTest.backend)) !== "postgres") {
      console.log("outbox: skipped (Postgres at DATABASE_URL is unreachable)")
      return []
    }
    await on(
      Effect.gen(function* () {
        yield* sql`CREATE TABLE items (id uuid PRIMARY KEY, name text NOT NULL, price numeric(12, 2) NOT NULL,
          quantity integer NOT NULL, owner_id uuid NOT NULL, created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL, version integer NOT NULL)`
        yield* OutboxSql.migration
      })
    )
    const plain = await on(OutboxSql.make({ notify: "off", listen: false }))
    const notifying = await on(OutboxSql.make({ notify: "transaction", listen: false }))
    const batched = await on(OutboxSql.make({ notify: "batched", listen: false }))

    const insertItem = Effect.gen(function* () {
      const id = yield* DomainEvent.nextId
      yield* sql`INSERT INTO items (id, name, price, quantity, owner_id, created_at, updated_at, version)
        VALUES (${id}, ${"widget"}, ${"9.99"}, ${3}, ${id}, now(), now(), 1)`
      return id
    })
    const withEvent = (outbox: Outbox.Outbox["Service"]) =>
      Effect.flatMap(insertItem, (id) =>
        Effect.flatMap(ItemCreated.make(id, { name: "widget", price: "9.99" }), (event) =>
          Effect.flatMap(ItemCreated.toEnvelope(event), (envelope) => outbox.append([envelope]))
        )
      )
    const transactions = (body: Effect.Effect<unknown, unknown>) => (ops: number) =>
      Effect.runPromise(
        Effect.forEach(Array.from({ length: ops }), () => sql.withTransaction(body), {
          concurrency: writers,
          discard: true
        })
      )
    // The cases take turns, round after round, so drift on a busy machine hits them alike.
    const cases = [
      { name: "item insert, no outbox", batch: transactions(insertItem) },
      { name: "item + outbox", batch: transactions(withEvent(plain)) },
      { name: "item + outbox + NOTIFY", batch: transactions(withEvent(notifying)) },
      { name: "item + outbox + batched NOTIFY", batch: transactions(withEvent(batched)) }
    ]
    const ops = 300
    const samples: Array<Array<number>> = cases.map(() => [])
    for (const c of cases) await c.batch(100)
    for (let round = 0; round < 9; round++) {
      for (const [i, c] of cases.entries()) {
        const start = performance.now()
        await c.batch(ops)
        samples[i]!.push(((performance.now() - start) * 1e6) / ops)
      }
    }
    const results: Array<Result> = cases.map((c, i) => ({
      name: c.name,
      nsPerOp: [...samples[i]!].sort((a, b) => a - b)[Math.floor(samples[i]!.length / 2)]!
    }))
    const [none, appended, notified, coalesced] = results as [Result, Result, Result, Result]
    for (const r of results) {
      console.log(`outbox: ${r.name}: ${(1e9 / r.nsPerOp).toFixed(0)} transactions/s (${writers} writers)`)
    }
    const comparisons: Array<Comparison> = [
      { title: "outbox append (no NOTIFY) vs none", ours: appended, baseline: none },
      { title: "outbox + NOTIFY per tx vs none", ours: notified, baseline: none },
      { title: "outbox + NOTIFY vs outbox alone", ours: notified, baseline: appended },
      { title: "outbox + batched NOTIFY vs none", ours: coalesced, baseline: none },
      { title: "outbox + batched NOTIFY vs outbox alone", ours: coalesced, baseline: appended }
    ]
    await on(sql`TRUNCATE ${sql(OutboxSql.table)}`)

    // Commit-to-delivery: the dispatcher's outbox is another instance, so only
    // LISTEN (a connection of its own) or its poll can wake it, as in another process.
    const delay = async (
      name: string,
      writer: Outbox.Outbox["Service"],
      dispatcher: { readonly listen: boolean; readonly pollInterval: Duration.Input }
    ) => {
      const committedAt = new Map<string, number>()
      const deliveredAt = new Map<string, number>()
      const consumer: Outbox.Consumer = {
        name: "timer",
        accepts: () => true,
        handle: (event) => Effect.sync(() => void deliveredAt.set(event.id, performance.now()))
      }
      const inner = Scope.makeUnsafe()
      await Effect.runPromise(
        Scope.provide(
          Effect.flatMap(OutboxSql.make({ listen: dispatcher.listen }), (outbox) =>
            OutboxDispatcher.make({
              consumers: Effect.succeed([consumer]),
              pollInterval: dispatcher.pollInterval
            }).pipe(Effect.provideService(Outbox.Outbox, outbox))
          ).pipe(Effect.provideContext(context)),
          inner
        )
      )
      await new Promise((resolve) => setTimeout(resolve, 300))
      const count = 100
      for (let i = 0; i < count; i++) {
        const event = await Effect.runPromise(
          Effect.flatMap(ItemCreated.make(`d-${i}`, { i }), ItemCreated.toEnvelope)
        )
        await Effect.runPromise(sql.withTransaction(writer.append([event])))
        committedAt.set(event.id, performance.now())
        await new Promise((resolve) => setTimeout(resolve, 5 + (i % 7) * 5))
      }
      const deadline = performance.now() + 5_000
      while (deliveredAt.size < count && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      await Effect.runPromise(Scope.close(inner, Exit.void))
      // A delivery may beat the bookkeeping after the commit: count it as no delay.
      const delays = [...deliveredAt].map(([id, at]) => Math.max(0, at - (committedAt.get(id) ?? at)))
      const sorted = [...delays].sort((a, b) => a - b)
      console.log(
        `outbox: commit-to-delivery, ${name}: p50 ${percentile(sorted, 50).toFixed(1)} ms, ` +
          `p99 ${percentile(sorted, 99).toFixed(1)} ms (${delays.length}/${count} delivered)`
      )
    }
    await delay("NOTIFY per tx + LISTEN (poll 10 s)", notifying, { listen: true, pollInterval: "10 seconds" })
    await delay("batched NOTIFY + LISTEN (poll 10 s)", batched, { listen: true, pollInterval: "10 seconds" })
    await delay("polling only, every 1 s", plain, { listen: false, pollInterval: "1 second" })
    await delay("polling only, every 100 ms", plain, { listen: false, pollInterval: "100 millis" })
    return comparisons
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
