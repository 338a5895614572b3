/**
 * Makes an `HttpApi` definition ready for this package's server: every
 * endpoint gets `Problem.Middleware` (so OpenAPI documents the common
 * problems) and decoding reports every failing field. A definition module:
 * no server code, so a typed client (`HttpApiClient.make`) can import the
 * prepared API alone.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as HttpApi from "effect/http-api/HttpApi"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as OpenApi from "effect/http-api/OpenApi"
import * as Option from "effect/Option"
import * as Problem from "./Problem.ts"

/**
 * Prepares an API definition for this package: adds `Problem.Middleware` to
 * every endpoint (so OpenAPI documents the common problems and decoding
 * failures list their fields), reports every failing value instead of the
 * first, and rejects unknown fields in request bodies
 * (`onExcessProperty: "error"` for payloads only: headers always carry extra
 * names, and query strings are the endpoints' business).
 *
 * Call it last, after every group is added: `HttpApi.middleware` only
 * reaches the groups present at the time.
 *
 * @example
 * ```ts
 * import { HttpApi } from "effect/http-api"
 * import { ApiDefinition, Health } from "@org/http"
 *
 * class Api extends ApiDefinition.prepare(HttpApi.make("example").add(Health.Group)) {}
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const prepare = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  self: HttpApi.HttpApi<Id, Groups>
): HttpApi.HttpApi<Id, HttpApiGroup.AddMiddleware<Groups, Problem.Middleware>> => {
  const own = Context.getOption(self.annotations, OpenApi.Transform)
  return self
    .middleware(Problem.Middleware)
    .annotate(OpenApi.Transform, (spec) => documentHeaders(Option.isSome(own) ? own.value(spec) : spec))
    .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" })
    .annotate(HttpApi.ParamsParseOptions, { errors: "all" })
    .annotate(HttpApi.QueryParseOptions, { errors: "all" })
    .annotate(HttpApi.HeadersParseOptions, { errors: "all" })
}

const header = (description: string, schema: object) => ({ description, schema })

const rateLimitHeaders = {
  RateLimit: header('The client\'s window: `"<policy>";r=<remaining>;t=<seconds until a unit is regained>`', {
    type: "string",
    maxLength: 128,
    pattern: '^"[^"\\\\]{1,64}";r=[0-9]{1,10};t=[0-9]{1,10}$'
  }),
  "RateLimit-Policy": header('The policy: `"<policy>";q=<quota>;w=<window seconds>`', {
    type: "string",
    maxLength: 128,
    pattern: '^"[^"\\\\]{1,64}";q=[0-9]{1,10};w=[0-9]{1,10}$'
  })
}

const retryAfter = header("Seconds to wait before trying again (never earlier than a retry would pass).", {
  type: "integer",
  format: "int32",
  minimum: 0,
  maximum: 2_147_483_647
})

const allowOrigin = header(
  "Sent when the request's `Origin` is one the server allows (CORS); absent otherwise.",
  { type: "string", maxLength: 2048, format: "uri" }
)

// Answered before the endpoint's middleware runs (the router's 405, the body
// limit's 413, the content type's 415): the rate limit never sees them.
const beforeLimiter = new Set(["405", "413", "415"])

type Responses = Record<string, { headers?: Record<string, unknown> } & Record<string, unknown>>

// The headers the pipeline adds that HttpApi cannot see: an operation that
// declares a 429 is rate limited, so every response it can answer after the
// limiter carries the rate-limit headers (the 429 `Retry-After` too); every
// 503 may carry `Retry-After`; any response may carry the CORS origin.
const documentHeaders = (spec: {
  readonly paths?: Record<string, Record<string, { responses?: Responses }>>
}) => {
  for (const item of Object.values(spec.paths ?? {})) {
    for (const operation of Object.values(item)) {
      const responses = operation?.responses
      if (responses === undefined) continue
      const limited = "429" in responses
      for (const [status, response] of Object.entries(responses)) {
        const extra =
          status === "429"
            ? { ...rateLimitHeaders, "Retry-After": retryAfter }
            : status === "503"
              ? { ...(limited ? rateLimitHeaders : {}), "Retry-After": retryAfter }
              : limited && !beforeLimiter.has(status)
                ? rateLimitHeaders
                : {}
        response.headers = { "Access-Control-Allow-Origin": allowOrigin, ...extra, ...response.headers }
      }
    }
  }
  return documentIntegers(spec)
}

const int32 = 2_147_483_647

// Every integer schema gets its `format`: Effect's `Schema.Int` is a safe
// integer (its JSON Schema already says so with `minimum`/`maximum`), which
// fits int64, and int32 when its bounds do.
const documentIntegers = <A>(node: A): A => {
  if (Array.isArray(node)) {
    for (const element of node) documentIntegers(element)
  } else if (typeof node === "object" && node !== null) {
    const schema = node as Record<string, unknown>
    if (schema.type === "integer" && schema.format === undefined) {
      const { minimum, maximum } = schema
      schema.format =
        typeof minimum === "number" &&
        typeof maximum === "number" &&
        minimum >= -int32 - 1 &&
        maximum <= int32
          ? "int32"
          : "int64"
    }
    for (const value of Object.values(schema)) documentIntegers(value)
  }
  return node
}
