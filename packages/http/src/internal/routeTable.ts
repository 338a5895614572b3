/**
 * A record of the routes an app registers, to answer "which methods does this
 * path support?" for 405 responses. Effect's router only says "no route".
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as FindMyWay from "effect/http/FindMyWay"
import * as HttpRouter from "effect/http/HttpRouter"

/**
 * How the served router matches paths, and so this table: letter case
 * included (Effect's router ignores case in static path text by default),
 * so `/API/v1/items` is a 404 (the rest of the canonical form is
 * `CanonicalPath`'s).
 *
 * @internal
 */
export const routerConfig = { caseSensitive: true } as const

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"] as const

/** @internal */
export interface RouteTable {
  /** `redactedParams` as `HttpRouter.add`'s option of that name. */
  readonly add: (method: string, path: string, redactedParams?: ReadonlyArray<string> | undefined) => void
  readonly allowedMethods: (url: string) => ReadonlyArray<string>
}

/** @internal */
export const make = (): RouteTable => {
  const router = FindMyWay.make<true>(routerConfig)
  const seen = new Set<string>()
  const on = (method: string, path: HttpRouter.PathInput) => {
    const key = `${method} ${path}`
    if (seen.has(key)) return
    seen.add(key)
    router.on(method, path, true)
  }
  return {
    add: (method, path) => {
      const input = path as HttpRouter.PathInput
      const targets = method === "*" ? methods : [method]
      for (const target of targets) {
        on(target, input)
        // Same rule as the router: `/x/*` also serves `/x`.
        if (input.endsWith("/*")) on(target, input.slice(0, -2) as HttpRouter.PathInput)
      }
    },
    allowedMethods: (url) => {
      const allowed = methods.filter((method) => router.find(method, url) !== undefined)
      // The router answers HEAD with the GET route.
      return allowed.includes("GET") && !allowed.includes("HEAD")
        ? ["GET", "HEAD", ...allowed.filter((m) => m !== "GET")]
        : allowed
    }
  }
}

/**
 * Wraps a router so that every route added through it (or through its
 * prefixed views) is also recorded in the table.
 *
 * @internal
 */
export const recording = (
  router: HttpRouter.HttpRouter,
  table: RouteTable,
  prefix = ""
): HttpRouter.HttpRouter =>
  HttpRouter.HttpRouter.of({
    ...router,
    prefixed: (next) => recording(router.prefixed(next), table, HttpRouter.prefixPath(next, prefix)),
    add: (method, path, handler, options) =>
      Effect.andThen(
        Effect.sync(() =>
          table.add(
            method,
            prefix === "" ? path : HttpRouter.prefixPath(path, prefix),
            options?.redactedParams
          )
        ),
        router.add(method, path, handler, options)
      ),
    addAll: (routes) =>
      Effect.andThen(
        Effect.sync(() => {
          for (const route of routes) {
            table.add(
              route.method,
              prefix === "" ? route.path : HttpRouter.prefixPath(route.path, prefix),
              route.redactedParams
            )
          }
        }),
        router.addAll(routes)
      )
  })
