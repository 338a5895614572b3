/**
 * The rate limit's cost per request at the HTTP edge: the same route of the
 * same app (the kit's whole pipeline, in memory through
 * `HttpApp.toWebHandler`, no socket) with and without `RateLimit.Middleware`
 * over the in-memory sliding-window store, every request allowed (10 000
 * clients round-robin, by address). The ratio is the limiter's overhead.
 * Usage: `npx -y pnpm@10.34.9 bench rate-limit-http`.
 */
import { Duration, Effect, Layer, Logger, Option, Schema } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import * as RateLimiter from "../packages/core/src/RateLimiter.ts"
import * as HttpApp from "../packages/http/src/HttpApp.ts"
import * as RateLimit from "../packages/http/src/RateLimit.ts"
import { type Case, type Comparison, compare } from "./harness.ts"

const Things = HttpApiGroup.make("things").add(
  HttpApiEndpoint.get("list", "/things", { success: Schema.Array(Schema.String) })
)

class Plain extends HttpApp.api(HttpApi.make("plain").add(Things)) {}
class Limited extends HttpApp.api(HttpApi.make("limited").add(Things.middleware(RateLimit.Middleware))) {}

const body = ["a", "b", "c"]
const clients = 10_000

// The client address from a header, so 10 000 clients exist in one process.
const addressFromHeader: HttpApp.Middleware = (app) =>
  Effect.updateService(app, HttpServerRequest.HttpServerRequest, (request) =>
    request.modify({ remoteAddress: Option.fromNullishOr(request.headers["x-client"]) })
  )

const plain = HttpApp.toWebHandler(
  HttpApp.layer({
    api: Plain,
    handlers: HttpApiBuilder.group(Plain, "things", (h) => h.handle("list", () => Effect.succeed(body))),
    middlewares: [addressFromHeader],
    accessLog: false
  }).pipe(Layer.provide(Logger.layer([])))
)

const limited = HttpApp.toWebHandler(
  HttpApp.layer({
    api: Limited,
    handlers: HttpApiBuilder.group(Limited, "things", (h) =>
      h.handle("list", () => Effect.succeed(body))
    ).pipe(
      Layer.provide(
        RateLimit.layer({ policies: { default: { limit: 1_000_000, window: Duration.minutes(1) } } }).pipe(
          Layer.provide(RateLimiter.layerMemory)
        )
      )
    ),
    middlewares: [addressFromHeader],
    accessLog: false
  }).pipe(Layer.provide(Logger.layer([])))
)

const requests = Array.from(
  { length: clients },
  (_, i) => () =>
    new Request("http://localhost/things", { headers: { "x-client": `10.0.${i >> 8}.${i & 255}` } })
)

const serving = (name: string, handler: (request: Request) => Promise<Response>): Case => ({
  name,
  batch: async (ops) => {
    for (let i = 0; i < ops; i++) {
      const response = await handler(requests[i % clients]!())
      if (response.status !== 200) throw new Error(`${name}: ${response.status}`)
      await response.arrayBuffer()
    }
  }
})

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const comparisons = [
    await compare(
      "GET /things with RateLimit.Middleware (memory store) vs without",
      serving("with the rate limit", limited.handler),
      serving("without", plain.handler),
      { ops: 2_000, samples: 9 }
    )
  ]
  await limited.dispose()
  await plain.dispose()
  return comparisons
}
