/**
 * Issue 16, load tests: the smoke test. A few connections for a few seconds
 * against the example API as deployed (real Postgres at `DATABASE_URL`,
 * rate limits raised, telemetry off), every answer checked:
 *
 * - `ours`: limiter, cache and revocations in memory; `ours+redis`: on
 *   Redis (`BENCH_REDIS_URL`, default `redis://127.0.0.1:6379`).
 * - The mix, in this order on each connection, all with one user's bearer
 *   token: `GET /api/v1/items/{id}` (200, and the item's JSON),
 *   `GET /api/v1/items?category=tools&price[lte]=100&size=10` (200),
 *   `POST /api/v1/items` (201), `GET /api/v1/auth/me` (200),
 *   `GET /health/ready` (200).
 *
 * `BENCH_CONNECTIONS` (3) keep-alive connections, `BENCH_SECONDS` (5) s per
 * server, after one checked read that warms the caches. The target: no
 * error at all, where an error is an answer with another status (or, for
 * the item read, another body), a transport error or a timeout; one error
 * marks the suite's comparison missed and `pnpm bench` exits 1.
 *
 * Usage: `pnpm bench load-smoke` (`BENCH_ONLY=ours` runs one server).
 */
import autocannon from "autocannon"
import type { Comparison } from "./harness.ts"
import {
  check,
  type Fixture,
  keys,
  type Running,
  selectServers,
  startFirst,
  startOurs,
  stop,
  waitReady
} from "./load/servers.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 3)

const names = ["ours", "ours+redis"] as const
type Name = (typeof names)[number]
const selected = selectServers(names)

interface Route {
  readonly label: string
  readonly expected: number
  readonly request: autocannon.Request
  /** The body the answer must carry, if checked (JSON, key order aside). */
  readonly body?: string
}

const sortedJson = (json: string) => {
  try {
    return JSON.stringify(Object.entries(JSON.parse(json)).sort())
  } catch {
    return `not JSON: ${json.slice(0, 80)}`
  }
}

const routes = (fixture: Fixture): ReadonlyArray<Route> => {
  const headers = { authorization: fixture.authorization }
  return [
    {
      label: "GET /api/v1/items/{id}",
      expected: 200,
      request: { method: "GET", path: fixture.path, headers },
      body: fixture.body
    },
    {
      label: "GET /api/v1/items?category=tools&price[lte]=100&size=10",
      expected: 200,
      request: {
        method: "GET",
        path: `/api/v1/items?category=tools&${encodeURIComponent("price[lte]")}=100&size=10`,
        headers
      }
    },
    {
      label: "POST /api/v1/items",
      expected: 201,
      request: {
        method: "POST",
        path: "/api/v1/items",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({
          name: "Smoke test plane",
          description: "Created by the load smoke test",
          price: 42,
          quantity: 1,
          category: "tools"
        })
      }
    },
    {
      label: "GET /api/v1/auth/me",
      expected: 200,
      request: { method: "GET", path: "/api/v1/auth/me", headers }
    },
    { label: "GET /health/ready", expected: 200, request: { method: "GET", path: "/health/ready" } }
  ]
}

interface RouteResult {
  readonly label: string
  readonly expected: number
  readonly statuses: Record<string, number>
  /** Answers with the expected status but another body. */
  wrongBodies: number
  firstUnexpected: string | undefined
}

interface Smoke {
  readonly routes: ReadonlyArray<RouteResult>
  readonly requests: number
  readonly seconds: number
  readonly transportErrors: number
  readonly timeouts: number
  readonly errors: number
}

const smoke = async (server: Running, fixture: Fixture): Promise<Smoke> => {
  const mix = routes(fixture)
  const results: Array<RouteResult> = mix.map((route) => ({
    label: route.label,
    expected: route.expected,
    statuses: {},
    wrongBodies: 0,
    firstUnexpected: undefined
  }))
  const expectedBody = mix.map((route) => (route.body === undefined ? undefined : sortedJson(route.body)))
  const result = await autocannon({
    url: server.origin,
    connections,
    pipelining: 1,
    duration: seconds,
    requests: mix.map((route, i) => ({
      ...route.request,
      onResponse: (status: number, body: string) => {
        const r = results[i]!
        r.statuses[status] = (r.statuses[status] ?? 0) + 1
        const bodyOk = expectedBody[i] === undefined || sortedJson(body) === expectedBody[i]
        if (status === route.expected && !bodyOk) r.wrongBodies++
        if ((status !== route.expected || !bodyOk) && r.firstUnexpected === undefined) {
          r.firstUnexpected = `${status} ${body.slice(0, 300)}`
        }
      }
    }))
  })
  const unexpected = results.reduce(
    (sum, r) =>
      sum +
      r.wrongBodies +
      Object.entries(r.statuses).reduce(
        (s, [code, count]) => s + (Number(code) === r.expected ? 0 : count),
        0
      ),
    0
  )
  const requests = results.reduce(
    (sum, r) => sum + Object.values(r.statuses).reduce((s, count) => s + count, 0),
    0
  )
  return {
    routes: results,
    requests,
    seconds: result.duration,
    transportErrors: result.errors,
    timeouts: result.timeouts,
    // No answer at all is a failure too.
    errors: unexpected + result.errors + result.timeouts + (requests === 0 ? 1 : 0)
  }
}

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const servers = new Map<Name, Running>()
  try {
    // One process migrates the database and creates the account, token and
    // item; the Redis variant starts after it and accepts the same token.
    const pair = keys()
    const { fixture, kept } = await startFirst(pair, selected.includes("ours"))
    if (kept !== undefined) servers.set("ours", kept)
    if (selected.includes("ours+redis")) {
      const redis = await startOurs("ours+redis", { keys: pair, redis: true })
      servers.set("ours+redis", redis)
      await waitReady(redis, "/health/ready")
    }
    for (const name of selected) await check(servers.get(name)!, fixture)

    console.log(`load-smoke: ${selected.join(", ")}; ${connections} connections, ${seconds} s each`)
    const comparisons: Array<Comparison> = []
    for (const name of selected) {
      const server = servers.get(name)!
      const s = await smoke(server, fixture)
      console.log(
        `load-smoke: ${name}: ${s.requests.toLocaleString("en")} answers in ${s.seconds.toFixed(1)} s ` +
          `(${Math.round(s.requests / s.seconds)} req/s), ${s.errors} errors ` +
          `(transport ${s.transportErrors}, timeouts ${s.timeouts})`
      )
      const widths = Math.max(...s.routes.map((r) => r.label.length))
      for (const r of s.routes) {
        const statuses = Object.entries(r.statuses)
          .map(([code, count]) => `${code}: ${count.toLocaleString("en")}`)
          .join(", ")
        console.log(
          `load-smoke:   ${r.label.padEnd(widths)}  expected ${r.expected}; ${statuses || "no answer"}` +
            (r.wrongBodies > 0 ? `; ${r.wrongBodies} with another body` : "") +
            (r.firstUnexpected === undefined ? "" : `; first unexpected: ${r.firstUnexpected}`)
        )
      }
      if (s.errors > 0) console.log(`load-smoke: ${name}: server output\n${server.output()}`)
      comparisons.push({
        // The harness compares ratios: errors over 1 with a target of 0 passes only at 0 errors.
        title: `load-smoke: ${name}, ${connections} conns ${seconds} s, answers not as expected (count shown as ns; target 0)`,
        ours: { name: "errors", nsPerOp: s.errors },
        baseline: { name: "unit", nsPerOp: 1 },
        target: 0
      })
    }
    return comparisons
  } finally {
    await Promise.all([...servers.values()].map(stop))
  }
}
