/**
 * A private `redis-server` for fault tests: started on a free loopback port
 * with persistence off, so a restart comes back empty; it can be killed
 * (SIGKILL), started again on the same port, paused (SIGSTOP) and resumed.
 * The process is killed when the scope closes. Without the binary the tests
 * are skipped, unless REQUIRE_SERVICES=1 (then they fail).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createServer } from "node:net"
import { Effect, type Scope } from "effect"
import { requireServices } from "./env.ts"

const binary = "redis-server"

export const available: boolean = spawnSync(binary, ["--version"]).status === 0
export const skipPrivateRedis: boolean = !available && !requireServices
if (skipPrivateRedis) {
  console.warn(
    `Redis fault tests skipped: ${binary} is not on PATH (REQUIRE_SERVICES=1 makes this a failure)`
  )
}

export interface Server {
  readonly port: number
  readonly url: string
  /** SIGKILL, and wait until the process is gone. */
  readonly kill: Effect.Effect<void>
  /** Start again on the same port (empty: no persistence), and wait until it accepts connections. */
  readonly start: Effect.Effect<void, Error>
  /** SIGSTOP: the server hangs with its connections open. */
  readonly pause: Effect.Effect<void>
  /** SIGCONT. */
  readonly resume: Effect.Effect<void>
}

const freePort = Effect.callback<number, Error>((resume) => {
  const server = createServer()
  server.once("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const launch = (port: number) =>
  Effect.callback<ChildProcess, Error>((resume) => {
    const child = spawn(
      binary,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "notice"
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resume(Effect.fail(new Error(`redis-server on port ${port} did not start:\n${output}`)))
    }, 5_000)
    child.once("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(error))
    })
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resume(Effect.succeed(child))
      }
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
  })

const exited = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

const signal = (child: ChildProcess | undefined, name: NodeJS.Signals) =>
  Effect.sync(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill(name)
  })

/** Starts a private server; it is killed when the scope closes. */
export const make: Effect.Effect<Server, Error, Scope.Scope> = Effect.gen(function* () {
  const port = yield* freePort
  let current: ChildProcess | undefined
  const kill = Effect.suspend(() => {
    const child = current
    if (child === undefined) return Effect.void
    current = undefined
    return Effect.andThen(signal(child, "SIGKILL"), exited(child))
  })
  const start = Effect.gen(function* () {
    yield* kill
    current = yield* launch(port)
  })
  yield* Effect.acquireRelease(start, () => Effect.andThen(signal(current, "SIGCONT"), kill))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    pause: Effect.suspend(() => signal(current, "SIGSTOP")),
    resume: Effect.suspend(() => signal(current, "SIGCONT"))
  }
})
