/**
 * A bounded soak of the example API (issues 15 and 16): authenticated reads
 * of one item (`GET /api/v1/items/{id}` with a bearer token, the cache warm,
 * `BENCH_CONNECTIONS` (50) keep-alive connections, autocannon in this
 * process) against one process at a time, as `pnpm start` runs it (Postgres
 * at `DATABASE_URL`, rate limits raised, telemetry off). Variants
 * (`SOAK_VARIANTS`, default all): `ours` (limiter, cache, revocations in
 * memory), `ours+redis` (on Redis, `BENCH_REDIS_URL`), and `node-http`, bare
 * `node:http` answering the same JSON from a constant under the same load:
 * the control for the event-loop delay.
 *
 * Bounds: `SOAK_SECONDS` (120) and `SOAK_REQUESTS` (1,000,000) per variant,
 * whichever comes first, as one load without a pause. It is sampled every
 * `SOAK_SAMPLE_SECONDS` (5): the resident set (`VmRSS` of
 * /proc/<pid>/status) and the event-loop delay of the window since the last
 * sample, from a `perf_hooks` histogram (10 ms resolution) preloaded into
 * every server alike (`probeNodeArgs` of `bench/load/servers.ts`; `ours`
 * also exports its own gauge on `/metrics`, 10 s windows, printed beside it
 * as a cross-check). The warm-up is the windows up to the first that ends
 * after 100,000 answers (a tenth of the count, if less) or half the time:
 * V8 grows the heap it keeps under this load over about that many requests
 * (a shorter run measures that growth, not a leak). The windows after it
 * are the soak proper. Any answer but 200 is an error.
 *
 * The targets, for `ours` and `ours+redis`:
 * - memory: RSS at the end of the last window within 10% of RSS at the end
 *   of the warm-up, both under load (a leak shows as a resident set that
 *   keeps growing once the process is warm; RSS at rest before and a second
 *   after the load are printed too);
 * - event-loop delay: the p99 of the last third of the soak proper (the
 *   median of its windows' p99s) at most 2x that of the first third, each
 *   taken as the delay beyond the 10 ms timer step, the first third's at
 *   least 1 ms (below that, scheduler noise of a shared machine);
 * - no answer but 200; and fewer than two windows after the warm-up fails:
 *   too short to judge.
 * `node-http`'s own figures and ours against it are printed without targets.
 *
 * Usage: `pnpm bench soak` (`SOAK_SECONDS=20 SOAK_VARIANTS=ours,node-http`
 * for a short check).
 */
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import type { Comparison } from "./harness.ts"
import {
  check,
  type DelayWindow,
  type Fixture,
  keys,
  type LoadPhase,
  loadPhase,
  prepare,
  probe,
  probeNodeArgs,
  probeResolution,
  type Running,
  rssKiB,
  scrapeGauge,
  selectServers,
  spawnNode,
  startOurs,
  stop,
  waitReady
} from "./load/servers.ts"

const total = Number(process.env.SOAK_REQUESTS ?? 1_000_000)
const soakSeconds = Number(process.env.SOAK_SECONDS ?? 120)
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const warmRequests = Math.max(connections, Math.min(100_000, Math.floor(total / 10)))
// Long enough for V8 to grow the heap it keeps under this load: about 100,000 requests.
const warmSeconds = soakSeconds / 2

const names = ["ours", "ours+redis", "node-http"] as const
type Name = (typeof names)[number]
const selected = selectServers(names, "SOAK_VARIANTS")

const rssTarget = 1.1
const delayTarget = 2
const delayFloor = 1

interface Sample {
  /** Seconds since the load started, at the window's start and end. */
  readonly start: number
  readonly end: number
  /** Answers so far, at the window's end. */
  readonly answers: number
  readonly rssKiB: number
  readonly delay: DelayWindow
  /** `nodejs_eventloop_delay_p99_seconds` of `/metrics` in ms (ours only). */
  readonly gauge: number | undefined
}

interface Soak {
  readonly load: LoadPhase
  /** RSS at rest: before the load, and a second after it. */
  readonly rssBefore: number
  readonly rssAfter: number
  /** Every full window, the warm-up's included. */
  readonly samples: ReadonlyArray<Sample>
  /** The windows of the soak proper (after the warm-up). */
  readonly soaked: ReadonlyArray<Sample>
  /** The last window of the warm-up, if any. */
  readonly warm: Sample | undefined
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The median per-window p99 (excess) of the first and last thirds of the soak proper. */
const thirds = (soaked: ReadonlyArray<Sample>) => {
  if (soaked.length < 2) return undefined
  const from = soaked[0]!.start
  const span = soaked[soaked.length - 1]!.end - from
  const first = soaked.filter((s) => s.start - from < span / 3).map((s) => s.delay.excessP99)
  const last = soaked.filter((s) => s.end - from > (2 * span) / 3).map((s) => s.delay.excessP99)
  return { first: median(first), last: median(last), all: median(soaked.map((s) => s.delay.excessP99)) }
}

/**
 * One load without a pause, sampled every window: a pause between the
 * warm-up and the soak lets V8 shrink the heap when idle and grow it back
 * after, which reads as growth that is not there.
 */
const soak = async (server: Running, fixture: Fixture, metricsToken: string | undefined): Promise<Soak> => {
  const delays = probe(server)
  // The RSS a second after the load stops: in-flight work settles, nothing is forced.
  const rssAtRest = async () => {
    await sleep(1000)
    const kib = rssKiB(server.child.pid)
    if (kib === undefined) throw new Error("soak: no /proc/<pid>/status to read the RSS from")
    return kib
  }
  const rssBefore = await rssAtRest()
  // The first window starts with the load.
  await delays.window()
  let answers = 0
  let running = true
  const started = performance.now()
  const load = loadPhase(server, {
    path: fixture.path,
    authorization: fixture.authorization,
    connections,
    seconds: soakSeconds,
    amount: Math.max(connections, total),
    onAnswer: () => {
      answers++
    }
  }).finally(() => {
    running = false
  })
  const samples: Array<Sample> = []
  const sampler = (async () => {
    let start = 0
    for (;;) {
      const deadline = started + (start + sampleSeconds) * 1000
      while (running && performance.now() < deadline) await sleep(Math.min(200, deadline - performance.now()))
      // A window cut short by the end of the load is not one under load all along.
      if (!running) return
      const delay = await delays.window()
      const end = (performance.now() - started) / 1000
      const sampledAnswers = answers
      const kib = rssKiB(server.child.pid) ?? 0
      const gauge =
        metricsToken === undefined
          ? undefined
          : await scrapeGauge(server, "nodejs_eventloop_delay_p99_seconds", metricsToken)
      samples.push({
        start,
        end,
        answers: sampledAnswers,
        rssKiB: kib,
        delay,
        gauge: gauge === undefined ? undefined : gauge * 1000
      })
      start = end
    }
  })()
  const result = await load
  await sampler
  const warmEnd = samples.findIndex((w) => w.answers >= warmRequests || w.end >= warmSeconds)
  return {
    load: result,
    rssBefore,
    rssAfter: await rssAtRest(),
    samples,
    soaked: warmEnd === -1 ? [] : samples.slice(warmEnd + 1),
    warm: warmEnd === -1 ? undefined : samples[warmEnd]
  }
}

const script = (file: string) => join(import.meta.dirname, "load", file)
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const pair = keys()
  const metricsToken = randomUUID()
  const start = (name: Name, fixture: Fixture) =>
    name === "node-http"
      ? spawnNode(name, script("bare-node.ts"), { ITEM_JSON: fixture.body }, probeNodeArgs())
      : startOurs(name, {
          keys: pair,
          redis: name === "ours+redis",
          nodeArgs: probeNodeArgs(),
          env: { METRICS_TOKEN: metricsToken }
        })
  // The account, token and item come from a first example process (it migrates the database).
  const setup = await startOurs("soak-setup", { keys: pair })
  const fixture = await prepare(setup).finally(() => stop(setup))
  console.log(
    `soak: ${selected.join(", ")}; ${connections} connections, ${soakSeconds} s or ${total.toLocaleString("en")} requests each ` +
      `(warm-up ${warmSeconds} s or ${warmRequests.toLocaleString("en")} requests), windows of ${sampleSeconds} s`
  )
  const results = new Map<Name, Soak>()
  for (const name of selected) {
    const server = await start(name, fixture)
    try {
      await waitReady(server, name === "node-http" ? fixture.path : "/health/ready")
      await check(server, fixture)
      const s = await soak(server, fixture, name === "node-http" ? undefined : metricsToken)
      results.set(name, s)
      const { ok, errors, seconds } = s.load
      const t = thirds(s.soaked)
      const last = s.soaked[s.soaked.length - 1]
      console.log(
        `soak: ${name}: ${ok.toLocaleString("en")} requests answered 200, ${errors} errors, ` +
          `${Math.round(ok / seconds).toLocaleString("en")} req/s over ${seconds.toFixed(0)} s; ` +
          `RSS ${mib(s.rssBefore)} before the load` +
          (s.warm === undefined || last === undefined
            ? ""
            : `, ${mib(s.warm.rssKiB)} after the warm-up (${s.warm.end.toFixed(0)} s, ` +
              `${s.warm.answers.toLocaleString("en")} requests), ${mib(last.rssKiB)} at the end ` +
              `(${(last.rssKiB / s.warm.rssKiB).toFixed(3)}x)`) +
          `, ${mib(s.rssAfter)} a second after the load` +
          (t === undefined
            ? "; too short for the soak proper (fewer than 2 windows after the warm-up)"
            : `; event-loop delay p99 beyond ${probeResolution} ms: first third ${t.first.toFixed(2)} ms, ` +
              `last third ${t.last.toFixed(2)} ms (${(t.last / Math.max(t.first, delayFloor)).toFixed(2)}x)`)
      )
      console.log(
        `soak: ${name}: per ${sampleSeconds} s window (end s: RSS MiB / probe p99 ms / max ms${name === "node-http" ? "" : " / /metrics p99 ms"}), warm-up up to ${s.warm?.end.toFixed(0) ?? "-"} s: ` +
          s.samples
            .map(
              (w) =>
                `${w.end.toFixed(0)}: ${(w.rssKiB / 1024).toFixed(0)}/${w.delay.p99.toFixed(1)}/${w.delay.max.toFixed(0)}` +
                (w.gauge === undefined ? "" : `/${w.gauge.toFixed(1)}`)
            )
            .join(", ")
      )
      if (errors > 0) {
        console.log(`soak: ${name}: statuses ${JSON.stringify(s.load.statuses)}\n${server.output()}`)
      }
    } finally {
      await stop(server)
    }
  }

  const comparisons: Array<Comparison> = []
  const control = results.get("node-http")
  const controlThirds = control === undefined ? undefined : thirds(control.soaked)
  for (const [name, s] of results) {
    const targeted = name !== "node-http"
    const withTarget = (target: number) => (targeted ? { target } : {})
    if (targeted) {
      comparisons.push({
        // Errors over 1 with a target of 0: passes at 0 errors only.
        title: `soak: ${name}, answers other than 200 (count shown as ns; target 0)`,
        ours: { name: "errors", nsPerOp: s.load.errors },
        baseline: { name: "unit", nsPerOp: 1 },
        target: 0
      })
    }
    const last = s.soaked[s.soaked.length - 1]
    if (s.warm !== undefined && last !== undefined) {
      comparisons.push({
        // The harness prints ns; RSS goes in as kB, so "us" reads as MB.
        title: `soak: ${name}, server RSS at the end vs after the warm-up, under load (MB shown as "us")`,
        ours: { name: "end", nsPerOp: (last.rssKiB * 1024) / 1000 },
        baseline: { name: "warm", nsPerOp: (s.warm.rssKiB * 1024) / 1000 },
        ...withTarget(rssTarget)
      })
    }
    const t = thirds(s.soaked)
    if (t === undefined) {
      // Too short to judge is not a pass.
      if (targeted) {
        comparisons.push({
          title: `soak: ${name}, fewer than 2 windows after the warm-up (SOAK_SECONDS too short; count shown as ns)`,
          ours: { name: "windows", nsPerOp: s.soaked.length },
          baseline: { name: "needed", nsPerOp: 2 },
          target: 0
        })
      }
      continue
    }
    comparisons.push({
      title: `soak: ${name}, event-loop delay p99 beyond the ${probeResolution} ms step, last third vs first third (at least ${delayFloor} ms)`,
      ours: { name: "last", nsPerOp: t.last * 1e6 },
      baseline: { name: "first", nsPerOp: Math.max(t.first, delayFloor) * 1e6 },
      ...withTarget(delayTarget)
    })
    if (targeted && controlThirds !== undefined && controlThirds.all > 0) {
      comparisons.push({
        title: `soak: event-loop delay p99 beyond the ${probeResolution} ms step (median of windows), ${name} vs node-http under the same load`,
        ours: { name, nsPerOp: t.all * 1e6 },
        baseline: { name: "node-http", nsPerOp: controlThirds.all * 1e6 }
      })
    }
  }
  return comparisons
}
