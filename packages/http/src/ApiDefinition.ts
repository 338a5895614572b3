/**
 * Makes an `HttpApi` definition ready for this package's server: every
 * endpoint gets `Problem.Middleware` (so OpenAPI documents the common
 * problems) and decoding reports every failing field. A definition module:
 * no server code, so a typed client (`HttpApiClient.make`) can import the
 * prepared API alone.
 *
 * @since 0.2.0
 */
import * as HttpApi from "effect/http-api/HttpApi"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
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
): HttpApi.HttpApi<Id, HttpApiGroup.AddMiddleware<Groups, Problem.Middleware>> =>
  self
    .middleware(Problem.Middleware)
    .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" })
    .annotate(HttpApi.ParamsParseOptions, { errors: "all" })
    .annotate(HttpApi.QueryParseOptions, { errors: "all" })
    .annotate(HttpApi.HeadersParseOptions, { errors: "all" })
