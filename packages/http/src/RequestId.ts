/**
 * `X-Request-ID`: every request gets an id, the caller's when it is a sane
 * token (1 to 128 characters of `[A-Za-z0-9._-]`), a fresh UUIDv7 otherwise.
 * The id is sent back on every response (errors and aborted requests
 * included), readable by handlers through `Current`, and annotates every log
 * line of the request as `requestId`.
 *
 * @since 0.1.0
 */
import * as DomainEvent from "@org/core/DomainEvent"
import * as Context from "effect/Context"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Effect from "effect/Effect"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"

/**
 * The header carrying the request id (lower case, as Effect stores headers).
 *
 * @since 0.1.0
 * @category constants
 */
export const headerName = "x-request-id"

/**
 * A request id a caller may choose: 1 to 128 characters of `[A-Za-z0-9._-]`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Token = Schema.String.check(
  Schema.isMaxLength(128),
  Schema.isPattern(/^[A-Za-z0-9._-]{1,128}$/u)
)

/**
 * Whether a header value is a request id we accept from a caller.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isToken: (u: unknown) => u is string = Schema.is(Token)

/**
 * The id of the request being served; `""` outside a request.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RequestId } from "@org/http"
 *
 * const handler = Effect.gen(function* () {
 *   const id = yield* RequestId.Current
 *   return { receipt: id }
 * })
 * ```
 *
 * @since 0.1.0
 * @category references
 */
export const Current = Context.Reference<string>("@org/http/RequestId/Current", { defaultValue: () => "" })

/**
 * A fresh request id: a UUIDv7 (time-ordered, so ids sort like the logs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate: Effect.Effect<string, never, SecureRandom.SecureRandom> =
  SecureRandom.SecureRandom.use((random) => random.uuidV7())

/**
 * The request id to use for a request: the caller's when sane, else a new one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRequest = <R>(
  request: HttpServerRequest.HttpServerRequest,
  fresh: Effect.Effect<string, never, R>
): Effect.Effect<string, never, R> => {
  const given = request.headers[headerName]
  return isToken(given) ? Effect.succeed(given) : fresh
}

/**
 * Middleware that assigns the request id, provides `Current`, annotates logs
 * and the current span, and sets `X-Request-ID` on the response. The header is
 * set by a pre-response handler, so even responses produced outside the app
 * (an aborted request's 499/503) carry it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SecureRandom } from "effect/crypto"
 * import { HttpServerResponse } from "effect/http"
 * import { RequestId } from "@org/http"
 *
 * const app = RequestId.middleware(Effect.provide(RequestId.generate, SecureRandom.layerWebCrypto))(
 *   Effect.succeed(HttpServerResponse.text("ok"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware =
  <RG>(fresh: Effect.Effect<string, never, RG>) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | RG | HttpServerRequest.HttpServerRequest> =>
    // Flat steps, no generator: this runs on every request.
    Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      return Effect.flatMap(fromRequest(request, fresh), (id) => {
        HttpEffect.appendPreResponseHandlerUnsafe(fiber.context, (_request, response) =>
          Effect.succeed(HttpServerResponse.setHeader(response, headerName, id))
        )
        const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
        if (span !== undefined && span._tag === "Span") span.attribute("http.request.id", id)
        return app.pipe(
          Effect.provideService(Current, id),
          // events raised while serving the request name it
          DomainEvent.withMetadata({ requestId: id }),
          Effect.annotateLogs("requestId", id)
        )
      })
    })
