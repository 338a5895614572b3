/**
 * Issue 16, "two instances, one service": two example API processes (the
 * real entry point, `src/main.ts`) on two loopback ports, sharing one
 * Postgres and one Redis, behave as one service:
 *
 * 1. one rate-limit window for both: `RATE_LIMIT` requests spread over A and
 *    B pass, the next one is 429 on either;
 * 2. a logout on A is refused on B within 100 ms;
 * 3. an item updated on A is served stale from B's L1 for at most 500 ms,
 *    and never again after;
 * 4. refresh-token reuse is caught across instances and revokes the family;
 * 5. both dispatchers drain the outbox, and every event of writes made on
 *    both is in the audit log exactly once;
 * 6. two processes started at the same moment on a fresh database both
 *    become ready, and the migrations ran once, in one of them.
 *
 * The delays of 2 and 3 are measured and printed (docs/scaling-out.md
 * quotes them). Needs DATABASE_URL and REDIS_URL: two processes cannot share
 * embedded PGlite or in-memory stores. Skipped without them (and says so),
 * failed under REQUIRE_SERVICES=1.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { generateKeyPairSync, randomBytes, randomInt, randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Redacted } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as RedisEnv from "../../../packages/redis/test/env.ts"
import * as SqlEnv from "../../../packages/sql/test/env.ts"
import { migrations } from "../src/server/Migrations.ts"

const skip = (SqlEnv.databaseUrl === undefined || RedisEnv.redisUrl === undefined) && !SqlEnv.requireServices
if (skip)
  console.warn(
    "Two-instance tests skipped: they need DATABASE_URL and REDIS_URL (two processes cannot share " +
      "embedded PGlite or in-memory stores); set both, or REQUIRE_SERVICES=1 to fail instead"
  )

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** `RATE_LIMIT` of the pair: small enough to count to, large enough for the polls of the other tests. */
const limit = 30

// Every instance of a service signs and checks tokens with the same keys
// (left to themselves, development processes would each generate their own).
const keys = generateKeyPairSync("ec", {
  namedCurve: "P-256",
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" }
})
const mfaKey = randomBytes(32).toString("base64")

const admin = { email: "two-instances-admin@example.test", password: "Quartz-Meadow-Lantern-Adm1n" }
const password = "Violet-Harbour-Compass-42"

// The processes trust X-Forwarded-For from loopback, as behind a load
// balancer, and every anonymous request of this run comes "from" one random
// address: its windows (auth routes, refused tokens) are its own, so reruns
// and other users of the same Redis neither collide with it nor feel it.
const runAddress = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`

const environment = (databaseUrl: string, extra: Record<string, string>): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: RedisEnv.url,
  NATS_URL: "",
  JWT_ALGORITHM: "ES256",
  JWT_PRIVATE_KEY: keys.privateKey,
  JWT_PUBLIC_KEY: keys.publicKey,
  MFA_ENCRYPTION_KEY: mfaKey,
  RATE_LIMIT: `${limit}/minute`,
  // Sign-ups and logins of the whole file come from `runAddress`.
  AUTH_RATE_LIMIT: "200/minute",
  TRUSTED_PROXIES: "127.0.0.1",
  LOG_FORMAT: "json",
  LOG_LEVEL: "warn",
  SHUTDOWN_TIMEOUT: "2 seconds",
  ...extra
})

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

interface Instance {
  readonly name: string
  readonly origin: string
  readonly child: ChildProcess
  readonly exited: Promise<void>
  /** The last 8 KiB the process printed, for failure messages. */
  readonly output: () => string
}

// Should the worker die before `afterAll`, no process outlives it.
const running = new Set<ChildProcess>()
const killAll = () => {
  for (const child of running) child.kill("SIGKILL")
}
process.on("exit", killAll)

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** Spawns `main.ts` on `port` now (no await: a pair starts at the same moment). */
const spawnInstance = (name: string, port: number, env: Record<string, string>): Instance => {
  // The caller's OTLP variables would turn on an export nobody receives.
  const inherited: Record<string, string | undefined> = { ...process.env }
  for (const key of Object.keys(inherited)) if (key.startsWith("OTEL_")) delete inherited[key]
  // Unused with a real database and given keys, but the process may write there: a scratch one.
  const dataDir = mkdtempSync(join(tmpdir(), `two-instances-${name}-`))
  const child = spawn(process.execPath, ["--conditions=@org/source", main], {
    env: {
      ...inherited,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  running.add(child)
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8192)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      running.delete(child)
      rmSync(dataDir, { recursive: true, force: true })
      resolve()
    })
  )
  return { name, origin: `http://127.0.0.1:${port}`, child, exited, output: () => output }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `/health/ready` until 200 ("ready"), the process exits ("exited"), or `withinMs` passes ("late"). */
const settle = async (instance: Instance, withinMs: number): Promise<"ready" | "exited" | "late"> => {
  const deadline = performance.now() + withinMs
  for (;;) {
    const status = await fetch(`${instance.origin}/health/ready`, {
      signal: AbortSignal.timeout(2_000)
    }).then(
      (response) => response.status,
      () => 0
    )
    if (status === 200) return "ready"
    if (instance.child.exitCode !== null) return "exited"
    if (performance.now() > deadline) return "late"
    await pause(25)
  }
}

const waitReady = async (instance: Instance, withinMs: number) => {
  const outcome = await settle(instance, withinMs)
  if (outcome !== "ready")
    assert.fail(`${instance.name} ${outcome} (within ${withinMs} ms) instead of ready:\n${instance.output()}`)
}

/** SIGTERM (the process drains and exits), SIGKILL when it is still there after 5 s. */
const stop = async (instance: Instance) => {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return
  instance.child.kill("SIGTERM")
  const timer = setTimeout(() => instance.child.kill("SIGKILL"), 5_000)
  await instance.exited
  clearTimeout(timer)
}

// ---------------------------------------------------------------------------
// Postgres, from the test itself
// ---------------------------------------------------------------------------

/** Runs `use` on `database` (the URL's own when undefined) of the DATABASE_URL server, one connection. */
const onDatabase = <A>(
  database: string | undefined,
  use: (sql: SqlClient.SqlClient) => Effect.Effect<A, SqlError.SqlError>
): Promise<A> =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* use(yield* SqlClient.SqlClient)
    }).pipe(
      Effect.provide(
        PgClient.layer({ url: Redacted.make(SqlEnv.databaseUrl ?? ""), database, maxConnections: 1 })
      ),
      Effect.timeout("15 seconds")
    )
  )

/** DATABASE_URL with another database name. */
const urlOf = (database: string): string => {
  const url = new URL(SqlEnv.databaseUrl ?? "")
  url.pathname = `/${database}`
  return url.toString()
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  // biome-ignore lint/suspicious/noExplicitAny: the tests read JSON bodies field by field.
  readonly body: any
}

const call = async (
  instance: Instance,
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly from?: string } = {}
): Promise<Reply> => {
  const response = await fetch(`${instance.origin}${path}`, {
    method,
    headers: {
      "x-forwarded-for": options.from ?? runAddress,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined ? {} : { "content-type": "application/json" })
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(5_000)
  })
  const text = await response.text()
  let body: unknown
  try {
    body = text === "" ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, headers: response.headers, text, body }
}

const expectStatus = (reply: Reply, status: number, what: string) =>
  assert.strictEqual(reply.status, status, `${what}: ${reply.text.slice(0, 300)}`)

interface Account {
  readonly id: string
  readonly email: string
  readonly access: string
  readonly refresh: string
}

const login = async (on: Instance, email: string, secret: string) => {
  const reply = await call(on, "POST", "/api/v1/auth/login", { body: { email, password: secret } })
  expectStatus(reply, 200, `login of ${email} on ${on.name}`)
  return { access: reply.body.access_token as string, refresh: reply.body.refresh_token as string }
}

/** A new account, registered on one instance and logged in on another. */
const signUp = async (registerOn: Instance, loginOn: Instance, label: string): Promise<Account> => {
  const email = `${label}-${randomUUID()}@example.test`
  const registered = await call(registerOn, "POST", "/api/v1/auth/register", { body: { email, password } })
  expectStatus(registered, 201, `register on ${registerOn.name}`)
  return { id: registered.body.id, email, ...(await login(loginOn, email, password)) }
}

/**
 * Calls `probe` until `done` holds or `withinMs` has passed since `from`:
 * at once, then with gaps growing from 1 ms to 25 ms (fine resolution where
 * the answer is expected, few requests against the rate limit after). The
 * result carries the last reply and when it arrived (ms after `from`).
 */
const pollUntil = async (
  probe: () => Promise<Reply>,
  done: (reply: Reply) => boolean,
  from: number,
  withinMs: number
) => {
  let gap = 1
  for (let polls = 1; ; polls++) {
    const reply = await probe()
    const afterMs = performance.now() - from
    if (done(reply) || afterMs > withinMs) return { reply, afterMs, polls }
    await pause(gap)
    gap = Math.min(gap * 1.5, 25)
  }
}

const ms = (value: number) => value.toFixed(1)

// ---------------------------------------------------------------------------
// The pair
// ---------------------------------------------------------------------------

describe.skipIf(skip)("two example API processes on one Postgres and one Redis", () => {
  let a: Instance
  let b: Instance
  let boss: { readonly access: string }

  beforeAll(async () => {
    assert.isDefined(SqlEnv.databaseUrl, "REQUIRE_SERVICES=1 needs DATABASE_URL for the two-instance tests")
    assert.isDefined(RedisEnv.redisUrl, "REQUIRE_SERVICES=1 needs REDIS_URL for the two-instance tests")
    const [portA, portB] = await Promise.all([freePort(), freePort()])
    // Only A seeds the admin: B finds the account in the shared database
    // (the fresh-database test below starts both with it).
    a = spawnInstance(
      "A",
      portA,
      environment(SqlEnv.databaseUrl, { ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password })
    )
    b = spawnInstance("B", portB, environment(SqlEnv.databaseUrl, {}))
    await Promise.all([waitReady(a, 30_000), waitReady(b, 30_000)])
    boss = await login(b, admin.email, admin.password)
  }, 40_000)

  afterAll(async () => {
    await Promise.all([a, b].filter((instance) => instance !== undefined).map(stop))
  }, 15_000)

  it(`one rate-limit window: ${limit} requests spread over A and B pass, the next is 429 on either`, async () => {
    // A fresh account: a client of its own, whose window starts empty
    // (register and login count under the auth policy, not this one).
    const client = await signUp(a, b, "limited")
    const read = (on: Instance) => call(on, "GET", "/api/v1/items?size=1", { token: client.access })
    const burst = await Promise.all(Array.from({ length: limit }, (_, i) => read(i % 2 === 0 ? a : b)))
    assert.deepStrictEqual(
      burst.map((reply) => reply.status),
      Array.from({ length: limit }, () => 200),
      burst.find((reply) => reply.status !== 200)?.text
    )
    // Every decision saw another count of one window: two windows would
    // each have counted down from the limit, repeating remainders.
    const remaining = burst
      .map((reply) => Number(/;r=(\d+)/.exec(reply.headers.get("ratelimit") ?? "")?.[1]))
      .sort((x, y) => x - y)
    assert.deepStrictEqual(
      remaining,
      Array.from({ length: limit }, (_, i) => i)
    )
    for (const on of [a, b]) {
      const refused = await read(on)
      expectStatus(refused, 429, `request ${limit + 1} on ${on.name}`)
      assert.strictEqual(refused.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(refused.body.status, 429)
      const retryAfter = Number(refused.headers.get("retry-after"))
      assert.isTrue(Number.isInteger(retryAfter), `Retry-After: ${refused.headers.get("retry-after")}`)
      assert.isAtLeast(retryAfter, 1)
      assert.isAtMost(retryAfter, 60)
      assert.strictEqual(refused.headers.get("ratelimit-policy"), `"default";q=${limit};w=60`)
    }
  })

  it("a logout on A is refused on B within 100 ms", async () => {
    const leaving = await signUp(b, a, "leaving")
    expectStatus(
      await call(b, "GET", "/api/v1/auth/me", { token: leaving.access }),
      200,
      "B before the logout"
    )
    expectStatus(await call(a, "POST", "/api/v1/auth/logout", { token: leaving.access }), 204, "logout on A")
    const loggedOut = performance.now()
    const seen = await pollUntil(
      () => call(b, "GET", "/api/v1/auth/me", { token: leaving.access }),
      (reply) => reply.status !== 200,
      loggedOut,
      100
    )
    console.info(
      `revocation: refused on B ${ms(seen.afterMs)} ms after A's logout returned (${seen.polls} polls)`
    )
    expectStatus(seen.reply, 401, `B ${ms(seen.afterMs)} ms after the logout on A (${seen.polls} polls)`)
    assert.isAtMost(seen.afterMs, 100)
    assert.include(seen.reply.headers.get("www-authenticate") ?? "", "Bearer")
    // and it stays refused, on both
    for (const on of [b, a])
      expectStatus(
        await call(on, "GET", "/api/v1/auth/me", { token: leaving.access }),
        401,
        `${on.name} later`
      )
  })

  // The bound: the invalidation is published before A's PATCH answers, so
  // one Redis pub/sub hop (about a millisecond) is expected; 500 ms leaves
  // room for a loaded CI machine and is still two orders of magnitude under
  // the one-minute L1 TTL that would be the bound were the message lost.
  const invalidationBound = 500

  it(`an item updated on A is served stale by B for at most ${invalidationBound} ms, and never after`, async () => {
    const [owner, reader] = await Promise.all([signUp(a, a, "owner"), signUp(b, b, "reader")])
    const created = await call(a, "POST", "/api/v1/items", {
      token: owner.access,
      body: { name: "Two-instance saw", price: 10, quantity: 1 }
    })
    expectStatus(created, 201, "create on A")
    const path = `/api/v1/items/${created.body.id}`
    // B loads the item into its L1 (and L2): the copy the update must drop.
    const warm = await call(b, "GET", path, { token: reader.access })
    expectStatus(warm, 200, "first read on B")
    assert.strictEqual(warm.body.version, 1)
    const patched = await call(a, "PATCH", path, { token: owner.access, body: { quantity: 2 } })
    expectStatus(patched, 200, "update on A")
    assert.strictEqual(patched.body.version, 2)
    const updated = performance.now()
    const fresh = await pollUntil(
      () => call(b, "GET", path, { token: reader.access }),
      (reply) => reply.status !== 200 || reply.body.version !== 1,
      updated,
      invalidationBound
    )
    console.info(
      `invalidation: B served the update ${ms(fresh.afterMs)} ms after A's PATCH returned (${fresh.polls} polls)`
    )
    expectStatus(fresh.reply, 200, "read on B")
    assert.strictEqual(
      fresh.reply.body.version,
      2,
      `B still serves version 1 ${ms(fresh.afterMs)} ms after the update on A (${fresh.polls} polls)`
    )
    assert.strictEqual(fresh.reply.body.quantity, 2)
    assert.isAtMost(fresh.afterMs, invalidationBound)
    // B never serves the old version again (read as another account: the
    // cache is the instance's, not the reader's; and the reader's window is
    // kept for the polls).
    for (let i = 0; i < 5; i++) {
      const again = await call(b, "GET", path, { token: owner.access })
      expectStatus(again, 200, `read ${i} on B after`)
      assert.strictEqual(again.body.version, 2, `read ${i} on B after`)
    }
  })

  it("refresh-token reuse is detected across instances and revokes the whole family", async () => {
    const user = await signUp(a, a, "rotating")
    const rotated = await call(a, "POST", "/api/v1/auth/refresh", { body: { refresh_token: user.refresh } })
    expectStatus(rotated, 200, "refresh on A")
    const successor: string = rotated.body.refresh_token
    assert.notStrictEqual(successor, user.refresh)
    const reused = await call(b, "POST", "/api/v1/auth/refresh", { body: { refresh_token: user.refresh } })
    expectStatus(reused, 401, "the spent refresh token on B")
    assert.strictEqual(reused.headers.get("content-type"), "application/problem+json")
    // The family is revoked: the token A's refresh just handed out is refused too, on either.
    for (const on of [b, a])
      expectStatus(
        await call(on, "POST", "/api/v1/auth/refresh", { body: { refresh_token: successor } }),
        401,
        `the successor on ${on.name}`
      )
    // And B's detection is on record once.
    const audited = await pollUntil(
      () =>
        call(a, "GET", `/api/v1/audit?type=RefreshReuseDetected&aggregateId=${user.id}`, {
          token: boss.access
        }),
      (reply) => reply.status !== 200 || reply.body.total > 0,
      performance.now(),
      10_000
    )
    expectStatus(audited.reply, 200, "audit")
    assert.strictEqual(audited.reply.body.total, 1, audited.reply.text)
  })

  it("both instances drain the outbox: every event of writes on both is audited exactly once", async () => {
    // Registered on A, logged in on B: account events from both as well.
    const writer = await signUp(a, b, "writer")
    const on = (i: number) => (i % 2 === 0 ? a : b)
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call(on(i), "POST", "/api/v1/items", {
          token: writer.access,
          body: { name: `Outbox item ${i}`, price: i, quantity: i }
        })
      )
    )
    for (const reply of created) expectStatus(reply, 201, "create")
    const ids: Array<string> = created.map((reply) => reply.body.id)
    // Each updated on the other instance than the one that created it; two deleted.
    const updated = await Promise.all(
      ids.map((id, i) =>
        call(on(i + 1), "PATCH", `/api/v1/items/${id}`, { token: writer.access, body: { quantity: 9 } })
      )
    )
    for (const reply of updated) expectStatus(reply, 200, "update")
    const deleted = await Promise.all(
      ids.slice(0, 2).map((id, i) => call(on(i), "DELETE", `/api/v1/items/${id}`, { token: writer.access }))
    )
    for (const reply of deleted) expectStatus(reply, 204, "delete")
    const expected = [
      ...ids.flatMap((id, i) => [
        `${id} ItemCreated`,
        `${id} ItemUpdated`,
        ...(i < 2 ? [`${id} ItemDeleted`] : [])
      ]),
      `${writer.id} LoginSucceeded`,
      `${writer.id} UserRegistered`
    ].sort()

    // The writer's own events (its actor id) and its account's (its aggregate id), one page each.
    const audit = async () => {
      const [byActor, byAggregate] = await Promise.all([
        call(b, "GET", `/api/v1/audit?actorId=${writer.id}&size=100`, { token: boss.access }),
        call(a, "GET", `/api/v1/audit?aggregateId=${writer.id}&size=100`, { token: boss.access })
      ])
      expectStatus(byActor, 200, "audit by actor")
      expectStatus(byAggregate, 200, "audit by aggregate")
      // biome-ignore lint/suspicious/noExplicitAny: audit entries, read field by field.
      const entries: Array<any> = [...byActor.body.items, ...byAggregate.body.items]
      const unique = [...new Map(entries.map((entry) => [entry.id, entry])).values()]
      return unique.filter((entry) => ids.includes(entry.aggregateId) || entry.aggregateId === writer.id)
    }
    const started = performance.now()
    let entries = await audit()
    while (entries.length < expected.length && performance.now() - started < 10_000) {
      await pause(100)
      entries = await audit()
    }
    console.info(`outbox: ${entries.length} events audited within ${ms(performance.now() - started)} ms`)
    assert.deepStrictEqual(entries.map((entry) => `${entry.aggregateId} ${entry.type}`).sort(), expected)

    // In the outbox: each event delivered, and claimed by one dispatcher once
    // (a second claim, after a lost lease, would be a second delivery).
    const outbox = await onDatabase(
      undefined,
      (sql) =>
        sql<{
          readonly type: string
          readonly aggregate_id: string
          readonly state: string
          readonly attempts: number
        }>`
        SELECT type, aggregate_id, state, attempts FROM event_outbox
        WHERE aggregate_id IN ${sql.in([...ids, writer.id])}`
    )
    assert.deepStrictEqual(outbox.map((row) => `${row.aggregate_id} ${row.type}`).sort(), expected)
    for (const row of outbox) {
      assert.strictEqual(row.state, "delivered", `${row.type} of ${row.aggregate_id}`)
      assert.strictEqual(
        row.attempts,
        1,
        `${row.type} of ${row.aggregate_id} was claimed ${row.attempts} times`
      )
    }
  })
})

// ---------------------------------------------------------------------------
// A fresh database, two processes at once
// ---------------------------------------------------------------------------

describe.skipIf(skip)("two example API processes started together on a fresh database", () => {
  const database = `two_instances_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  const pair: Array<Instance> = []
  let created = false

  afterAll(async () => {
    await Promise.all(pair.map(stop))
    if (created)
      await onDatabase("postgres", (sql) => sql`DROP DATABASE IF EXISTS ${sql(database)} WITH (FORCE)`)
  }, 20_000)

  it("both become ready; each migration is applied once, by one of them", async () => {
    assert.isDefined(SqlEnv.databaseUrl, "REQUIRE_SERVICES=1 needs DATABASE_URL")
    await onDatabase("postgres", (sql) => sql`CREATE DATABASE ${sql(database)}`)
    created = true
    const [portC, portD] = await Promise.all([freePort(), freePort()])
    // The same configuration for both, as an orchestrator would give it,
    // the admin seed included; `info` for the migrator's line.
    const env = environment(urlOf(database), {
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      LOG_LEVEL: "info"
    })
    pair.push(spawnInstance("C", portC, env), spawnInstance("D", portD, env))
    // Both settle (ready, or exited) before anything is judged: the
    // migrations are checked whatever became of the start after them.
    const outcomes = await Promise.all(pair.map((instance) => settle(instance, 30_000)))
    const outputs = pair.map((instance) => `${instance.name}:\n${instance.output()}`).join("\n")

    const applied = await onDatabase(
      database,
      (sql) =>
        sql<{ readonly migration_id: number; readonly name: string }>`
        SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id, name`
    )
    assert.deepStrictEqual(
      applied.map((row) => `${row.migration_id}_${row.name}`),
      Object.keys(migrations),
      outputs
    )
    // One process applied them all; the other waited on the lock and found nothing to do.
    const appliers = pair.filter((instance) => instance.output().includes("Migrations applied"))
    assert.strictEqual(appliers.length, 1, outputs)
    assert.deepStrictEqual(outcomes, ["ready", "ready"], `both must become ready:\n${outputs}`)
  })
})

afterAll(() => {
  killAll()
  process.off("exit", killAll)
})
