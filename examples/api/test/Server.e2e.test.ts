/**
 * End to end: the example app on a real listening socket on 127.0.0.1, and
 * the real entry point as a process (configuration errors).
 */
import { execFile } from "node:child_process"
import { generateKeyPairSync } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { HttpApp } from "@org/http"
import { Runner } from "@org/server"
import { ConfigProvider, Context, Effect, Exit, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as Service from "../src/server/Service.ts"
import { AppLayer, makeApi } from "./client.ts"

const Listening = HttpApp.serve(AppLayer()).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
)

describe("example API over HTTP on loopback", () => {
  it.live(
    "signs up, then creates, reads and lists items through a real socket",
    () =>
      Effect.gen(function* () {
        const context = yield* Layer.build(Listening)
        const base = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
        assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
        const api = yield* makeApi((request) => fetch(request, { signal: AbortSignal.timeout(10_000) }), base)
        const call = (path: string, init?: RequestInit) =>
          Effect.promise(async () => {
            const response = await fetch(`${base}${path}`, {
              ...init,
              headers: { ...api.user.auth, ...(init?.headers as Record<string, string>) },
              signal: AbortSignal.timeout(10_000)
            })
            // biome-ignore lint/suspicious/noExplicitAny: the test asserts on the JSON field by field.
            const body: any = await response.json()
            return { status: response.status, headers: response.headers, body }
          })
        const created = yield* call("/api/v1/items", {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": "e2e-1" },
          body: JSON.stringify({ name: "Socket wrench", price: 7.25, quantity: 10 })
        })
        assert.strictEqual(created.status, 201)
        assert.strictEqual(created.headers.get("x-request-id"), "e2e-1")
        const fetched = yield* call(`/api/v1/items/${created.body.id}`)
        assert.deepStrictEqual(fetched.body, created.body)
        const listed = yield* call("/api/v1/items?sort=name")
        assert.strictEqual(listed.body.total, 1)
        const missing = yield* call("/api/v1/items/00000000-0000-4000-8000-000000000000")
        assert.strictEqual(missing.status, 404)
        assert.strictEqual(missing.headers.get("content-type"), "application/problem+json")
        assert.strictEqual(missing.body.instance, "/api/v1/items/00000000-0000-4000-8000-000000000000")
      }).pipe(Effect.scoped),
    60_000
  )
})

// A well-formed MFA key (32 bytes, base64), so the production cases fail on the key they name.
const mfaKey = Buffer.alloc(32, 7).toString("base64")

// A valid ES256 private key, so a production start gets past the keys.
const productionKey = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString()

// Every bad setting, launched in process (the same options and runner as
// `main.ts`) with a configuration of its own; a few of them also through the
// real entry point as a process, for the exit code and the one line on stderr.
const scratch = mkdtempSync(join(tmpdir(), "example-api-config-"))

const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
  [{ PORT: "eighty" }, "PORT"],
  [{ PORT: "70000" }, "PORT"],
  [{ APP_ENV: "staging" }, "APP_ENV"],
  [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
  [{ BODY_LIMIT: "lots" }, "BODY_LIMIT"],
  [{ DATABASE_URL: "mysql://root@localhost/db" }, "DATABASE_URL"],
  [{ JWT_ALGORITHM: "none" }, "JWT_ALGORITHM"],
  [{ ACCESS_TOKEN_TTL: "forever" }, "ACCESS_TOKEN_TTL"],
  [{ ADMIN_EMAIL: "admin@example.test" }, "ADMIN_PASSWORD"],
  [{ APP_ENV: "production", JWT_PRIVATE_KEY: "x".repeat(40) }, "MFA_ENCRYPTION_KEY"],
  [{ APP_ENV: "production", MFA_ENCRYPTION_KEY: mfaKey }, "JWT_PRIVATE_KEY"],
  // Everything else is valid: the embedded database is refused in production.
  [{ APP_ENV: "production", MFA_ENCRYPTION_KEY: mfaKey, JWT_PRIVATE_KEY: productionKey }, "DATABASE_URL"],
  [
    {
      APP_ENV: "production",
      MFA_ENCRYPTION_KEY: mfaKey,
      JWT_ALGORITHM: "HS256",
      JWT_PRIVATE_KEY: "s".repeat(48)
    },
    "JWT_ALGORITHM"
  ],
  [{ JWT_ALGORITHM: "HS256", JWT_PRIVATE_KEY: "too-short-secret" }, "JWT_PRIVATE_KEY"],
  [{ SHUTDOWN_TIMEOUT: "whenever" }, "SHUTDOWN_TIMEOUT"],
  [{ ADMIN_EMAIL: "not an email", ADMIN_PASSWORD: "Adm1n-Test-Passw0rd-Long" }, "ADMIN_EMAIL"],
  [{ REFRESH_TOKEN_TTL: "0 seconds" }, "REFRESH_TOKEN_TTL"],
  [{ MFA_ENCRYPTION_KEY: "not-base64-32-bytes" }, "MFA_ENCRYPTION_KEY"]
]

const assertOneLineNaming = (text: string, variable: string) => {
  const lines = text.trim().split("\n")
  assert.lengthOf(lines, 1, text)
  assert.include(lines[0], variable)
  assert.notInclude(text, "    at ")
  assert.notInclude(text, "mysql://root", "the value of a secret is never echoed")
  assert.notInclude(text, "s".repeat(48), "the value of a secret is never echoed")
  assert.notInclude(text, "too-short-secret", "the value of a secret is never echoed")
}

describe("the example's start with a bad setting", () => {
  for (const [env, variable] of cases) {
    it.live(`refuses ${variable}=${env[variable]}: one line naming it, no stack trace`, () =>
      Effect.gen(function* () {
        const exit = yield* Runner.launch(Service.options).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            // PORT 0: were a case to pass, it would not take a real port.
            ConfigProvider.fromEnv({ env: { DATA_DIR: scratch, PORT: "0", LOG_LEVEL: "none", ...env } })
          ),
          Effect.timeout("20 seconds"),
          Effect.exit
        )
        assert.isTrue(Exit.isFailure(exit), "the start must fail")
        if (Exit.isFailure(exit))
          assertOneLineNaming(Runner.describe(exit.cause, Service.options.name), variable)
      })
    )
  }
})

describe("the entry point", () => {
  const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
  const start = (env: Record<string, string>) =>
    new Promise<{ readonly status: number | null; readonly stderr: string }>((resolve) => {
      // Config errors stop the start before any file is written; DATA_DIR is a scratch dir anyway.
      const child = execFile(
        process.execPath,
        ["--conditions=@org/source", main],
        {
          env: { ...process.env, DATABASE_URL: "", DATA_DIR: scratch, ...env },
          encoding: "utf8",
          timeout: 30_000
        },
        (_error, _stdout, stderr) => resolve({ status: child.exitCode, stderr })
      )
    })

  // One case per stage of the start: the server's settings, the database URL,
  // a secret, and production's refusals with everything else valid.
  const processCases = cases.filter(([env, variable]) =>
    [env.PORT === "eighty", variable === "DATABASE_URL", env.JWT_PRIVATE_KEY === "too-short-secret"].some(
      Boolean
    )
  )

  it("exits non-zero with one line on stderr naming the setting, for each stage of the start", async () => {
    assert.lengthOf(processCases, 4)
    // Side by side: each is a whole Node start.
    const results = await Promise.all(processCases.map(([env]) => start(env)))
    results.forEach((result, i) => {
      assert.notStrictEqual(result.status, 0)
      assert.notStrictEqual(result.status, null, "exited by itself, not by the timeout")
      assertOneLineNaming(result.stderr, processCases[i]![1])
    })
  }, 60_000)
})
