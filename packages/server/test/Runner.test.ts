import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { AppConfig } from "@org/core"
import { Health, HttpApp } from "@org/http"
import { Cause, Config, ConfigProvider, Duration, Effect, Exit, Fiber, Layer, Logger, Schema } from "effect"
import { HttpServerError } from "effect/http"
import { HttpApi } from "effect/http-api"
import { Runner } from "../src/index.ts"

class Api extends HttpApp.api(HttpApi.make("runner-test").add(Health.Group)) {}

class KeysUnavailable extends Schema.TaggedError<KeysUnavailable>()("KeysUnavailable", {
  message: Schema.String
}) {}

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

// Log lines as text, in order, for assertions on what the runner announces.
const capture = (lines: Array<string>) =>
  Logger.make(({ message }) => {
    lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
  })

const freePort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

// Whether something listens on 127.0.0.1:port right now.
const probe = (port: number) =>
  Effect.callback<"listening" | "refused">((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed("listening"))
    })
    socket.once("error", () => resume(Effect.succeed("refused")))
  }).pipe(Effect.timeout("2 seconds"))

const request = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) })
    return { status: response.status, body: await response.text() }
  })

// The health API, plus a layer that records what it saw while being built and when it closes.
const makeApp = (port: number, events: Array<string>) =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(
      Health.layer(Api),
      Layer.effectDiscard(
        Effect.gen(function* () {
          events.push(`built while the port was ${yield* probe(port)}`)
          yield* Effect.addFinalizer(() => Effect.sync(() => events.push("closed")))
        })
      )
    ).pipe(Layer.provide(Health.Checks.layer))
  })

const waitFor = (lines: ReadonlyArray<string>, pattern: RegExp) =>
  Effect.gen(function* () {
    while (!lines.some((line) => pattern.test(line))) yield* Effect.sleep("20 millis")
    return lines.find((line) => pattern.test(line))!
  }).pipe(Effect.timeout("10 seconds"))

describe("Runner.layer", () => {
  it.live(
    "builds the app once and before listening, serves it, announces it, and closes it",
    () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const events: Array<string> = []
        const lines: Array<string> = []
        const base = `http://127.0.0.1:${port}`
        const server = Runner.layer(makeApp(port, events), {
          name: "Test API",
          config: { host: "127.0.0.1", port, bodyLimit: 1000, shutdownTimeout: Duration.seconds(2) }
        })
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(server)
            assert.deepStrictEqual(events, ["built while the port was refused"])
            assert.deepStrictEqual(lines, [
              `Test API ready on ${base} (OpenAPI: ${base}/openapi.json, health: ${base}/health/ready)`
            ])
            assert.strictEqual((yield* request(`${base}/health/ready`)).status, 200)
            assert.strictEqual((yield* request(`${base}/openapi.json`)).status, 200)
            // BODY_LIMIT reaches the app as BodyLimit.MaxBytes.
            const large = yield* request(`${base}/health/live`, { method: "POST", body: "x".repeat(2000) })
            assert.strictEqual(large.status, 413)
          })
        ).pipe(Effect.provide(Logger.layer([capture(lines)])))
        assert.deepStrictEqual(events, ["built while the port was refused", "closed"])
        // The access log writes its own lines; these are the runner's.
        assert.deepStrictEqual(lines.filter((line) => line.startsWith("Test API")).slice(1), [
          "Test API stopping: no new connections, in-flight requests have 2s"
        ])
        assert.strictEqual(yield* probe(port), "refused")
      }),
    20_000
  )

  it.live("the ready line lists the links given, or none", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      yield* Effect.scoped(
        Layer.build(
          Runner.layer(makeApp(1, []), {
            name: "Bare",
            config: { host: "127.0.0.1", port: 0, bodyLimit: 1000, shutdownTimeout: Duration.seconds(1) },
            links: {}
          })
        )
      ).pipe(Effect.provide(Logger.layer([capture(lines)])))
      assert.match(lines[0]!, /^Bare ready on http:\/\/127\.0\.0\.1:\d+$/)
    })
  )
})

describe("Runner.launch", () => {
  it.live(
    "reads the configuration, gives it to the app, serves until interrupted",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const seen: Array<number> = []
        const fiber = yield* Runner.launch({
          name: "Test API",
          app: (config) =>
            Effect.sync(() => {
              seen.push(config.bodyLimit)
              return makeApp(1, [])
            }),
          logger: capture(lines),
          links: { docs: "/openapi.json" }
        }).pipe(withEnv({ PORT: "0", BODY_LIMIT: "2kb", LOG_LEVEL: "INFO" }), Effect.forkChild)
        const ready = yield* waitFor(lines, / ready on /)
        const url = /ready on (http:\/\/127\.0\.0\.1:\d+) \(docs: \1\/openapi\.json\)$/.exec(ready)?.[1]
        assert.isDefined(url, ready)
        assert.deepStrictEqual(seen, [2048])
        assert.strictEqual((yield* request(`${url}/health/ready`)).status, 200)
        const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        assert.isTrue(lines.some((line) => line.startsWith("Test API stopping")))
        assert.strictEqual(lines.at(-1), "Test API stopped")
      }),
    20_000
  )

  it.live(
    "the limits in the environment reach the Node server (MAX_URL_LENGTH, KEEP_ALIVE_TIMEOUT)",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const fiber = yield* Runner.launch({
          name: "Limited",
          app: () => makeApp(1, []),
          logger: capture(lines)
        }).pipe(
          withEnv({ PORT: "0", MAX_URL_LENGTH: "100", KEEP_ALIVE_TIMEOUT: "7 seconds" }),
          Effect.forkChild
        )
        const ready = yield* waitFor(lines, / ready on /)
        const url = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(ready)?.[1]
        const long = yield* Effect.promise(async () => {
          const response = await fetch(`${url}/health/live?q=${"a".repeat(100)}`, {
            signal: AbortSignal.timeout(5000)
          })
          return {
            status: response.status,
            type: response.headers.get("content-type"),
            body: await response.text()
          }
        })
        assert.deepInclude(long, { status: 414, type: "application/problem+json" })
        assert.include(long.body, '"status":414')
        const short = yield* Effect.promise(() =>
          fetch(`${url}/health/live?q=${"a".repeat(50)}`, { signal: AbortSignal.timeout(5000) })
        )
        assert.strictEqual(short.status, 200)
        assert.strictEqual(short.headers.get("keep-alive"), "timeout=7")
        yield* Fiber.interrupt(fiber)
      }),
    20_000
  )

  it.live("LOG_LEVEL filters what the app logs", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const fiber = yield* Runner.launch({
        name: "Quiet",
        app: () =>
          Effect.logInfo("info: not shown").pipe(
            Effect.andThen(Effect.logWarning("warn: shown")),
            Effect.as(makeApp(1, []))
          ),
        logger: capture(lines)
      }).pipe(withEnv({ PORT: "0", LOG_LEVEL: "warn" }), Effect.forkChild)
      yield* waitFor(lines, /^warn: shown$/)
      yield* Fiber.interrupt(fiber)
      // The ready line is an info line too.
      assert.deepStrictEqual(lines, ["warn: shown"])
    })
  )

  it.effect("a bad variable fails with InvalidConfig before the app is built", () =>
    Effect.gen(function* () {
      let built = false
      const error = yield* Runner.launch({
        name: "Test API",
        app: () =>
          Effect.sync(() => {
            built = true
            return makeApp(1, [])
          })
      }).pipe(withEnv({ PORT: "http" }), Effect.flip)
      assert.instanceOf(error, AppConfig.InvalidConfig)
      assert.strictEqual(error.message, "Invalid configuration: PORT must be an integer from 0 to 65535")
      assert.isFalse(built)
    })
  )

  it.effect("a failing app effect fails the launch with its error", () =>
    Effect.gen(function* () {
      const error = yield* Runner.launch({
        name: "Test API",
        app: () => Effect.fail(new KeysUnavailable({ message: "no keys" })),
        logger: capture([])
      }).pipe(withEnv({ PORT: "0" }), Effect.flip)
      assert.instanceOf(error, KeysUnavailable)
    })
  )
})

describe("Runner.describe", () => {
  const check = (line: string) => {
    assert.notInclude(line, "\n")
    assert.notInclude(line, "    at ")
    return line
  }

  it.effect("InvalidConfig: its own message", () =>
    Effect.sync(() => {
      const error = new AppConfig.InvalidConfig({
        variable: "JWT_PRIVATE_KEY",
        problem: "is required in production"
      })
      assert.strictEqual(
        check(Runner.describe(Cause.fail(error), "API")),
        "Invalid configuration: JWT_PRIVATE_KEY is required in production"
      )
    })
  )

  it.effect("an Effect ConfigError: the same one line, naming the variable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Config.Port("PORT").parse(ConfigProvider.fromEnv({ env: { PORT: "http" } }))
      )
      const line = check(Runner.describe(Cause.fail(error), "API"))
      assert.match(line, /^Invalid configuration: PORT /)
    })
  )

  it.effect("another package's configuration error with a variable reads as a configuration error", () =>
    Effect.sync(() => {
      class DatabaseConfigError extends Schema.TaggedError<DatabaseConfigError>()("DatabaseConfigError", {
        variable: Schema.String,
        message: Schema.String
      }) {}
      const named = new DatabaseConfigError({
        variable: "DATABASE_URL",
        message: "DATABASE_URL must be a postgres:// URL"
      })
      assert.strictEqual(
        check(Runner.describe(Cause.fail(named), "API")),
        "Invalid configuration: DATABASE_URL must be a postgres:// URL"
      )
      const unnamed = new DatabaseConfigError({ variable: "DATA_DIR", message: "is not writable" })
      assert.strictEqual(
        check(Runner.describe(Cause.fail(unnamed), "API")),
        "Invalid configuration: DATA_DIR is not writable"
      )
    })
  )

  it.effect("a tagged error: name, tag and message on one line", () =>
    Effect.sync(() => {
      const error = new KeysUnavailable({ message: "the key directory /run/keys\nis not readable" })
      assert.strictEqual(
        check(Runner.describe(Cause.fail(error), "API")),
        "API failed to start: KeysUnavailable: the key directory /run/keys is not readable"
      )
    })
  )

  it.effect("a plain Error with a multi-line message, stack frames dropped", () =>
    Effect.sync(() => {
      const error = new Error(
        "pool refused\nsecond line\n    at connect (/app/pg.js:10:5)\n    at /app/main.js:3:1"
      )
      assert.strictEqual(
        check(Runner.describe(Cause.fail(error), "API")),
        "API failed to start: Error: pool refused second line"
      )
    })
  )

  it.effect("a defect: its class name and message, never its stack", () =>
    Effect.sync(() => {
      const defect = new TypeError("cannot read properties of undefined (reading 'query')")
      assert.isDefined(defect.stack)
      assert.strictEqual(
        check(Runner.describe(Cause.die(defect), "API")),
        "API failed to start: TypeError: cannot read properties of undefined (reading 'query')"
      )
      assert.strictEqual(
        check(Runner.describe(Cause.die("just a string"), "API")),
        "API failed to start: Error: just a string"
      )
      assert.include(check(Runner.describe(Cause.die({ code: 42 }), "API")), "code")
    })
  )

  it.effect("an error without a message speaks through its cause (port in use)", () =>
    Effect.sync(() => {
      const error = new HttpServerError.ServeError({
        cause: new Error("listen EADDRINUSE: address already in use 127.0.0.1:3000")
      })
      assert.strictEqual(
        check(Runner.describe(Cause.fail(error), "API")),
        "API failed to start: ServeError: listen EADDRINUSE: address already in use 127.0.0.1:3000"
      )
    })
  )

  it.effect("a huge message is cut, an interruption says so, the name has a default", () =>
    Effect.sync(() => {
      assert.isAtMost(Runner.describe(Cause.fail(new Error("x".repeat(10_000)))).length, 500)
      assert.strictEqual(Runner.describe(Cause.interrupt(), "API"), "API was interrupted")
      assert.strictEqual(
        Runner.describe(Cause.fail(new Error("boom"))),
        "The server failed to start: Error: boom"
      )
    })
  )
})

describe("Runner.teardown and Runner.readyLine", () => {
  it.effect("an interruption exits 0, a failure 1", () =>
    Effect.sync(() => {
      const code = (exit: Exit.Exit<unknown, unknown>) => {
        let result = -1
        Runner.teardown(exit, (c) => {
          result = c
        })
        return result
      }
      assert.strictEqual(code(Exit.failCause(Cause.interrupt())), 0)
      assert.strictEqual(code(Exit.void), 0)
      assert.strictEqual(code(Exit.fail(new KeysUnavailable({ message: "no" }))), 1)
      assert.strictEqual(code(Exit.die(new Error("boom"))), 1)
    })
  )

  it.effect("the ready line", () =>
    Effect.sync(() => {
      assert.strictEqual(
        Runner.readyLine("Example API", "http://127.0.0.1:3000"),
        "Example API ready on http://127.0.0.1:3000 (OpenAPI: http://127.0.0.1:3000/openapi.json, health: http://127.0.0.1:3000/health/ready)"
      )
      assert.strictEqual(Runner.readyLine("X", "http://h:1", {}), "X ready on http://h:1")
      assert.strictEqual(
        Runner.readyLine("X", "http://h:1", { docs: "/docs" }),
        "X ready on http://h:1 (docs: http://h:1/docs)"
      )
    })
  )
})
