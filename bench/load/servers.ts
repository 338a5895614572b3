/**
 * What the load and soak benchmarks share: the servers under test as child
 * processes on loopback (the example API and the peers of `bench/load/`),
 * their set-up (keys, an account, a token, one item), a tiny OTLP/HTTP
 * receiver, and the per-process numbers read from /proc (CPU time, RSS).
 * Also the load phase of the load tests (autocannon, statuses counted) and
 * an event-loop delay probe any child process can carry (`probeNodeArgs`).
 * Not a suite itself: `bench/load*.bench.ts` and `bench/soak.bench.ts` use it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { generateKeyPairSync, randomUUID } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createHistogram, performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import autocannon from "autocannon"

export const databaseUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/test"
export const redisUrl = process.env.BENCH_REDIS_URL || "redis://127.0.0.1:6379"

/** One ES256 key pair per run, so the peers verify the tokens the example API issues. */
export const keys = (): { readonly privateKey: string; readonly publicKey: string } =>
  generateKeyPairSync("ec", {
    namedCurve: "P-256",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" }
  })

/**
 * The servers of `names` a run takes: all of them, or those listed (comma
 * separated) in the environment variable `variable`; an unknown name throws.
 */
export const selectServers = <const N extends string>(
  names: ReadonlyArray<N>,
  variable = "BENCH_ONLY"
): ReadonlyArray<N> => {
  const only = (process.env[variable] ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")
  for (const name of only) {
    if (!(names as ReadonlyArray<string>).includes(name)) {
      throw new Error(`${variable}: unknown server ${name} (one of ${names.join(", ")})`)
    }
  }
  return names.filter((name) => only.length === 0 || only.includes(name))
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

export interface Running {
  readonly name: string
  readonly child: ChildProcess
  readonly port: number
  readonly origin: string
  /** The last few KiB the process printed, for error messages. */
  readonly output: () => string
}

/** Starts `node --conditions=@org/source <script>` on a free port with `env` added. */
export const spawnNode = async (
  name: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: ReadonlyArray<string> = []
): Promise<Running> => {
  const port = await freePort()
  // The OTLP variables of the caller's shell would turn telemetry on where it should be off.
  const inherited: Record<string, string | undefined> = { ...process.env }
  for (const key of Object.keys(inherited)) if (key.startsWith("OTEL_")) delete inherited[key]
  const child = spawn(process.execPath, [...nodeArgs, "--conditions=@org/source", script], {
    env: { ...inherited, HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  return { name, child, port, origin: `http://127.0.0.1:${port}`, output: () => output }
}

export const waitReady = async (server: Running, path: string) => {
  const deadline = performance.now() + 60_000
  for (;;) {
    const ready = await fetch(`${server.origin}${path}`).then(
      (r) => r.status === 200,
      () => false
    )
    if (ready) return
    if (performance.now() > deadline || server.child.exitCode !== null) {
      throw new Error(`${server.name}: not ready\n${server.output()}`)
    }
    await sleep(100)
  }
}

/** SIGTERM (the example API drains and exits 0; a CPU profile is written then), SIGKILL after 10 s. */
export const stop = async (server: Running) => {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()))
  server.child.kill("SIGTERM")
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000)
  await exited
  clearTimeout(timer)
}

// ---------------------------------------------------------------------------
// The example API.
// ---------------------------------------------------------------------------

export const exampleMain = join(import.meta.dirname, "../../examples/api/src/main.ts")

export interface OursOptions {
  readonly keys: { readonly privateKey: string; readonly publicKey: string }
  /** Rate limits, cache L2, invalidations and revocations on Redis instead of in memory. */
  readonly redis?: boolean
  /** Export traces, metrics and logs over OTLP/HTTP to this endpoint. */
  readonly otlpEndpoint?: string
  /** Write a V8 CPU profile into this directory when the process exits. */
  readonly cpuProfileDir?: string
  /** The database: `databaseUrl` unless given; `""` is the process's embedded PGlite. */
  readonly databaseUrl?: string
  /** More environment, applied last (`OTEL_TRACES_SAMPLER_ARG`, say). */
  readonly env?: Record<string, string>
  /** More `node` flags (`probeNodeArgs()`, say), before the CPU profile's. */
  readonly nodeArgs?: ReadonlyArray<string>
}

/** The example API as `pnpm start` runs it, with the settings of the benchmark. */
export const startOurs = (name: string, options: OursOptions): Promise<Running> =>
  spawnNode(
    name,
    exampleMain,
    {
      DATA_DIR: mkdtempSync(join(tmpdir(), `bench-${name.replace(/\W/g, "-")}-`)),
      DATABASE_URL: options.databaseUrl ?? databaseUrl,
      REDIS_URL: options.redis === true ? redisUrl : "",
      NATS_URL: "",
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
      // The limiter runs on every request but never refuses.
      RATE_LIMIT: "1000000/second",
      JWT_PRIVATE_KEY: options.keys.privateKey,
      JWT_PUBLIC_KEY: options.keys.publicKey,
      // A soak outlasts the default 15 minutes.
      ACCESS_TOKEN_TTL: "2 hours",
      ...(options.otlpEndpoint === undefined
        ? {}
        : { OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpEndpoint, OTEL_SERVICE_NAME: "example-api-bench" }),
      ...options.env
    },
    [
      ...(options.nodeArgs ?? []),
      ...(options.cpuProfileDir === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`])
    ]
  )

// biome-ignore lint/suspicious/noExplicitAny: the set-up reads JSON responses field by field.
type Json = any

const call = async (origin: string, method: string, path: string, authorization?: string, body?: unknown) => {
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(authorization === undefined ? {} : { authorization })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as Json }
}

export interface Fixture {
  /** `Bearer <access token>` of a `user` (role `user`, so `items:read`). */
  readonly authorization: string
  readonly itemId: string
  readonly path: string
  /** The item's JSON as the example API answers it: the body every server must answer. */
  readonly body: string
}

/** Registers an account on a ready example API, logs in and creates the item every server reads. */
export const prepare = async (server: Running): Promise<Fixture> => {
  await waitReady(server, "/health/ready")
  const email = `reader-${randomUUID()}@example.test`
  const password = "Correct-Horse-Battery-Staple-42"
  const registered = await call(server.origin, "POST", "/api/v1/auth/register", undefined, {
    email,
    password
  })
  if (registered.status !== 201)
    throw new Error(`${server.name}: register ${registered.status} ${JSON.stringify(registered.body)}`)
  const login = await call(server.origin, "POST", "/api/v1/auth/login", undefined, { email, password })
  if (login.status !== 200) throw new Error(`${server.name}: login ${login.status}`)
  const authorization = `Bearer ${login.body.access_token}`
  const created = await call(server.origin, "POST", "/api/v1/items", authorization, {
    name: "Saw",
    description: "A hand saw for wood",
    price: 12.5,
    quantity: 3,
    category: "tools"
  })
  if (created.status !== 201) throw new Error(`${server.name}: create ${created.status}`)
  const path = `/api/v1/items/${created.body.id}`
  const read = await fetch(`${server.origin}${path}`, { headers: { authorization } })
  if (read.status !== 200) throw new Error(`${server.name}: read ${read.status}`)
  return { authorization, itemId: created.body.id, path, body: await read.text() }
}

/**
 * One authenticated read, checked: status 200 and the same JSON as the
 * example API's (key order aside). Warms the server's caches too.
 */
/**
 * The first example process of a run: it migrates the database and makes
 * the fixture (other processes start after it, so no two migrate at once).
 * Returned running when `keep`, else stopped; stopped on a failure too.
 */
export const startFirst = async (
  pair: ReturnType<typeof keys>,
  keep: boolean
): Promise<{ readonly fixture: Fixture; readonly kept: Running | undefined }> => {
  const first = await startOurs("ours", { keys: pair })
  try {
    const fixture = await prepare(first)
    if (keep) return { fixture, kept: first }
    await stop(first)
    return { fixture, kept: undefined }
  } catch (error) {
    await stop(first)
    throw error
  }
}

export const check = async (server: Running, fixture: Fixture) => {
  const response = await fetch(`${server.origin}${fixture.path}`, {
    headers: { authorization: fixture.authorization }
  })
  const text = await response.text()
  if (response.status !== 200)
    throw new Error(`${server.name}: ${response.status} ${text}\n${server.output()}`)
  const sorted = (json: string) => JSON.stringify(Object.entries(JSON.parse(json)).sort())
  if (sorted(text) !== sorted(fixture.body)) {
    throw new Error(`${server.name}: answers ${text}\nnot ${fixture.body}`)
  }
}

// ---------------------------------------------------------------------------
// The OTLP/HTTP receiver: 200 to everything, bytes counted per path.
// ---------------------------------------------------------------------------

export interface Receiver {
  readonly endpoint: string
  readonly received: Map<string, { requests: number; bytes: number }>
  readonly close: () => Promise<void>
}

export const startReceiver = async (): Promise<Receiver> => {
  const received = new Map<string, { requests: number; bytes: number }>()
  const server: Server = createServer((req, res) => {
    let bytes = 0
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length
    })
    req.on("end", () => {
      const entry = received.get(req.url ?? "") ?? { requests: 0, bytes: 0 }
      entry.requests++
      entry.bytes += bytes
      received.set(req.url ?? "", entry)
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

// ---------------------------------------------------------------------------
// Per-process numbers from /proc (undefined where there is none).
// ---------------------------------------------------------------------------

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU time of a process (user + system, ms): unlike requests/s, the cost
 * per request barely moves when other work shares the machine.
 */
export const cpuMillis = (pid: number | undefined): number | undefined => {
  const file = `/proc/${pid}/stat`
  if (pid === undefined || !existsSync(file)) return undefined
  const fields = readFileSync(file, "utf8").split(") ")[1]!.split(" ")
  // utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
}

/** Resident set size of a process in KiB (`VmRSS` of /proc/<pid>/status). */
export const rssKiB = (pid: number | undefined): number | undefined => {
  const file = `/proc/${pid}/status`
  if (pid === undefined || !existsSync(file)) return undefined
  const line = readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"))
  return line === undefined ? undefined : Number(line.split(/\s+/)[1])
}

// ---------------------------------------------------------------------------
// One phase of load (the load tests): autocannon in this process.
// ---------------------------------------------------------------------------

export interface LoadOptions {
  readonly path: string
  readonly authorization: string
  readonly connections: number
  /** The time bound of the phase. */
  readonly seconds: number
  /** A count bound as well: the phase ends at whichever comes first. */
  readonly amount?: number
  /** Called with the status of every answer, as it comes. */
  readonly onAnswer?: (status: number) => void
}

export interface LoadPhase {
  /** Answers with status 200. */
  readonly ok: number
  /** Anything but a 200: other statuses, transport errors, timeouts. */
  readonly errors: number
  readonly statuses: Record<string, number>
  /** 200s per second of the phase. */
  readonly rps: number
  /** Latency of the 200s in ms, to the microsecond (autocannon's own are whole ms). */
  readonly p50: number
  readonly p99: number
  readonly seconds: number
  /** Server CPU ms spent in the phase, if known. */
  readonly cpu: number | undefined
}

/** Authenticated GETs of one path; any answer but 200 is an error. */
export const loadPhase = async (server: Running, options: LoadOptions): Promise<LoadPhase> => {
  const cpuBefore = cpuMillis(server.child.pid)
  const latencies = createHistogram()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${server.origin}${options.path}`,
        connections: options.connections,
        pipelining: 1,
        headers: { authorization: options.authorization },
        // autocannon ignores `duration` when `amount` is set: the timer below is the time bound then.
        ...(options.amount === undefined ? { duration: options.seconds } : { amount: options.amount })
      },
      (error, result) => {
        clearTimeout(timer)
        if (error) reject(error)
        else resolve(result)
      }
    )
    const timer =
      options.amount === undefined ? undefined : setTimeout(() => instance.stop(), options.seconds * 1000)
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status === 200) latencies.record(Math.max(1, Math.round(ms * 1000)))
      options.onAnswer?.(status)
    })
  })
  const cpuAfter = cpuMillis(server.child.pid)
  const statuses = statusCounts(result)
  const ok = statuses["200"] ?? 0
  const notOk = Object.entries(statuses).reduce((sum, [code, count]) => sum + (code === "200" ? 0 : count), 0)
  return {
    ok,
    errors: notOk + result.errors + result.timeouts,
    statuses,
    rps: ok / result.duration,
    p50: latencies.count === 0 ? 0 : latencies.percentile(50) / 1000,
    p99: latencies.count === 0 ? 0 : latencies.percentile(99) / 1000,
    seconds: result.duration,
    cpu: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
  }
}

/** Answers by status code. */
export const statusCounts = (result: autocannon.Result): Record<string, number> => {
  const statuses: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0
  return statuses
}

// ---------------------------------------------------------------------------
// The event-loop delay probe: the same instrument in every server process.
// ---------------------------------------------------------------------------

/** The sampling step of the probe's timer, ms. */
export const probeResolution = 10

// Preloaded with `--import`: a `perf_hooks` delay histogram; on SIGUSR2 it
// prints the delays since the previous SIGUSR2 as one line and starts over.
const probeSource = `
import { monitorEventLoopDelay } from "node:perf_hooks"
const histogram = monitorEventLoopDelay({ resolution: ${probeResolution} })
histogram.enable()
const ms = (ns) => ns / 1e6
process.on("SIGUSR2", () => {
  const sample = histogram.count === 0
    ? { count: 0 }
    : { count: histogram.count, p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }
  histogram.reset()
  process.stdout.write("eld-probe " + JSON.stringify(sample) + "\\n")
})
`

/**
 * The `node` flags that load the probe into a process (`spawnNode`'s
 * `nodeArgs`, `OursOptions.nodeArgs`). Send SIGUSR2 only once the process
 * serves: before the probe is loaded the signal would end it.
 */
export const probeNodeArgs = (): ReadonlyArray<string> => [
  `--import=data:text/javascript,${encodeURIComponent(probeSource)}`
]

/**
 * Event-loop delay over one window, in ms: Node's histogram records the
 * whole interval between two timer callbacks, so an idle loop shows the
 * resolution; `excess*` are the same figures less the resolution.
 */
export interface DelayWindow {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly excessP99: number
}

export interface Probe {
  /** Ends the current window and answers its delays (and starts the next). */
  readonly window: () => Promise<DelayWindow>
}

/** Reads the probe of a process started with `probeNodeArgs()`. */
export const probe = (server: Running): Probe => {
  let buffer = ""
  const waiting: Array<(line: string) => void> = []
  server.child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8")
    let newline = buffer.indexOf("\n")
    while (newline >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      if (line.startsWith("eld-probe ")) waiting.shift()?.(line.slice("eld-probe ".length))
      newline = buffer.indexOf("\n")
    }
  })
  return {
    window: async () => {
      const line = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${server.name}: no event-loop probe answer`)),
          10_000
        )
        waiting.push((text) => {
          clearTimeout(timer)
          resolve(text)
        })
      })
      server.child.kill("SIGUSR2")
      const sample: { count: number; p50?: number; p99?: number; max?: number } = JSON.parse(await line)
      const p99 = sample.p99 ?? 0
      return {
        count: sample.count,
        p50: sample.p50 ?? 0,
        p99,
        max: sample.max ?? 0,
        excessP99: Math.max(0, p99 - probeResolution)
      }
    }
  }
}

/**
 * One gauge of the example's `/metrics` (Prometheus text), e.g.
 * `nodejs_eventloop_delay_p99_seconds`; undefined when absent.
 */
export const scrapeGauge = async (
  server: Running,
  name: string,
  token: string | undefined
): Promise<number | undefined> => {
  const response = await fetch(`${server.origin}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
  })
  if (response.status !== 200) throw new Error(`${server.name}: /metrics ${response.status}`)
  const text = await response.text()
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}
