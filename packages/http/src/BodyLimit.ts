/**
 * A limit on request body size (default 1 MiB). A request whose
 * `Content-Length` is over the limit is refused with 413 before anything is
 * read; a body without `Content-Length` (chunked) is counted while it is read
 * and refused with 413 as soon as it passes the limit (through Effect's
 * `HttpIncomingMessage.MaxBodySize`, which every server request honours).
 *
 * Sizes in configuration are human: `512kb`, `1mb`, `1.5 MiB`, `1048576`.
 * `kb`, `mb`, `gb` are binary multiples (as in Express' `bytes`), so `1mb` is
 * 1,048,576 bytes.
 *
 * @since 0.1.0
 */
import * as ByteSize from "effect/ByteSize"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as Problem from "./Problem.ts"

/**
 * The default limit: 1 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBytes = 1_048_576

const multipliers: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3
}

const sizePattern = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/

/**
 * Parses a human size (`512kb`, `1mb`, `1.5 MiB`, `100`, case-insensitive)
 * into bytes, rounding down; `None` when it is not a size.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Option.Option<number> => {
  const match = sizePattern.exec(input)
  if (match === null) return Option.none()
  const multiplier = multipliers[match[2]!.toLowerCase()]
  if (multiplier === undefined) return Option.none()
  const bytes = Math.floor(Number(match[1]) * multiplier)
  return Number.isSafeInteger(bytes) ? Option.some(bytes) : Option.none()
}

/**
 * A byte count from a human size string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BytesFromString = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    SchemaTransformation.transformEffect({
      decode: (input, options) =>
        Option.match(parse(input), {
          onNone: () =>
            Effect.fail(
              new SchemaIssue.InvalidValue(
                { expected: "a size such as 512kb, 1mb or 1048576 (bytes)" },
                input,
                options
              )
            ),
          onSome: Effect.succeed
        }),
      encode: (bytes) => Effect.succeed(String(bytes))
    })
  )
)

/**
 * The body limit, in bytes, used by `HttpApp` when it builds the app.
 *
 * @since 0.1.0
 * @category references
 */
export const MaxBytes = Context.Reference<number>("@org/http/BodyLimit/MaxBytes", {
  defaultValue: () => defaultMaxBytes
})

/**
 * Reads the body limit from configuration (`BODY_LIMIT` by default), with
 * the 1 MiB default when unset.
 *
 * @since 0.1.0
 * @category config
 */
export const config = (name = "BODY_LIMIT"): Config.Config<number> =>
  Config.schema(BytesFromString, name).pipe(Config.withDefault(defaultMaxBytes))

/**
 * Sets the body limit to a number of bytes or a human size.
 *
 * @example
 * ```ts
 * import { BodyLimit } from "@org/http"
 *
 * const TwoMegabytes = BodyLimit.layer("2mb")
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (limit: number | string): Layer.Layer<never, Schema.SchemaError> =>
  Layer.effect(
    MaxBytes,
    typeof limit === "number" ? Effect.succeed(limit) : Schema.decodeUnknownEffect(BytesFromString)(limit)
  )

/**
 * Sets the body limit from configuration (`BODY_LIMIT` by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (name?: string): Layer.Layer<never, Config.ConfigError> =>
  Layer.effect(MaxBytes, config(name))

const declaredLength = (request: HttpServerRequest.HttpServerRequest): number | undefined => {
  const header = request.headers["content-length"]
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined
}

/**
 * Middleware enforcing a body limit: fails with a 413 `Problem.ProblemError`
 * (with `Connection: close`) when `Content-Length` is over the limit, and
 * bounds every body read of the request to the limit.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { BodyLimit } from "@org/http"
 *
 * const app = BodyLimit.middleware(64 * 1024)(Effect.succeed(HttpServerResponse.text("ok")))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware =
  (maxBytes: number) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E | Problem.ProblemError,
    R | HttpServerRequest.HttpServerRequest
  > => {
    const limit = ByteSize.bytes(maxBytes)
    return Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request): Effect.Effect<HttpServerResponse.HttpServerResponse, E | Problem.ProblemError, R> => {
        const length = declaredLength(request)
        if (length !== undefined && length > maxBytes) {
          return Effect.fail(
            Problem.make({
              status: 413,
              title: "Content Too Large",
              detail: `The request body is larger than the limit of ${maxBytes} bytes.`,
              headers: { connection: "close" }
            })
          )
        }
        return Effect.provideService(app, HttpIncomingMessage.MaxBodySize, limit)
      }
    )
  }
