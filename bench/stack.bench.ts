/**
 * P2 of issue 15: what the kit's middleware stack adds to a route, in
 * process (web handlers, no socket: the socket costs both sides the same).
 *
 * - bare: an Effect `HttpApi` endpoint `GET /api/v1/items/:id` (the example's
 *   item id and item schemas) whose handler returns a constant item, served
 *   by `HttpRouter.toWebHandler` with nothing else.
 * - stack: the same endpoint behind the kit: `HttpApp.layer` (request id,
 *   problem rendering, security headers, body limit, canonical paths, route
 *   observability with telemetry off) and the group's `Authentication`
 *   (a real ES256 `Jwt` codec with its verified-token cache, the in-memory
 *   revocation store, the example's policy) and `RateLimit` (in-memory
 *   sliding window, never refusing), returning the same constant item.
 *
 * - example: the example API itself (`examples/api`, in process: embedded
 *   PGlite, in-memory stores, telemetry off), its authenticated item read
 *   through the query bus and its cache, against the stack: what the app's
 *   own read path (bus middleware, cached query, CRUD handler) adds.
 *
 * Each case runs its requests one after another: ns per request, stack/bare
 * (target <= 1.10). Usage: `./node_modules/.bin/node --conditions=@org/source bench/run.ts stack`.
 */
import { Context, Duration, Effect, Layer, References, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Item, ItemId } from "../examples/api/src/domain/Item.ts"
import { policy } from "../examples/api/src/domain/Policy.ts"
import { Jwt, JwtKeys } from "../packages/auth/src/index.ts"
import { RateLimiter, RevocationStore } from "../packages/core/src/index.ts"
import { Authentication, HttpApp, RateLimit } from "../packages/http/src/index.ts"
import { type Case, type Comparison, compare, measureInterleaved } from "./harness.ts"
import { exampleInProcess } from "./load/inProcess.ts"

const id = "01a2455f-a4d7-73db-9a34-4d2d14656642"
const item = Schema.decodeUnknownSync(Item.schema)({
  id,
  name: "Saw",
  description: "A hand saw for wood",
  price: 12.5,
  quantity: 3,
  category: "tools",
  ownerId: "01a2455f-a416-71c9-9a8c-89a0425da60d",
  createdAt: "2026-12-05T08:43:45.751Z",
  updatedAt: "2026-12-05T08:43:45.751Z",
  version: 1
})

// Telemetry off, as the runner has it with no traces endpoint: no-op spans.
const TracingOff = Layer.succeed(References.TracerEnabled, false)

const endpoint = HttpApiEndpoint.get("get", "/api/v1/items/:id", {
  params: { id: ItemId },
  success: Item.schema
})

// The floor: the endpoint and nothing else.
class BareApi extends HttpApi.make("bare").add(HttpApiGroup.make("items").add(endpoint)) {}
const bare = HttpRouter.toWebHandler(
  HttpApiBuilder.layer(BareApi).pipe(
    Layer.provide(HttpApiBuilder.group(BareApi, "items", (h) => h.handle("get", () => Effect.succeed(item)))),
    Layer.provide(HttpServer.layerServices),
    Layer.provide(TracingOff)
  ),
  { disableLogger: true }
)

// The kit's stack around the same endpoint.
class StackApi extends HttpApp.api(
  HttpApi.make("stack").add(
    HttpApiGroup.make("items")
      .add(endpoint.annotateMerge(Authentication.requires(policy, "items:read")))
      .middleware(RateLimit.Middleware)
      .middleware(Authentication.Authentication)
  )
) {}

// The kit's pipeline alone (HttpApp), no group middleware: splits the cost.
class PipelineApi extends HttpApp.api(
  HttpApi.make("pipeline").add(HttpApiGroup.make("items").add(endpoint))
) {}
const pipelineWith = (options: { readonly observability?: false; readonly canonicalPaths?: false }) =>
  HttpApp.toWebHandler(
    HttpApp.layer({
      api: PipelineApi,
      accessLog: false,
      ...options,
      handlers: HttpApiBuilder.group(PipelineApi, "items", (h) => h.handle("get", () => Effect.succeed(item)))
    }).pipe(Layer.provide(TracingOff))
  )
const pipeline = pipelineWith({})
// The ledger's steps: the pipeline without route observability, and without canonical paths too.
const pipelineNoObservability = pipelineWith({ observability: false })
const pipelineCore = pipelineWith({ observability: false, canonicalPaths: false })

// The pipeline with the group's `Authentication` and no rate limit.
class AuthApi extends HttpApp.api(
  HttpApi.make("auth").add(
    HttpApiGroup.make("items")
      .add(endpoint.annotateMerge(Authentication.requires(policy, "items:read")))
      .middleware(Authentication.Authentication)
  )
) {}

const setup = Effect.runPromise(
  Effect.gen(function* () {
    const jwk = yield* JwtKeys.generate("ES256")
    const keys = yield* JwtKeys.make({ signer: yield* JwtKeys.fromPrivateKey(jwk, { alg: "ES256" }) })
    const tokens = Jwt.layer({ keys, issuer: "bench", audience: "bench-api", accessTtl: "1 hour" })
    const issued = yield* Effect.provide(
      Effect.flatMap(Jwt.Codec, (codec) =>
        Jwt.accessTokens(codec, { ttl: "1 hour" }).issue({ subject: "user-1", roles: ["user"] })
      ),
      tokens
    )
    const stack = HttpApp.toWebHandler(
      HttpApp.layer({
        api: StackApi,
        accessLog: false,
        handlers: HttpApiBuilder.group(StackApi, "items", (h) =>
          h.handle("get", () => Effect.succeed(item))
        ).pipe(
          Layer.provide(Authentication.layer({ policy })),
          Layer.provide(
            RateLimit.layer({
              policies: { default: { limit: 1_000_000_000, window: Duration.seconds(1) } }
            }).pipe(Layer.provide(RateLimiter.layerMemory))
          ),
          Layer.provide(Layer.mergeAll(tokens, RevocationStore.layerMemory))
        )
      }).pipe(Layer.provide(TracingOff))
    )
    const authOnly = HttpApp.toWebHandler(
      HttpApp.layer({
        api: AuthApi,
        accessLog: false,
        handlers: HttpApiBuilder.group(AuthApi, "items", (h) =>
          h.handle("get", () => Effect.succeed(item))
        ).pipe(
          Layer.provide(Authentication.layer({ policy })),
          Layer.provide(Layer.mergeAll(tokens, RevocationStore.layerMemory))
        )
      }).pipe(Layer.provide(TracingOff))
    )
    return { stack, authOnly, authorization: `Bearer ${issued.token}` }
  })
)

const requests = (
  name: string,
  handler: (request: Request) => Promise<Response>,
  headers: Record<string, string>
): Case => ({
  name,
  batch: async (ops) => {
    for (let i = 0; i < ops; i++) {
      const response = await handler(new Request(`http://localhost/api/v1/items/${id}`, { headers }))
      if (response.status !== 200) throw new Error(`${name}: ${response.status} ${await response.text()}`)
      await response.arrayBuffer()
    }
  }
})

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const { stack, authOnly, authorization } = await setup
  // `BENCH_PROFILE_STACK=<seconds>`: only the stack, for that long (run under `--cpu-prof`).
  const profileSeconds = Number(process.env.BENCH_PROFILE_STACK ?? 0)
  if (profileSeconds > 0) {
    const loop = requests("stack", stack.handler, { authorization })
    const end = Date.now() + profileSeconds * 1000
    while (Date.now() < end) await loop.batch(1000)
  }
  const options = { ops: 2_000, samples: 9 }
  const result = await compare(
    "P2: GET item, the kit's middleware stack vs a bare HttpApi route (in process)",
    requests("stack", stack.handler, { authorization }),
    requests("bare HttpApi", (request) => bare.handler(request, Context.empty()), {}),
    { ...options, target: 1.1 }
  )
  const split = await compare(
    "P2 split: HttpApp's pipeline alone (no auth, no rate limit) vs a bare HttpApi route",
    requests("pipeline", pipeline.handler, {}),
    requests("bare HttpApi", (request) => bare.handler(request, Context.empty()), {}),
    options
  )
  // The ledger: each step of the stack added to the one before, measured
  // interleaved (a sample of each in turn), so a slow moment hits every step.
  const steps: ReadonlyArray<readonly [string, Case]> = [
    ["bare HttpApi route", requests("bare", (request) => bare.handler(request, Context.empty()), {})],
    [
      "+ HttpApp's core pipeline (request id, problems, security headers, CORS, body limit, content type)",
      requests("core", pipelineCore.handler, {})
    ],
    ["+ canonical paths", requests("canonical", pipelineNoObservability.handler, {})],
    ["+ route observability (metrics; no spans, telemetry off)", requests("observed", pipeline.handler, {})],
    [
      "+ Authentication (cached token, revocation check, policy)",
      requests("auth", authOnly.handler, { authorization })
    ],
    [
      "+ RateLimit (in-memory sliding window): the whole stack",
      requests("stack", stack.handler, { authorization })
    ]
  ]
  const ledger = await measureInterleaved(
    steps.map(([, step]) => step),
    { ops: 1_000, samples: 15 }
  )
  console.log("stack: P2 ledger, in process, median us per request of each step and what it adds:")
  for (let i = 0; i < steps.length; i++) {
    const us = ledger[i]! / 1000
    const added =
      i === 0
        ? ""
        : `  ${us - ledger[i - 1]! / 1000 >= 0 ? "+" : ""}${(us - ledger[i - 1]! / 1000).toFixed(1)} us`
    console.log(`stack:   ${us.toFixed(1).padStart(6)} us${added.padEnd(12)}  ${steps[i]![0]}`)
  }
  // The example app: an account, a token and an item through its own routes.
  const example = await exampleInProcess(TracingOff)
  const read: Case = {
    name: "example",
    batch: async (ops) => {
      for (let i = 0; i < ops; i++) await example.read()
    }
  }
  const app = await compare(
    "the example's item read (bus, cached query, CRUD handler) vs the stack (constant handler), in process",
    read,
    requests("stack", stack.handler, { authorization }),
    options
  )
  await Promise.all([
    stack.dispose(),
    authOnly.dispose(),
    bare.dispose(),
    pipeline.dispose(),
    pipelineNoObservability.dispose(),
    pipelineCore.dispose(),
    example.dispose()
  ])
  return [result, split, app]
}
