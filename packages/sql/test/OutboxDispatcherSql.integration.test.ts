/**
 * The dispatcher on the SQL outbox: crash recovery (a child process killed
 * with SIGKILL before delivery and before `complete`), two dispatchers in
 * parallel, dead letters and replay, and LISTEN/NOTIFY wakeups. The tests
 * that need a second process or connection run on real Postgres only
 * (DATABASE_URL; required with REQUIRE_SERVICES=1); the others run on
 * PGlite too.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, layer } from "@effect/vitest"
import { type DomainEvent, Outbox, OutboxDispatcher, UnitOfWork } from "@org/core"
import { OutboxSql, SqlTest } from "@org/sql"
import { OutboxLaws } from "@org/testing"
import { Clock, DateTime, Deferred, type Duration, Effect, Layer, Metric, Redacted, Schedule } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql"
import { skipWithoutPostgres } from "./env.ts"

const repoNode = fileURLToPath(new URL("../../../node_modules/node/bin/node", import.meta.url))
const node = existsSync(repoNode) ? repoNode : process.execPath
const fixture = fileURLToPath(new URL("./fixtures/outbox-child.ts", import.meta.url))

const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS ${sql(OutboxSql.table)}`
  yield* sql`DROP TABLE IF EXISTS ${sql(OutboxSql.inboxTable)}`
  yield* sql`DROP TABLE IF EXISTS crash_deliveries`
  yield* OutboxSql.migration
  yield* OutboxSql.inboxMigration
  yield* sql`CREATE TABLE crash_deliveries (event_id uuid NOT NULL)`
}).pipe(Effect.orDie)

// The URL of the test's own database, for another process or connection.
const databaseUrl = Effect.gen(function* () {
  const client = yield* PgClient.PgClient
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ readonly db: string }>`SELECT current_database() AS db`
  const url = new URL(Redacted.value(client.config.url ?? Redacted.make("postgresql://127.0.0.1/")))
  url.pathname = `/${row?.db ?? ""}`
  return url.toString()
}).pipe(Effect.orDie)

const until = <A, R>(effect: Effect.Effect<A, never, R>, done: (a: A) => boolean, limit: Duration.Input) =>
  Effect.repeat(effect, { until: done, schedule: Schedule.spaced("25 millis") }).pipe(
    Effect.timeoutOrElse({ duration: limit, orElse: () => Effect.die(new Error(`not done within ${limit}`)) })
  )

const startChild = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child: ChildProcess = spawn(node, ["--conditions=@org/source", fixture], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
      })
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
      })
      const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
      return { child, output: () => out, exited: Effect.promise(() => exited) }
    }),
    ({ child }) =>
      Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

const deliveries = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<{ readonly event_id: string; readonly n: number }>`
    SELECT event_id::text AS event_id, count(*)::int AS n FROM crash_deliveries GROUP BY event_id`
}).pipe(Effect.orDie)

// The consumer of the crash tests: idempotent through the inbox.
const recorder = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const inbox = yield* OutboxSql.makeInbox
  const consumer: Outbox.Consumer = {
    name: "recorder",
    accepts: () => true,
    handle: (event) =>
      Effect.asVoid(
        inbox.once("recorder", event.id, sql`INSERT INTO crash_deliveries (event_id) VALUES (${event.id})`)
      )
  }
  return consumer
})

const Env = Layer.provideMerge(UnitOfWork.layerSql, SqlTest.layer)

const crash = (mode: "before-delivery" | "before-complete") =>
  Effect.gen(function* () {
    yield* reset
    const url = yield* databaseUrl
    const { child, exited, output } = yield* startChild({ DATABASE_URL: url, MODE: mode, COUNT: "5" })
    yield* until(Effect.sync(output), (out) => out.includes("delivering"), "15 seconds")
    child.kill("SIGKILL")
    yield* exited
    const outbox = yield* OutboxSql.make({ listen: false })
    const consumer = yield* recorder
    const sql = yield* SqlClient.SqlClient
    const undelivered = Effect.map(
      sql<{ readonly n: number }>`
        SELECT count(*)::int AS n FROM ${sql(OutboxSql.table)} WHERE state <> 'delivered'`.pipe(Effect.orDie),
      ([row]) => row?.n ?? -1
    )
    // Killed mid-delivery: nothing completed; before `complete`, some effects already committed.
    assert.strictEqual(yield* undelivered, 5)
    const early = (yield* deliveries).length
    if (mode === "before-delivery") assert.strictEqual(early, 0)
    else assert.isAbove(early, 0)
    // The child's leases (1.5 s) must run out before the events come back.
    yield* until(
      Effect.andThen(
        OutboxDispatcher.drain({ consumers: Effect.succeed([consumer]) }).pipe(
          Effect.provideService(Outbox.Outbox, outbox)
        ),
        undelivered
      ),
      (n) => n === 0,
      "10 seconds"
    )
    const rows = yield* deliveries
    assert.deepStrictEqual(
      rows.map((row) => row.n),
      [1, 1, 1, 1, 1],
      `deliveries per event: ${JSON.stringify(rows)}\n${output()}`
    )
  })

layer(Env, { timeout: 60_000, excludeTestServices: true })("OutboxDispatcher on OutboxSql", (it) => {
  describe.skipIf(skipWithoutPostgres)("on Postgres, a dispatcher killed with SIGKILL", () => {
    it.effect(
      "between commit and delivery: every event is delivered exactly once afterwards",
      () => crash("before-delivery"),
      30_000
    )
    it.effect(
      "after delivering but before complete: the inbox keeps it exactly-once in effect",
      () => crash("before-complete"),
      30_000
    )
  })

  it.effect(
    "two dispatchers in parallel over 200 events: all delivered, none twice at once",
    () =>
      Effect.gen(function* () {
        yield* reset
        const intervals = new Map<string, Array<{ start: number; end: number }>>()
        const consumer: Outbox.Consumer = {
          name: "timed",
          accepts: () => true,
          handle: (event) =>
            Effect.gen(function* () {
              const start = yield* Clock.currentTimeNanos
              yield* Effect.sleep("2 millis")
              const end = yield* Clock.currentTimeNanos
              const list = intervals.get(event.id) ?? []
              list.push({ start: Number(start), end: Number(end) })
              intervals.set(event.id, list)
            })
        }
        const events: Array<DomainEvent.Envelope> = []
        for (let i = 0; i < 200; i++) events.push(yield* OutboxLaws.envelope(`p-${i}`, { i }))
        const first = yield* OutboxSql.make({ listen: false })
        for (let i = 0; i < 200; i += 20) yield* UnitOfWork.transaction(first.append(events.slice(i, i + 20)))
        const second = yield* OutboxSql.make({ listen: false })
        const options: OutboxDispatcher.Options = {
          consumers: Effect.succeed([consumer]),
          batchSize: 10,
          pollInterval: "20 millis"
        }
        yield* OutboxDispatcher.make(options).pipe(Effect.provideService(Outbox.Outbox, first))
        yield* OutboxDispatcher.make(options).pipe(Effect.provideService(Outbox.Outbox, second))
        yield* until(
          Effect.sync(() => intervals.size),
          (n) => n === 200,
          "15 seconds"
        )
        for (const [id, list] of intervals) {
          const sorted = [...list].sort((a, b) => a.start - b.start)
          for (let i = 1; i < sorted.length; i++) {
            assert.isAtLeast(sorted[i]!.start, sorted[i - 1]!.end, `event ${id} was delivered twice at once`)
          }
        }
        const twice = [...intervals.values()].filter((list) => list.length > 1).length
        assert.strictEqual(twice, 0, `${twice} events were delivered more than once`)
      }),
    30_000
  )

  it.effect(
    "dead letter after N failures, listed, replayed, then delivered",
    () =>
      Effect.gen(function* () {
        yield* reset
        const outbox = yield* OutboxSql.make({ listen: false })
        const event = yield* OutboxLaws.envelope("dead")
        yield* UnitOfWork.transaction(outbox.append([event]))
        let broken = true
        const delivered: Array<string> = []
        const consumer: Outbox.Consumer = {
          name: "flaky",
          accepts: () => true,
          handle: (e) =>
            broken ? Effect.fail(new Error("relay down")) : Effect.sync(() => void delivered.push(e.id))
        }
        const options = { consumers: Effect.succeed([consumer]), maxAttempts: 3, backoff: () => 0 }
        const drain = OutboxDispatcher.drain(options).pipe(Effect.provideService(Outbox.Outbox, outbox))
        for (let i = 0; i < 3; i++) yield* drain
        const dead = yield* outbox.deadLetters()
        assert.deepStrictEqual(
          dead.map((d) => [d.event.id, d.attempts]),
          [[event.id, 3]]
        )
        assert.include(dead[0]?.error ?? "", "relay down")
        assert.strictEqual((yield* drain).claimed, 0)
        broken = false
        assert.strictEqual(yield* outbox.replay([event.id]), 1)
        assert.strictEqual((yield* drain).completed, 1)
        assert.deepStrictEqual(delivered, [event.id])
        assert.strictEqual((yield* outbox.deadLetters()).length, 0)
      }),
    30_000
  )

  it.effect(
    "the gauges read the table: parked dead letters, pending events, the oldest pending event's age",
    () =>
      Effect.gen(function* () {
        yield* reset
        const outbox = yield* OutboxSql.make({ listen: false })
        const failing: Outbox.Consumer = {
          name: "down",
          accepts: () => true,
          handle: () => Effect.fail(new Error("relay down"))
        }
        const consumers = Effect.succeed([failing])
        yield* UnitOfWork.transaction(outbox.append([yield* OutboxLaws.envelope("dead")]))
        const parked = yield* OutboxDispatcher.drain({ consumers, maxAttempts: 1 }).pipe(
          Effect.provideService(Outbox.Outbox, outbox)
        )
        assert.strictEqual(parked.dead, 1)
        // Occurred 90 s ago (the process's clock, as `occurredAt` is), keeps failing: pending for an hour.
        const start = yield* Clock.currentTimeMillis
        const pending = {
          ...(yield* OutboxLaws.envelope("pending")),
          occurredAt: DateTime.makeUnsafe(start - 90_000)
        }
        yield* UnitOfWork.transaction(outbox.append([pending]))
        const gauges = Effect.all({
          dead: Effect.map(Metric.value(OutboxDispatcher.deadLetters), (state) => state.value),
          pending: Effect.map(Metric.value(OutboxDispatcher.pending), (state) => state.value),
          age: Effect.map(Metric.value(OutboxDispatcher.oldestPendingAge), (state) => state.value)
        })
        yield* OutboxDispatcher.make({ consumers, backoff: () => "1 hour", gaugeInterval: "50 millis" }).pipe(
          Effect.provideService(Outbox.Outbox, outbox)
        )
        const seen = yield* until(gauges, (g) => g.dead === 1 && g.pending === 1 && g.age >= 90, "5 seconds")
        const elapsed = ((yield* Clock.currentTimeMillis) - start) / 1000
        assert.isAtMost(seen.age, 90 + elapsed)
        // Delivered at last: nothing pending, the age back to 0.
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE ${sql(OutboxSql.table)} SET state = 'delivered' WHERE id = ${pending.id}`
        }).pipe(Effect.orDie)
        yield* until(gauges, (g) => g.dead === 1 && g.pending === 0 && g.age === 0, "5 seconds")
      }),
    30_000
  )

  it.effect(
    "a commit in this process is delivered within a second with the default poll (quick start)",
    () =>
      Effect.gen(function* () {
        yield* reset
        const outbox = yield* OutboxSql.make()
        const got = yield* Deferred.make<string>()
        const consumer: Outbox.Consumer = {
          name: "c",
          accepts: () => true,
          handle: (e) => Deferred.succeed(got, e.id)
        }
        yield* OutboxDispatcher.make({ consumers: Effect.succeed([consumer]) }).pipe(
          Effect.provideService(Outbox.Outbox, outbox)
        )
        yield* Effect.sleep("100 millis")
        const event = yield* OutboxLaws.envelope("quick")
        const start = yield* Clock.currentTimeMillis
        yield* UnitOfWork.transaction(outbox.append([event]))
        assert.strictEqual(yield* Deferred.await(got).pipe(Effect.timeout("1 second")), event.id)
        assert.isBelow((yield* Clock.currentTimeMillis) - start, 1_000)
      }),
    30_000
  )

  describe.skipIf(skipWithoutPostgres)("on Postgres", () => {
    it.effect(
      "LISTEN wakes the dispatcher for a commit on another connection, long before the poll",
      () =>
        Effect.gen(function* () {
          yield* reset
          const outbox = yield* OutboxSql.make()
          const got = yield* Deferred.make<string>()
          const consumer: Outbox.Consumer = {
            name: "c",
            accepts: () => true,
            handle: (e) => Deferred.succeed(got, e.id)
          }
          yield* OutboxDispatcher.make({
            consumers: Effect.succeed([consumer]),
            pollInterval: "10 seconds"
          }).pipe(Effect.provideService(Outbox.Outbox, outbox))
          // The first poll has run and the listener is up; only a notification can wake the loop now.
          yield* Effect.sleep("500 millis")
          const url = yield* databaseUrl
          const other = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 1 }).pipe(
            Effect.provide(Reactivity.layer)
          )
          const event = yield* OutboxLaws.envelope("remote")
          const start = yield* Clock.currentTimeMillis
          yield* Effect.gen(function* () {
            const remote = yield* OutboxSql.make({ listen: false })
            const sql = yield* SqlClient.SqlClient
            yield* sql.withTransaction(remote.append([event]))
          }).pipe(Effect.provideService(SqlClient.SqlClient, other))
          assert.strictEqual(yield* Deferred.await(got).pipe(Effect.timeout("2 seconds")), event.id)
          assert.isBelow((yield* Clock.currentTimeMillis) - start, 2_000)
        }),
      30_000
    )
  })
})
