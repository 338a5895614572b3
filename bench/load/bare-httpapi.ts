/**
 * The floor of the load benchmark for Effect: one `HttpApi` endpoint,
 * `GET /api/v1/items/:id`, answering the example API's item JSON from an
 * in-process constant (no database, no middleware, no kit), served by
 * `NodeHttpServer`. What ours costs above it is the kit's work (auth,
 * limiter, cache, headers, logging, metrics).
 *
 * Run by `bench/load.bench.ts` as a child process; by hand:
 * `PORT=3002 ITEM_JSON='{"id":...}' ./node_modules/.bin/node bench/load/bare-httpapi.ts`
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { itemJson } from "./item.ts"

const Item = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  description: Schema.NullOr(Schema.String),
  price: Schema.Number,
  quantity: Schema.Number,
  category: Schema.NullOr(Schema.String),
  ownerId: Schema.String,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  version: Schema.Number
})

const item = Schema.decodeUnknownSync(Item)(JSON.parse(itemJson()))

class Api extends HttpApi.make("bare").add(
  HttpApiGroup.make("items").add(
    HttpApiEndpoint.get("get", "/api/v1/items/:id", { params: { id: Schema.String }, success: Item })
  )
) {}

const ItemsLive = HttpApiBuilder.group(Api, "items", (handlers) =>
  handlers.handle("get", () => Effect.succeed(item))
)

// No request log: the example logs at `warn` in the benchmark, so nothing per request.
const Main = HttpRouter.serve(HttpApiBuilder.layer(Api).pipe(Layer.provide(ItemsLive)), {
  disableLogger: true
}).pipe(
  Layer.provide(
    NodeHttpServer.layer(createServer, {
      host: process.env.HOST ?? "127.0.0.1",
      port: Number(process.env.PORT ?? 3002)
    })
  )
)

// runMain interrupts on SIGTERM/SIGINT, closing the server.
Layer.launch(Main).pipe(NodeRuntime.runMain)
