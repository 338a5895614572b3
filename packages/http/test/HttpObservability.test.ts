import { assert, describe, it } from "@effect/vitest"
import { SpanRecorder } from "@org/testing"
import { Effect, Layer, Logger, Metric, Option, type Tracer } from "effect"
import { HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as HttpRouter from "effect/http/HttpRouter"
import { IpNetwork } from "effect/net"
import { HttpApp, HttpObservability } from "../src/index.ts"
import { serve } from "./fixtures/client.ts"
import { Api, handlers, knownId } from "./fixtures/WidgetsApi.ts"

const serverSpans = (spans: ReadonlyArray<Tracer.NativeSpan>) =>
  spans.filter((span) => span.kind === "server")

const only = (spans: ReadonlyArray<Tracer.NativeSpan>): Tracer.NativeSpan => {
  const servers = serverSpans(spans)
  assert.strictEqual(servers.length, 1, `server spans: ${servers.map((s) => s.name).join(", ")}`)
  return servers[0]!
}

const tracedApp = (
  options: {
    readonly routes?: ReadonlyArray<HttpApp.Route>
    readonly observability?: HttpObservability.Options | false
  } = {}
) => {
  const traces = SpanRecorder.make()
  const app = HttpApp.layer({ api: Api, handlers: handlers(), accessLog: false, ...options }).pipe(
    Layer.provideMerge(Logger.layer([])),
    Layer.provideMerge(traces.layer)
  )
  return { traces, app }
}

describe("HttpObservability", () => {
  it.effect("names the server span after the route template and records the conventions' attributes", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const reply = yield* client.send(
        new Request(`http://api.example.test:8443/widgets/${knownId}?secret=s3cret`, {
          headers: { host: "api.example.test:8443", "user-agent": "probe/1.0", "x-request-id": "req-123" }
        })
      )
      assert.strictEqual(reply.status, 200)
      const span = only(traces.spans)
      assert.strictEqual(span.name, "GET /widgets/:id")
      assert.strictEqual(span.kind, "server")
      const attributes = span.attributes
      assert.strictEqual(attributes.get("http.request.method"), "GET")
      assert.strictEqual(attributes.get("http.route"), "/widgets/:id")
      assert.strictEqual(attributes.get("http.response.status_code"), 200)
      assert.strictEqual(attributes.get("url.scheme"), "http")
      assert.strictEqual(attributes.get("url.path"), `/widgets/${knownId}`)
      assert.strictEqual(attributes.get("server.address"), "api.example.test")
      assert.strictEqual(attributes.get("server.port"), 8443)
      assert.strictEqual(attributes.get("user_agent.original"), "probe/1.0")
      assert.strictEqual(attributes.get("http.request.id"), "req-123")
      // Queries may carry secrets: every value is redacted, and a server span has no url.full.
      assert.strictEqual(attributes.get("url.query"), "secret=REDACTED")
      assert.isFalse(attributes.has("url.full"))
      assert.isFalse(attributes.has("problem.type"))
      assert.isFalse(attributes.has("error.type"))
      assert.strictEqual(span.status._tag, "Ended")
      assert.isTrue(span.status._tag === "Ended" && span.status.exit._tag === "Success")
    }).pipe(Effect.scoped)
  )

  it.effect("a tracer provided inside the app's layer makes no server span (docs/telemetry.md, Wiring)", () =>
    Effect.gen(function* () {
      const traces = SpanRecorder.make()
      const inside = HttpApp.layer({ api: Api, handlers: handlers(), accessLog: false }).pipe(
        Layer.provideMerge(Logger.layer([])),
        Layer.provide(traces.layer)
      )
      const client = yield* serve(inside)
      assert.strictEqual((yield* client.call("GET", `/widgets/${knownId}`)).status, 200)
      assert.deepStrictEqual(serverSpans(traces.spans), [])
    }).pipe(Effect.scoped)
  )

  it.effect("continues a caller's traceparent", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const parentId = "00f067aa0ba902b7"
      yield* client.call("GET", "/whoami", {
        headers: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: "vendor=abc" }
      })
      const span = only(traces.spans)
      assert.strictEqual(span.traceId, traceId)
      assert.isTrue(span.parent._tag === "Some")
      const parent = span.parent._tag === "Some" ? span.parent.value : undefined
      assert.strictEqual(parent?.spanId, parentId)
      assert.strictEqual(parent?.traceId, traceId)
      assert.strictEqual(span.name, "GET /whoami")
    }).pipe(Effect.scoped)
  )

  it.effect("fails the span of a 500 and records the problem type", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const reply = yield* client.call("GET", "/boom")
      assert.strictEqual(reply.status, 500)
      const span = only(traces.spans)
      assert.strictEqual(span.name, "GET /boom")
      assert.strictEqual(span.attributes.get("http.response.status_code"), 500)
      assert.strictEqual(span.attributes.get("problem.type"), "/docs/problems#internal")
      assert.strictEqual(span.attributes.get("error.type"), "500")
      assert.isTrue(span.status._tag === "Ended" && span.status.exit._tag === "Failure")
    }).pipe(Effect.scoped)
  )

  it.effect("names an unmatched request by its method and records the 404 problem type", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const reply = yield* client.call("GET", "/no/such/thing/123")
      assert.strictEqual(reply.status, 404)
      const span = only(traces.spans)
      assert.strictEqual(span.name, "GET")
      assert.isFalse(span.attributes.has("http.route"))
      assert.strictEqual(span.attributes.get("http.response.status_code"), 404)
      assert.strictEqual(span.attributes.get("problem.type"), reply.body.type)
      assert.strictEqual(span.attributes.get("problem.type"), "/docs/problems#not-found")
      // A 4xx is the caller's error, not the server's.
      assert.isTrue(span.status._tag === "Ended" && span.status.exit._tag === "Success")
    }).pipe(Effect.scoped)
  )

  it.effect("records 405 and 415 problems inside the span", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      yield* client.call("DELETE", "/widgets")
      yield* client.call("POST", "/widgets", { body: "x", headers: { "content-type": "text/plain" } })
      const [notAllowed, unsupported] = serverSpans(traces.spans)
      assert.strictEqual(notAllowed?.attributes.get("problem.type"), "/docs/problems#method-not-allowed")
      assert.strictEqual(unsupported?.name, "POST /widgets")
      assert.strictEqual(unsupported?.attributes.get("problem.type"), "/docs/problems#unsupported-media-type")
    }).pipe(Effect.scoped)
  )

  it.effect("does not trace health and metrics by default, and can be told to", () =>
    Effect.gen(function* () {
      const metricsRoute = HttpRouter.add("GET", "/metrics", HttpServerResponse.text("m 1\n"))
      const quiet = tracedApp({ routes: [metricsRoute] })
      const client = yield* serve(quiet.app)
      assert.strictEqual((yield* client.call("GET", "/health/live")).status, 200)
      assert.strictEqual((yield* client.call("GET", "/metrics")).status, 200)
      assert.strictEqual(serverSpans(quiet.traces.spans).length, 0)
      const loud = tracedApp({ routes: [metricsRoute], observability: { untracedPaths: [] } })
      const traced = yield* serve(loud.app)
      yield* traced.call("GET", "/health/live")
      yield* traced.call("GET", "/metrics")
      assert.deepStrictEqual(
        serverSpans(loud.traces.spans).map((span) => span.name),
        ["GET /health/live", "GET /metrics"]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("observability: false leaves Effect's plain span names", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp({ observability: false })
      const client = yield* serve(app)
      yield* client.call("GET", `/widgets/${knownId}`)
      assert.strictEqual(only(traces.spans).name, "GET")
    }).pipe(Effect.scoped)
  )

  it.effect("records a route's redactedParams as REDACTED in url.path", () =>
    Effect.gen(function* () {
      const hook = HttpRouter.add("GET", "/hooks/:id/:secret", HttpServerResponse.text("ok"), {
        redactedParams: ["secret"]
      })
      const { traces, app } = tracedApp({ routes: [hook] })
      const client = yield* serve(app)
      assert.strictEqual((yield* client.call("GET", "/hooks/h%207/s3cret-value?x=1")).status, 200)
      const span = only(traces.spans)
      assert.strictEqual(span.name, "GET /hooks/:id/:secret")
      assert.strictEqual(span.attributes.get("url.path"), "/hooks/h%207/REDACTED")
      assert.strictEqual(span.attributes.get("url.query"), "x=REDACTED")
      assert.notInclude(JSON.stringify([...span.attributes]), "s3cret")
    }).pipe(Effect.scoped)
  )

  it("redacts whole any segment of a redacting route it cannot split safely", () => {
    const templates = HttpObservability.makeRouteTemplates({ caseSensitive: true })
    templates.add("GET", "/a/:x-:y", ["y"])
    templates.add("GET", "/files/:owner/*", ["*"])
    templates.add("GET", "/open/:id")
    const path = (url: string) => templates.path("GET", url, templates.find("GET", url))
    assert.strictEqual(path("/a/one-two"), "/a/REDACTED")
    assert.strictEqual(path("/files/ann/secret/dir/file.txt"), "/files/ann/REDACTED")
    // HEAD is served by the GET route, with its redactions.
    assert.strictEqual(
      templates.path("HEAD", "/files/ann/x", templates.find("HEAD", "/files/ann/x")),
      "/files/ann/REDACTED"
    )
    // Routes without redacted params keep the path as sent.
    assert.strictEqual(path("/open/7?q=1"), "/open/7")
    assert.strictEqual(path("/nowhere/7"), "/nowhere/7")
  })

  it.effect("server.address and server.port come from a well-formed Host only", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const hostOf = (host: string) =>
        Effect.gen(function* () {
          traces.clear()
          yield* client.send(new Request(`http://localhost/widgets/${knownId}`, { headers: { host } }))
          const attributes = only(traces.spans).attributes
          return [attributes.get("server.address"), attributes.get("server.port")]
        })
      assert.deepStrictEqual(yield* hostOf("[::1]:8080"), ["::1", 8080])
      assert.deepStrictEqual(yield* hostOf("API.Example.TEST"), ["api.example.test", 80])
      assert.deepStrictEqual(yield* hostOf("bad host:80"), [undefined, undefined])
      assert.deepStrictEqual(yield* hostOf("example.test:99999"), ["example.test", undefined])
    }).pipe(Effect.scoped)
  )

  it.effect("a method the conventions do not name is _OTHER, with the original kept", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const reply = yield* client.call("PURGE", `/widgets/${knownId}`)
      assert.strictEqual(reply.status, 405)
      const span = only(traces.spans)
      assert.strictEqual(span.name, "HTTP")
      assert.strictEqual(span.attributes.get("http.request.method"), "_OTHER")
      assert.strictEqual(span.attributes.get("http.request.method_original"), "PURGE")
    }).pipe(Effect.scoped)
  )

  it("matches templates as the router does", () => {
    const templates = HttpObservability.makeRouteTemplates({ caseSensitive: true })
    templates.add("GET", "/items/:id")
    templates.add("*", "/files/*")
    assert.strictEqual(templates.find("GET", "/items/1?x=1"), "/items/:id")
    assert.strictEqual(templates.find("HEAD", "/items/1"), "/items/:id")
    assert.strictEqual(templates.find("POST", "/items/1"), undefined)
    assert.strictEqual(templates.find("DELETE", "/files"), "/files/*")
    assert.strictEqual(templates.find("GET", "/Items/1"), undefined)
  })

  it.effect("cuts a long user agent to maxUserAgentLength characters", () =>
    Effect.gen(function* () {
      const { traces, app } = tracedApp()
      const client = yield* serve(app)
      const agent = `probe/${"x".repeat(20_000)}`
      yield* client.send(
        new Request(`http://localhost/widgets/${knownId}`, { headers: { "user-agent": agent } })
      )
      const recorded = only(traces.spans).attributes.get("user_agent.original")
      assert.strictEqual(recorded, agent.slice(0, HttpObservability.maxUserAgentLength))
      assert.strictEqual(HttpObservability.maxUserAgentLength, 256)
    }).pipe(Effect.scoped)
  )

  it.effect(
    "url.scheme and client.address are a trusted proxy's X-Forwarded-*, never an untrusted caller's",
    () =>
      Effect.gen(function* () {
        const traces = SpanRecorder.make()
        const app = HttpApp.layer({
          api: Api,
          handlers: handlers(),
          accessLog: false,
          trustedProxies: [IpNetwork.fromStringUnsafe("10.0.0.0/8")]
        }).pipe(Layer.provideMerge(Logger.layer([])), Layer.provideMerge(traces.layer))
        // The transport peer of each request, from a test header (the in-memory server has none).
        const { dispose, handler } = HttpRouter.toWebHandler(
          app.pipe(Layer.provide(HttpServer.layerServices)),
          {
            disableLogger: true,
            routerConfig: { caseSensitive: true },
            middleware: (inner) =>
              Effect.updateService(inner, HttpServerRequest.HttpServerRequest, (request) => {
                const peer = Option.some(request.headers["x-test-peer"] ?? "")
                return request.modify({ remoteAddress: peer, peerAddress: peer })
              })
          }
        )
        yield* Effect.addFinalizer(() => Effect.promise(dispose))
        const send = (peer: string) =>
          Effect.promise(() =>
            handler(
              new Request(`http://api.example.test/widgets/${knownId}`, {
                headers: {
                  "x-test-peer": peer,
                  "x-forwarded-for": "198.51.100.7",
                  "x-forwarded-proto": "https"
                }
              })
            )
          )
        const schemes = Effect.map(Metric.snapshot, (metrics) =>
          metrics
            .filter(
              (metric) =>
                metric.id === HttpObservability.metricNames.requestDuration &&
                metric.attributes?.["http.route"] === "/widgets/:id"
            )
            .map((metric) => String(metric.attributes?.["url.scheme"]))
        )
        const before = yield* schemes

        assert.strictEqual((yield* send("10.0.0.1")).status, 200)
        const trusted = only(traces.spans)
        assert.strictEqual(trusted.attributes.get("url.scheme"), "https")
        // The client behind the trusted proxy, not the proxy.
        assert.strictEqual(trusted.attributes.get("client.address"), "198.51.100.7")
        assert.includeMembers(yield* schemes, ["https"])

        traces.clear()
        assert.strictEqual((yield* send("203.0.113.9")).status, 200)
        const untrusted = only(traces.spans)
        assert.strictEqual(untrusted.attributes.get("url.scheme"), "http")
        assert.strictEqual(untrusted.attributes.get("client.address"), "203.0.113.9")
        assert.isTrue(before.every((scheme) => scheme !== "https"))
      }).pipe(Effect.scoped)
  )

  it.effect("looks the route up once per request, for the span name, http.route and the metrics", () =>
    Effect.gen(function* () {
      const routes = HttpObservability.makeRouteTemplates({ caseSensitive: true })
      routes.add("GET", "/widgets/:id")
      let lookups = 0
      const templates: HttpObservability.RouteTemplates = {
        ...routes,
        find: (method, url) => {
          lookups++
          return routes.find(method, url)
        }
      }
      const tracer = SpanRecorder.make()
      const observed = HttpObservability.middleware({ templates })(Effect.succeed(HttpServerResponse.empty()))
      const send = (url: string) =>
        observed.pipe(
          Effect.provideService(
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request(url))
          ),
          Effect.provide(tracer.layer),
          Effect.scoped
        )
      assert.strictEqual((yield* send("http://localhost/widgets/w-1")).status, 204)
      assert.strictEqual(lookups, 1)
      const span = only(tracer.spans)
      assert.strictEqual(span.name, "GET /widgets/:id")
      assert.strictEqual(span.attributes.get("http.route"), "/widgets/:id")
      yield* send("http://localhost/widgets/w-2")
      assert.strictEqual(lookups, 2)
    })
  )
})
