/**
 * `GET /docs` in a real browser: the example app on a loopback socket,
 * headless Chromium driven over the DevTools protocol (Node's own
 * `WebSocket`, no driver package). The page must render the items
 * endpoints, request nothing outside 127.0.0.1 and log no error (a CSP
 * violation is one). The screenshot goes to `examples/api/test-output/`.
 *
 * Skipped with a message when `chromium` is not installed, unless
 * `REQUIRE_SERVICES` is set (CI installs it).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { HttpApp } from "@org/http"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { AppLayer } from "./client.ts"

const chromium = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).stdout.trim()
const required = process.env.REQUIRE_SERVICES !== undefined && process.env.REQUIRE_SERVICES !== ""
const outputDir = fileURLToPath(new URL("../test-output/", import.meta.url))

if (chromium === "" && !required) {
  console.warn("Docs.browser.test: skipped, `chromium` is not installed (apt-get install -y chromium)")
}

const Listening = HttpApp.serve(AppLayer()).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
)

interface Browser {
  readonly process: ChildProcess
  readonly profile: string
  readonly endpoint: string
}

const launch = (): Promise<Browser> =>
  new Promise((resolve, reject) => {
    const profile = mkdtempSync(join(tmpdir(), "docs-browser-"))
    const child = spawn(
      chromium,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        "about:blank"
      ],
      { stdio: ["ignore", "ignore", "pipe"] }
    )
    let stderr = ""
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${stderr.slice(-500)}`)), 10_000)
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve({ process: child, profile, endpoint: match[1] })
      }
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`chromium exited (${code}): ${stderr.slice(-500)}`))
    })
  })

const close = (browser: Browser) =>
  new Promise<void>((resolve) => {
    if (browser.process.exitCode !== null) return resolve()
    browser.process.once("exit", () => resolve())
    browser.process.kill("SIGKILL")
  }).then(() => rmSync(browser.profile, { recursive: true, force: true }))

// biome-ignore lint/suspicious/noExplicitAny: DevTools protocol messages; the test reads the few fields it asserts on.
type Message = any

/** A DevTools protocol session over one WebSocket (flattened target sessions). */
const connect = (endpoint: string) =>
  new Promise<{
    readonly send: (method: string, params?: object, sessionId?: string) => Promise<Message>
    readonly on: (listener: (method: string, params: Message) => void) => void
    readonly close: () => void
  }>((resolve, reject) => {
    const socket = new WebSocket(endpoint)
    let id = 0
    const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
    const listeners: Array<(method: string, params: Message) => void> = []
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data))
      if (message.id !== undefined) {
        const waiter = pending.get(message.id)
        pending.delete(message.id)
        if (message.error) waiter?.reject(new Error(JSON.stringify(message.error)))
        else waiter?.resolve(message.result)
      } else {
        for (const listener of listeners) listener(message.method, message.params)
      }
    }
    socket.onerror = () => reject(new Error("DevTools socket error"))
    socket.onopen = () =>
      resolve({
        send: (method, params = {}, sessionId) =>
          new Promise((res, rej) => {
            const n = ++id
            pending.set(n, { resolve: res, reject: rej })
            socket.send(JSON.stringify({ id: n, method, params, ...(sessionId ? { sessionId } : {}) }))
          }),
        on: (listener) => listeners.push(listener),
        close: () => socket.close()
      })
  })

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))
  ])

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Opens `url`, waits until the DOM shows `expect`, and reports what the page did. */
const visit = async (browser: Browser, url: string, expect: ReadonlyArray<string>) => {
  const cdp = await connect(browser.endpoint)
  try {
    const requests: Array<string> = []
    const errors: Array<string> = []
    let status: number | undefined
    cdp.on((method, params) => {
      if (method === "Network.requestWillBeSent") requests.push(params.request.url)
      if (method === "Network.responseReceived" && params.type === "Document") status = params.response.status
      if (method === "Runtime.consoleAPICalled" && params.type === "error")
        errors.push(`console: ${params.args.map((a: Message) => a.value ?? a.description).join(" ")}`)
      if (method === "Runtime.exceptionThrown")
        errors.push(
          `exception: ${params.exceptionDetails.exception?.description ?? params.exceptionDetails.text}`
        )
      // The browser's own favicon probe (no page asked for it) is not an error of the page.
      if (
        method === "Log.entryAdded" &&
        params.entry.level === "error" &&
        !/\/favicon\.ico$/.test(params.entry.url ?? "")
      )
        errors.push(`log (${params.entry.source}): ${params.entry.text} ${params.entry.url ?? ""}`.trim())
    })
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" })
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true })
    for (const domain of ["Network", "Runtime", "Log", "Page"])
      await cdp.send(`${domain}.enable`, {}, sessionId)
    const navigated = performance.now()
    await cdp.send("Page.navigate", { url }, sessionId)
    let text = ""
    const renderedBy = performance.now() + 45_000
    while (performance.now() < renderedBy) {
      const result = await cdp.send(
        "Runtime.evaluate",
        { expression: "document.body ? document.body.innerText : ''", returnByValue: true },
        sessionId
      )
      text = String(result.result.value ?? "")
      if (expect.every((needle) => text.includes(needle))) break
      await sleep(100)
    }
    const ms = performance.now() - navigated
    // Let late requests (fonts, images) show up before counting them.
    await sleep(500)
    const shot = await cdp.send("Page.captureScreenshot", { format: "png" }, sessionId)
    return { status, text, requests, errors, ms, png: Buffer.from(shot.data, "base64") }
  } finally {
    cdp.close()
  }
}

describe.skipIf(chromium === "" && !required)("GET /docs in headless Chromium", () => {
  it.live(
    "renders the items endpoints offline, with no console error",
    () =>
      Effect.gen(function* () {
        assert.notStrictEqual(chromium, "", "REQUIRE_SERVICES is set but `chromium` is not installed")
        const started = performance.now()
        const context = yield* Layer.build(Listening)
        const built = performance.now() - started
        const base = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
        assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)

        const first = performance.now()
        const page = yield* Effect.promise(() =>
          fetch(`${base}/docs`, { signal: AbortSignal.timeout(10_000) }).then(async (r) => ({
            status: r.status,
            csp: r.headers.get("content-security-policy"),
            bytes: (await r.arrayBuffer()).byteLength
          }))
        )
        const firstMs = performance.now() - first
        assert.strictEqual(page.status, 200)
        assert.include(page.csp, "script-src 'self' 'unsafe-inline'")
        assert.isAbove(page.bytes, 100_000, "the Scalar bundle is inlined")
        console.info(
          `Docs.browser.test: app built in ${built.toFixed(0)} ms, /docs is ${page.bytes} bytes, first response ${firstMs.toFixed(0)} ms`
        )

        const browser = yield* Effect.acquireRelease(
          Effect.promise(() => launch()),
          (b) => Effect.promise(() => close(b))
        )
        const visited = yield* Effect.promise(() =>
          withTimeout(
            visit(browser, `${base}/docs`, ["/api/v1/items", "/api/v1/items/{id}"]),
            // Chromium renders the 2 MB page in 1 to 3 s; far more on a loaded 2-core machine.
            60_000,
            "docs page"
          )
        )
        assert.strictEqual(visited.status, 200)
        assert.include(visited.text, "/api/v1/items")
        assert.include(visited.text, "/api/v1/items/{id}")
        const outside = visited.requests.filter(
          (u) => !u.startsWith(`${base}/`) && !u.startsWith("data:") && !u.startsWith("blob:")
        )
        assert.deepStrictEqual(outside, [], "every request stays on 127.0.0.1")
        console.info(
          `Docs.browser.test: ${visited.requests.length} requests, rendered in ${visited.ms.toFixed(0)} ms`
        )
        assert.deepStrictEqual(visited.errors, [], "no console error")
        assert.isAbove(visited.png.byteLength, 1000)
        mkdirSync(outputDir, { recursive: true })
        writeFileSync(join(outputDir, "docs.png"), visited.png)
        console.info(`Docs.browser.test: screenshot ${join(outputDir, "docs.png")}`)
      }).pipe(Effect.scoped),
    90_000
  )
})
