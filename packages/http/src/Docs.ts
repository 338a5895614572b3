/**
 * The API's documentation as routes of the app, with no network needed:
 * Effect's Scalar reference (`HttpApiScalar.layer`, whose script is bundled
 * and inlined into the page, Scalar's web fonts turned off) at `path`, and a
 * static page of every problem type (`Problem.types`) at `path/problems`,
 * one anchor per type, which is where the relative problem `type` URIs
 * point. `securityHeaders` relaxes the Content-Security-Policy and the
 * Permissions-Policy for those paths only.
 *
 * @since 0.2.0
 */
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as HttpApi from "effect/http-api/HttpApi"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiScalar from "effect/http-api/HttpApiScalar"
import * as Layer from "effect/Layer"
import * as Problem from "./Problem.ts"
import * as SecurityHeaders from "./SecurityHeaders.ts"

/**
 * Options of `layer` and `securityHeaders`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Where the reference is served; `/docs` by default (the problem types at `<path>/problems`). */
  readonly path?: `/${string}` | undefined
  /** Scalar's own configuration, over this module's offline defaults. */
  readonly scalar?: HttpApiScalar.ScalarConfig | undefined
  /**
   * More problem types for the problem types page, besides the kit's
   * (`Problem.types`): your own classes' `type`s, or a module's (for
   * example `Idempotency.problemTypes`).
   */
  readonly problems?: ReadonlyArray<Omit<ProblemType, "slug">> | undefined
}

/**
 * The Content-Security-Policy of the problem types page: static HTML with
 * an inline style sheet, nothing else.
 *
 * @since 0.2.0
 * @category constants
 */
export const problemsContentSecurityPolicy =
  "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * One problem type as the problems page lists it.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProblemType {
  readonly slug: string
  readonly uri: string
  readonly status: number
  readonly title: string
}

const slugOf = (uri: string): string => uri.slice(Math.max(uri.lastIndexOf("/"), uri.lastIndexOf("#")) + 1)

// Every status an HTTP response can have; `Problem.generic` names the kit's type for each.
const statuses = Array.from({ length: 500 }, (_, i) => i + 100)

/**
 * Every problem type of `Problem.types`, with the status and title
 * `Problem.generic` gives it, in status order; the slug is the URI's last
 * segment (after the last `/` or `#`).
 *
 * @example
 * ```ts
 * import { Docs } from "@org/http"
 *
 * const validation = Docs.problemTypes.find((type) => type.slug === "validation")
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const problemTypes: ReadonlyArray<ProblemType> = Object.values(Problem.types)
  .flatMap((uri): Array<ProblemType> => {
    const status = statuses.find((s) => Problem.generic(s).type === uri)
    return status === undefined
      ? []
      : [{ slug: slugOf(uri), uri, status, title: Problem.generic(status).title }]
  })
  .sort((a, b) => a.status - b.status)

const escapeHtml = (text: string): string =>
  text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;")

/**
 * The problem types page: static HTML, no script.
 *
 * @since 0.2.0
 * @category rendering
 */
export const problemsPage = (options?: {
  readonly docsPath?: string | undefined
  readonly problems?: ReadonlyArray<Omit<ProblemType, "slug">> | undefined
}): string => {
  const extra = (options?.problems ?? []).map((type) => ({ ...type, slug: slugOf(type.uri) }))
  const rows = [
    ...problemTypes,
    ...extra.filter((type) => !problemTypes.some((known) => known.uri === type.uri))
  ]
    .map(
      (type) =>
        `    <section id="${escapeHtml(type.slug)}">\n` +
        `      <h2><a href="#${escapeHtml(type.slug)}">${escapeHtml(type.title)}</a></h2>\n` +
        `      <p>Status <strong>${type.status}</strong>; <code>type</code>: <code>${escapeHtml(type.uri)}</code></p>\n` +
        "    </section>"
    )
    .join("\n")
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Problem types</title>
    <style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;padding:0 .25rem}section:target{background:#fff8d6}</style>
  </head>
  <body>
    <h1>Problem types</h1>
    <p>Every error of this API is <code>application/problem+json</code> (RFC 9457); its <code>type</code> is one of these. See the <a href="${escapeHtml(options?.docsPath ?? "/docs")}">API reference</a>.</p>
${rows}
  </body>
</html>
`
}

const defaultScalar: HttpApiScalar.ScalarConfig = {
  // Scalar's default fonts come from fonts.scalar.com; the page must load nothing from elsewhere.
  withDefaultFonts: false,
  agent: { disabled: true },
  showOperationId: true,
  defaultOpenAllTags: true
}

/**
 * The routes: the Scalar reference of `api` at `path` (`/docs` by default)
 * and the problem types page at `<path>/problems`. Pass it in
 * `HttpApp.layer`'s `routes`, with `securityHeaders` in its
 * `securityHeaders`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Docs, Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * const App = HttpApp.layer({
 *   api: Api,
 *   handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)),
 *   routes: [Docs.layer(Api)],
 *   securityHeaders: Docs.securityHeaders()
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>,
  options?: Options
): Layer.Layer<never, never, HttpRouter.HttpRouter> => {
  const path = options?.path ?? "/docs"
  const page = problemsPage({ docsPath: path, problems: options?.problems })
  return Layer.merge(
    HttpApiScalar.layer(api, { path, scalar: { ...defaultScalar, ...options?.scalar } }),
    HttpRouter.add("GET", `${path}/problems`, HttpServerResponse.html(page))
  )
}

/**
 * The `securityHeaders` option of `HttpApp.layer` that the docs need: the
 * docs Content-Security-Policy and Permissions-Policy under `path` (inline
 * script and styles from the page itself, nothing from another origin), and
 * a script-free policy for the problem types page.
 *
 * @example
 * ```ts
 * import { Docs } from "@org/http"
 *
 * const headers = Docs.securityHeaders({ path: "/docs" })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const securityHeaders = (
  options?: Pick<Options, "path">
): Pick<SecurityHeaders.Options, "contentSecurityPolicyByPath" | "permissionsPolicyByPath"> => {
  const path = options?.path ?? "/docs"
  return {
    contentSecurityPolicyByPath: {
      [path]: SecurityHeaders.docsContentSecurityPolicy,
      [`${path}/problems`]: problemsContentSecurityPolicy
    },
    permissionsPolicyByPath: { [path]: SecurityHeaders.docsPermissionsPolicy }
  }
}
