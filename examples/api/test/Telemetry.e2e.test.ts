/**
 * The example API as a real process with telemetry on: an OTLP/HTTP
 * receiver on loopback (this test) gets its spans, metrics and logs, the
 * request's log line carries the trace id of its span, and no log line, on
 * stdout or over OTLP, holds a password, a token, a TOTP secret or code from
 * a register / login / MFA / refresh run.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Totp } from "@org/auth"
import { assert, describe, it } from "vitest"
// The kit's own test receiver decodes both OTLP encodings (JSON and protobuf).
import * as OtlpReceiver from "../../../packages/telemetry/test/fixtures/OtlpReceiver.ts"

// One receiver per test (the two protocols run at the same time).
const startReceiver = () =>
  new Promise<{
    readonly port: number
    readonly received: Array<OtlpReceiver.Received>
    readonly server: Server
  }>((resolve) => {
    const received: Array<OtlpReceiver.Received> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const contentType = req.headers["content-type"] ?? ""
        received.push({ path: req.url ?? "", contentType, body: Buffer.concat(chunks) })
        const json = contentType.includes("json")
        res
          .writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" })
          .end(json ? "{}" : "")
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: (server.address() as AddressInfo).port, received, server })
    )
  })

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))

// biome-ignore lint/suspicious/noExplicitAny: the test reads JSON responses field by field.
type Json = any

describe("telemetry of the example API process", () => {
  for (const protocol of ["http/json", "http/protobuf"] as const)
    it.concurrent(`exports spans, metrics and logs over OTLP (${protocol}); logs carry trace ids and no secrets`, async () => {
      const { port: receiverPort, received, server: receiver } = await startReceiver()
      const port = await freePort()
      const base = `http://127.0.0.1:${port}`
      const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
      const child = spawn(process.execPath, ["--conditions=@org/source", main], {
        env: {
          ...process.env,
          HOST: "127.0.0.1",
          PORT: String(port),
          DATA_DIR: mkdtempSync(join(tmpdir(), "example-api-telemetry-")),
          // embedded PGlite and in-memory stores: a database of its own
          DATABASE_URL: "",
          REDIS_URL: "",
          NATS_URL: "",
          LOG_FORMAT: "json",
          LOG_LEVEL: "debug",
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: "example-api-e2e"
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8")
      })
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8")
      })
      const done = exited(child)
      try {
        // Embedded PGlite starts in 2 to 10 s; on a loaded 2-core machine, with
        // the rest of the suite running, it has taken 30.
        const readyBy = Date.now() + 90_000
        for (;;) {
          const ready = await fetch(`${base}/health/ready`).then(
            (r) => r.status === 200,
            () => false
          )
          if (ready) break
          if (Date.now() > readyBy || child.exitCode !== null)
            assert.fail(`not ready: ${stderr}\n${stdout.slice(-2000)}`)
          await new Promise((r) => setTimeout(r, 250))
        }
        const call = async (
          method: string,
          path: string,
          body?: unknown,
          headers: Record<string, string> = {}
        ) => {
          const response = await fetch(`${base}${path}`, {
            method,
            headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          })
          const text = await response.text()
          return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Json) }
        }
        const email = `otel-${Date.now()}@example.test`
        const password = "Telemetry-Secret-Passw0rd-42"
        assert.strictEqual((await call("POST", "/api/v1/auth/register", { email, password })).status, 201)
        const login = await call("POST", "/api/v1/auth/login", { email, password })
        assert.strictEqual(login.status, 200)
        const auth = { authorization: `Bearer ${login.body.access_token}` }
        const enrolled = await call("POST", "/api/v1/auth/mfa/enroll", undefined, auth)
        assert.strictEqual(enrolled.status, 200)
        const secret = Totp.Secret.make(enrolled.body.secret)
        const step = Totp.stepAt(Date.now())
        const confirmed = await call(
          "POST",
          "/api/v1/auth/mfa/confirm",
          { code: Totp.codeAt(secret, step) },
          auth
        )
        assert.strictEqual(confirmed.status, 200)
        const challenge = await call("POST", "/api/v1/auth/login", { email, password })
        assert.strictEqual(challenge.body.mfa_required, true)
        // a code of another step: the one just used is spent
        const code = Totp.codeAt(secret, step + 1)
        const verified = await call("POST", "/api/v1/auth/mfa/verify", {
          mfa_token: challenge.body.mfa_token,
          code
        })
        assert.strictEqual(verified.status, 200)
        const refreshed = await call("POST", "/api/v1/auth/refresh", {
          refresh_token: verified.body.refresh_token
        })
        assert.strictEqual(refreshed.status, 200)
        const read = await call("GET", "/api/v1/items/00000000-0000-4000-8000-000000000000", undefined, {
          authorization: `Bearer ${refreshed.body.access_token}`,
          "x-request-id": "telemetry-e2e-1"
        })
        assert.strictEqual(read.status, 404)

        child.kill("SIGTERM")
        assert.strictEqual(await done, 0, stderr)

        // Logs: JSON lines, none with a secret of the run.
        const lines = stdout.split("\n").filter((line) => line.trim() !== "")
        assert.isAbove(lines.length, 5)
        const records = lines.map((line) => JSON.parse(line) as Json)
        const secrets = [
          password,
          login.body.access_token,
          login.body.refresh_token,
          challenge.body.mfa_token,
          verified.body.access_token,
          verified.body.refresh_token,
          refreshed.body.refresh_token,
          enrolled.body.secret,
          ...confirmed.body.recovery_codes
        ] as Array<string>
        // protobuf keeps strings as UTF-8 bytes: a secret in a payload shows in its text either way
        const exported = received.map((r) => r.body.toString("utf8")).join("\n")
        for (const value of secrets) {
          assert.notInclude(stdout, value, "a secret on stdout")
          assert.notInclude(exported, value, "a secret in an OTLP payload")
        }

        // OTLP: the three signals arrived, decoded, with the service's name.
        const paths = new Set(received.map((r) => r.path))
        assert.includeMembers([...paths], ["/v1/traces", "/v1/metrics", "/v1/logs"], [...paths].join(", "))
        for (const r of received)
          assert.include(r.contentType, protocol === "http/json" ? "json" : "protobuf")
        const decoded = OtlpReceiver.decodeAll(received)
        assert.strictEqual(decoded.resource["service.name"], "example-api-e2e")
        assert.include(decoded.metrics, "http.server.request.duration")
        const spans = decoded.spans
        const traceIds = new Set(spans.map((span) => span.traceId))
        // an exported log record of the request carries a trace id of an exported span
        assert.isTrue(
          decoded.logs.some((log) => log.traceId !== undefined && traceIds.has(log.traceId)),
          "no OTLP log record in a span"
        )
        const names = new Set(spans.map((span) => span.name))
        // the server span of each request, by route template, and the use cases and buses inside them
        for (const name of [
          "POST /api/v1/auth/login",
          "GET /api/v1/items/:id",
          "Accounts.register",
          "Accounts.login",
          "Accounts.mfaVerify",
          "Accounts.refresh",
          "QueryBus.dispatch GetItem"
        ]) {
          assert.isTrue(names.has(name), `no span ${name} among ${[...names].join(", ")}`)
        }
        const served = spans.find((span) => span.name === "GET /api/v1/items/:id")
        const query = spans.find((span) => span.name === "QueryBus.dispatch GetItem")
        assert.strictEqual(query?.traceId, served?.traceId, "the query runs in the request's trace")
        // The request's log lines carry a trace id of an exported span.
        const mine = records.filter((record) => record.request_id === "telemetry-e2e-1")
        assert.isAbove(mine.length, 0, "no log line of the request")
        for (const record of mine) assert.isTrue(traceIds.has(record.trace_id), JSON.stringify(record))
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL")
        receiver.close()
      }
    }, 150_000)
})
