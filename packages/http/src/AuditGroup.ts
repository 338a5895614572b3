/**
 * The audit log over HTTP: `GET <prefix>/audit` pages through the
 * `AuditLog` newest first, for callers holding one permission.
 *
 * ```ts
 * import { HttpApi, HttpApiBuilder } from "effect/http-api"
 * import { Rbac } from "@org/core"
 * import { AuditGroup, HttpApp } from "@org/http"
 *
 * const policy = Rbac.make({ permissions: ["audit:read"], roles: { admin: { permissions: ["audit:read"] } } })
 * class Api extends HttpApp.api(HttpApi.make("api").add(AuditGroup.make({ policy, permission: "audit:read" }))) {}
 * const AuditHandlers = HttpApiBuilder.group(Api, "audit", AuditGroup.handlers)
 * ```
 *
 * Query: `page`, `size` (as every list), and the exact-match filters
 * `type`, `aggregateId`, `actorId` (ANDed). The response is a page of
 * `AuditLog.Entry` in its JSON form. The group carries the bearer
 * `Authentication` middleware; add others (a rate limit) to the group you
 * get back.
 *
 * @since 0.3.0
 */
import * as AuditLog from "@org/core/AuditLog"
import * as Pagination from "@org/core/Pagination"
import type * as Rbac from "@org/core/Rbac"
import * as Effect from "effect/Effect"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as OpenApi from "effect/http-api/OpenApi"
import * as Schema from "effect/Schema"
import * as Authentication from "./Authentication.ts"
import * as Problem from "./Problem.ts"

/**
 * A filter value: 1 to 200 characters, matched exactly.
 *
 * @since 0.3.0
 * @category schemas
 */
export const FilterValue = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))

/**
 * The query of `GET /audit`.
 *
 * @since 0.3.0
 * @category schemas
 */
export const Query = {
  page: Schema.optionalKey(Pagination.PageNumberParam),
  size: Schema.optionalKey(Pagination.PageSizeParam),
  type: Schema.optionalKey(FilterValue),
  aggregateId: Schema.optionalKey(FilterValue),
  actorId: Schema.optionalKey(FilterValue)
}

/**
 * The response of `GET /audit`: a page of entries.
 *
 * @since 0.3.0
 * @category schemas
 */
export const PageOfEntries = Pagination.Page(AuditLog.Entry)

/**
 * Options of `make`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options<P extends string, R extends string> {
  /** The role policy the permission belongs to. */
  readonly policy: Rbac.Policy<P, R>
  /** The permission that opens the audit log (`audit:read`). */
  readonly permission: P
  /** The path prefix; `/api/v1` by default. */
  readonly prefix?: `/${string}` | undefined
}

/**
 * Builds the `audit` group: `GET <prefix>/audit`, bearer-authenticated,
 * needing `permission`.
 *
 * @example
 * ```ts
 * import { HttpApi } from "effect/http-api"
 * import { Rbac } from "@org/core"
 * import { AuditGroup } from "@org/http"
 *
 * const policy = Rbac.make({ permissions: ["audit:read"], roles: { admin: { permissions: ["audit:read"] } } })
 * export class Api extends HttpApi.make("api").add(AuditGroup.make({ policy, permission: "audit:read" })) {}
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = <P extends string, R extends string>(options: Options<P, R>) =>
  HttpApiGroup.make("audit")
    .add(
      HttpApiEndpoint.get("list", "/audit", {
        query: Query,
        success: PageOfEntries,
        error: Problem.BadRequest
      })
        .annotate(OpenApi.Summary, "List audit entries")
        .annotate(
          OpenApi.Description,
          "Every domain event of a committed write, once, newest first (by occurredAt, then id). " +
            "Filters `type`, `aggregateId` and `actorId` match exactly and are ANDed. " +
            "`data` is the event payload without passwords, tokens, codes or secrets."
        )
        .annotateMerge(Authentication.requires(options.policy, options.permission))
    )
    .middleware(Authentication.Authentication)
    .prefix(options.prefix ?? "/api/v1")
    .annotateMerge(OpenApi.annotations({ title: "Audit", description: "Who did what, when" }))

/**
 * The handler of the group, as `handlers` implements it.
 *
 * @since 0.3.0
 * @category models
 */
export interface Implementation {
  readonly list: (request: {
    readonly query: {
      readonly page?: number | undefined
      readonly size?: number | undefined
      readonly type?: string | undefined
      readonly aggregateId?: string | undefined
      readonly actorId?: string | undefined
    }
  }) => Effect.Effect<Pagination.Page<AuditLog.Entry>>
}

/**
 * Implements a group made by `make` over the `AuditLog` in context (resolved
 * when the handler layer is built): give it to
 * `HttpApiBuilder.group(Api, "audit", AuditGroup.handlers)`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi, HttpApiBuilder } from "effect/http-api"
 * import { AuditLog, Rbac } from "@org/core"
 * import { AuditGroup, HttpApp } from "@org/http"
 *
 * const policy = Rbac.make({ permissions: ["audit:read"], roles: { admin: { permissions: ["audit:read"] } } })
 * class Api extends HttpApp.api(HttpApi.make("api").add(AuditGroup.make({ policy, permission: "audit:read" }))) {}
 * export const AuditHandlers = HttpApiBuilder.group(Api, "audit", AuditGroup.handlers).pipe(
 *   Layer.provide(AuditLog.layerMemory)
 * )
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const handlers = <Endpoints extends Record<string, HttpApiEndpoint.Constraint>, Out>(group: {
  readonly "~EndpointsByIdentifier": Endpoints
  readonly handleAll: (implementation: Implementation) => Out
}): Effect.Effect<
  Out,
  never,
  | AuditLog.AuditLog
  | HttpApiEndpoint.Middleware<Endpoints[keyof Endpoints]>
  | HttpApiEndpoint.MiddlewareServices<Endpoints[keyof Endpoints]>
> =>
  Effect.map(AuditLog.AuditLog, (log) =>
    group.handleAll({
      list: ({ query }) =>
        log.list(
          { type: query.type, aggregateId: query.aggregateId, actorId: query.actorId },
          { page: query.page ?? 1, size: query.size ?? Pagination.defaultSize }
        )
    })
  )
