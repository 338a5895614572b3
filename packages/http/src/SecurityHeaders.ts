/**
 * Security headers on every response, errors and aborted requests included,
 * and no `Server` / `X-Powered-By` banner. The Content-Security-Policy is
 * strict for a JSON API (`default-src 'none'; frame-ancestors 'none'`) and can
 * be relaxed per path prefix, for example for an HTML docs page.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as HttpEffect from "effect/http/HttpEffect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

/**
 * The Content-Security-Policy of API responses: nothing may load, nothing may
 * frame them.
 *
 * @since 0.1.0
 * @category constants
 */
export const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

/**
 * A Content-Security-Policy for a self-hosted docs page (scripts, styles,
 * fonts and images from the same origin, inline styles and scripts as the
 * usual docs bundles need; still no framing and no third-party origins).
 *
 * @since 0.1.0
 * @category constants
 */
export const docsContentSecurityPolicy =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " +
  "base-uri 'none'; form-action 'none'"

/**
 * The headers set on every response besides the Content-Security-Policy.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHeaders: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin"
}

/**
 * Headers removed from every response: they advertise the implementation.
 *
 * @since 0.1.0
 * @category constants
 */
export const bannerHeaders: ReadonlyArray<string> = ["server", "x-powered-by"]

/**
 * Options of the security headers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The default Content-Security-Policy; `apiContentSecurityPolicy` when omitted. */
  readonly contentSecurityPolicy?: string | undefined
  /**
   * Content-Security-Policy by path prefix; the longest matching prefix wins.
   * A prefix matches its own path and everything below it (`/docs` matches
   * `/docs` and `/docs/x`, not `/docsx`).
   */
  readonly contentSecurityPolicyByPath?: Readonly<Record<string, string>> | undefined
  /** Headers added to or replacing `defaultHeaders` (names in any case). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

const matches = (path: string, prefix: string): boolean => {
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix
  return base === "" || path === base || path.startsWith(`${base}/`)
}

/**
 * The headers for a request path under the given options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const headersFor = (path: string, options?: Options): Readonly<Record<string, string>> => {
  let policy = options?.contentSecurityPolicy ?? apiContentSecurityPolicy
  let matched = -1
  for (const [prefix, value] of Object.entries(options?.contentSecurityPolicyByPath ?? {})) {
    if (prefix.length > matched && matches(path, prefix)) {
      policy = value
      matched = prefix.length
    }
  }
  const extra: Record<string, string> = {}
  for (const [name, value] of Object.entries(options?.headers ?? {})) {
    extra[name.toLowerCase()] = value
  }
  return { ...defaultHeaders, "content-security-policy": policy, ...extra }
}

/**
 * The challenge sent with a 401 that carries none (RFC 9110 requires one on
 * every 401; RFC 6750 names the Bearer scheme).
 *
 * @since 0.1.0
 * @category constants
 */
export const bearerChallenge = 'Bearer realm="api"'

/**
 * Applies the security headers of a request to a response and removes the
 * banner headers. Two rules depend on the exchange: a response to a request
 * that carried credentials (`Authorization`) gets `Cache-Control: no-store`,
 * whatever the handler set, so no shared cache keeps a user's data; a 401
 * without `WWW-Authenticate` gets `bearerChallenge`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const apply = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  options?: Options
): HttpServerResponse.HttpServerResponse => {
  let out = HttpServerResponse.setHeaders(response, headersFor(pathOf(request.url), options))
  if (request.headers.authorization !== undefined)
    out = HttpServerResponse.setHeader(out, "cache-control", "no-store")
  if (out.status === 401 && out.headers["www-authenticate"] === undefined) {
    out = HttpServerResponse.setHeader(out, "www-authenticate", bearerChallenge)
  }
  for (const name of bannerHeaders) {
    if (name in out.headers) out = HttpServerResponse.removeHeader(out, name)
  }
  return out
}

/**
 * Middleware that registers the security headers as a pre-response handler,
 * so they are on every response this request produces, whatever produced it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { SecurityHeaders } from "@org/http"
 *
 * const app = SecurityHeaders.middleware({
 *   contentSecurityPolicyByPath: { "/docs": SecurityHeaders.docsContentSecurityPolicy }
 * })(Effect.succeed(HttpServerResponse.text("ok")))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware =
  (options?: Options) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    HttpEffect.withPreResponseHandler(app, (request, response) =>
      Effect.succeed(apply(request, response, options))
    )
