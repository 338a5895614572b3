import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { HttpApp } from "@org/http"
import type { TelemetryConfig } from "@org/telemetry"
import { ConfigProvider, Effect, Fiber, Logger, Schema } from "effect"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Runner } from "../src/index.ts"

class ItemsGroup extends HttpApiGroup.make("items").add(
  HttpApiEndpoint.get("find", "/items/:id", {
    params: { id: Schema.String },
    success: Schema.Struct({ id: Schema.String })
  })
) {}

class Api extends HttpApp.api(HttpApi.make("runner-telemetry-test").add(ItemsGroup)) {}

// The handler's own span, to see that it hangs under the server span in the SDK's trace.
const ItemsLive = HttpApiBuilder.group(Api, "items", (handlers) =>
  handlers.handle("find", ({ params }) =>
    Effect.succeed({ id: params.id }).pipe(
      Effect.withSpan("Items.find", { attributes: { "item.id": params.id } })
    )
  )
)

const capture = (lines: Array<string>) =>
  Logger.make(({ message }) => {
    lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
  })

describe("Runner.launch, telemetry option", () => {
  it.live(
    "the request spans reach the tracer of the layer that replaces Telemetry.layer (the OTel SDK)",
    () =>
      Effect.gen(function* () {
        const exporter = new InMemorySpanExporter()
        const lines: Array<string> = []
        const seen: Array<TelemetryConfig.TelemetryConfig> = []
        const fiber = yield* Runner.launch({
          name: "Traced API",
          app: () => HttpApp.layer({ api: Api, handlers: ItemsLive }),
          logger: capture(lines),
          links: {},
          telemetry: (config) => {
            seen.push(config)
            return NodeSdk.layer(() => ({
              resource: { serviceName: "traced-api" },
              spanProcessor: new SimpleSpanProcessor(exporter)
            }))
          }
        }).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromEnv({ env: { PORT: "0", OTEL_SERVICE_NAME: "from-env" } })
          ),
          Effect.forkChild
        )
        const ready = yield* Effect.gen(function* () {
          while (!lines.some((line) => line.includes(" ready on "))) yield* Effect.sleep("20 millis")
          return lines.find((line) => line.includes(" ready on "))!
        }).pipe(Effect.timeout("10 seconds"))
        const url = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(ready)?.[1]
        assert.isDefined(url, ready)
        // The option gets the parsed OTEL_* variables.
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(seen[0]!.serviceName, "from-env")

        const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
        const callerSpanId = "00f067aa0ba902b7"
        const status = yield* Effect.promise(() =>
          fetch(`${url}/items/abc`, {
            headers: { traceparent: `00-${traceId}-${callerSpanId}-01`, "user-agent": "probe/1.0" },
            signal: AbortSignal.timeout(5000)
          }).then((response) => response.status)
        )
        assert.strictEqual(status, 200)
        // The server span ends once the response is written.
        const spans = yield* Effect.gen(function* () {
          while (!exporter.getFinishedSpans().some((span) => span.name === "GET /items/:id")) {
            yield* Effect.sleep("20 millis")
          }
          return exporter.getFinishedSpans()
        }).pipe(Effect.timeout("5 seconds"))

        const server = spans.find((span) => span.name === "GET /items/:id")!
        const handler = spans.find((span) => span.name === "Items.find")
        assert.isDefined(handler, spans.map((span) => span.name).join(", "))
        // A child of the caller's span, in the caller's trace, and the parent of the handler's span.
        assert.strictEqual(server.spanContext().traceId, traceId)
        assert.strictEqual(server.parentSpanContext?.spanId, callerSpanId)
        assert.strictEqual(handler.spanContext().traceId, traceId)
        assert.strictEqual(handler.parentSpanContext?.spanId, server.spanContext().spanId)
        assert.deepInclude(server.attributes, {
          "http.request.method": "GET",
          "http.route": "/items/:id",
          "http.response.status_code": 200,
          "url.path": "/items/abc",
          "user_agent.original": "probe/1.0"
        })
        assert.strictEqual(handler.attributes["item.id"], "abc")
        assert.strictEqual(server.resource.attributes["service.name"], "traced-api")
        yield* Fiber.interrupt(fiber)
      }),
    20_000
  )
})
