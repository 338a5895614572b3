import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker } from "@org/core"
import { Effect, Layer } from "effect"
import { FetchHttpClient, HttpClientRequest } from "effect/http"
import { Dns, NetAddress } from "effect/net"
import { afterAll, beforeAll } from "vitest"
import * as OutboundClient from "../src/OutboundClient.ts"

// A real server on loopback. Each path counts its hits.
const hits = new Map<string, number>()
let server: Server
let port = 0

beforeAll(
  () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const path = req.url ?? "/"
        const count = (hits.get(path) ?? 0) + 1
        hits.set(path, count)
        const loop = /^\/loop\/(\d+)$/.exec(path)
        if (loop !== null) {
          res.writeHead(302, { location: `/loop/${Number(loop[1]) + 1}` }).end()
        } else if (path === "/redirect-ok") {
          res.writeHead(302, { location: "/ok" }).end()
        } else if (path === "/redirect-metadata") {
          res.writeHead(302, { location: "http://metadata.test/latest/meta-data" }).end()
        } else if (path === "/redirect-localhost") {
          res.writeHead(302, { location: `http://localhost:${port}/secret` }).end()
        } else if (path === "/slow") {
          setTimeout(() => res.writeHead(200).end("late"), 1000)
        } else if (path === "/down") {
          res.writeHead(503).end()
        } else if (path === "/broken") {
          res.writeHead(500).end()
        } else if (path === "/gave-up") {
          res.writeHead(408).end()
        } else if (path === "/missing") {
          res.writeHead(404).end()
        } else if (path.startsWith("/flaky") && count === 1) {
          res.writeHead(503).end()
        } else {
          res.writeHead(200, { "content-type": "text/plain" }).end(`${req.method} ${path}`)
        }
      })
      server.listen(0, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
)
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const dns = Dns.layerStatic({
  hosts: {
    "allowed.test": ["127.0.0.1"],
    "split.test": ["93.184.215.14", "10.0.0.7"],
    "public.test": ["93.184.215.14"],
    "metadata.test": ["169.254.169.254"],
    "v6metadata.test": ["fd00:ec2::254"]
  }
}).pipe(Layer.orDie)

const env = Layer.merge(FetchHttpClient.layer, dns)

// The local server is reachable only through this test-only exemption.
const local: OutboundClient.Options = {
  allow: ["127.0.0.1", "*.test"],
  allowHttp: true,
  unsafeAllowNetworks: ["127.0.0.1/32"]
}

const send = (options: OutboundClient.Options, url: string, method: "GET" | "POST" = "GET") =>
  Effect.gen(function* () {
    const client = yield* OutboundClient.make(options)
    const response = yield* client.execute(HttpClientRequest.make(method)(url))
    return { status: response.status, body: yield* response.text }
  }).pipe(Effect.provide(env))

const refusal = (options: OutboundClient.Options, url: string) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(send(options, url))
    assert.strictEqual(error._tag, "OutboundRefused")
    return error._tag === "OutboundRefused" ? error : assert.fail("expected a refusal")
  })

// Every spelling of loopback is allowed by name, so only the address check can refuse it.
const strict: OutboundClient.Options = {
  allow: ["127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "::", "169.254.169.254", "*.test"],
  allowHttp: true
}

describe("OutboundClient", () => {
  describe("literal IP hosts", () => {
    for (const [name, url] of [
      ["decimal", "http://2130706433/"],
      ["octal", "http://0177.0.0.1/"],
      ["hex", "http://0x7f.0.0.1/"],
      ["short", "http://127.1/"],
      ["IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/"],
      ["unspecified IPv4", "http://0.0.0.0/"],
      ["unspecified IPv6", "http://[::]/"],
      ["cloud metadata", "http://169.254.169.254/latest/meta-data"]
    ] as const) {
      it.live(`refuses ${name} (${url})`, () =>
        Effect.gen(function* () {
          const error = yield* refusal(strict, url)
          assert.strictEqual(error.reason, "private address")
        })
      )
    }

    it("classifies internal and public addresses", () => {
      const internal = [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:10.0.0.1"
      ]
      for (const address of internal) {
        assert.isTrue(OutboundClient.isInternalAddress(NetAddress.ipFromStringUnsafe(address)), address)
      }
      for (const address of ["93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14"]) {
        assert.isFalse(OutboundClient.isInternalAddress(NetAddress.ipFromStringUnsafe(address)), address)
      }
    })
  })

  describe("userinfo", () => {
    for (const url of [
      "http://allowed.test@127.0.0.1/",
      "https://allowed.test@evil.example/",
      "https://u:p@public.test/"
    ]) {
      it.live(`refuses ${url} and redacts it`, () =>
        Effect.gen(function* () {
          const error = yield* refusal(strict, url)
          assert.strictEqual(error.reason, "userinfo")
          assert.notInclude(error.url, "@")
        })
      )
    }
  })

  describe("DNS", () => {
    it.live("refuses a name resolving to 127.0.0.1", () =>
      Effect.gen(function* () {
        const error = yield* refusal(strict, "http://allowed.test/")
        assert.strictEqual(error.reason, "private address")
      })
    )

    it.live("refuses a name with one private record among public ones", () =>
      Effect.gen(function* () {
        const error = yield* refusal(strict, "https://split.test/path?token=secret")
        assert.strictEqual(error.reason, "private address")
        assert.strictEqual(error.url, "https://split.test/path")
      })
    )

    it.live("refuses a name resolving to the IPv6 metadata address", () =>
      Effect.gen(function* () {
        const error = yield* refusal(strict, "https://v6metadata.test/")
        assert.strictEqual(error.reason, "private address")
      })
    )
  })

  describe("policy", () => {
    it.live("refuses a host outside the allow-list", () =>
      Effect.gen(function* () {
        const error = yield* refusal(
          { allow: ["api.example.com", "*.cdn.example.com"] },
          "https://example.com/"
        )
        assert.strictEqual(error.reason, "not allowed")
        const apex = yield* refusal({ allow: ["*.cdn.example.com"] }, "https://cdn.example.com/")
        assert.strictEqual(apex.reason, "not allowed")
      })
    )

    it.live("refuses http without allowHttp", () =>
      Effect.gen(function* () {
        const error = yield* refusal({ allow: ["public.test"] }, "http://public.test/")
        assert.strictEqual(error.reason, "scheme")
      })
    )
  })

  describe("requests", () => {
    it.live("sends an allowed request", () =>
      Effect.gen(function* () {
        const result = yield* send(local, `http://127.0.0.1:${port}/ok`)
        assert.deepStrictEqual(result, { status: 200, body: "GET /ok" })
      })
    )

    it.live("follows a redirect to an allowed host", () =>
      Effect.gen(function* () {
        const result = yield* send(local, `http://127.0.0.1:${port}/redirect-ok`)
        assert.deepStrictEqual(result, { status: 200, body: "GET /ok" })
      })
    )

    it.live("refuses a redirect to the metadata service", () =>
      Effect.gen(function* () {
        const error = yield* refusal(local, `http://127.0.0.1:${port}/redirect-metadata`)
        assert.strictEqual(error.reason, "private address")
        assert.strictEqual(error.url, "http://metadata.test/latest/meta-data")
      })
    )

    it.live("checks each hop itself: fetch does not follow to a host off the list", () =>
      Effect.gen(function* () {
        const error = yield* refusal(
          { ...local, allow: ["127.0.0.1"] },
          `http://127.0.0.1:${port}/redirect-localhost`
        )
        assert.strictEqual(error.reason, "not allowed")
        assert.isUndefined(hits.get("/secret"))
      })
    )

    it.live("refuses a redirect chain longer than maxRedirects", () =>
      Effect.gen(function* () {
        const error = yield* refusal({ ...local, maxRedirects: 3 }, `http://127.0.0.1:${port}/loop/0`)
        assert.strictEqual(error.reason, "too many redirects")
        assert.strictEqual(hits.get("/loop/3"), 1)
        assert.isUndefined(hits.get("/loop/4"))
      })
    )

    it.live("times out with an HttpClientError", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          send({ ...local, timeout: "100 millis" }, `http://127.0.0.1:${port}/slow`)
        )
        assert.strictEqual(error._tag, "HttpClientError")
        if (error._tag === "HttpClientError") assert.strictEqual(error.reason._tag, "TransportError")
      })
    )

    it.live("retries a GET after a 503 and succeeds on the second attempt", () =>
      Effect.gen(function* () {
        const result = yield* send(
          { ...local, retry: { times: 2, base: "10 millis" } },
          `http://127.0.0.1:${port}/flaky-get`
        )
        assert.deepStrictEqual(result, { status: 200, body: "GET /flaky-get" })
        assert.strictEqual(hits.get("/flaky-get"), 2)
      })
    )

    it.live("a breaker per host opens after failing hops and then refuses without calling", () =>
      Effect.gen(function* () {
        const registry = yield* CircuitBreaker.Registry
        const options = { ...local, breaker: registry }
        const url = `http://127.0.0.1:${port}/down`
        // Two 503s reach the caller as responses, and each counts as a failure.
        assert.strictEqual((yield* send(options, url)).status, 503)
        assert.strictEqual((yield* send(options, url)).status, 503)
        const error = yield* Effect.flip(send(options, url))
        assert.strictEqual(error._tag, "CircuitOpen")
        assert.strictEqual(hits.get("/down"), 2)
        // the breaker is the host's: the registry names it after the host
        assert.strictEqual((yield* (yield* registry.get("127.0.0.1")).state).status, "open")
      }).pipe(
        Effect.provide(
          CircuitBreaker.layerRegistry({
            defaults: { trip: { consecutiveFailures: 2 }, openFor: "1 minute" }
          })
        )
      )
    )

    it.live("a 500 or 408 counts against the breaker and is not retried; a 404 counts for nothing", () =>
      Effect.gen(function* () {
        const registry = yield* CircuitBreaker.Registry
        const options: OutboundClient.Options = {
          ...local,
          breaker: registry,
          retry: { times: 2, base: "10 millis" }
        }
        const base = `http://127.0.0.1:${port}`
        // a 4xx is the caller's problem, not the host's: the breaker stays closed
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* send(options, `${base}/missing`)).status, 404)
        assert.strictEqual((yield* (yield* registry.get("127.0.0.1")).state).status, "closed")
        assert.strictEqual((yield* send(options, `${base}/broken`)).status, 500)
        assert.strictEqual((yield* send(options, `${base}/gave-up`)).status, 408)
        assert.strictEqual(hits.get("/broken"), 1)
        assert.strictEqual(hits.get("/gave-up"), 1)
        const error = yield* Effect.flip(send(options, `${base}/broken`))
        assert.strictEqual(error._tag, "CircuitOpen")
        assert.strictEqual(hits.get("/broken"), 1)
      }).pipe(
        Effect.provide(
          CircuitBreaker.layerRegistry({
            defaults: { trip: { consecutiveFailures: 2 }, openFor: "1 minute" }
          })
        )
      )
    )

    it.live("does not retry a POST", () =>
      Effect.gen(function* () {
        const result = yield* send(
          { ...local, retry: { times: 2, base: "10 millis" } },
          `http://127.0.0.1:${port}/flaky-post`,
          "POST"
        )
        assert.strictEqual(result.status, 503)
        assert.strictEqual(hits.get("/flaky-post"), 1)
      })
    )
  })
})
