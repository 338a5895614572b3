/**
 * `Runner.run` as a real process (`test/fixtures/app.ts`) on 127.0.0.1:
 * the ready line, graceful stop on SIGTERM and SIGINT with exit code 0, and
 * one line on stderr with a non-zero exit for every way a start can fail.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"

// The Node 24 binary itself: `node_modules/.bin/node` is a shell script that
// does not pass signals on, so a SIGTERM would stop the script, not the app.
const repoNode = fileURLToPath(new URL("../../../node_modules/node/bin/node", import.meta.url))
const node = existsSync(repoNode) ? repoNode : process.execPath
const fixture = fileURLToPath(new URL("./fixtures/app.ts", import.meta.url))

interface Child {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

// Starts the fixture; the scope kills it if it is still running.
const start = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = spawn(node, ["--conditions=@org/source", fixture], {
        env: { ...process.env, APP_ENV: "test", HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "json", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk
      })
      const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("close", (code, signal) => resolve({ code, signal }))
      )
      return {
        process: child,
        stdout: () => stdout,
        stderr: () => stderr,
        exit: Effect.promise(() => closed).pipe(
          Effect.timeoutOrElse({
            duration: "15 seconds",
            orElse: () => Effect.die(new Error(`the fixture did not exit\n${stdout}\n${stderr}`))
          })
        )
      }
    }),
    (child) =>
      Effect.sync(() => {
        if (child.process.exitCode === null && child.process.signalCode === null)
          child.process.kill("SIGKILL")
      })
  )

const waitForOutput = (child: Child, pattern: RegExp) =>
  Effect.gen(function* () {
    while (!pattern.test(child.stdout())) {
      if (child.process.exitCode !== null) break
      yield* Effect.sleep("20 millis")
    }
    const match = pattern.exec(child.stdout())
    if (match === null)
      return yield* Effect.die(new Error(`no ${pattern} in:\n${child.stdout()}\n${child.stderr()}`))
    return match
  }).pipe(
    Effect.timeoutOrElse({
      duration: "10 seconds",
      orElse: () => Effect.die(new Error(`no ${pattern} in time:\n${child.stdout()}\n${child.stderr()}`))
    })
  )

const waitForReady = (child: Child) =>
  Effect.map(waitForOutput(child, /Fixture API ready on (http:\/\/127\.0\.0\.1:(\d+))/), (match) => ({
    url: match[1]!,
    port: Number(match[2])
  }))

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) })
    return {
      status: response.status,
      connection: response.headers.get("connection"),
      body: await response.text()
    }
  })

// Whether a new connection to 127.0.0.1:port is accepted.
const connect = (port: number) =>
  Effect.callback<"accepted" | "refused">((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed("accepted"))
    })
    socket.once("error", () => resume(Effect.succeed("refused")))
  }).pipe(Effect.timeout("2 seconds"))

// A port something else already listens on, for as long as the scope is open.
const busyPort = Effect.acquireRelease(
  Effect.callback<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
).pipe(
  Effect.map((server) => {
    const address = server.address()
    return typeof address === "object" && address !== null ? address.port : 0
  })
)

const assertOneLine = (stderr: string, ...expected: ReadonlyArray<string>) => {
  const lines = stderr.trimEnd().split("\n")
  assert.lengthOf(lines, 1, stderr)
  for (const text of expected) assert.include(lines[0], text)
  assert.notInclude(stderr, "    at ")
  return lines[0]!
}

describe("Runner.run as a process", () => {
  it.live(
    "announces when ready; on SIGTERM stops accepting, finishes the request in flight and exits 0",
    () =>
      Effect.gen(function* () {
        const child = yield* start({})
        const { port, url } = yield* waitForReady(child)
        assert.include(child.stdout(), `(OpenAPI: ${url}/openapi.json, health: ${url}/health/ready)`)
        // The app is built before the server listens, once.
        assert.isBelow(child.stdout().indexOf("fixture app built"), child.stdout().indexOf("ready on"))
        assert.strictEqual(child.stdout().split("fixture app built").length, 2)
        assert.strictEqual((yield* get(`${url}/health/ready`)).status, 200)

        const slow = yield* Effect.forkChild(get(`${url}/slow?ms=1000`))
        yield* waitForOutput(child, /slow request started/)
        child.process.kill("SIGTERM")
        yield* waitForOutput(child, /Fixture API stopping/)
        assert.strictEqual(yield* connect(port), "refused")
        const response = yield* Fiber.join(slow)
        // Answered in full, and told to close its keep-alive connection so it cannot hold the exit.
        assert.deepStrictEqual(response, { status: 200, connection: "close", body: '{"slept":1000}' })
        const answered = yield* Clock.currentTimeMillis
        assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
        // fetch keeps an idle connection for 4 s.
        assert.isBelow((yield* Clock.currentTimeMillis) - answered, 3500)
        assert.include(child.stdout(), "Fixture API stopped")
        assert.strictEqual(child.stderr(), "")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "SIGINT exits 0",
    () =>
      Effect.gen(function* () {
        const child = yield* start({})
        yield* waitForReady(child)
        child.process.kill("SIGINT")
        assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
        assert.include(child.stdout(), "Fixture API stopping")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "a request still running at SHUTDOWN_TIMEOUT is cut off, and the process still exits 0",
    () =>
      Effect.gen(function* () {
        const child = yield* start({ SHUTDOWN_TIMEOUT: "300 millis" })
        const { url } = yield* waitForReady(child)
        const slow = yield* Effect.forkChild(get(`${url}/slow?ms=10000`))
        yield* waitForOutput(child, /slow request started/)
        child.process.kill("SIGTERM")
        assert.strictEqual((yield* Fiber.join(slow)).status, 503)
        assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
      }).pipe(Effect.scoped),
    20_000
  )
})

// Independent processes that stop on their own: run side by side to keep the file short.
describe.concurrent("Runner.run as a process, when the start fails", () => {
  it.live(
    "PORT=http: exit 1, one line on stderr naming PORT",
    () =>
      Effect.gen(function* () {
        const child = yield* start({ PORT: "http" })
        assert.deepStrictEqual(yield* child.exit, { code: 1, signal: null })
        assert.strictEqual(
          assertOneLine(child.stderr(), "PORT"),
          "Invalid configuration: PORT must be an integer from 0 to 65535"
        )
        assert.strictEqual(child.stdout(), "")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "the effect that builds the app fails: exit 1, one line",
    () =>
      Effect.gen(function* () {
        const child = yield* start({ FIXTURE_FAIL: "effect" })
        assert.deepStrictEqual(yield* child.exit, { code: 1, signal: null })
        assert.strictEqual(
          assertOneLine(child.stderr()),
          "Fixture API failed to start: KeysUnavailable: the key directory /run/keys is not readable"
        )
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "the app layer dies while it is built: exit 1, one line, no stack",
    () =>
      Effect.gen(function* () {
        const child = yield* start({ FIXTURE_FAIL: "layer" })
        assert.deepStrictEqual(yield* child.exit, { code: 1, signal: null })
        assert.strictEqual(assertOneLine(child.stderr()), "Fixture API failed to start: Error: pool refused")
        assert.notInclude(child.stdout(), "ready on")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "the port is already in use: exit 1, one line",
    () =>
      Effect.gen(function* () {
        const port = yield* busyPort
        const child = yield* start({ PORT: String(port) })
        assert.deepStrictEqual(yield* child.exit, { code: 1, signal: null })
        assertOneLine(child.stderr(), "Fixture API failed to start: ServeError:", "EADDRINUSE", String(port))
      }).pipe(Effect.scoped),
    20_000
  )
})
