/**
 * Embedded PGlite (issue 15, ADR 0013): item-create-like transactions per
 * second (BEGIN; INSERT an item of 8 columns; INSERT an outbox-like row;
 * COMMIT) from 8 concurrent fibers through `PgClient`, on
 * (a) PGlite on the main thread, as `PgEmbedded.layer()` serves it (replies
 *     corked),
 * (b) the same without corking (`PgEmbedded` before ADR 0013),
 * (c) Postgres at DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test;
 *     skipped if unreachable), a fresh database, `PgClient`'s default pool.
 * Each backend runs twice: bare, and with some application CPU per
 * transaction on the main thread (a 1 KB JSON document encoded and decoded
 * `APP_WORK` times before and after, default 8: a stand-in for the HTTP,
 * schema and Effect work of a request; its cost is printed). The cases take
 * turns, round after round, so drift on a shared machine hits them alike;
 * the table shows the median round.
 *
 * Then HTTP item creates per second (`POST /api/v1/items`, 8 keep-alive
 * connections, autocannon) against the example itself on (a), (b) and (c),
 * all running, taking turns; (b) is swapped in by a module hook (see
 * `standIn`). (A worker-thread variant was measured too, slower: ADR 0013;
 * it is in the history of this file and of `packages/sql/src/internal`.)
 *
 * Then the start-up of the example (`examples/api/src/main.ts`) on PGlite:
 * from spawning it until `GET /health/ready` answers 200, with a fresh data
 * directory and again on the same directory (one untimed start first, so
 * the file cache is warm for both).
 *
 * Usage: `./node_modules/.bin/node --conditions=@org/source bench/run.ts pglite`
 * (`ROUNDS=n`, `OPS=n`, `HTTP_SECONDS=n`, `HTTP_SAMPLES=n` change the sample
 * sizes; `TX=0`, `HTTP=0`, `STARTUP=0` skip a part).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import pg from "pg"
import * as PgliteInProcess from "../packages/sql/src/internal/pgliteInProcess.ts"
import * as PgEmbedded from "../packages/sql/src/PgEmbedded.ts"
import * as SqlTest from "../packages/sql/src/SqlTest.ts"
import type { Comparison, Result } from "./harness.ts"

// SqlTest.layer makes (and drops) a fresh database on this server.
process.env.DATABASE_URL ||= "postgresql://postgres@127.0.0.1:5432/test"
const writers = 8
const rounds = Number(process.env.ROUNDS ?? 7)
const ops = Number(process.env.OPS ?? 200)
const appWork = Number(process.env.APP_WORK ?? 8)
const httpSeconds = Number(process.env.HTTP_SECONDS ?? 4)
const httpSamples = Number(process.env.HTTP_SAMPLES ?? 3)

// About 1 KB of JSON, the size of a small request and its response.
const document = {
  id: "0b7e4f0e-7d0e-4c39-9c55-0d3f5f0d2a11",
  name: "Socket wrench, 3/8 inch drive, chrome vanadium",
  description: "A ratcheting socket wrench with a quick-release button and a 72-tooth mechanism. ".repeat(7),
  price: "19.99",
  quantity: 12,
  tags: ["tools", "hand tools", "wrenches", "metric", "imperial"],
  owner: { id: "2f1c7a4e-5b1d-4a8e-9f3b-6c2d1e0f9a87", email: "owner@example.com", roles: ["user"] },
  createdAt: "2026-12-04T08:00:00.000Z",
  updatedAt: "2026-12-04T08:00:00.000Z",
  version: 1
}
const burnCpu = (times: number) => {
  let n = 0
  for (let i = 0; i < times; i++) n += (JSON.parse(JSON.stringify(document)) as typeof document).quantity
  return n
}

type Database = Layer.Layer<SqlClient.SqlClient, unknown>

interface Backend {
  readonly name: string
  readonly layer: Database
}

const median = (samples: ReadonlyArray<number>) =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? Number.NaN

const throughput = async (backends: ReadonlyArray<Backend>) => {
  const scope = Scope.makeUnsafe()
  try {
    const suffix = randomUUID().slice(0, 8)
    const items = `bench_items_${suffix}`
    const outbox = `bench_outbox_${suffix}`
    const open = await Promise.all(
      backends.map(async (backend) => {
        const context = await Effect.runPromise(Scope.provide(Layer.build(backend.layer), scope))
        const sql = Context.get(context, SqlClient.SqlClient)
        await Effect.runPromise(
          Effect.gen(function* () {
            yield* sql`CREATE TABLE ${sql(items)} (id uuid PRIMARY KEY, name text NOT NULL,
              price numeric(12, 2) NOT NULL, quantity integer NOT NULL, owner_id uuid NOT NULL,
              created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version integer NOT NULL)`
            yield* sql`CREATE TABLE ${sql(outbox)} (id uuid PRIMARY KEY, aggregate_id text NOT NULL,
              type text NOT NULL, payload jsonb NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(),
              attempts integer NOT NULL DEFAULT 0)`
          })
        )
        return { backend, sql }
      })
    )
    const payload = JSON.stringify(document)
    const transaction = (sql: SqlClient.SqlClient, work: number) =>
      Effect.gen(function* () {
        burnCpu(work)
        yield* sql.withTransaction(
          Effect.gen(function* () {
            const id = randomUUID()
            yield* sql`INSERT INTO ${sql(items)} (id, name, price, quantity, owner_id, created_at, updated_at, version)
              VALUES (${id}, ${"widget"}, ${"9.99"}, ${3}, ${id}, now(), now(), 1)`
            yield* sql`INSERT INTO ${sql(outbox)} (id, aggregate_id, type, payload)
              VALUES (${randomUUID()}, ${id}, ${"ItemCreated"}, ${payload}::jsonb)`
          })
        )
        burnCpu(work)
      })
    const batch = (sql: SqlClient.SqlClient, work: number) => (count: number) =>
      Effect.runPromise(
        Effect.forEach(Array.from({ length: count }), () => transaction(sql, work), {
          concurrency: writers,
          discard: true
        })
      )
    const cases = open.flatMap(({ backend, sql }) => [
      { name: `${backend.name}, bare`, batch: batch(sql, 0) },
      { name: `${backend.name}, app work`, batch: batch(sql, appWork) }
    ])
    for (const c of cases) await c.batch(50)
    const samples: Array<Array<number>> = cases.map(() => [])
    for (let round = 0; round < rounds; round++) {
      for (const [i, c] of cases.entries()) {
        const start = performance.now()
        await c.batch(ops)
        samples[i]!.push(((performance.now() - start) * 1e6) / ops)
      }
    }
    // What the app work alone costs on this machine, per transaction.
    const cpuStart = performance.now()
    for (let i = 0; i < 200; i++) burnCpu(2 * appWork)
    const cpuPerTx = ((performance.now() - cpuStart) * 1000) / 200
    console.log(
      `pglite: app work = ${2 * appWork} JSON round trips of ${payload.length} B = ${cpuPerTx.toFixed(0)} us of main-thread CPU per transaction`
    )
    for (const { sql } of open) await Effect.runPromise(sql`DROP TABLE ${sql(items)}, ${sql(outbox)}`)
    const results = cases.map((c, i): Result => ({ name: c.name, nsPerOp: median(samples[i]!) }))
    for (const r of results) {
      console.log(`pglite: ${r.name}: ${(1e9 / r.nsPerOp).toFixed(0)} transactions/s (${writers} fibers)`)
    }
    return results
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const main = fileURLToPath(new URL("../examples/api/src/main.ts", import.meta.url))

interface Example {
  readonly origin: string
  readonly pid: number
  /** Milliseconds from spawn to the first 200 of /health/ready. */
  readonly readyAfter: number
  /** SIGTERM; SIGKILL after 15 s. */
  readonly stop: () => Promise<void>
}

/** Spawns the example as `pnpm start` runs it and waits until /health/ready answers 200. */
const startExample = async (
  env: Record<string, string>,
  nodeArgs: ReadonlyArray<string> = []
): Promise<Example> => {
  const port = await freePort()
  const inherited: Record<string, string | undefined> = { ...process.env }
  for (const key of Object.keys(inherited)) if (key.startsWith("OTEL_")) delete inherited[key]
  const started = performance.now()
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, "--conditions=@org/source", main], {
    env: {
      ...inherited,
      DATABASE_URL: "",
      REDIS_URL: "",
      NATS_URL: "",
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      // The limiter runs on every request but never refuses.
      RATE_LIMIT: "1000000/second",
      AUTH_RATE_LIMIT: "1000000/second",
      ...env
    },
    stdio: ["ignore", "ignore", "inherit"]
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const stop = async () => {
    if (child.exitCode !== null) return
    child.kill("SIGTERM")
    const code = await Promise.race([exited, sleep(15_000).then(() => "timeout" as const)])
    if (code === "timeout") {
      child.kill("SIGKILL")
      console.log("pglite: the example did not stop within 15 s of SIGTERM")
    } else if (code !== 0) console.log(`pglite: the example exited with ${code} on SIGTERM`)
  }
  const origin = `http://127.0.0.1:${port}`
  const deadline = started + 60_000
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the example exited with ${child.exitCode}`)
    const status = await fetch(`${origin}/health/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.status,
      () => 0
    )
    if (status === 200) return { origin, pid: child.pid ?? 0, readyAfter: performance.now() - started, stop }
    await sleep(5)
  }
  await stop()
  throw new Error("the example did not become ready within 60 s")
}

const startUps = async () => {
  const root = mkdtempSync(join(tmpdir(), "pglite-bench-"))
  const timed = async (
    dir: string,
    env: Record<string, string> = {},
    nodeArgs: ReadonlyArray<string> = []
  ) => {
    const example = await startExample({ ...env, DATA_DIR: dir }, nodeArgs)
    await example.stop()
    return example.readyAfter
  }
  try {
    await timed(join(root, "warm-up"))
    const fresh: Array<number> = []
    const again: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const dir = join(root, `run-${i}`)
      fresh.push(await timed(dir))
      again.push(await timed(dir))
    }
    const ms = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(0)).join(", ")
    console.log(
      `pglite: example ready on PGlite, fresh data dir: ${ms(fresh)} ms (median ${median(fresh).toFixed(0)})`
    )
    console.log(
      `pglite: example ready on PGlite, same data dir again: ${ms(again)} ms (median ${median(again).toFixed(0)})`
    )
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

// CPU seconds (all threads) of a process so far, from /proc.
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// The example on another construction of PGlite: a module hook hands
// `PgDatabase.loadEmbedded` a stand-in for `PgEmbedded`:
// `internal/pgliteInProcess.ts` without corking, as before ADR 0013.
const internalUrl = (file: string) => new URL(`../packages/sql/src/internal/${file}`, import.meta.url).href
const standIn = `import * as InProcess from ${JSON.stringify(internalUrl("pgliteInProcess.ts"))}
export const maxConnections = 1
export const layer = (options = {}) => InProcess.layer({ ...options, cork: false })`
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === "./PgEmbedded.ts" && context.parentURL?.endsWith("/packages/sql/src/PgDatabase.ts"))
    return { url: ${JSON.stringify(`data:text/javascript,${encodeURIComponent(standIn)}`)}, shortCircuit: true }
  return next(specifier, context)
}`
const standInArgs = [
  "--import",
  `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)})`)}`
]

interface Target {
  readonly name: string
  readonly env: Record<string, string>
  readonly nodeArgs?: ReadonlyArray<string>
}

/**
 * POST /api/v1/items from `writers` keep-alive connections: every example
 * runs at once (idle but one), and they take turns, `httpSamples` rounds of
 * `httpSeconds` each. Creates per second (201s only) and server CPU per
 * create (all threads, from /proc), medians of the rounds.
 */
const httpCreates = async (targets: ReadonlyArray<Target>): Promise<Array<Result>> => {
  const examples: Array<Example> = []
  try {
    const prepared: Array<{ target: Target; example: Example; authorization: string }> = []
    for (const target of targets) {
      const example = await startExample(target.env, target.nodeArgs)
      examples.push(example)
      const json = async (path: string, body: unknown) => {
        const response = await fetch(`${example.origin}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body)
        })
        return { status: response.status, body: (await response.json()) as { access_token?: string } }
      }
      const email = `bench-${randomUUID()}@example.test`
      const password = "Correct-Horse-Battery-Staple-42"
      const registered = await json("/api/v1/auth/register", { email, password })
      if (registered.status !== 201) throw new Error(`${target.name}: register answered ${registered.status}`)
      const login = await json("/api/v1/auth/login", { email, password })
      if (login.status !== 200) throw new Error(`${target.name}: login answered ${login.status}`)
      prepared.push({ target, example, authorization: `Bearer ${login.body.access_token}` })
    }
    const once = (at: (typeof prepared)[number], seconds: number) =>
      new Promise<{ perSecond: number; cpuPerCreate: number; errors: number }>((resolve, reject) => {
        const cpuBefore = cpuSeconds(at.example.pid)
        autocannon(
          {
            url: `${at.example.origin}/api/v1/items`,
            method: "POST",
            connections: writers,
            duration: seconds,
            headers: { authorization: at.authorization, "content-type": "application/json" },
            body: JSON.stringify({
              name: "Saw",
              description: "A hand saw for wood",
              price: 12.5,
              quantity: 3
            })
          },
          (error, result) => {
            if (error !== null && error !== undefined) return reject(error)
            const created = result["2xx"]
            resolve({
              perSecond: created / seconds,
              cpuPerCreate:
                created === 0 ? Number.NaN : ((cpuSeconds(at.example.pid) - cpuBefore) * 1e6) / created,
              errors: result.non2xx + result.errors
            })
          }
        )
      })
    for (const at of prepared) await once(at, 2)
    const samples = prepared.map(
      () => [] as Array<{ perSecond: number; cpuPerCreate: number; errors: number }>
    )
    for (let round = 0; round < httpSamples; round++) {
      for (const [i, at] of prepared.entries()) samples[i]!.push(await once(at, httpSeconds))
    }
    return prepared.map(({ target }, i) => {
      const perSecond = median(samples[i]!.map((s) => s.perSecond))
      const cpu = median(samples[i]!.map((s) => s.cpuPerCreate))
      const errors = samples[i]!.reduce((n, s) => n + s.errors, 0)
      console.log(
        `pglite: HTTP item creates, example on ${target.name}: ${perSecond.toFixed(0)}/s ` +
          `(rounds: ${samples[i]!.map((s) => s.perSecond.toFixed(0)).join(", ")}), ` +
          `server CPU ${cpu.toFixed(0)} us per create${errors === 0 ? "" : `, ${errors} errors`}`
      )
      return { name: `example on ${target.name}`, nsPerOp: 1e9 / perSecond } satisfies Result
    })
  } finally {
    for (const example of examples) await example.stop()
  }
}

// A database of its own on the DATABASE_URL server for the example's tables.
const withDatabase = async <A>(use: (url: string) => Promise<A>): Promise<A> => {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `bench_pglite_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  await admin.query(`CREATE DATABASE ${name}`)
  try {
    const url = new URL(process.env.DATABASE_URL!)
    url.pathname = `/${name}`
    return await use(url.toString())
  } finally {
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`)
    await admin.end()
  }
}

const isPostgres = () =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Layer.build(SqlTest.layer), (context) => Effect.provideContext(SqlTest.backend, context))
    ).pipe(
      Effect.map((backend) => backend === "postgres"),
      Effect.catchCause(() => Effect.succeed(false))
    )
  )

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const backends: Array<Backend> = [
    { name: "PGlite main thread", layer: PgEmbedded.layer() },
    { name: "PGlite main thread, uncorked", layer: PgliteInProcess.layer({ cork: false }) }
  ]
  // SqlTest falls back to PGlite when the server is unreachable: check.
  const postgres = await isPostgres()
  if (postgres) backends.push({ name: "Postgres", layer: SqlTest.layer })
  else console.log(`pglite: Postgres at DATABASE_URL is unreachable: its cases are skipped`)
  const results = process.env.TX === "0" ? [] : await throughput(backends)
  const find = (name: string) => results.find((r) => r.name === name)
  const comparisons: Array<Comparison> = []
  const pair = (title: string, ours: string, baseline: string) => {
    const a = find(ours)
    const b = find(baseline)
    if (a !== undefined && b !== undefined) comparisons.push({ title, ours: a, baseline: b })
  }
  for (const mode of ["bare", "app work"]) {
    pair(
      `pglite tx (${mode}): corked vs uncorked`,
      `PGlite main thread, ${mode}`,
      `PGlite main thread, uncorked, ${mode}`
    )
    pair(`pglite tx (${mode}): main thread vs Postgres`, `PGlite main thread, ${mode}`, `Postgres, ${mode}`)
  }
  if (process.env.HTTP !== "0") {
    const root = mkdtempSync(join(tmpdir(), "pglite-bench-http-"))
    const run = async (postgresUrl: string | undefined) => {
      const targets: Array<Target> = [
        { name: "PGlite main thread", env: { DATA_DIR: join(root, "main") } },
        {
          name: "PGlite main thread, uncorked",
          env: { DATA_DIR: join(root, "uncorked") },
          nodeArgs: standInArgs
        }
      ]
      if (postgresUrl !== undefined)
        targets.push({
          name: "Postgres",
          env: { DATA_DIR: join(root, "postgres"), DATABASE_URL: postgresUrl }
        })
      const [main, uncorked, onPostgres] = await httpCreates(targets)
      comparisons.push({
        title: "HTTP item creates: PGlite corked vs uncorked",
        ours: main!,
        baseline: uncorked!
      })
      if (onPostgres !== undefined) {
        comparisons.push({
          title: "HTTP item creates: PGlite vs Postgres",
          ours: main!,
          baseline: onPostgres
        })
      }
    }
    try {
      await (postgres ? withDatabase(run) : run(undefined))
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }
  if (process.env.STARTUP !== "0") await startUps()
  return comparisons
}
