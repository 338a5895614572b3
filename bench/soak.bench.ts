/**
 * A bounded soak of the example API (issue 15): `SOAK_REQUESTS` (1,000,000)
 * authenticated reads of one item (`GET /api/v1/items/{id}` with a bearer
 * token, `BENCH_CONNECTIONS` (50) keep-alive connections, autocannon in this
 * process) against one process as `pnpm start` runs it (Postgres at
 * `DATABASE_URL`, in-memory limiter, telemetry off). A leak shows as a
 * resident set that keeps growing once the process is warm: the target is
 * RSS after the last request within 10% of RSS after the first 100,000
 * (`VmRSS` of /proc/<pid>/status). Any answer but 200 is an error.
 *
 * Usage: `./node_modules/.bin/node --conditions=@org/source bench/run.ts soak`
 * (`SOAK_REQUESTS=120000` for a short check).
 */
import { setTimeout as sleep } from "node:timers/promises"
import autocannon from "autocannon"
import type { Comparison } from "./harness.ts"
import { keys, prepare, rssKiB, startOurs, stop } from "./load/servers.ts"

const total = Number(process.env.SOAK_REQUESTS ?? 1_000_000)
const warm = Math.min(100_000, total)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const server = await startOurs("soak", { keys: keys() })
  try {
    const fixture = await prepare(server)
    const load = async (amount: number) => {
      const result = await autocannon({
        url: `${server.origin}${fixture.path}`,
        connections,
        pipelining: 1,
        // A count, not a duration: autocannon ignores `duration` when `amount` is set.
        amount,
        headers: { authorization: fixture.authorization }
      })
      const statuses = Object.entries(result.statusCodeStats ?? {})
      const ok = statuses.reduce((sum, [code, stat]) => sum + (code === "200" ? (stat.count ?? 0) : 0), 0)
      const errors = statuses.reduce((sum, [code, stat]) => sum + (code === "200" ? 0 : (stat.count ?? 0)), 0)
      return { ok, errors: errors + result.errors + result.timeouts, seconds: result.duration, statuses }
    }
    // The RSS a second after the load stops: in-flight work settles, nothing is forced.
    const rss = async () => {
      await sleep(1000)
      const kib = rssKiB(server.child.pid)
      if (kib === undefined) throw new Error("soak: no /proc/<pid>/status to read the RSS from")
      return kib
    }
    const rssStart = await rss()
    const first = await load(warm)
    const rssWarm = await rss()
    const rest = total > warm ? await load(total - warm) : { ok: 0, errors: 0, seconds: 0, statuses: [] }
    const rssEnd = await rss()
    const ok = first.ok + rest.ok
    const errors = first.errors + rest.errors
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`
    console.log(
      `soak: ${ok.toLocaleString("en")} requests answered 200, ${errors} errors, ` +
        `${Math.round(ok / (first.seconds + rest.seconds)).toLocaleString("en")} req/s; ` +
        `RSS ${mib(rssStart)} before the load, ${mib(rssWarm)} after ${warm.toLocaleString("en")}, ${mib(rssEnd)} after ${total.toLocaleString("en")} ` +
        `(${(rssEnd / rssWarm).toFixed(3)}x, target <= 1.10x)`
    )
    if (errors > 0) {
      console.log(
        `soak: statuses ${JSON.stringify([...first.statuses, ...rest.statuses])}\n${server.output()}`
      )
    }
    return [
      {
        // The harness prints ns; RSS goes in as kB, so "us" reads as MB.
        title: `soak: server RSS after ${total.toLocaleString("en")} vs after ${warm.toLocaleString("en")} requests (MB shown as "us")`,
        ours: { name: "end", nsPerOp: (rssEnd * 1024) / 1000 },
        baseline: { name: "100k", nsPerOp: (rssWarm * 1024) / 1000 },
        target: 1.1
      }
    ]
  } finally {
    await stop(server)
  }
}
