/**
 * The edge of the server with real sockets on 127.0.0.1: what Node's parser
 * refuses, what the server refuses before the app, and slow clients, each
 * answered as a problem with the security headers and `Connection: close`.
 * The server runs with a 1 s headers timeout and a 2 s request timeout.
 */
import * as Net from "node:net"
import { assert, describe, layer } from "@effect/vitest"
import { Health, HttpApp, Problem, SecurityHeaders } from "@org/http"
import { Clock, Context, Duration, Effect, Layer, Logger, References, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApi } from "effect/http-api"
import { Runner } from "../src/index.ts"
import * as NodeEdge from "../src/internal/nodeEdge.ts"

class Api extends HttpApp.api(HttpApi.make("edge-test").add(Health.Group)) {}

interface Logged {
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

class TestServer extends Context.Service<
  TestServer,
  {
    readonly port: number
    /** What the app's `POST /sink` received: a refused request never shows up here. */
    readonly sunk: Array<string>
    readonly logs: Array<Logged>
  }
>()("test/TestServer") {}

const limits = { headersTimeout: Duration.seconds(1), requestTimeout: Duration.seconds(2) }

const TestServerLive = Layer.effect(
  TestServer,
  Effect.gen(function* () {
    const sunk: Array<string> = []
    const logs: Array<Logged> = []
    const sink = HttpRouter.add(
      "POST",
      "/sink",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.map(Effect.orDie(request.text), (text) => {
          sunk.push(text)
          return HttpServerResponse.text("sunk")
        })
      )
    )
    const app = HttpApp.layer({
      api: Api,
      handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)),
      routes: [sink]
    })
    const capture = Logger.make(({ fiber, message }) => {
      logs.push({
        message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
        annotations: fiber.getRef(References.CurrentLogAnnotations)
      })
    })
    yield* Layer.build(
      Runner.layer(app, {
        name: "Edge",
        config: {
          host: "127.0.0.1",
          port: 0,
          bodyLimit: 1000,
          shutdownTimeout: Duration.seconds(1),
          keepAliveTimeout: Duration.seconds(3),
          ...limits
        },
        links: {}
      })
    ).pipe(Effect.provide(Logger.layer([capture])))
    const ready = logs.find((line) => line.message.startsWith("Edge ready on"))?.message ?? ""
    const port = Number(/:(\d+)$/.exec(ready)?.[1])
    assert.isAbove(port, 0, ready)
    return TestServer.of({ port, sunk, logs })
  })
)

interface Reply {
  readonly raw: string
  readonly statusLine: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Milliseconds from the first byte sent to the server closing the connection. */
  readonly elapsed: number
}

const parse = (raw: string, elapsed: number): Reply => {
  const end = raw.indexOf("\r\n\r\n")
  const head = end === -1 ? raw : raw.slice(0, end)
  const [statusLine = "", ...lines] = head.split("\r\n")
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return {
    raw,
    statusLine,
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: end === -1 ? "" : raw.slice(end + 4),
    elapsed
  }
}

/**
 * Sends `chunks` on a fresh connection (`every` milliseconds apart after the
 * first, when given) and reads until the server closes it.
 */
const exchange = (chunks: ReadonlyArray<string>, options: { readonly every?: number } = {}) =>
  Effect.gen(function* () {
    const { port } = yield* TestServer
    const started = yield* Clock.currentTimeMillis
    const raw = yield* Effect.callback<string>((resume) => {
      const socket = Net.connect(port, "127.0.0.1")
      const received: Array<Buffer> = []
      const timers: Array<NodeJS.Timeout> = []
      socket.on("data", (chunk) => received.push(chunk))
      // The server may reset a connection whose client keeps sending; what arrived before counts.
      socket.on("error", () => {})
      socket.on("close", () => {
        for (const timer of timers) clearTimeout(timer)
        resume(Effect.succeed(Buffer.concat(received).toString("latin1")))
      })
      chunks.forEach((chunk, i) => {
        if (i === 0 || options.every === undefined) socket.write(chunk)
        else
          timers.push(
            setTimeout(() => {
              if (!socket.destroyed) socket.write(chunk)
            }, i * options.every)
          )
      })
      return Effect.sync(() => socket.destroy())
    }).pipe(
      Effect.timeoutOrElse({
        duration: "8 seconds",
        orElse: () => Effect.die(new Error("the server did not close the connection"))
      })
    )
    return parse(raw, (yield* Clock.currentTimeMillis) - started)
  })

const send = (request: string) => exchange([request])

// A complete problem answer: status line, media type, body, security headers, request id, close.
const assertProblem = (reply: Reply, status: number) => {
  assert.match(reply.statusLine, new RegExp(`^HTTP/1\\.1 ${status} \\S`), reply.raw.slice(0, 300))
  assert.lengthOf(reply.raw.match(/(?:^|\r\n)HTTP\/1\.1 \d{3} /g) ?? [], 1, "exactly one response")
  assert.strictEqual(reply.headers["content-type"], "application/problem+json")
  assert.strictEqual(reply.headers["content-length"], String(Buffer.byteLength(reply.body)))
  assert.strictEqual(reply.headers.connection, "close")
  for (const [name, value] of Object.entries(SecurityHeaders.headersFor("/"))) {
    assert.strictEqual(reply.headers[name], value, name)
  }
  assert.notProperty(reply.headers, "server")
  assert.notProperty(reply.headers, "x-powered-by")
  assert.isDefined(reply.headers.date)
  const problem = Schema.decodeUnknownSync(Problem.Body)(JSON.parse(reply.body))
  assert.strictEqual(problem.status, status)
  assert.isString(problem.detail)
  assert.strictEqual(problem.requestId, reply.headers["x-request-id"])
  assert.match(reply.headers["x-request-id"] ?? "", /^[A-Za-z0-9._-]{1,128}$/)
  return problem
}

const host = "Host: edge.test\r\n"

layer(TestServerLive, { excludeTestServices: true })("Runner.layer at the edge", (it) => {
  describe("what Node's parser refuses (clientError)", () => {
    const cases: ReadonlyArray<readonly [string, string, number]> = [
      ["a 20 KB header", `GET / HTTP/1.1\r\n${host}X-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
      [
        "3,000 headers",
        `GET / HTTP/1.1\r\n${host}${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`,
        431
      ],
      // Node's parser counts the request line against the header limit, so a
      // URL over MAX_HEADER_SIZE never reaches the server's own 414 check.
      ["a 100 KB URL", `GET /${"a".repeat(100_000)} HTTP/1.1\r\n${host}\r\n`, 431],
      ["Content-Length: abc", `POST /sink HTTP/1.1\r\n${host}Content-Length: abc\r\n\r\n`, 400],
      ["Content-Length: -1", `POST /sink HTTP/1.1\r\n${host}Content-Length: -1\r\n\r\n`, 400],
      [
        "two different Content-Lengths",
        `POST /sink HTTP/1.1\r\n${host}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`,
        400
      ],
      [
        "Content-Length with Transfer-Encoding",
        `POST /sink HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
        400
      ],
      // RFC 9110: an unrecognised method is a 501.
      ["an unknown method", `FOO / HTTP/1.1\r\n${host}\r\n`, 501],
      ["a header line without a colon", `GET / HTTP/1.1\r\n${host}Bad Header Line\r\n\r\n`, 400],
      ["a folded header line", `GET / HTTP/1.1\r\n${host}X-A: a\r\n b\r\n\r\n`, 400],
      ["a space in the target", `GET /a b HTTP/1.1\r\n${host}\r\n`, 400],
      ["HTTP/3.0", `GET / HTTP/3.0\r\n${host}\r\n`, 505],
      ["bytes that are not HTTP", "\u0016\u0003\u0001\u0002\u0000\u0001\r\n\r\n", 400]
    ]
    for (const [name, request, status] of cases) {
      it.effect(`${name}: ${status}`, () =>
        Effect.gen(function* () {
          const reply = yield* send(request)
          const problem = assertProblem(reply, status)
          // The bad input is never echoed (the request id, random hex, may hold any of these).
          const { requestId: _id, ...rest } = JSON.parse(reply.body)
          const echoed = JSON.stringify(rest)
          assert.notInclude(echoed, "aaaa")
          assert.notInclude(echoed, "abc")
          assert.notInclude(echoed, "FOO")
          assert.isBelow(reply.body.length, 400)
          assert.isUndefined(problem.instance)
        })
      )
    }

    it.effect("chunk extensions over Node's 16 KiB while the app reads the body: 413", () =>
      Effect.gen(function* () {
        const { sunk } = yield* TestServer
        const reply = yield* send(
          `POST /sink HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
            `2;ext=${"e".repeat(20_000)}\r\n""\r\n0\r\n\r\n`
        )
        assert.include(assertProblem(reply, 413).detail, "chunk extensions")
        assert.deepStrictEqual(sunk, [])
      })
    )

    it.effect("CONNECT: 501 instead of a closed connection", () =>
      Effect.gen(function* () {
        assertProblem(yield* send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 501)
      })
    )

    it.effect("each answer is logged once, with the status, Node's code and the request id", () =>
      Effect.gen(function* () {
        const { logs } = yield* TestServer
        const before = logs.length
        const reply = yield* send(`GET / HTTP/1.1\r\n${host}X-Big: ${"a".repeat(20_000)}\r\n\r\n`)
        // The log line is written by a fiber forked from Node's callback.
        yield* Effect.sleep("50 millis")
        const lines = logs.slice(before).filter((line) => line.message === "Sent HTTP response")
        assert.lengthOf(lines, 1)
        assert.deepInclude(lines[0]!.annotations, {
          "http.status": 431,
          "http.refused": "HPE_HEADER_OVERFLOW",
          requestId: reply.headers["x-request-id"]
        })
      })
    )
  })

  describe("what the server refuses before the app", () => {
    it.effect("a 10 KB URL (over MAX_URL_LENGTH, under MAX_HEADER_SIZE): 414, the app never sees it", () =>
      Effect.gen(function* () {
        const { sunk } = yield* TestServer
        const reply = yield* send(
          `POST /sink?q=${"a".repeat(10_000)} HTTP/1.1\r\n${host}Content-Length: 4\r\n\r\nbody`
        )
        const problem = assertProblem(reply, 414)
        assert.strictEqual(problem.title, "URI Too Long")
        assert.deepStrictEqual(sunk, [])
      })
    )

    it.effect("a missing Host on HTTP/1.1: 400, the app never sees it", () =>
      Effect.gen(function* () {
        const { sunk } = yield* TestServer
        const problem = assertProblem(
          yield* send("POST /sink HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"),
          400
        )
        assert.strictEqual(problem.detail, "An HTTP/1.1 request must have a Host header.")
        assert.deepStrictEqual(sunk, [])
      })
    )

    it.effect("two Host headers, or a malformed one: 400", () =>
      Effect.gen(function* () {
        assertProblem(yield* send("GET /health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400)
        assertProblem(yield* send("GET /health/live HTTP/1.1\r\nHost: a b/c\r\n\r\n"), 400)
      })
    )

    it.effect("a refused request keeps the caller's X-Request-ID when it is a sane token", () =>
      Effect.gen(function* () {
        const reply = yield* send(
          `GET /${"a".repeat(9000)} HTTP/1.1\r\n${host}X-Request-ID: trace-42\r\n\r\n`
        )
        assert.strictEqual(assertProblem(reply, 414).requestId, "trace-42")
      })
    )

    it.effect("HTTP/1.0 without Host, and an ordinary request, reach the app", () =>
      Effect.gen(function* () {
        const old = yield* send("GET /health/live HTTP/1.0\r\n\r\n")
        assert.match(old.statusLine, /^HTTP\/1\.1 200 /)
        const ordinary = yield* send(`GET /health/live HTTP/1.1\r\n${host}Connection: close\r\n\r\n`)
        assert.match(ordinary.statusLine, /^HTTP\/1\.1 200 /)
        assert.strictEqual(ordinary.headers["x-content-type-options"], "nosniff")
      })
    )

    it.effect("KEEP_ALIVE_TIMEOUT reaches Node: an idle connection is closed after it", () =>
      Effect.gen(function* () {
        const reply = yield* send(`GET /health/live HTTP/1.1\r\n${host}\r\n`)
        assert.match(reply.statusLine, /^HTTP\/1\.1 200 /)
        assert.strictEqual(reply.headers["keep-alive"], "timeout=3")
        // 3 s plus Node's one second of slack (`keepAliveTimeoutBuffer`).
        assert.isAtLeast(reply.elapsed, 2900)
        assert.isBelow(reply.elapsed, 5500)
      })
    )
  })

  describe("slow clients", () => {
    // Node checks the timeouts every quarter of the headers timeout.
    const slack = 600

    it.effect("headers one byte a second: 408 once HEADERS_TIMEOUT (1 s) has passed", () =>
      Effect.gen(function* () {
        const trickle = Array.from("X-Slow: abcdefgh\r\n")
        const reply = yield* exchange([`GET /health/live HTTP/1.1\r\n${host}`, ...trickle], { every: 1000 })
        assertProblem(reply, 408)
        assert.isAtLeast(reply.elapsed, 900)
        assert.isBelow(reply.elapsed, 1000 + slack)
      })
    )

    it.effect(
      "a body one byte a second: 408 once REQUEST_TIMEOUT (2 s) has passed, the app gets nothing",
      () =>
        Effect.gen(function* () {
          const { sunk } = yield* TestServer
          const head = `POST /sink HTTP/1.1\r\n${host}X-Request-ID: slow-1\r\nContent-Type: application/json\r\n`
          const reply = yield* exchange([`${head}Content-Length: 10\r\n\r\n`, ...'"abcdefgh"'], {
            every: 1000
          })
          // The app was already reading this request: the answer keeps the caller's id.
          assert.strictEqual(assertProblem(reply, 408).requestId, "slow-1")
          assert.isAtLeast(reply.elapsed, 1900)
          assert.isBelow(reply.elapsed, 2000 + slack)
          assert.deepStrictEqual(sunk, [])
        })
    )

    it.effect("a reset connection gets no answer: only parser errors and timeouts are answered", () =>
      Effect.sync(() => {
        const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })
        assert.isUndefined(NodeEdge.refusalOf(reset))
        const unknown = Object.assign(new Error("Parse Error"), { code: "HPE_SOMETHING_NEW" })
        assert.strictEqual(NodeEdge.refusalOf(unknown)?.status, 400)
      })
    )

    it.effect("a connection that sends nothing: 408 after HEADERS_TIMEOUT", () =>
      Effect.gen(function* () {
        const reply = yield* exchange([""])
        assertProblem(reply, 408)
        assert.isBelow(reply.elapsed, 1000 + slack)
      })
    )
  })
})
