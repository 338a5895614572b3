/**
 * The cost of the transactional outbox on a real Postgres, in one run:
 * item-like inserts per transaction (8 concurrent writers) without the
 * outbox, with the outbox append but no NOTIFY, and with the append plus one
 * NOTIFY per transaction; then the delay from commit to delivery (p50/p99)
 * to a dispatcher on another connection pool, woken by LISTEN or by polling
 * only. Needs DATABASE_URL (skipped without it); it creates and drops its own
 * database (`SqlTest`).
 *
 * With NATS_URL too, the relay (issue 13): item creates per second with the
 * outbox, a running dispatcher and the JetStream relay on, against the plain
 * insert, in the same run (the "on" rounds count both until commit and until
 * every event of the round has its PubAck); then the delay from commit to
 * the PubAck (p50/p99), the dispatcher in the writer's process (woken by the
 * commit) and on another outbox instance (woken by LISTEN). It makes and
 * deletes a stream of its own.
 *
 * Usage: `DATABASE_URL=postgresql://... NATS_URL=nats://127.0.0.1:4222 ./node_modules/.bin/pnpm bench outbox`.
 */
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import { Context, type Duration, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as DomainEvent from "../packages/core/src/DomainEvent.ts"
import * as EventPublisher from "../packages/core/src/EventPublisher.ts"
import * as Outbox from "../packages/core/src/Outbox.ts"
import * as OutboxDispatcher from "../packages/core/src/OutboxDispatcher.ts"
import * as JetStreamAdmin from "../packages/nats/src/JetStreamAdmin.ts"
import * as JetStreamPublisher from "../packages/nats/src/JetStreamPublisher.ts"
import * as NatsConnection from "../packages/nats/src/NatsConnection.ts"
import * as OutboxSql from "../packages/sql/src/OutboxSql.ts"
import * as SqlTest from "../packages/sql/src/SqlTest.ts"
import type { Comparison, Result } from "./harness.ts"

const url = process.env.DATABASE_URL
const natsUrl = process.env.NATS_URL || undefined
const writers = 8

type PgClientService = Layer.Success<typeof SqlTest.layer>

// An integration event, as the example's: the relay publishes it.
const ItemCreated = DomainEvent.define("ItemCreated", {
  aggregateType: "Item",
  payload: DomainEvent.Envelope.fields.payload,
  integration: true
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const median = (samples: ReadonlyArray<number>) =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? Number.NaN

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

    if (natsUrl === undefined) {
      console.log("outbox: relay cases skipped (NATS_URL is not set)")
      return comparisons
    }
    await on(sql`TRUNCATE ${sql(OutboxSql.table)}`)
    const relayScope = Scope.makeUnsafe()
    try {
      const nats = await Effect.runPromise(
        Scope.provide(
          Layer.build(NatsConnection.layer({ servers: natsUrl, name: "outbox-bench" })),
          relayScope
        )
      )
      const onNats = <A, E>(effect: Effect.Effect<A, E, NatsConnection.NatsConnection | Scope.Scope>) =>
        Effect.runPromise(Scope.provide(Effect.provideContext(effect, nats), relayScope))
      const id = randomUUID().replaceAll("-", "")
      const stream = { name: `BENCH_${id}`, prefix: `bench.${id}` }
      await onNats(
        Effect.acquireRelease(
          JetStreamAdmin.ensureStream({ name: stream.name, subjects: [`${stream.prefix}.>`] }),
          () => Effect.ignore(JetStreamAdmin.deleteStream(stream.name))
        )
      )
      const publisher = await onNats(JetStreamPublisher.make({ prefix: stream.prefix }))
      // Counts PubAcks, and notes when each arrived.
      let acked = 0
      const ackedAt = new Map<string, number>()
      const timed = EventPublisher.EventPublisher.of({
        publish: (envelope, options) =>
          Effect.tap(publisher.publish(envelope, options), () =>
            Effect.sync(() => {
              acked++
              ackedAt.set(envelope.id, performance.now())
            })
          )
      })
      const relay = await Effect.runPromise(
        EventPublisher.relay({ prefix: stream.prefix }).pipe(
          Effect.provideService(EventPublisher.EventPublisher, timed)
        )
      )
      // The example's set-up: one outbox (batched NOTIFY, LISTEN) and a dispatcher with default options.
      const startDispatcher = async (
        outbox: Outbox.Outbox["Service"],
        scope: Scope.Closeable,
        consumer: Outbox.Consumer = relay
      ) => {
        await Effect.runPromise(
          Scope.provide(
            OutboxDispatcher.make({ consumers: Effect.succeed([consumer]) }).pipe(
              Effect.provideService(Outbox.Outbox, outbox)
            ),
            scope
          )
        )
      }
      const untilAcked = async (target: number) => {
        const deadline = performance.now() + 30_000
        while (acked < target && performance.now() < deadline) await sleep(2)
        if (acked < target) throw new Error(`relay: ${acked}/${target} delivered after 30 s`)
      }
      const off = transactions(insertItem)
      const relayOps = 300
      // Rounds of "off" and "on" in turns; "on" is timed until commit and until every event was delivered.
      const throughput = async (outbox: Outbox.Outbox["Service"]) => {
        const on = transactions(withEvent(outbox))
        await off(100)
        const warm = acked + 100
        await on(100)
        await untilAcked(warm)
        const offSamples: Array<number> = []
        const committedSamples: Array<number> = []
        const deliveredSamples: Array<number> = []
        for (let round = 0; round < 7; round++) {
          let start = performance.now()
          await off(relayOps)
          offSamples.push(((performance.now() - start) * 1e6) / relayOps)
          const target = acked + relayOps
          start = performance.now()
          await on(relayOps)
          committedSamples.push(((performance.now() - start) * 1e6) / relayOps)
          await untilAcked(target)
          deliveredSamples.push(((performance.now() - start) * 1e6) / relayOps)
        }
        return [median(offSamples), median(committedSamples), median(deliveredSamples)] as const
      }
      // First the dispatcher alone (a consumer that does nothing), to tell its cost from the relay's.
      const idle = Scope.makeUnsafe()
      const noop: Outbox.Consumer = {
        name: "noop",
        accepts: () => true,
        handle: () => Effect.sync(() => void acked++)
      }
      const idleOutbox = await on(OutboxSql.make())
      await startDispatcher(idleOutbox, idle, noop)
      const [idleOff, idleCommitted, idleDelivered] = await throughput(idleOutbox)
      await Effect.runPromise(Scope.close(idle, Exit.void))
      await on(sql`TRUNCATE ${sql(OutboxSql.table)}`)
      acked = 0
      const relayed = await on(OutboxSql.make())
      const running = Scope.makeUnsafe()
      await startDispatcher(relayed, running)
      const [offNs, committedNs, publishedNs] = await throughput(relayed)
      ackedAt.clear()
      const results: Array<Result> = [
        { name: "item create, dispatcher phase, off", nsPerOp: idleOff },
        { name: "item + outbox + dispatcher (no-op consumer), committed", nsPerOp: idleCommitted },
        { name: "item + outbox + dispatcher (no-op consumer), delivered", nsPerOp: idleDelivered },
        { name: "item create, relay off", nsPerOp: offNs },
        { name: "item + outbox + dispatcher + relay, committed", nsPerOp: committedNs },
        { name: "item + outbox + dispatcher + relay, all acked", nsPerOp: publishedNs }
      ]
      for (const r of results) {
        console.log(`outbox: ${r.name}: ${(1e9 / r.nsPerOp).toFixed(0)} items/s (${writers} writers)`)
      }
      const [idleOffR, idleCommittedR, idleDeliveredR, relayOff, relayCommitted, relayPublished] =
        results as [Result, Result, Result, Result, Result, Result]
      const messages = await onNats(
        Effect.flatMap(JetStreamAdmin.manager, (jsm) => Effect.promise(() => jsm.streams.info(stream.name)))
      )
      console.log(`outbox: relay stream holds ${messages.state.messages} messages for ${acked} PubAcks`)
      comparisons.push(
        {
          title: "dispatcher, no-op consumer (until commit) vs off",
          ours: idleCommittedR,
          baseline: idleOffR
        },
        {
          title: "dispatcher, no-op consumer (until delivered) vs off",
          ours: idleDeliveredR,
          baseline: idleOffR
        },
        { title: "relay on (until commit) vs off", ours: relayCommitted, baseline: relayOff },
        { title: "relay on (until every PubAck) vs off", ours: relayPublished, baseline: relayOff }
      )

      // Commit-to-PubAck: events committed one at a time, 5-35 ms apart.
      const toBroker = async (name: string, writer: Outbox.Outbox["Service"]) => {
        const committedAt = new Map<string, number>()
        const count = 100
        for (let i = 0; i < count; i++) {
          const event = await Effect.runPromise(
            Effect.flatMap(ItemCreated.make(`b-${i}`, { i }), ItemCreated.toEnvelope)
          )
          await Effect.runPromise(sql.withTransaction(writer.append([event])))
          committedAt.set(event.id, performance.now())
          await sleep(5 + (i % 7) * 5)
        }
        const deadline = performance.now() + 5_000
        const done = () => [...committedAt.keys()].filter((id) => ackedAt.has(id)).length
        while (done() < count && performance.now() < deadline) await sleep(20)
        // A PubAck may beat the bookkeeping after the commit: count it as no delay.
        const delays = [...committedAt]
          .filter(([id]) => ackedAt.has(id))
          .map(([id, at]) => Math.max(0, (ackedAt.get(id) ?? at) - at))
          .sort((a, b) => a - b)
        console.log(
          `outbox: commit-to-PubAck, ${name}: p50 ${percentile(delays, 50).toFixed(1)} ms, ` +
            `p99 ${percentile(delays, 99).toFixed(1)} ms (${delays.length}/${count} acked)`
        )
      }
      await toBroker("dispatcher in the writer's process (commit wakes it)", relayed)
      await Effect.runPromise(Scope.close(running, Exit.void))
      // The dispatcher on another outbox instance, as in another process: only LISTEN (or its 1 s poll) wakes it.
      const remote = Scope.makeUnsafe()
      const listening = await on(OutboxSql.make())
      await startDispatcher(listening, remote)
      await sleep(300)
      const writer = await on(OutboxSql.make({ listen: false }))
      await toBroker("dispatcher on another instance (batched NOTIFY + LISTEN)", writer)
      await Effect.runPromise(Scope.close(remote, Exit.void))
    } finally {
      await Effect.runPromise(Scope.close(relayScope, Exit.void))
    }
    return comparisons
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
