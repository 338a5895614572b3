/**
 * `/metrics` read back with a real Prometheus text parser: the HTTP metrics
 * count what was sent, refusals are counted where they are decided, and the
 * route refuses a scrape without its token when one is configured.
 */
import { assert, describe, it } from "@effect/vitest"
import { AccessTokens, Principal, RateLimiter, Rbac, RevocationStore } from "@org/core"
import { ConfigProvider, Duration, Effect, Layer, Logger, Metric, Redacted, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import parse, { type Family } from "parse-prometheus-text-format"
import { Authentication, HttpApp, Metrics, RateLimit } from "../src/index.ts"
import { type Client, serve } from "./fixtures/client.ts"

const policy = Rbac.make({
  permissions: ["notes:read"],
  roles: { reader: { permissions: ["notes:read"] }, nobody: { permissions: [] } }
})

class Api extends HttpApp.api(
  HttpApi.make("metrics-test")
    .add(
      HttpApiGroup.make("things")
        .add(
          HttpApiEndpoint.get("get", "/things/:id", { params: { id: Schema.String }, success: Schema.String })
        )
        .middleware(RateLimit.Middleware)
    )
    .add(
      HttpApiGroup.make("notes")
        .add(
          HttpApiEndpoint.get("read", "/notes", { success: Schema.String }).annotateMerge(
            Authentication.requires(policy, "notes:read")
          )
        )
        .middleware(Authentication.Authentication)
    )
) {}

const tokens: Record<string, AccessTokens.Claims> = {
  reader: { subject: "r", roles: ["reader"], tokenId: "j1", issuedAt: 1_000, expiresAt: 9e15 },
  nobody: { subject: "n", roles: ["nobody"], tokenId: "j2", issuedAt: 1_000, expiresAt: 9e15 }
}
const Tokens = Layer.succeed(
  AccessTokens.AccessTokens,
  AccessTokens.AccessTokens.of({
    issue: () => Effect.die("not used"),
    verify: (token) => {
      const claims = tokens[token]
      return claims === undefined
        ? Effect.fail(new AccessTokens.InvalidToken({ reason: "unknown" }))
        : Effect.succeed(claims)
    }
  })
)

const handlers = Layer.mergeAll(
  HttpApiBuilder.group(Api, "things", (h) => h.handle("get", ({ params }) => Effect.succeed(params.id))),
  HttpApiBuilder.group(Api, "notes", (h) =>
    h.handle("read", () => Effect.map(Principal.CurrentPrincipal, (p) => p.subject))
  )
).pipe(
  Layer.provide(Authentication.layer({ policy })),
  Layer.provide(
    RateLimit.layer({ policies: { default: { limit: 5, window: Duration.minutes(1) } } }).pipe(
      Layer.provide(RateLimiter.layerMemory)
    )
  ),
  Layer.provide(Layer.merge(Tokens, RevocationStore.layerMemory))
)

// Each app gets its own metric registry, so counts start at zero.
const app = (access: Layer.Layer<Metrics.Access>) =>
  HttpApp.layer({
    api: Api,
    handlers,
    accessLog: false,
    routes: [Metrics.route().pipe(Layer.provide(access))]
  }).pipe(
    Layer.provideMerge(Logger.layer([])),
    Layer.provideMerge(Layer.sync(Metric.MetricRegistry, () => new Map()))
  )

const scrape = (client: Client, headers: Record<string, string> = {}) =>
  Effect.map(client.call("GET", "/metrics", { headers }), (reply) => {
    assert.strictEqual(reply.status, 200, reply.text)
    assert.strictEqual(reply.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
    // The whole text goes through the parser (it throws on a malformed line).
    // It folds every labelled series of a histogram into one, so the series
    // (`_bucket`, `_count`, ...) are also read as plain samples, TYPE lines aside.
    return {
      text: reply.text,
      families: parse(reply.text),
      series: parse(reply.text.replace(/^# TYPE \S+ histogram$/gm, ""))
    }
  })

const family = (families: ReadonlyArray<Family>, name: string): Family => {
  const found = families.find((f) => f.name === name)
  return found ?? assert.fail(`no ${name} in ${families.map((f) => f.name).join(", ")}`)
}

// Every sample of `name` with these labels (a name's lines need not be adjacent).
const samples = (families: ReadonlyArray<Family>, name: string, labels: Record<string, string>) =>
  families
    .filter((f) => f.name === name)
    .flatMap((f) => f.metrics)
    .filter((m) => Object.entries(labels).every(([key, value]) => m.labels?.[key] === value))

describe("Metrics", () => {
  it.effect("serves the HTTP metrics in Prometheus text that matches what was sent", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(Metrics.layer({})))
      const sent = 4
      for (let i = 0; i < sent; i++) {
        assert.strictEqual((yield* client.call("GET", `/things/${i}`)).status, 200)
      }
      yield* client.call("GET", "/nowhere/7")
      const { families, series } = yield* scrape(client)
      assert.strictEqual(family(families, "http_server_request_duration_seconds").type, "HISTOGRAM")
      const thing = {
        http_route: "/things/:id",
        http_request_method: "GET",
        http_response_status_code: "200",
        url_scheme: "http"
      }
      const counts = samples(series, "http_server_request_duration_seconds_count", thing)
      assert.deepStrictEqual(
        counts.map((m) => Number(m.value)),
        [sent]
      )
      const buckets = samples(series, "http_server_request_duration_seconds_bucket", thing)
      assert.deepStrictEqual(
        buckets.map((m) => m.labels?.le),
        [
          "0.005",
          "0.01",
          "0.025",
          "0.05",
          "0.075",
          "0.1",
          "0.25",
          "0.5",
          "0.75",
          "1",
          "2.5",
          "5",
          "7.5",
          "10",
          "+Inf"
        ]
      )
      assert.strictEqual(buckets.at(-1)?.value, String(sent))
      // No path with ids among the labels: an unmatched request has no route label.
      const notFound = samples(series, "http_server_request_duration_seconds_count", {
        http_response_status_code: "404"
      })
      assert.deepStrictEqual(
        notFound.map((m) => [m.labels?.http_route, m.value]),
        [[undefined, "1"]]
      )
      assert.notInclude(JSON.stringify(series), "/things/1")

      const responses = samples(series, "http_server_response_body_size_bytes_count", {
        http_route: "/things/:id"
      })
      assert.deepStrictEqual(
        responses.map((m) => Number(m.value)),
        [sent]
      )
      // The scrape itself is in flight while it renders.
      const active = samples(families, "http_server_active_requests", { http_request_method: "GET" })
      assert.strictEqual(active[0]?.value, "1")
    }).pipe(Effect.scoped)
  )

  it.effect("counts refusals by status, reason and policy where they are decided", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(Metrics.layer({})))
      // Refused tokens count against the sender's address too (2 of its 5).
      assert.strictEqual((yield* client.call("GET", "/notes")).status, 401)
      assert.strictEqual(
        (yield* client.call("GET", "/notes", { headers: { authorization: "Bearer forged" } })).status,
        401
      )
      assert.strictEqual(
        (yield* client.call("GET", "/notes", { headers: { authorization: "Bearer nobody" } })).status,
        403
      )
      assert.strictEqual(
        (yield* client.call("GET", "/notes", { headers: { authorization: "Bearer reader" } })).status,
        200
      )
      const statuses: Array<number> = []
      for (let i = 0; i < 5; i++) statuses.push((yield* client.call("GET", "/things/1")).status)
      assert.deepStrictEqual(statuses, [200, 200, 200, 429, 429])
      const { families } = yield* scrape(client)
      const refusals = family(families, "http_server_refusals_total")
      assert.strictEqual(refusals.type, "COUNTER")
      const count = (labels: Record<string, string>) =>
        samples(families, "http_server_refusals_total", labels).map((m) => Number(m.value))
      assert.deepStrictEqual(count({ status: "429", reason: "rate-limit", policy: "default" }), [2])
      assert.deepStrictEqual(count({ status: "401", reason: "missing-token" }), [1])
      assert.deepStrictEqual(count({ status: "401", reason: "invalid-token" }), [1])
      assert.deepStrictEqual(count({ status: "403", reason: "permission" }), [1])
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a scrape without the configured token", () =>
    Effect.gen(function* () {
      const access = Metrics.layerConfig.pipe(
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ METRICS_TOKEN: "scrape-me" }))),
        Layer.orDie
      )
      const client = yield* serve(app(access))
      for (const authorization of [undefined, "Bearer wrong", "Bearer scrape-m", "Basic scrape-me"]) {
        const reply = yield* client.call("GET", "/metrics", {
          headers: authorization === undefined ? {} : { authorization }
        })
        assert.strictEqual(reply.status, 401, authorization)
        assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
        assert.notInclude(reply.text, "http_server")
      }
      const { families } = yield* scrape(client, { authorization: "Bearer scrape-me" })
      assert.isAbove(families.length, 0)
      const open = yield* serve(app(Metrics.layer({ token: Redacted.make("") })))
      yield* scrape(open)
    }).pipe(Effect.scoped)
  )

  it.effect("serves alone on a router of its own (the internal-port setup)", () =>
    Effect.gen(function* () {
      const { handler, dispose } = HttpRouter.toWebHandler(
        Metrics.route().pipe(Layer.provide(Metrics.layer({}))),
        {
          disableLogger: true
        }
      )
      yield* Effect.addFinalizer(() => Effect.promise(dispose))
      const response = yield* Effect.promise(() => handler(new Request("http://internal:9464/metrics")))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("content-type"), Metrics.contentType)
      parse(yield* Effect.promise(() => response.text()))
    }).pipe(Effect.scoped)
  )
})
