/**
 * One spelling per resource: a request whose path is not in canonical form
 * gets a 404 problem before routing. Effect's router, by default, ends a path
 * at `;`, collapses `//`, ignores a trailing `/` and percent-decodes the path
 * before matching, so `/items;x`, `/items//1`, `/items/` and `/%69tems`
 * would all reach `/items`. A proxy, cache or rate limit that keys on the
 * path sees those as different resources; refusing them closes the gap.
 *
 * Canonical means: a path that starts with `/`; no `;`; no empty segment
 * (`//`); no `.` or `..` segment, encoded or not; no trailing `/` except the
 * root; no backslash; and percent-encoding only where it is needed (never of
 * a letter, digit, `-`, `.`, `_`, `~`, nor of `/` or `\`), each `%` followed
 * by two hex digits. The query string is not checked.
 *
 * Letter case is not checked here (only the route table knows which parts
 * of a path are static): `HttpApp` serves with a case-sensitive router, so
 * `/WIDGETS` finds no route.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Problem from "./Problem.ts"

// The request path: the target up to `?` or `#`, without the scheme and
// authority of an absolute-form target (`GET http://host/path HTTP/1.1`).
const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  const target = end === -1 ? url : url.slice(0, end)
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(target)
  return authority === null ? target : target.slice(authority[0].length) || "/"
}

// `%` followed by the code of an unreserved character (RFC 3986 section 2.3),
// of `/` or of `\`: a spelling the router decodes into another path.
const needlessEscape = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DdEeFf]|5[CcFf]|7[Ee])/

const malformedEscape = /%(?![0-9A-Fa-f]{2})/

/**
 * Why a path is not canonical, as the `detail` of the 404; `undefined` when
 * it is canonical (or is `*`, the target of `OPTIONS *`).
 *
 * @example
 * ```ts
 * import { CanonicalPath } from "@org/http"
 *
 * CanonicalPath.problem("/api/v1/items") // undefined
 * CanonicalPath.problem("/api/v1//items") // "The path has an empty segment."
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const problem = (url: string): string | undefined => {
  if (url === "*") return undefined
  const path = pathOf(url)
  if (!path.startsWith("/")) return "The path must start with a slash."
  if (path.includes(";")) return "The path may not contain a semicolon."
  if (path.includes("\\")) return "The path may not contain a backslash."
  if (malformedEscape.test(path)) return "The path has a malformed percent-encoding."
  if (needlessEscape.test(path)) return "The path percent-encodes a character that needs no encoding."
  if (path === "/") return undefined
  const segments = path.slice(1).split("/")
  if (segments.at(-1) === "") return "The path may not end with a slash."
  if (segments.includes("")) return "The path has an empty segment."
  if (segments.some((segment) => segment === "." || segment === ".."))
    return "The path has a '.' or '..' segment."
  return undefined
}

/**
 * Whether a request target's path is canonical (see the module documentation).
 *
 * @since 0.2.0
 * @category predicates
 */
export const isCanonical = (url: string): boolean => problem(url) === undefined

/**
 * Router-level middleware: a request whose path is not canonical fails
 * with a `Problem.NotFound` (rendered as a 404 problem) and never reaches a
 * route. `HttpApp.layer` applies it by default (`canonicalPaths: false`
 * turns it off); wrap your own app with it otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { CanonicalPath } from "@org/http"
 *
 * const app = CanonicalPath.middleware(Effect.succeed(HttpServerResponse.text("ok")))
 * ```
 *
 * @since 0.2.0
 * @category middleware
 */
export const middleware = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E | Problem.NotFound,
  R | HttpServerRequest.HttpServerRequest
> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const detail = problem(request.url)
    return detail === undefined ? app : Effect.fail<E | Problem.NotFound>(new Problem.NotFound({ detail }))
  })
