/**
 * Issue 15: is the authenticated read path of the example API at least as
 * fast as the Fastify route a team would write instead?
 *
 * Every server is its own process on loopback, and all read the same row of
 * the same Postgres (`DATABASE_URL`, default
 * `postgresql://postgres@127.0.0.1:5432/test`) with the same bearer token:
 *
 * - `ours`: the example API (`GET /api/v1/items/{id}`), in-memory limiter,
 *   telemetry off; `ours+redis`: limiter, cache L2 and revocations on Redis
 *   (`BENCH_REDIS_URL`, default `redis://127.0.0.1:6379`);
 *   `ours+telemetry`: exporting OTLP/HTTP to a receiver in this process.
 * - `fastify-default`, `fastify-tuned`: `bench/load/peer-fastify.ts`, the
 *   second with fast-jwt's verified-token cache.
 * - `bare-httpapi`, `node-http`: an Effect `HttpApi` endpoint and bare
 *   `node:http` answering the same JSON from a constant: the floors.
 *
 * The load is autocannon in this process: `BENCH_CONNECTIONS` (50)
 * keep-alive connections, pipelining 1; a warm-up phase per server, then
 * `BENCH_ROUNDS` (3) rounds of `BENCH_SECONDS` (5) s per server, the servers
 * round-robin within each round, so a burst of other work on the machine
 * hits every server of one round and the median of the per-round ratios
 * shows it. Any answer but 200 is an error. Server CPU time per request
 * comes from /proc. The target (P1): ours at least as many requests/s as
 * fastify-tuned, and a p99 no worse.
 *
 * Usage: `./node_modules/.bin/node --conditions=@org/source bench/run.ts load`
 * (`BENCH_ONLY=ours,fastify-tuned` runs a subset; `BENCH_PROFILE=1` writes a
 * V8 CPU profile of `ours` and prints where, `BENCH_PROFILE=ours+telemetry`
 * one of that variant).
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import autocannon from "autocannon"
import type { Comparison } from "./harness.ts"
import {
  check,
  cpuMillis,
  type Fixture,
  keys,
  prepare,
  type Receiver,
  type Running,
  selectServers,
  spawnNode,
  startOurs,
  startReceiver,
  stop,
  waitReady
} from "./load/servers.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const warmup = Number(process.env.BENCH_WARMUP ?? Math.min(seconds, 3))
// "1" profiles `ours`; a server's name profiles that one (an `ours` variant).
const profiled = process.env.BENCH_PROFILE === "1" ? "ours" : process.env.BENCH_PROFILE
const profile = profiled !== undefined && profiled !== ""

const names = [
  "ours",
  "ours+redis",
  "ours+telemetry",
  "fastify-default",
  "fastify-tuned",
  "bare-httpapi",
  "node-http"
] as const
type Name = (typeof names)[number]

const selected = selectServers(names)

// ---------------------------------------------------------------------------
// One phase of load against one server.
// ---------------------------------------------------------------------------

interface Phase {
  readonly ok: number
  /** Anything but a 200: transport errors, timeouts, other statuses. */
  readonly errors: number
  readonly statuses: Record<string, number>
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** Server CPU ms spent in the phase, if known. */
  readonly cpu: number | undefined
}

const phase = async (server: Running, fixture: Fixture, duration: number): Promise<Phase> => {
  const cpuBefore = cpuMillis(server.child.pid)
  const result = await autocannon({
    url: `${server.origin}${fixture.path}`,
    connections,
    pipelining: 1,
    duration,
    headers: { authorization: fixture.authorization }
  })
  const cpuAfter = cpuMillis(server.child.pid)
  const statuses: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0
  const ok = statuses["200"] ?? 0
  const notOk = Object.entries(statuses).reduce((sum, [code, count]) => sum + (code === "200" ? 0 : count), 0)
  return {
    ok,
    errors: notOk + result.errors + result.timeouts,
    statuses,
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
  }
}

// ---------------------------------------------------------------------------
// Summaries and ratios.
// ---------------------------------------------------------------------------

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Summary {
  readonly rps: number
  readonly rounds: ReadonlyArray<number>
  /** Median over rounds of each round's percentile (autocannon's histograms are per phase). */
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly statuses: Record<string, number>
  /** Server CPU microseconds per request, if known. */
  readonly cpuPerRequest: number | undefined
}

const summarize = (phases: ReadonlyArray<Phase>): Summary => {
  const ok = phases.reduce((sum, p) => sum + p.ok, 0)
  const statuses: Record<string, number> = {}
  for (const p of phases)
    for (const [code, count] of Object.entries(p.statuses)) statuses[code] = (statuses[code] ?? 0) + count
  return {
    // Phases are equally long: the mean of the rates is the total rate.
    rps: phases.reduce((sum, p) => sum + p.rps, 0) / phases.length,
    rounds: phases.map((p) => p.rps),
    p50: median(phases.map((p) => p.p50)),
    p99: median(phases.map((p) => p.p99)),
    errors: phases.reduce((sum, p) => sum + p.errors, 0),
    statuses,
    cpuPerRequest: phases.every((p) => p.cpu !== undefined)
      ? (phases.reduce((sum, p) => sum + p.cpu!, 0) * 1000) / ok
      : undefined
  }
}

const printTable = (summaries: ReadonlyMap<Name, Summary>) => {
  const rows = [
    ["server", "req/s", "p50 ms", "p99 ms", "errors", "CPU us/req", "req/s per round"],
    ...[...summaries].map(([name, s]) => [
      name,
      Math.round(s.rps).toLocaleString("en"),
      s.p50.toFixed(1),
      s.p99.toFixed(1),
      s.errors === 0
        ? "0"
        : `${s.errors} (${Object.entries(s.statuses)
            .filter(([code]) => code !== "200")
            .map(([code, count]) => `${code}: ${count}`)
            .join(", ")})`,
      s.cpuPerRequest?.toFixed(0) ?? "?",
      s.rounds.map((r) => Math.round(r)).join(", ")
    ])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const row of rows) console.log(`load: ${row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")}`)
}

/** The ratios of one pair, in the harness's terms (time per request: lower is better). */
const pair = (
  summaries: ReadonlyMap<Name, Summary>,
  ours: Name,
  baseline: Name,
  target: number | undefined
): ReadonlyArray<Comparison> => {
  const a = summaries.get(ours)
  const b = summaries.get(baseline)
  if (a === undefined || b === undefined) return []
  const perRound = a.rounds.map((rps, i) => rps / b.rounds[i]!)
  const medianRatio = median(perRound)
  console.log(
    `load: ${ours}/${baseline}: req/s ${(a.rps / b.rps).toFixed(3)} (median of rounds ${medianRatio.toFixed(3)}; ` +
      `per round ${perRound.map((r) => r.toFixed(3)).join(", ")}), p99 ${(a.p99 / b.p99).toFixed(3)}` +
      (a.cpuPerRequest !== undefined && b.cpuPerRequest !== undefined
        ? `, CPU/request ${(a.cpuPerRequest / b.cpuPerRequest).toFixed(3)}`
        : "")
  )
  const withTarget = target === undefined ? {} : { target }
  const title = `load: GET /api/v1/items/{id}, ${connections} conns,`
  return [
    {
      title: `${title} time per request (total), ${ours} vs ${baseline}`,
      ours: { name: ours, nsPerOp: 1e9 / a.rps },
      baseline: { name: baseline, nsPerOp: 1e9 / b.rps },
      ...withTarget
    },
    {
      // The median ratio of the rounds, expressed against the baseline's total.
      title: `${title} time per request (median of rounds), ${ours} vs ${baseline}`,
      ours: { name: ours, nsPerOp: 1e9 / b.rps / medianRatio },
      baseline: { name: baseline, nsPerOp: 1e9 / b.rps },
      ...withTarget
    },
    // p99 is the issue's second bar: only against the Fastify peers.
    ...(baseline.startsWith("fastify")
      ? [
          {
            title: `${title} p99 latency, ${ours} vs ${baseline}`,
            ours: { name: ours, nsPerOp: a.p99 * 1e6 },
            baseline: { name: baseline, nsPerOp: b.p99 * 1e6 },
            ...withTarget
          }
        ]
      : []),
    ...(a.cpuPerRequest === undefined || b.cpuPerRequest === undefined
      ? []
      : [
          {
            title: `${title} server CPU per request, ${ours} vs ${baseline}`,
            ours: { name: ours, nsPerOp: a.cpuPerRequest * 1000 },
            baseline: { name: baseline, nsPerOp: b.cpuPerRequest * 1000 }
          }
        ])
  ]
}

// ---------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------

const script = (file: string) => join(import.meta.dirname, "load", file)

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const pair_ = keys()
  const servers = new Map<Name, Running>()
  let receiver: Receiver | undefined
  let setup: Running | undefined
  const profileDir = profile ? mkdtempSync(join(tmpdir(), "bench-load-profile-")) : undefined
  try {
    // The first example process migrates the database, creates the account,
    // token and item; the others start after it so no two migrate at once.
    // Without an `ours` variant, a throw-away one does the set-up.
    const oursNames = selected.filter((name) => name.startsWith("ours"))
    const first: Name = oursNames[0] ?? "ours"
    const startVariant = async (name: Name) => {
      if (name === "ours+telemetry") receiver = await startReceiver()
      return startOurs(name, {
        keys: pair_,
        redis: name === "ours+redis",
        ...(name === "ours+telemetry" && receiver !== undefined ? { otlpEndpoint: receiver.endpoint } : {}),
        ...(name === profiled && profileDir !== undefined ? { cpuProfileDir: profileDir } : {})
      })
    }
    setup = await startVariant(first)
    if (oursNames.length > 0) servers.set(first, setup)
    const fixture = await prepare(setup)
    if (oursNames.length === 0) {
      await stop(setup)
      setup = undefined
    }

    const peerEnv = { DATABASE_URL: process.env.DATABASE_URL ?? "", JWT_PUBLIC_KEY: pair_.publicKey }
    const bareEnv = { ITEM_JSON: fixture.body }
    await Promise.all(
      selected
        .filter((name) => !servers.has(name))
        .map(async (name) => {
          const server = name.startsWith("ours")
            ? await startVariant(name)
            : name === "fastify-default"
              ? await spawnNode(name, script("peer-fastify.ts"), peerEnv)
              : name === "fastify-tuned"
                ? await spawnNode(name, script("peer-fastify.ts"), { ...peerEnv, JWT_VERIFY_CACHE: "1" })
                : name === "bare-httpapi"
                  ? await spawnNode(name, script("bare-httpapi.ts"), bareEnv)
                  : await spawnNode(name, script("bare-node.ts"), bareEnv)
          servers.set(name, server)
          await waitReady(
            server,
            name.startsWith("ours") ? "/health/ready" : name.startsWith("fastify") ? "/health" : fixture.path
          )
        })
    )
    // Every server answers 200 and the example's JSON before any load; the
    // first read fills the caches ("read it once to warm the cache").
    for (const name of selected) await check(servers.get(name)!, fixture)

    console.log(
      `load: ${selected.join(", ")}; ${connections} connections, warm-up ${warmup} s, ${rounds} x ${seconds} s each`
    )
    for (const name of selected) await phase(servers.get(name)!, fixture, warmup)
    const phases = new Map<Name, Array<Phase>>(selected.map((name) => [name, []]))
    for (let round = 0; round < rounds; round++) {
      for (const name of selected) phases.get(name)!.push(await phase(servers.get(name)!, fixture, seconds))
    }

    const summaries = new Map<Name, Summary>(selected.map((name) => [name, summarize(phases.get(name)!)]))
    printTable(summaries)
    for (const [name, summary] of summaries) {
      if (summary.errors > 0) {
        console.log(
          `load: ${name}: ${summary.errors} requests did not answer 200\n${servers.get(name)!.output()}`
        )
      }
    }
    if (receiver !== undefined) {
      console.log(
        `load: OTLP received ${[...receiver.received].map(([path, r]) => `${path} ${r.requests} requests ${(r.bytes / 1024).toFixed(0)} KiB`).join(", ")}`
      )
    }
    return [
      ...pair(summaries, "ours", "fastify-tuned", 1),
      ...pair(summaries, "ours", "fastify-default", undefined),
      ...pair(summaries, "ours+redis", "fastify-tuned", undefined),
      ...pair(summaries, "ours+telemetry", "fastify-tuned", undefined),
      ...pair(summaries, "ours", "bare-httpapi", undefined),
      ...pair(summaries, "ours", "node-http", undefined),
      ...pair(summaries, "bare-httpapi", "node-http", undefined)
    ]
  } finally {
    await Promise.all([...servers.values()].map(stop))
    if (setup !== undefined) await stop(setup)
    await receiver?.close()
    if (profileDir !== undefined) console.log(`load: CPU profile of ${profiled} in ${profileDir}`)
  }
}
