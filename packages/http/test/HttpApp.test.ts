import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApi } from "effect/http-api"
import { Health, HttpApp } from "../src/index.ts"
import { serve, widgetsApp } from "./fixtures/client.ts"

const tagged =
  (name: string): HttpApp.Middleware =>
  (app) =>
    Effect.map(app, (response) =>
      HttpServerResponse.setHeader(
        response,
        "x-order",
        [response.headers["x-order"], name].filter(Boolean).join(",")
      )
    )

describe("HttpApp", () => {
  it.effect("runs the middlewares seam in order, inside problem rendering", () =>
    Effect.gen(function* () {
      const app = yield* serve(
        widgetsApp({
          middlewares: [
            tagged("outer"),
            tagged("inner"),
            (inner) => Effect.flatMap(inner, () => Effect.die("bug"))
          ]
        })
      )
      const reply = yield* app.call("GET", "/whoami")
      // The last middleware turned every answer into a defect: rendered as a problem, with headers.
      assert.strictEqual(reply.status, 500)
      assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(reply.headers.get("x-frame-options"), "DENY")
      assert.isString(reply.headers.get("x-request-id"))
      const ordered = yield* serve(widgetsApp({ middlewares: [tagged("outer"), tagged("inner")] }))
      const ok = yield* ordered.call("GET", "/whoami")
      assert.strictEqual(ok.headers.get("x-order"), "inner,outer")
      const missing = yield* ordered.call("GET", "/missing")
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.headers.get("x-order"), null)
    }).pipe(Effect.scoped)
  )

  it.effect("knows the methods of extra routes for 405", () =>
    Effect.gen(function* () {
      const docs = HttpRouter.add("GET", "/docs", HttpServerResponse.html("<p>docs</p>"))
      const app = yield* serve(widgetsApp({ routes: [docs] }))
      const reply = yield* app.call("POST", "/docs", { body: "{}" })
      assert.strictEqual(reply.status, 405)
      assert.strictEqual(reply.headers.get("allow"), "GET, HEAD")
      const head = yield* app.call("HEAD", "/docs")
      assert.strictEqual(head.status, 200)
      assert.strictEqual(head.text, "")
    }).pipe(Effect.scoped)
  )

  it.effect("serves the OpenAPI document where asked, or not at all", () =>
    Effect.gen(function* () {
      const moved = yield* serve(widgetsApp({ openapiPath: "/api/spec.json" }))
      assert.strictEqual((yield* moved.call("GET", "/api/spec.json")).body.openapi, "3.1.0")
      assert.strictEqual((yield* moved.call("GET", "/openapi.json")).status, 404)
      const none = yield* serve(widgetsApp({ openapiPath: false }))
      assert.strictEqual((yield* none.call("GET", "/openapi.json")).status, 404)
    }).pipe(Effect.scoped)
  )

  it.effect("refuses an API that was not prepared with HttpApp.api", () =>
    Effect.gen(function* () {
      class Raw extends HttpApi.make("raw").add(Health.Group) {}
      const { handler, dispose } = HttpApp.toWebHandler(
        HttpApp.layer({ api: Raw, handlers: Health.layer(Raw).pipe(Layer.provide(Health.Checks.layer)) })
      )
      const error = yield* Effect.tryPromise(() => handler(new Request("http://localhost/health/live"))).pipe(
        Effect.flip
      )
      yield* Effect.promise(dispose)
      assert.include(String(error.cause), "health.live")
      assert.include(String(error.cause), "HttpApp.api")
    })
  )

  it.effect("serves over a real socket (node:http loopback)", () =>
    Effect.gen(function* () {
      const { handler, dispose } = HttpApp.toWebHandler(widgetsApp({ bodyLimit: 64 }))
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const hasBody = req.method !== "GET" && req.method !== "HEAD"
        const request = new Request(`http://${req.headers.host}${req.url}`, {
          method: req.method ?? "GET",
          headers: req.headers as Record<string, string>,
          ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {})
        } as RequestInit)
        handler(request).then(async (response) => {
          res.writeHead(response.status, Object.fromEntries(response.headers))
          res.end(Buffer.from(await response.arrayBuffer()))
        })
      })
      const port = yield* Effect.acquireRelease(
        Effect.callback<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
        }),
        () =>
          Effect.promise(async () => {
            server.closeAllConnections()
            await new Promise((resolve) => server.close(resolve))
            await dispose()
          })
      )
      const base = `http://127.0.0.1:${port}`
      const ok = yield* Effect.promise(() => fetch(`${base}/health/live`))
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.headers.get("x-frame-options"), "DENY")
      const chunks = ['{"name":"gear",', `"price":1,"pad":"${"x".repeat(100)}"}`]
      const chunked = yield* Effect.promise(() =>
        fetch(`${base}/widgets`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: Readable.toWeb(Readable.from(chunks)) as ReadableStream<Uint8Array>,
          duplex: "half"
        } as RequestInit)
      )
      assert.strictEqual(chunked.status, 413)
      const problem = (yield* Effect.promise(() => chunked.json())) as { readonly status: number }
      assert.strictEqual(problem.status, 413)
      const declared = yield* Effect.promise(() =>
        fetch(`${base}/widgets`, { method: "POST", body: "x".repeat(65) } as RequestInit)
      )
      assert.strictEqual(declared.status, 413)
    }).pipe(Effect.scoped)
  )
})
