/**
 * The outbox relay through the real dispatcher to a real JetStream server:
 *
 * - the broker is down while events are raised: they are retried and wait
 *   in the outbox, then flow once a server comes up on the same address,
 *   each stored once;
 * - a publish whose ack is lost (stored, but the relay never hears back):
 *   the dispatcher times it out and retries, the stream keeps one copy;
 * - a relay process killed with SIGKILL mid-batch (SQL outbox on Postgres):
 *   another dispatcher finishes, every event is in the stream exactly once
 *   and none is left pending.
 *
 * Each test has a stream of its own, deleted after. The first test starts a
 * private `nats-server` on a free loopback port; the others use NATS_URL
 * (and DATABASE_URL for the kill test), skipped without them unless
 * REQUIRE_SERVICES=1.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { type DomainEvent, EventPublisher, Outbox, OutboxDispatcher } from "@org/core"
import { JetStreamAdmin, JetStreamPublisher, NatsConnection } from "@org/nats"
import { OutboxSql, SqlTest } from "@org/sql"
import { type Duration, Effect, Option, Redacted, References, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { requireServices, skipNats, url } from "./env.ts"
import { placed, streamInfo, withStream } from "./fixtures.ts"

const natsServer = "/usr/sbin/nats-server"
const skipPrivateServer = !existsSync(natsServer) && !requireServices
if (skipPrivateServer) console.warn(`Relay test with the broker down skipped: no ${natsServer}`)

const postgresUrl = process.env.DATABASE_URL || undefined
const skipPostgres = skipNats || (postgresUrl === undefined && !requireServices)
if (postgresUrl === undefined && !requireServices)
  console.warn("Relay kill -9 test skipped: DATABASE_URL is not set (REQUIRE_SERVICES=1 fails instead)")

const repoNode = fileURLToPath(new URL("../../../node_modules/node/bin/node", import.meta.url))
const node = existsSync(repoNode) ? repoNode : process.execPath
const relayChild = fileURLToPath(new URL("./fixtures/relay-child.ts", import.meta.url))

// Each attempt that fails is logged as a warning by the dispatcher: expected here, and noisy.
const quiet = Effect.provideService(References.MinimumLogLevel, "Error")

/** Polls `check` every 25 ms until `done` holds; dies after `limit`. */
const until = <A, E, R>(
  check: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  limit: Duration.Input,
  what: string
) =>
  Effect.repeat(check, { until: done, schedule: Schedule.spaced("25 millis") }).pipe(
    Effect.timeoutOrElse({
      duration: limit,
      orElse: () => Effect.die(new Error(`${what}: not within ${String(limit)}`))
    })
  )

const freePort = Effect.callback<number, Error>((resume) => {
  const server = createServer()
  server.once("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(port > 0 ? Effect.succeed(port) : Effect.fail(new Error("no port"))))
  })
})

/**
 * A slot for a private `nats-server`, killed (and its store removed) when
 * the scope closes. Taken before the connection so the server outlives the
 * connection's drain.
 */
const serverSlot = Effect.gen(function* () {
  let child: ChildProcess | undefined
  const dir = mkdtempSync(join(tmpdir(), "relay-nats-"))
  yield* Effect.addFinalizer(() =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once("close", () => resolve())
          child.kill("SIGKILL")
        })
    ).pipe(Effect.andThen(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  )
  return {
    start: (port: number) =>
      Effect.sync(() => {
        child = spawn(natsServer, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], {
          stdio: "ignore"
        })
      })
  }
})

/** Every message of the stream: its Nats-Msg-Id header and the envelope id of its body. */
const storedMessages = (stream: string) =>
  Effect.gen(function* () {
    const jsm = yield* JetStreamAdmin.manager
    const info = yield* Effect.promise(() => jsm.streams.info(stream))
    const messages: Array<{ readonly msgId: string; readonly bodyId: string }> = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const stored = yield* Effect.promise(() => jsm.streams.getMessage(stream, { seq }))
      if (stored === null) continue
      messages.push({ msgId: stored.header.get("Nats-Msg-Id"), bodyId: stored.json<{ id: string }>().id })
    }
    return messages
  }).pipe(Effect.orDie)

/** Asserts that the stream holds each of `events` exactly once (by header and by body), and nothing else. */
const assertEachOnce = (stream: string, events: ReadonlyArray<DomainEvent.Envelope>) =>
  Effect.gen(function* () {
    const info = yield* streamInfo(stream)
    assert.strictEqual(info.state.messages, events.length, "messages in the stream")
    const messages = yield* storedMessages(stream)
    const expected = events.map((event) => event.id).sort()
    assert.deepStrictEqual(messages.map((m) => m.msgId).sort(), expected, "Nats-Msg-Id of each message")
    assert.deepStrictEqual(messages.map((m) => m.bodyId).sort(), expected, "envelope id of each message")
  })

const states = (outbox: Outbox.Outbox["Service"], events: ReadonlyArray<DomainEvent.Envelope>) =>
  Effect.forEach(events, (event) =>
    Effect.map(outbox.get(event.id), (row) =>
      Option.getOrElse(row, () => ({ state: "missing" as const, attempts: 0, completed: [] }))
    )
  )

describe.skipIf(skipPrivateServer)("the relay with the broker down while events are raised", () => {
  it.live(
    "events are retried and wait in the outbox, then each lands in the stream once",
    () =>
      Effect.gen(function* () {
        const server = yield* serverSlot
        const port = yield* freePort
        const connection = yield* NatsConnection.make({
          servers: `nats://127.0.0.1:${port}`,
          name: "relay-down-test",
          startWhileDown: true,
          connectTimeout: "200 millis",
          reconnectWait: "100 millis",
          drainTimeout: "1 second"
        })
        const withConnection = Effect.provideService(NatsConnection.NatsConnection, connection)
        const id = randomUUID().replaceAll("-", "")
        const stream = { name: `TEST_${id}`, prefix: `test.${id}` }
        const publisher = yield* withConnection(
          JetStreamPublisher.make({ prefix: stream.prefix, timeout: "1 second" })
        )
        const relay = yield* EventPublisher.relay({ prefix: stream.prefix }).pipe(
          Effect.provideService(EventPublisher.EventPublisher, publisher)
        )
        const outbox = yield* Outbox.makeMemory
        const events = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i + 1),
          placed
        )
        yield* outbox.append(events)
        yield* OutboxDispatcher.make({
          consumers: Effect.succeed([relay]),
          backoff: { base: "50 millis", max: "200 millis" },
          pollInterval: "50 millis",
          handlerTimeout: "2 seconds"
        }).pipe(Effect.provideService(Outbox.Outbox, outbox))

        // Nothing listens: every event fails, is retried, and stays pending.
        const down = yield* until(
          states(outbox, events),
          (rows) => rows.every((row) => row.state === "pending" && row.attempts >= 3),
          "5 seconds",
          "three failed attempts per event"
        )
        assert.isTrue(down.every((row) => row.completed.length === 0))
        assert.isFalse(yield* connection.connected)

        // The broker comes up on that address: the same connection reaches it.
        yield* server.start(port)
        yield* until(connection.connected, (ok) => ok, "10 seconds", "connected")
        yield* Effect.acquireRelease(
          withConnection(
            JetStreamAdmin.ensureStream({ name: stream.name, subjects: [`${stream.prefix}.>`] })
          ),
          () => Effect.ignore(withConnection(JetStreamAdmin.deleteStream(stream.name)))
        )
        const after = yield* until(
          states(outbox, events),
          (rows) => rows.every((row) => row.state === "delivered"),
          "10 seconds",
          "all delivered"
        )
        assert.isTrue(after.every((row) => row.attempts >= 4))
        yield* withConnection(assertEachOnce(stream.name, events))
      }).pipe(Effect.scoped, quiet),
    20_000
  )
})

const NatsLive = NatsConnection.layer({ servers: url, name: "relay-test" })

describe.skipIf(skipNats)("the relay on a real NATS server", () => {
  layer(NatsLive, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("a publish whose ack is lost is retried by the dispatcher: one message per event", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const publisher = yield* JetStreamPublisher.make({ prefix: stream.prefix })
        // The first publish of each event reaches the stream, then the relay
        // hears nothing back (the ack is lost): the dispatcher's handler
        // timeout fails the attempt and the event is retried.
        const calls = new Map<string, number>()
        let storedBeforeTimeout = 0
        const lossy = EventPublisher.EventPublisher.of({
          publish: (envelope, options) =>
            Effect.suspend(() => {
              const n = (calls.get(envelope.id) ?? 0) + 1
              calls.set(envelope.id, n)
              return n > 1
                ? publisher.publish(envelope, options)
                : publisher.publish(envelope, options).pipe(
                    Effect.andThen(
                      Effect.sync(() => {
                        storedBeforeTimeout++
                      })
                    ),
                    Effect.andThen(Effect.never)
                  )
            })
        })
        const relay = yield* EventPublisher.relay({ prefix: stream.prefix }).pipe(
          Effect.provideService(EventPublisher.EventPublisher, lossy)
        )
        const outbox = yield* Outbox.makeMemory
        const events = yield* Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i + 1),
          placed
        )
        yield* outbox.append(events)
        yield* OutboxDispatcher.make({
          consumers: Effect.succeed([relay]),
          handlerTimeout: "300 millis",
          backoff: () => "50 millis",
          pollInterval: "50 millis"
        }).pipe(Effect.provideService(Outbox.Outbox, outbox))
        const rows = yield* until(
          states(outbox, events),
          (all) => all.every((row) => row.state === "delivered"),
          "10 seconds",
          "all delivered"
        )
        // Each event: stored by its first publish, timed out, delivered by the second.
        assert.strictEqual(storedBeforeTimeout, events.length)
        assert.deepStrictEqual(
          rows.map((row) => row.attempts),
          events.map(() => 2)
        )
        assert.deepStrictEqual(
          events.map((event) => calls.get(event.id)),
          events.map(() => 2)
        )
        yield* assertEachOnce(stream.name, events)
      }).pipe(Effect.scoped, quiet)
    )
  })
})

describe.skipIf(skipPostgres)("the relay over the SQL outbox on Postgres and a real NATS server", () => {
  layer(NatsLive, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect(
      "a relay process killed with SIGKILL mid-batch: another dispatcher finishes, each event once",
      () =>
        Effect.gen(function* () {
          const stream = yield* withStream()
          const sql = yield* SqlClient.SqlClient
          const backend = yield* SqlTest.backend.pipe(Effect.orDie)
          assert.strictEqual(backend, "postgres", "the kill test needs a real Postgres (DATABASE_URL)")
          yield* OutboxSql.migration.pipe(Effect.orDie)
          const outbox = yield* OutboxSql.make({ listen: false })
          const count = 200
          const events = yield* Effect.forEach(
            Array.from({ length: count }, (_, i) => i + 1),
            placed
          )
          for (let i = 0; i < count; i += 50)
            yield* sql.withTransaction(outbox.append(events.slice(i, i + 50))).pipe(Effect.orDie)

          const child = yield* startChild({
            DATABASE_URL: yield* databaseUrl,
            NATS_URL: url,
            PREFIX: stream.prefix,
            HOLD_MS: "200"
          })
          const messages = Effect.map(streamInfo(stream.name), (info) => info.state.messages)
          const before = yield* until(messages, (n) => n >= 30, "15 seconds", "30 messages published").pipe(
            Effect.onError(() => Effect.sync(() => console.error(child.output())))
          )
          child.process.kill("SIGKILL")
          yield* child.exited
          const publishedAtKill = yield* messages
          assert.isAtLeast(publishedAtKill, before)
          assert.isBelow(publishedAtKill, count, "killed before the end")

          const settled = (rows: ReadonlyArray<{ readonly state: string }>) =>
            rows.filter((row) => row.state === "delivered").length
          const atKill = yield* states(outbox, events)
          // Some events reached the stream and were never settled: their redelivery is the test.
          assert.isBelow(settled(atKill), publishedAtKill, "published but unsettled events at the kill")

          // Another dispatcher (no delays) takes over once the child's leases (1.5 s) run out.
          const relay = yield* EventPublisher.relay({ prefix: stream.prefix }).pipe(
            Effect.provide(JetStreamPublisher.layer({ prefix: stream.prefix }))
          )
          const drain = OutboxDispatcher.drain({ consumers: Effect.succeed([relay]), batchSize: 50 }).pipe(
            Effect.provideService(Outbox.Outbox, outbox)
          )
          const final = yield* until(
            Effect.andThen(drain, states(outbox, events)),
            (rows) => settled(rows) === count,
            "15 seconds",
            "all delivered after the kill"
          )
          // The events the child had in flight were claimed a second time, and still appear once.
          assert.isAbove(final.filter((row) => row.attempts >= 2).length, 0, "re-claimed events")
          const [pending] = yield* sql<{ readonly n: number }>`
              SELECT count(*)::int AS n FROM ${sql(OutboxSql.table)} WHERE state <> 'delivered'`.pipe(
            Effect.orDie
          )
          assert.strictEqual(pending?.n, 0, "nothing left pending in the outbox")
          yield* assertEachOnce(stream.name, events)
        }).pipe(Effect.scoped, Effect.provide(SqlTest.layer), quiet),
      30_000
    )
  })
})

// The URL of the test's own database, for the child process.
const databaseUrl = Effect.gen(function* () {
  const client = yield* PgClient.PgClient
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ readonly db: string }>`SELECT current_database() AS db`
  const base = new URL(
    Redacted.value(client.config.url ?? Redacted.make(postgresUrl ?? "postgresql://127.0.0.1/"))
  )
  base.pathname = `/${row?.db ?? ""}`
  return base.toString()
}).pipe(Effect.orDie)

const startChild = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(node, ["--conditions=@org/source", relayChild], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
      })
      const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
      return { process: child, output: () => out, exited: Effect.promise(() => exited) }
    }),
    ({ process: child }) =>
      Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )
