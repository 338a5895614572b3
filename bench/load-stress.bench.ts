/**
 * Issue 16, load tests: the stress test. The authenticated item read
 * (`GET /api/v1/items/{id}` with a bearer token, the cache warm) at rising
 * concurrency, to find where each server stops gaining throughput:
 *
 * - `ours`: the example API on Postgres (`DATABASE_URL`, default
 *   `postgresql://postgres@127.0.0.1:5432/test`), limiter, cache and
 *   revocations in memory, rate limits raised, telemetry off;
 *   `ours+redis`: the same on Redis (`BENCH_REDIS_URL`, default
 *   `redis://127.0.0.1:6379`).
 * - The baselines, in the same run: `bare-httpapi` (one Effect `HttpApi`
 *   route) and `node-http` (bare `node:http`), both answering the same JSON
 *   from a constant.
 *
 * Levels: `STRESS_LEVELS` connections (default 1,4,16,64,128,256), each a
 * phase of `BENCH_SECONDS` (4) s per server after a warm-up phase per server
 * (`BENCH_WARMUP`, 2 s at 16 connections); the servers take turns within
 * each level, so a burst of other work on the machine hits all of them.
 * Pipelining 1, autocannon in this process, latencies of the 200s to the
 * microsecond; any answer but 200, a transport error or a timeout is an
 * error.
 *
 * The knee of a server: the fewest connections at which its requests/s come
 * within 10% of its peak (the best level below the first with errors):
 * beyond it, more connections gain less than 10% and add latency only (by
 * Little's law p99 then grows about as the connections do). At the top
 * level it is "not reached": throughput was still rising. Errors end the
 * search: the first level with any is printed beside the knee. (A rule on
 * neighbouring levels, "gains < 10% while p99 grows > 2x", was tried first:
 * one noisy phase on a shared machine moved it by several levels.)
 *
 * Comparisons (no targets): time per request at each server's peak
 * throughput, and p99 at the first level, ours and ours+redis against each
 * baseline.
 *
 * Usage: `pnpm bench load-stress` (`BENCH_ONLY=ours,node-http` runs a
 * subset; `STRESS_LEVELS=1,16,64 BENCH_SECONDS=2` a short check).
 */
import { join } from "node:path"
import type { Comparison } from "./harness.ts"
import {
  check,
  keys,
  type LoadPhase,
  loadPhase,
  type Running,
  selectServers,
  spawnNode,
  startFirst,
  startOurs,
  stop,
  waitReady
} from "./load/servers.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? 4)
const warmup = Number(process.env.BENCH_WARMUP ?? 2)
const levels = (process.env.STRESS_LEVELS ?? "1,4,16,64,128,256")
  .split(",")
  .map((level) => Number(level.trim()))
  .filter((level) => Number.isInteger(level) && level > 0)
if (levels.length === 0) throw new Error("STRESS_LEVELS: no level (a comma list of connection counts)")

const names = ["ours", "ours+redis", "bare-httpapi", "node-http"] as const
type Name = (typeof names)[number]
const selected = selectServers(names)

const gain = 1.1

/** The knee and the peak (indices into `phases`, one per level), and the first level with errors (or -1). */
const knee = (phases: ReadonlyArray<LoadPhase>) => {
  const firstError = phases.findIndex((p) => p.errors > 0)
  const clean = firstError === -1 ? phases : phases.slice(0, firstError)
  if (clean.length === 0) return { knee: 0, peak: 0, firstError }
  const peak = clean.reduce((top, p, i) => (p.rps > clean[top]!.rps ? i : top), 0)
  return { knee: clean.findIndex((p) => p.rps * gain >= clean[peak]!.rps), peak, firstError }
}

const script = (file: string) => join(import.meta.dirname, "load", file)

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const servers = new Map<Name, Running>()
  try {
    // The first example process migrates, registers and creates the item;
    // the others start after it (no two migrate at once).
    const pair = keys()
    const { fixture, kept } = await startFirst(pair, selected.includes("ours"))
    if (kept !== undefined) servers.set("ours", kept)
    const bareEnv = { ITEM_JSON: fixture.body }
    await Promise.all(
      selected
        .filter((name) => !servers.has(name))
        .map(async (name) => {
          const server =
            name === "ours+redis"
              ? await startOurs(name, { keys: pair, redis: true })
              : name === "bare-httpapi"
                ? await spawnNode(name, script("bare-httpapi.ts"), bareEnv)
                : await spawnNode(name, script("bare-node.ts"), bareEnv)
          servers.set(name, server)
          await waitReady(server, name.startsWith("ours") ? "/health/ready" : fixture.path)
        })
    )
    // Every server answers 200 and the item's JSON; the first read warms the caches.
    for (const name of selected) await check(servers.get(name)!, fixture)

    const load = (name: Name, connections: number, duration: number) =>
      loadPhase(servers.get(name)!, {
        path: fixture.path,
        authorization: fixture.authorization,
        connections,
        seconds: duration
      })
    console.log(
      `load-stress: ${selected.join(", ")}; levels ${levels.join(", ")} connections, ${seconds} s each, warm-up ${warmup} s`
    )
    if (warmup > 0) for (const name of selected) await load(name, 16, warmup)
    const phases = new Map<Name, Array<LoadPhase>>(selected.map((name) => [name, []]))
    for (const level of levels) {
      for (const name of selected) phases.get(name)!.push(await load(name, level, seconds))
    }

    const rows = [
      ["server", "conns", "req/s", "p50 ms", "p99 ms", "errors", "CPU us/req"],
      ...selected.flatMap((name) =>
        phases.get(name)!.map((p, i) => [
          name,
          String(levels[i]),
          Math.round(p.rps).toLocaleString("en"),
          p.p50.toFixed(2),
          p.p99.toFixed(2),
          p.errors === 0
            ? "0"
            : `${p.errors} (${Object.entries(p.statuses)
                .filter(([code]) => code !== "200")
                .map(([code, count]) => `${code}: ${count}`)
                .join(", ")})`,
          p.cpu === undefined || p.ok === 0 ? "?" : ((p.cpu * 1000) / p.ok).toFixed(0)
        ])
      )
    ]
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
    for (const row of rows)
      console.log(`load-stress: ${row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")}`)

    const peaks = new Map<Name, { rps: number; level: number }>()
    for (const name of selected) {
      const list = phases.get(name)!
      const k = knee(list)
      const best = list[k.peak]!
      const top = list.length - 1
      peaks.set(name, { rps: best.rps, level: levels[k.peak]! })
      console.log(
        `load-stress: ${name}: peak ${Math.round(best.rps).toLocaleString("en")} req/s at ${levels[k.peak]} connections; ` +
          (k.knee === top && k.firstError === -1
            ? `knee not reached (still gaining at ${levels[top]} connections)`
            : `knee at ${levels[k.knee]} connections (${Math.round(list[k.knee]!.rps).toLocaleString("en")} req/s, ` +
              `p99 ${list[k.knee]!.p99.toFixed(2)} ms; at ${levels[top]} connections p99 ${list[top]!.p99.toFixed(2)} ms)`) +
          (k.firstError === -1 ? "" : `; errors from ${levels[k.firstError]} connections`)
      )
      if (list.some((p) => p.errors > 0))
        console.log(`load-stress: ${name}: server output\n${servers.get(name)!.output()}`)
    }

    const pair_ = (ours: Name, baseline: Name): ReadonlyArray<Comparison> => {
      const a = peaks.get(ours)
      const b = peaks.get(baseline)
      if (a === undefined || b === undefined) return []
      const first = (name: Name) => phases.get(name)![0]!
      return [
        {
          title: `load-stress: GET /api/v1/items/{id}, time per request at peak throughput, ${ours} (${a.level} conns) vs ${baseline} (${b.level} conns)`,
          ours: { name: ours, nsPerOp: 1e9 / a.rps },
          baseline: { name: baseline, nsPerOp: 1e9 / b.rps }
        },
        ...(first(baseline).p99 > 0
          ? [
              {
                title: `load-stress: GET /api/v1/items/{id}, p99 latency at ${levels[0]} conns, ${ours} vs ${baseline}`,
                ours: { name: ours, nsPerOp: first(ours).p99 * 1e6 },
                baseline: { name: baseline, nsPerOp: first(baseline).p99 * 1e6 }
              }
            ]
          : [])
      ]
    }
    return [
      ...pair_("ours", "bare-httpapi"),
      ...pair_("ours", "node-http"),
      ...pair_("ours+redis", "bare-httpapi"),
      ...pair_("ours+redis", "node-http")
    ]
  } finally {
    await Promise.all([...servers.values()].map(stop))
  }
}
