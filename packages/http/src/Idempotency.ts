/**
 * `Idempotency-Key` for unsafe endpoints (ADR 0010), over `@org/core`'s
 * `IdempotencyStore`: a client that retries a request with the same key and
 * the same body gets the first response again instead of a second effect.
 *
 * - An endpoint opts in with `Idempotency.endpoint(e)` (or `CrudGroup`'s
 *   `idempotent` option): its own `Middleware`, which declares the 422 and
 *   409 below as typed errors (OpenAPI documents them on that endpoint
 *   only, and a typed client decodes them), and the `annotations` that
 *   document the optional header. Do it before the group's `Authentication`
 *   is added (a middleware added earlier runs inside), so it sees the
 *   verified subject. Safe methods (GET, HEAD, OPTIONS) pass through.
 * - Without the header the request runs as usual. A key must be 1..255
 *   visible ASCII characters, else 400 naming the header.
 * - Records are keyed by client (`sub:<subject>` when authenticated, else
 *   `ip:<address>`) and key, and hold a fingerprint: method, path and query,
 *   and the SHA-256 of the body bytes. The same key with another fingerprint
 *   is 422.
 * - While the first request runs, a duplicate waits (polling with a
 *   backoff from 25 ms doubling to 500 ms, at most `wait`, 5 s by default) and then
 *   gets the first response; if the first one is still running after that,
 *   409 with `Retry-After`. If the first one gives up (abandon), the waiting
 *   one runs itself.
 * - What is stored: a response the handler returned with a status below
 *   500 except 408, 425 and 429 (a 2xx, or a 4xx returned as a response),
 *   with its `location`, `etag` and `content-type` headers and its body
 *   bytes. Everything else abandons the claim so a retry runs again: a
 *   5xx, 408/425/429 (they say "try again"), a typed failure (a problem the
 *   framework renders later, such as a 400 or 409 from the handler: nothing
 *   happened, and a retry should see the current state), a defect, an
 *   interruption, or a streamed body.
 * - A replay carries `Idempotent-Replayed: true`. A store that cannot
 *   answer gives 503 rather than running the request unprotected.
 *
 * @since 0.2.0
 */
import * as IdempotencyStore from "@org/core/IdempotencyStore"
import * as Principal from "@org/core/Principal"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Digest from "effect/crypto/Digest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerRespondable from "effect/http/HttpServerRespondable"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as OpenApi from "effect/http-api/OpenApi"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Problem from "./Problem.ts"

/**
 * The request header, lower case.
 *
 * @since 0.2.0
 * @category constants
 */
export const header = "idempotency-key"

/**
 * 422: the key was already used for another request (another method, path
 * or body) by this client.
 *
 * @since 0.2.0
 * @category problems
 */
export class KeyReused extends Problem.Class<KeyReused>()("IdempotencyKeyReusedProblem", {
  type: "/docs/problems#idempotency-key-reused",
  status: 422,
  title: "Unprocessable Content"
}) {}

/**
 * 409: a request with this key is still running; retry after `retryAfter`
 * seconds (also `Retry-After`).
 *
 * @since 0.2.0
 * @category problems
 */
export class InProgress extends Problem.Class<InProgress>()(
  "IdempotencyKeyInProgressProblem",
  { type: "/docs/problems#idempotency-key-in-progress", status: 409, title: "Conflict" },
  { retryAfter: Schema.Int },
  { headers: (problem) => ({ "retry-after": String(problem.retryAfter) }) }
) {}

/**
 * The problem types of this module, for the docs' problem types page
 * (`Docs.layer(Api, { problems: Idempotency.problemTypes })`).
 *
 * @since 0.2.0
 * @category problems
 */
export const problemTypes: ReadonlyArray<{
  readonly uri: string
  readonly status: number
  readonly title: string
}> = [
  {
    uri: "/docs/problems#idempotency-key-reused",
    status: 422,
    title: "Idempotency key reused for another request"
  },
  {
    uri: "/docs/problems#idempotency-key-in-progress",
    status: 409,
    title: "A request with this idempotency key is still running"
  }
]

// The optional header (the 409 and 422 are the middleware's declared errors).
const document = (operation: Record<string, unknown>): Record<string, unknown> => ({
  ...operation,
  parameters: [
    ...(Array.isArray(operation.parameters) ? operation.parameters : []),
    {
      name: "Idempotency-Key",
      in: "header",
      required: false,
      description:
        "1 to 255 visible ASCII characters. A retry with the same key and body within 24 hours gets the first response again (with `Idempotent-Replayed: true`).",
      schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7E]+$" }
    }
  ]
})

/**
 * The OpenAPI description of the optional `Idempotency-Key` header (an
 * `OpenApi.Transform`, one per endpoint); `endpoint` adds them.
 *
 * @since 0.2.0
 * @category annotations
 */
export const annotations: Context.Context<never> = Context.make(OpenApi.Transform, document)

/**
 * The HttpApi middleware (see the module doc). It declares its refusals,
 * `KeyReused` (422) and `InProgress` (409), so the endpoints it is added to
 * document them and a typed client receives them as errors.
 *
 * @since 0.2.0
 * @category middleware
 */
export class Middleware extends HttpApiMiddleware.Service<Middleware>()("@org/http/Idempotency/Middleware", {
  error: [KeyReused, InProgress]
}) {}

/**
 * Makes one endpoint honour `Idempotency-Key`: its `Middleware` and the
 * header's `annotations`. Call it before the group's `Authentication` is
 * added, so keys are scoped by the verified subject.
 *
 * @example
 * ```ts
 * import { HttpApiEndpoint } from "effect/http-api"
 * import { Idempotency } from "@org/http"
 *
 * const create = Idempotency.endpoint(HttpApiEndpoint.post("create", "/orders"))
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const endpoint = <E extends HttpApiEndpoint.Constraint>(
  self: E
): HttpApiEndpoint.AddMiddleware<E, Middleware> =>
  (self as unknown as HttpApiEndpoint.Top)
    .middleware(Middleware)
    .annotateMerge(annotations) as unknown as HttpApiEndpoint.AddMiddleware<E, Middleware>

/**
 * Options of `layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** How long a key is remembered (default 24 hours). */
  readonly ttl?: Duration.Input | undefined
  /** How long a running request owns its key before another may take it over (default 1 minute). */
  readonly lease?: Duration.Input | undefined
  /** How long a duplicate waits for the first request before 409 (default 5 seconds; 0 answers 409 at once). */
  readonly wait?: Duration.Input | undefined
}

/**
 * Whether a key is well formed: 1..255 visible ASCII characters.
 *
 * @since 0.2.0
 * @category validation
 */
export const isValidKey = (key: string): boolean => /^[\x21-\x7e]{1,255}$/.test(key)

/**
 * Whether a response with this status is stored for replay.
 *
 * @since 0.2.0
 * @category models
 */
export const isStored = (status: number): boolean =>
  status >= 200 && status < 500 && status !== 408 && status !== 425 && status !== 429

const replayedHeaders = ["location", "etag", "content-type"] as const

// Nothing to protect: a retry of these changes nothing anyway.
const safeMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"])

const invalidKey = new Problem.BadRequest({
  detail: "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
  errors: [{ in: "header", pointer: `/${header}`, message: "must be 1 to 255 visible ASCII characters" }]
})

const respond = (problem: HttpServerRespondable.Respondable) => HttpServerRespondable.toResponse(problem)

const replay = (stored: IdempotencyStore.StoredResponse): HttpServerResponse.HttpServerResponse => {
  const { "content-type": contentType, ...headers } = stored.headers
  return HttpServerResponse.uint8Array(stored.body, {
    status: stored.status,
    headers: { ...headers, "idempotent-replayed": "true" },
    ...(contentType === undefined ? {} : { contentType })
  })
}

const toStored = (
  response: HttpServerResponse.HttpServerResponse
): Option.Option<IdempotencyStore.StoredResponse> => {
  if (!isStored(response.status)) return Option.none()
  const body = response.body
  const bytes = body._tag === "Uint8Array" ? body.body : body._tag === "Empty" ? new Uint8Array() : undefined
  if (bytes === undefined) return Option.none()
  const headers: Record<string, string> = {}
  for (const name of replayedHeaders) {
    const value =
      name === "content-type" && body._tag === "Uint8Array" ? body.contentType : response.headers[name]
    if (value !== undefined && value !== "") headers[name] = value
  }
  return Option.some({ status: response.status, headers, body: bytes })
}

const unavailable = (error: IdempotencyStore.IdempotencyUnavailable) =>
  Effect.andThen(
    Effect.logWarning("idempotency store unavailable").pipe(
      Effect.annotateLogs({ operation: error.operation, cause: String(error.cause) })
    ),
    respond(
      new Problem.ServiceUnavailable({
        detail: "This request cannot be made idempotent right now. Try again shortly.",
        retryAfter: 5
      })
    )
  )

/**
 * The middleware over an `IdempotencyStore` (memory:
 * `IdempotencyStore.layerMemory`; durable: `IdempotencyStoreSql.layer()`;
 * shared: `RedisIdempotencyStore` of `@org/redis`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { IdempotencyStore } from "@org/core"
 * import { Idempotency } from "@org/http"
 *
 * const IdempotencyLive = Idempotency.layer({ wait: "2 seconds" }).pipe(Layer.provide(IdempotencyStore.layerMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Middleware, never, IdempotencyStore.IdempotencyStore> =>
  Layer.effect(
    Middleware,
    Effect.gen(function* () {
      const store = yield* IdempotencyStore.IdempotencyStore
      const digest = yield* Digest.Digest
      const timing: IdempotencyStore.Timing = {
        ttl: options.ttl ?? Duration.hours(24),
        lease: options.lease ?? Duration.minutes(1)
      }
      const waitMillis = Duration.toMillis(Duration.fromInputUnsafe(options.wait ?? Duration.seconds(5)))

      return Middleware.of((httpEffect) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const key = request.headers[header]
          if (key === undefined || safeMethods.has(request.method)) return yield* httpEffect
          if (!isValidKey(key)) return yield* respond(invalidKey)
          // Read before the handler decodes it: a buffered body is served again from memory.
          const read = yield* Effect.result(request.arrayBuffer)
          if (read._tag === "Failure") {
            return yield* respond(
              read.failure.reason._tag === "RequestParseError" &&
                read.failure.reason.reason === "BodyTooLarge"
                ? new Problem.PayloadTooLarge({ detail: "The request body is larger than allowed." })
                : new Problem.BadRequest({ detail: "The request body could not be read." })
            )
          }
          const body = new Uint8Array(read.success)
          const fingerprint = `${request.method} ${request.url} sha256:${yield* digest.digestHex(Digest.sha256, body)}`
          const principal = yield* Effect.serviceOption(Principal.CurrentPrincipal)
          const scope = Option.isSome(principal)
            ? `sub:${principal.value.subject}`
            : `ip:${Option.getOrElse(request.remoteAddress, () => "unknown")}`

          const run = (token: string) =>
            Effect.uninterruptibleMask((restore) =>
              Effect.flatMap(Effect.exit(restore(httpEffect)), (exit) => {
                const stored = Exit.isSuccess(exit) ? toStored(exit.value) : Option.none()
                const settle = Option.isSome(stored)
                  ? store.complete(scope, key, token, stored.value)
                  : store.abandon(scope, key, token)
                // The operation happened (or failed) either way: a store failure now is logged, not answered.
                return Effect.andThen(
                  Effect.ignore(settle, {
                    log: "Warn",
                    message: "Idempotency: recording the outcome of a request failed"
                  }),
                  exit
                )
              })
            )

          const started = yield* Effect.result(store.begin(scope, key, fingerprint, timing))
          if (started._tag === "Failure") return yield* unavailable(started.failure)
          let begin = started.success
          // Wait for the first request to settle, within `wait`; each poll runs to
          // its end (a poll cut short could take over a claim and drop it).
          const deadline = (yield* Clock.currentTimeMillis) + waitMillis
          let delay = 25
          while (begin._tag === "Busy") {
            const now = yield* Clock.currentTimeMillis
            if (now >= deadline) break
            yield* Effect.sleep(Duration.millis(Math.min(delay, deadline - now)))
            delay = Math.min(delay * 2, 500)
            const next = yield* Effect.result(store.begin(scope, key, fingerprint, timing))
            if (next._tag === "Failure") return yield* unavailable(next.failure)
            begin = next.success
          }
          switch (begin._tag) {
            case "Started":
              return yield* run(begin.token)
            case "Replay":
              return replay(begin.response)
            case "Mismatch":
              return yield* new KeyReused({
                detail: "This Idempotency-Key was already used for another request. Use a new key."
              })
            case "Busy":
              return yield* new InProgress({
                detail: "A request with this Idempotency-Key is still being processed.",
                retryAfter: Math.max(1, Math.ceil(begin.retryAfterMillis / 1000))
              })
          }
        })
      )
    })
  ).pipe(Layer.provide(Digest.layerWebCrypto))
