/**
 * The outbound client continues the caller's trace: one `client` span per
 * hop, and a `traceparent` naming that span on every request a loopback
 * server receives.
 */

import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { SpanRecorder } from "@org/testing"
import { Effect, Layer, Tracer } from "effect"
import { FetchHttpClient, HttpClientRequest } from "effect/http"
import { Dns } from "effect/net"
import { afterAll, beforeAll } from "vitest"
import * as OutboundClient from "../src/OutboundClient.ts"

// What the loopback server saw: path and trace headers of each request.
const received: Array<{ path: string; traceparent: string | undefined; tracestate: string | undefined }> = []
let server: Server
let port = 0

beforeAll(
  () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const path = req.url ?? "/"
        received.push({
          path,
          traceparent: req.headers.traceparent as string | undefined,
          tracestate: req.headers.tracestate as string | undefined
        })
        if (path.startsWith("/hop")) res.writeHead(302, { location: "/ok" }).end()
        else res.writeHead(200, { "content-type": "text/plain" }).end("ok")
      })
      server.listen(0, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
)
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const env = Layer.merge(FetchHttpClient.layer, Dns.layerStatic({ hosts: {} }).pipe(Layer.orDie))

const options: OutboundClient.Options = {
  allow: ["127.0.0.1"],
  allowHttp: true,
  unsafeAllowNetworks: ["127.0.0.1/32"]
}

const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/

describe("OutboundClient tracing", () => {
  it.live("sends the caller's trace on every hop, one client span each, query values redacted", () =>
    Effect.gen(function* () {
      const { spans, tracer } = SpanRecorder.make()
      received.length = 0
      const caller = yield* Effect.gen(function* () {
        const client = yield* OutboundClient.make(options)
        const response = yield* client.execute(
          HttpClientRequest.get(`http://127.0.0.1:${port}/hop?api_key=s3cret&page=2`)
        )
        assert.strictEqual(response.status, 200)
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("caller"), Effect.provide(env), Effect.provideService(Tracer.Tracer, tracer))

      assert.deepStrictEqual(
        received.map((r) => r.path),
        ["/hop?api_key=s3cret&page=2", "/ok"]
      )
      const clientSpans = spans.filter((span) => span.kind === "client")
      assert.strictEqual(clientSpans.length, 2)
      for (const [i, hop] of received.entries()) {
        const match = traceparent.exec(hop.traceparent ?? "")
        assert.isNotNull(match, hop.traceparent)
        // Same trace as the caller; the parent the callee sees is this hop's client span.
        assert.strictEqual(match?.[1], caller.traceId)
        assert.strictEqual(match?.[2], clientSpans[i]?.spanId)
      }
      const [first, second] = clientSpans
      assert.strictEqual(first?.attributes.get("http.request.method"), "GET")
      assert.strictEqual(first?.attributes.get("server.address"), "127.0.0.1")
      assert.strictEqual(first?.attributes.get("server.port"), port)
      assert.strictEqual(first?.attributes.get("http.response.status_code"), 302)
      assert.strictEqual(
        first?.attributes.get("url.full"),
        `http://127.0.0.1:${port}/hop?api_key=REDACTED&page=REDACTED`
      )
      assert.notInclude(JSON.stringify([...(first?.attributes ?? [])]), "s3cret")
      assert.strictEqual(second?.attributes.get("url.full"), `http://127.0.0.1:${port}/ok`)
      for (const span of clientSpans) {
        assert.isTrue(span.parent._tag === "Some" && span.parent.value.spanId === caller.spanId)
      }
    })
  )
})
