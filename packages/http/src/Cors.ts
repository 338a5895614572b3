/**
 * CORS for an API called from browser apps on other origins, off unless
 * origins are configured (`CORS_ORIGINS`: comma-separated, exact).
 *
 * - Origins are exact: each configured origin is parsed (an `http`/`https`
 *   URL with nothing but scheme, host and port; case and a default port are
 *   normalized) and a request's `Origin` must be that serialized origin
 *   byte for byte, the form browsers send. `null`, other schemes,
 *   `https://app.example.com.evil.com`, `https://evil-app.example.com` or
 *   `https://app.example.com:8443` do not match `https://app.example.com`.
 *   No wildcards.
 * - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
 *   from an allowed origin is answered here, before the body limit and the
 *   `middlewares` seam (it carries no credentials and no body): 204 with
 *   `Access-Control-Allow-Methods` listing the methods the route really
 *   serves (the route table behind 405's `Allow`), the requested headers
 *   that are allowed, and `Access-Control-Max-Age`. A preflight from another
 *   origin is a 403 problem; for a method the route does not serve, a 405
 *   problem with `Allow`; for a path no route serves, the router's 404. None
 *   of those carries CORS headers, so the browser stops there.
 * - Other responses to an allowed origin carry `Access-Control-Allow-Origin`
 *   (that origin, never `*`) and `Access-Control-Expose-Headers`, errors
 *   included, so the app can read a problem. `Vary: Origin` is on every
 *   response once CORS is configured, whatever the origin.
 * - Credentials are off: bearer tokens travel in `Authorization`, which
 *   needs no credentialed request, only the header in the allow-list.
 *   `credentials: true` (for cookies) adds `Access-Control-Allow-Credentials`;
 *   it is safe with exact origins only, which is all this module supports.
 *
 * Effect's `HttpMiddleware.cors` is not used: it compares raw strings
 * without parsing or validating the configured origins (a configured `null`
 * allows sandboxed pages), answers `*` when no origin is configured,
 * answers every `OPTIONS` with 204 before routing (any origin, any path,
 * non-preflights too) with a fixed method list instead of the route's,
 * allows every requested header when no list is given, and sets
 * `Vary: Origin` only for some configurations.
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as Problem from "./Problem.ts"

/**
 * Request headers a cross-origin app may send by default.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultAllowHeaders: ReadonlyArray<string> = [
  "authorization",
  "content-type",
  "idempotency-key",
  "if-match",
  "if-none-match",
  "x-request-id"
]

/**
 * Response headers a cross-origin app may read by default (besides the
 * CORS-safelisted ones such as `Content-Type`).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultExposeHeaders: ReadonlyArray<string> = [
  "etag",
  "location",
  "retry-after",
  "ratelimit",
  "ratelimit-policy",
  "x-request-id"
]

/**
 * How long a browser may cache a preflight answer by default: 10 minutes
 * (browsers cap it: Chromium at 2 hours).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxAgeSeconds = 600

/**
 * The serialized origin (`https://app.example.com`, `http://localhost:5173`)
 * of an `http`/`https` URL that has nothing but a scheme, a host and a port
 * (a trailing `/` is tolerated); `None` for anything else: `null`, `*`,
 * other schemes, paths, queries, fragments, user info.
 *
 * @example
 * ```ts
 * import { Cors } from "@org/http"
 *
 * Cors.parseOrigin("https://App.Example.com:443/") // Some("https://app.example.com")
 * Cors.parseOrigin("https://app.example.com/api") // None
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const parseOrigin = (input: string): Option.Option<string> => {
  const trimmed = input.trim()
  if (/[*?#@\\]/.test(trimmed) || !URL.canParse(trimmed)) return Option.none()
  const url = new URL(trimmed)
  if (url.protocol !== "http:" && url.protocol !== "https:") return Option.none()
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") return Option.none()
  return Option.some(url.origin)
}

/**
 * One allowed origin, decoded to its serialized form.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Origin = Schema.String.pipe(
  Schema.decodeTo(
    Schema.String,
    SchemaTransformation.transformEffect({
      decode: (input, options) =>
        Option.match(parseOrigin(input), {
          onNone: () =>
            Effect.fail(
              new SchemaIssue.InvalidValue(
                {
                  message: `must be an origin such as https://app.example.com (scheme, host, optional port; no path, no wildcard), not ${JSON.stringify(input.slice(0, 100))}`
                },
                input,
                options
              )
            ),
          onSome: Effect.succeed
        }),
      encode: Effect.succeed
    })
  )
)

/**
 * A comma-separated list of origins (blanks around entries and empty entries
 * ignored; an empty string is no origin at all).
 *
 * @since 0.2.0
 * @category schemas
 */
export const OriginList = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Array(Origin),
    SchemaTransformation.transform({
      decode: (input: string): ReadonlyArray<string> =>
        input
          .split(",")
          .map((entry) => entry.trim())
          .filter((entry) => entry !== ""),
      encode: (origins: ReadonlyArray<string>) => origins.join(",")
    })
  )
)

/**
 * What the CORS policy is made from.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The allowed origins, exact (`https://app.example.com`); empty means no CORS at all. */
  readonly origins: ReadonlyArray<string>
  /** Request headers an app may send; `defaultAllowHeaders` when omitted. */
  readonly allowHeaders?: ReadonlyArray<string> | undefined
  /** Response headers an app may read; `defaultExposeHeaders` when omitted. */
  readonly exposeHeaders?: ReadonlyArray<string> | undefined
  /** Seconds a preflight answer may be cached; `defaultMaxAgeSeconds` when omitted. */
  readonly maxAgeSeconds?: number | undefined
  /** Whether to allow credentialed requests (cookies); `false` when omitted. */
  readonly credentials?: boolean | undefined
}

/**
 * A validated CORS policy.
 *
 * @since 0.2.0
 * @category models
 */
export interface Policy {
  readonly origins: ReadonlySet<string>
  readonly allowHeaders: ReadonlySet<string>
  readonly exposeHeaders: ReadonlyArray<string>
  readonly maxAgeSeconds: number
  readonly credentials: boolean
}

/**
 * No CORS: no origin is allowed and no CORS header is ever sent.
 *
 * @since 0.2.0
 * @category constants
 */
export const disabled: Policy = {
  origins: new Set(),
  allowHeaders: new Set(),
  exposeHeaders: [],
  maxAgeSeconds: 0,
  credentials: false
}

const HeaderName = Schema.String.check(
  Schema.isPattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "must be a header name" })
)

const PolicyInput = Schema.Struct({
  origins: Schema.Array(Origin),
  allowHeaders: Schema.Array(HeaderName),
  exposeHeaders: Schema.Array(HeaderName),
  maxAgeSeconds: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  credentials: Schema.Boolean
})

/**
 * Validates options into a policy: every origin parsed (see `parseOrigin`),
 * header names checked and lower-cased.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cors } from "@org/http"
 *
 * const policy = Effect.runSync(Cors.make({ origins: ["https://app.example.com"] }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Policy, Schema.SchemaError> =>
  Effect.map(
    Schema.decodeUnknownEffect(PolicyInput)({
      origins: options.origins,
      allowHeaders: options.allowHeaders ?? defaultAllowHeaders,
      exposeHeaders: options.exposeHeaders ?? defaultExposeHeaders,
      maxAgeSeconds: options.maxAgeSeconds ?? defaultMaxAgeSeconds,
      credentials: options.credentials ?? false
    }),
    (input): Policy =>
      input.origins.length === 0
        ? disabled
        : {
            origins: new Set(input.origins),
            allowHeaders: new Set(input.allowHeaders.map((name) => name.toLowerCase())),
            exposeHeaders: [...new Set(input.exposeHeaders.map((name) => name.toLowerCase()))],
            maxAgeSeconds: input.maxAgeSeconds,
            credentials: input.credentials
          }
  )

/**
 * The policy `HttpApp.layer` uses when its `cors` option is omitted; none
 * (`disabled`) unless set by `layer` or `layerConfig`.
 *
 * @since 0.2.0
 * @category references
 */
export const CurrentPolicy = Context.Reference<Policy>("@org/http/Cors/CurrentPolicy", {
  defaultValue: () => disabled
})

/**
 * Reads the allowed origins from configuration (`CORS_ORIGINS` by default):
 * comma-separated exact origins, none when unset or empty.
 *
 * @since 0.2.0
 * @category config
 */
export const config = (name = "CORS_ORIGINS"): Config.Config<ReadonlyArray<string>> =>
  Config.schema(OriginList, name).pipe(Config.withDefault<ReadonlyArray<string>>([]))

/**
 * Sets `CurrentPolicy` from options.
 *
 * @example
 * ```ts
 * import { Cors } from "@org/http"
 *
 * const AppOrigins = Cors.layer({ origins: ["https://app.example.com", "http://localhost:5173"] })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<never, Schema.SchemaError> =>
  Layer.effect(CurrentPolicy, make(options))

/**
 * Sets `CurrentPolicy` with the origins of configuration (`CORS_ORIGINS` by
 * default) and the other options given.
 *
 * @example
 * ```ts
 * import { Cors } from "@org/http"
 *
 * const FromEnv = Cors.layerConfig()
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  name?: string,
  options?: Omit<Options, "origins">
): Layer.Layer<never, Config.ConfigError | Schema.SchemaError> =>
  Layer.effect(
    CurrentPolicy,
    Effect.flatMap(config(name), (origins) => make({ ...options, origins }))
  )

/**
 * Whether the request is a CORS preflight: `OPTIONS` with `Origin` and
 * `Access-Control-Request-Method`.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isPreflight = (request: HttpServerRequest.HttpServerRequest): boolean =>
  request.method === "OPTIONS" &&
  request.headers.origin !== undefined &&
  request.headers["access-control-request-method"] !== undefined

/**
 * The request's `Origin` when the policy allows it, exactly as sent.
 *
 * @since 0.2.0
 * @category predicates
 */
export const allowedOrigin = (policy: Policy, origin: string | undefined): Option.Option<string> =>
  origin !== undefined && policy.origins.has(origin) ? Option.some(origin) : Option.none()

const vary = (
  response: HttpServerResponse.HttpServerResponse,
  names: ReadonlyArray<string>
): HttpServerResponse.HttpServerResponse => {
  const current = response.headers.vary
  const present = (current ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")
  if (present.includes("*")) return response
  const lower = new Set(present.map((name) => name.toLowerCase()))
  const added = names.filter((name) => !lower.has(name.toLowerCase()))
  return added.length === 0
    ? response
    : HttpServerResponse.setHeader(response, "vary", [...present, ...added].join(", "))
}

const preflightVary = ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]

/**
 * Adds the CORS headers of a non-preflight response: `Vary: Origin` always,
 * and for an allowed origin `Access-Control-Allow-Origin`,
 * `Access-Control-Expose-Headers` and, when configured,
 * `Access-Control-Allow-Credentials`. Responses to preflights only get their
 * `Vary` here: the 204 carries its own headers, refusals carry none.
 *
 * @since 0.2.0
 * @category combinators
 */
export const apply = (
  policy: Policy,
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse => {
  if (policy.origins.size === 0) return response
  if (isPreflight(request)) return vary(response, preflightVary)
  const varied = vary(response, ["Origin"])
  return Option.match(allowedOrigin(policy, request.headers.origin), {
    onNone: () => varied,
    onSome: (origin) =>
      HttpServerResponse.setHeaders(varied, {
        "access-control-allow-origin": origin,
        ...(policy.exposeHeaders.length > 0
          ? { "access-control-expose-headers": policy.exposeHeaders.join(", ") }
          : {}),
        ...(policy.credentials ? { "access-control-allow-credentials": "true" } : {})
      })
  })
}

const requestedHeaders = (policy: Policy, header: string | undefined): ReadonlyArray<string> => {
  const names = (header ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "" && policy.allowHeaders.has(name))
  return [...new Set(names)]
}

/**
 * Options of `middleware`.
 *
 * @since 0.2.0
 * @category models
 */
export interface MiddlewareOptions {
  /** The methods routes serve at a URL (the route table behind 405's `Allow`). */
  readonly allowedMethods: (url: string) => ReadonlyArray<string>
}

/**
 * Middleware answering preflights and adding CORS headers to every response
 * (as a pre-response handler, so errors get them too). With a policy
 * without origins it does nothing at all. It refuses with
 * `Problem.ProblemError`s: run it inside the problem renderer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { Cors } from "@org/http"
 *
 * const policy = Effect.runSync(Cors.make({ origins: ["https://app.example.com"] }))
 * const app = Cors.middleware(policy, { allowedMethods: () => ["GET", "HEAD"] })(
 *   Effect.succeed(HttpServerResponse.text("ok"))
 * )
 * ```
 *
 * @since 0.2.0
 * @category middleware
 */
export const middleware =
  (policy: Policy, options: MiddlewareOptions) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E | Problem.ProblemError,
    R | HttpServerRequest.HttpServerRequest
  > => {
    if (policy.origins.size === 0) return app
    return HttpEffect.withPreResponseHandler(
      Effect.flatMap(
        HttpServerRequest.HttpServerRequest,
        (request): Effect.Effect<HttpServerResponse.HttpServerResponse, E | Problem.ProblemError, R> => {
          if (!isPreflight(request)) return app
          const origin = allowedOrigin(policy, request.headers.origin)
          if (Option.isNone(origin)) {
            return Effect.fail(
              Problem.make({ status: 403, detail: "Cross-origin requests from this origin are not allowed." })
            )
          }
          const methods = options.allowedMethods(request.url)
          // No route at this path: the router's 404.
          if (methods.length === 0) return app
          if (!methods.includes(request.headers["access-control-request-method"] ?? "")) {
            return Effect.fail(
              Problem.make({
                status: 405,
                detail: `This resource supports ${methods.join(", ")}.`,
                headers: { allow: methods.join(", ") }
              })
            )
          }
          const headers = requestedHeaders(policy, request.headers["access-control-request-headers"])
          return Effect.succeed(
            HttpServerResponse.empty({
              status: 204,
              headers: {
                "access-control-allow-origin": origin.value,
                "access-control-allow-methods": methods.join(", "),
                ...(headers.length > 0 ? { "access-control-allow-headers": headers.join(", ") } : {}),
                "access-control-max-age": String(policy.maxAgeSeconds),
                ...(policy.credentials ? { "access-control-allow-credentials": "true" } : {})
              }
            })
          )
        }
      ),
      (request, response) => Effect.succeed(apply(policy, request, response))
    )
  }
