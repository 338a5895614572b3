/**
 * Security headers on every response, errors and aborted requests included,
 * and no `Server` / `X-Powered-By` banner. The Content-Security-Policy is
 * strict for a JSON API (`default-src 'none'; frame-ancestors 'none'`), the
 * Permissions-Policy denies every feature, and both can be relaxed per path
 * prefix, for example for an HTML docs page.
 *
 * Two endpoint annotations, read from the API when `HttpApp.layer` builds
 * it, ask for more: `NoStore` (`Cache-Control: no-store` on every response
 * of the endpoint, for token responses of requests without
 * `Authorization`) and `ClearSiteData` (`Clear-Site-Data` on its successful
 * responses, for a logout). They are plain annotations: an API definition
 * may import this module.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FindMyWay from "effect/http/FindMyWay"
import * as HttpEffect from "effect/http/HttpEffect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApi from "effect/http-api/HttpApi"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import { pathOf } from "./internal/url.ts"

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

const deniedFeatures = [
  "accelerometer",
  "autoplay",
  "bluetooth",
  "camera",
  "clipboard-read",
  "clipboard-write",
  "display-capture",
  "encrypted-media",
  "fullscreen",
  "gamepad",
  "geolocation",
  "gyroscope",
  "hid",
  "idle-detection",
  "local-fonts",
  "magnetometer",
  "microphone",
  "midi",
  "payment",
  "picture-in-picture",
  "publickey-credentials-create",
  "publickey-credentials-get",
  "screen-wake-lock",
  "serial",
  "storage-access",
  "sync-xhr",
  "usb",
  "web-share",
  "window-management",
  "xr-spatial-tracking"
]

/**
 * The Permissions-Policy of API responses: every powerful feature denied to
 * the document and anything it embeds (the header has no wildcard, so the
 * features are listed; a browser ignores the ones it does not know).
 *
 * @since 0.2.0
 * @category constants
 */
export const apiPermissionsPolicy = deniedFeatures.map((feature) => `${feature}=()`).join(", ")

/**
 * A Permissions-Policy for a self-hosted docs page: the API's, except that
 * the page may write to the clipboard (its "copy" buttons) and go full
 * screen.
 *
 * @since 0.2.0
 * @category constants
 */
export const docsPermissionsPolicy = deniedFeatures
  .map((feature) =>
    feature === "clipboard-write" || feature === "fullscreen" ? `${feature}=(self)` : `${feature}=()`
  )
  .join(", ")

/**
 * The headers set on every response besides the Content-Security-Policy and
 * the Permissions-Policy.
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
  "cross-origin-resource-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "x-permitted-cross-domain-policies": "none"
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
  /** The default Permissions-Policy; `apiPermissionsPolicy` when omitted. */
  readonly permissionsPolicy?: string | undefined
  /** Permissions-Policy by path prefix, matched as `contentSecurityPolicyByPath`. */
  readonly permissionsPolicyByPath?: Readonly<Record<string, string>> | undefined
  /** Headers added to or replacing `defaultHeaders` (names in any case). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * The endpoint annotations (`NoStore`, `ClearSiteData`) of a request;
   * `HttpApp.layer` sets it from the API (`fromApi`).
   */
  readonly endpoints?: Endpoints | undefined
}

const matches = (path: string, prefix: string): boolean => {
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix
  return base === "" || path === base || path.startsWith(`${base}/`)
}

const longestPrefix = (
  path: string,
  fallback: string,
  byPath: Readonly<Record<string, string>> | undefined
): string => {
  if (byPath === undefined) return fallback
  let value = fallback
  let matched = -1
  for (const [prefix, candidate] of Object.entries(byPath)) {
    if (prefix.length > matched && matches(path, prefix)) {
      value = candidate
      matched = prefix.length
    }
  }
  return value
}

/**
 * The headers for a request path under the given options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const headersFor = (path: string, options?: Options): Readonly<Record<string, string>> => {
  const extra: Record<string, string> = {}
  for (const [name, value] of Object.entries(options?.headers ?? {})) {
    extra[name.toLowerCase()] = value
  }
  return {
    ...defaultHeaders,
    "content-security-policy": longestPrefix(
      path,
      options?.contentSecurityPolicy ?? apiContentSecurityPolicy,
      options?.contentSecurityPolicyByPath
    ),
    "permissions-policy": longestPrefix(
      path,
      options?.permissionsPolicy ?? apiPermissionsPolicy,
      options?.permissionsPolicyByPath
    ),
    ...extra
  }
}

// The headers of a path depend only on the two policies its longest prefix
// picks: each combination is built once per options object, not per request.
// Keyed by the two policy strings themselves (a few distinct values whose
// hashes the engine keeps), not by a key string built per request.
const builtHeaders = new WeakMap<Options, Map<string, Map<string, Readonly<Record<string, string>>>>>()
const noOptions: Options = {}
const cachedHeadersFor = (path: string, options: Options = noOptions): Readonly<Record<string, string>> => {
  let byPolicies = builtHeaders.get(options)
  if (byPolicies === undefined) {
    byPolicies = new Map()
    builtHeaders.set(options, byPolicies)
  }
  const csp = longestPrefix(
    path,
    options.contentSecurityPolicy ?? apiContentSecurityPolicy,
    options.contentSecurityPolicyByPath
  )
  const permissions = longestPrefix(
    path,
    options.permissionsPolicy ?? apiPermissionsPolicy,
    options.permissionsPolicyByPath
  )
  let byPermissions = byPolicies.get(csp)
  if (byPermissions === undefined) {
    byPermissions = new Map()
    byPolicies.set(csp, byPermissions)
  }
  let headers = byPermissions.get(permissions)
  if (headers === undefined) {
    headers = headersFor(path, options)
    byPermissions.set(permissions, headers)
  }
  return headers
}

// The same set with `Cache-Control: no-store`, made once per set.
const withNoStore = new WeakMap<Readonly<Record<string, string>>, Readonly<Record<string, string>>>()
const noStoreOf = (headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> => {
  let out = withNoStore.get(headers)
  if (out === undefined) {
    out = { ...headers, "cache-control": "no-store" }
    withNoStore.set(headers, out)
  }
  return out
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
 * An endpoint annotation: every response of the endpoint gets
 * `Cache-Control: no-store`, whatever its status, also to requests without
 * `Authorization` (token responses: login, refresh, the MFA step). Annotate
 * an endpoint or a whole group.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { HttpApiEndpoint } from "effect/http-api"
 * import * as SecurityHeaders from "@org/http/SecurityHeaders"
 *
 * const Login = HttpApiEndpoint.post("login", "/login", {
 *   payload: Schema.Struct({ email: Schema.String, password: Schema.String }),
 *   success: Schema.Struct({ access_token: Schema.String })
 * }).annotate(SecurityHeaders.NoStore, true)
 * ```
 *
 * @since 0.2.0
 * @category annotations
 */
export const NoStore = Context.Reference<boolean>("@org/http/SecurityHeaders/NoStore", {
  defaultValue: () => false
})

/**
 * A directive of `Clear-Site-Data`.
 *
 * @since 0.2.0
 * @category models
 */
export type ClearSiteDataDirective =
  | "cache"
  | "cookies"
  | "storage"
  | "executionContexts"
  | "clientHints"
  | "*"

/**
 * An endpoint annotation: the endpoint's successful (2xx) responses carry
 * `Clear-Site-Data` with these directives, so the browser drops what it
 * kept for this origin (a logout: `["cache", "storage"]`). Error responses
 * do not: a refused logout has not ended anything.
 *
 * @example
 * ```ts
 * import { HttpApiEndpoint } from "effect/http-api"
 * import * as SecurityHeaders from "@org/http/SecurityHeaders"
 *
 * const Logout = HttpApiEndpoint.post("logout", "/logout").annotate(SecurityHeaders.ClearSiteData, [
 *   "cache",
 *   "storage"
 * ])
 * ```
 *
 * @since 0.2.0
 * @category annotations
 */
export const ClearSiteData = Context.Reference<ReadonlyArray<ClearSiteDataDirective>>(
  "@org/http/SecurityHeaders/ClearSiteData",
  { defaultValue: () => [] }
)

/**
 * What the annotations of the endpoint serving a request ask for.
 *
 * @since 0.2.0
 * @category models
 */
export interface EndpointHeaders {
  readonly noStore: boolean
  readonly clearSiteData: ReadonlyArray<ClearSiteDataDirective>
}

/**
 * Finds the annotations of the endpoint serving a method and URL
 * (`undefined` when the endpoint has none, or no endpoint serves it).
 *
 * @since 0.2.0
 * @category models
 */
export type Endpoints = (method: string, url: string) => EndpointHeaders | undefined

const isPathInput = (path: string): path is FindMyWay.PathInput => path === "*" || path.startsWith("/")

/**
 * The `Endpoints` of an API: every endpoint annotated with `NoStore` or
 * `ClearSiteData` (itself or through its group), found by the same router
 * rules that serve it (a `HEAD` finds its `GET` endpoint).
 *
 * @example
 * ```ts
 * import { HttpApi } from "effect/http-api"
 * import { Health, SecurityHeaders } from "@org/http"
 *
 * const Api = HttpApi.make("example").add(Health.Group)
 * const endpoints = SecurityHeaders.fromApi(Api)
 * endpoints("GET", "/health/live") // undefined: not annotated
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromApi = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): Endpoints => {
  const router = FindMyWay.make<EndpointHeaders>()
  let annotated = 0
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, mergedAnnotations }) => {
      const headers: EndpointHeaders = {
        noStore: Context.get(mergedAnnotations, NoStore),
        clearSiteData: Context.get(mergedAnnotations, ClearSiteData)
      }
      if ((headers.noStore || headers.clearSiteData.length > 0) && isPathInput(endpoint.path)) {
        router.on(endpoint.method, endpoint.path, headers)
        annotated++
      }
    }
  })
  if (annotated === 0) return () => undefined
  return (method, url) =>
    (router.find(method, url) ?? (method === "HEAD" ? router.find("GET", url) : undefined))?.handler
}

/**
 * Applies the security headers of a request to a response and removes the
 * banner headers. Some rules depend on the exchange: a response to a
 * request that carried credentials (`Authorization`), or served by an
 * endpoint annotated `NoStore`, gets `Cache-Control: no-store`, whatever the
 * handler set, so no shared cache keeps a user's data or tokens; a 2xx of an
 * endpoint annotated `ClearSiteData` gets `Clear-Site-Data`; a 401 without
 * `WWW-Authenticate` gets `bearerChallenge`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const apply = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  options?: Options
): HttpServerResponse.HttpServerResponse => {
  const endpoint = options?.endpoints?.(request.method, request.url)
  const headers = cachedHeadersFor(pathOf(request.url), options)
  // One copy of the response's headers, `no-store` included when it applies.
  let out = HttpServerResponse.setHeaders(
    response,
    request.headers.authorization !== undefined || endpoint?.noStore === true ? noStoreOf(headers) : headers
  )
  if (endpoint !== undefined && endpoint.clearSiteData.length > 0 && out.status >= 200 && out.status < 300) {
    out = HttpServerResponse.setHeader(
      out,
      "clear-site-data",
      endpoint.clearSiteData.map((directive) => `"${directive}"`).join(", ")
    )
  }
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
