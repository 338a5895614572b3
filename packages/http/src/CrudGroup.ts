/**
 * A generic CRUD group for one entity: from an `Entity` definition it builds
 * a typed `HttpApiGroup` (list, create, get, update, delete) and, from a
 * repository, the handlers that serve it. One entity is a few lines:
 *
 * ```ts
 * import { Context } from "effect"
 * import { HttpApi, HttpApiBuilder } from "effect/http-api"
 * import type { Entity, Repository } from "@org/core"
 * import { CrudGroup, HttpApp } from "@org/http"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 * class Items extends Context.Service<Items, Repository.ForEntity<typeof Item>>()("app/Items") {}
 *
 * const ItemsGroup = CrudGroup.make("items", { entity: Item, path: "/api/v1/items" })
 * class Api extends HttpApp.api(HttpApi.make("shop").add(ItemsGroup)) {}
 * const ItemsHandlers = HttpApiBuilder.group(Api, "items", CrudGroup.handlers({ entity: Item, repository: Items }))
 * ```
 *
 * Domain errors are mapped here, and only here, to the problems each
 * endpoint declares: `NotFound` -> 404, `Conflict` (duplicate) -> 409,
 * `Conflict` (stale version) -> 412.
 * Reads and writes carry `ETag` (the version); `If-None-Match` on a read
 * answers 304, `If-Match` on a write makes it conditional (412 when stale).
 *
 * @since 0.1.0
 */
import type * as Entity from "@org/core/Entity"
import * as Pagination from "@org/core/Pagination"
import type * as Repository from "@org/core/Repository"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as OpenApi from "effect/http-api/OpenApi"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as Filters from "./Filters.ts"
import * as Idempotency from "./Idempotency.ts"
import * as Preconditions from "./Preconditions.ts"
import * as Problem from "./Problem.ts"

// A strong ETag of a version number, and the If-Match / If-None-Match lists a
// client may send (longer is a 400).
const EtagHeader = Schema.String.check(Schema.isMaxLength(24))
const ConditionHeader = Schema.String.check(Schema.isMaxLength(1024))

// Longer than any list of distinct allowed fields needs.
const maxSortLength = 1024

/**
 * The `sort` query parameter: a comma list of allowed fields, `-` for
 * descending (`sort=-price,name`). An unknown or repeated field is a 400
 * naming it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrudGroup } from "@org/http"
 * const Sort = CrudGroup.SortParam(["name", "price"])
 * Schema.decodeUnknownSync(Sort)("-price,name")
 * // [{ field: "price", direction: "desc" }, { field: "name", direction: "asc" }]
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const SortParam = <const Field extends string>(allowed: ReadonlyArray<Field>) => {
  const isAllowed = (field: string): field is Field => (allowed as ReadonlyArray<string>).includes(field)
  const parts = (s: string) =>
    s === "" ? [] : s.split(",").map((part) => (part.startsWith("-") ? part.slice(1) : part).trim())
  const checked = Schema.String.check(
    Schema.isMaxLength(maxSortLength),
    Schema.makeFilter((s: string) => {
      const fields = parts(s)
      const unknown = fields.find((field) => !isAllowed(field))
      if (unknown !== undefined) {
        return `unknown sort field "${unknown.slice(0, 50)}" (allowed: ${allowed.join(", ")})`
      }
      if (new Set(fields).size !== fields.length) return "a sort field appears more than once"
      return undefined
    })
  )
  const SortKeys = Schema.Array(
    Schema.Struct({ field: Schema.Literals(allowed), direction: Pagination.Direction })
  )
  return checked.pipe(
    Schema.decodeTo(
      SortKeys,
      SchemaTransformation.transform({
        decode: (s: string): ReadonlyArray<Pagination.SortKey<Field>> =>
          s === ""
            ? []
            : s.split(",").flatMap((part) => {
                const field = (part.startsWith("-") ? part.slice(1) : part).trim()
                return isAllowed(field) ? [{ field, direction: part.startsWith("-") ? "desc" : "asc" }] : []
              }),
        encode: (keys: ReadonlyArray<Pagination.SortKey<Field>>) =>
          keys.map((key) => `${key.direction === "desc" ? "-" : ""}${key.field}`).join(",")
      })
    )
  )
}

/**
 * The query of a list endpoint: `page` (>= 1), `size` (1..100), `sort`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ListQuery = <const Field extends string>(sortable: ReadonlyArray<Field>) => ({
  page: Schema.optionalKey(Pagination.PageNumberParam),
  size: Schema.optionalKey(Pagination.PageSizeParam),
  sort: Schema.optionalKey(SortParam(sortable))
})

/**
 * The five operations of a CRUD group.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = "list" | "create" | "get" | "update" | "delete"

/**
 * The operations that can honour `Idempotency-Key` (the unsafe ones).
 *
 * @since 0.4.0
 * @category models
 */
export type UnsafeOperation = "create" | "update" | "delete"

// An endpoint named in `Idem`, with `Idempotency.Middleware` (distributes over a union).
type WithKey<E, Idem> = E extends HttpApiEndpoint.Constraint
  ? E["identifier"] extends Idem
    ? HttpApiEndpoint.AddMiddleware<E, Idempotency.Middleware>
    : E
  : never

// The group `G` with its endpoints named in `Idem` given the middleware.
type WithKeys<G, Idem extends string> = [Idem] extends [never]
  ? G
  : G extends HttpApiGroup.HttpApiGroup<infer Id, infer Endpoints, infer TopLevel>
    ? HttpApiGroup.HttpApiGroup<Id, WithKey<Endpoints, Idem>, TopLevel>
    : never

/**
 * Builds the CRUD `HttpApiGroup` of an entity under `path`:
 * `GET /` (page), `POST /` (201 + `Location`), `GET /:id`, `PATCH /:id`,
 * `DELETE /:id` (204, soft delete). The create and update payloads default
 * to the entity's own; pass narrower ones to hide fields the server sets
 * (e.g. an owner), and map them in `handlers` with `toCreate`.
 *
 * @example
 * ```ts
 * import { HttpApi } from "effect/http-api"
 * import type { Entity } from "@org/core"
 * import { CrudGroup } from "@org/http"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * export class Api extends HttpApi.make("api").add(CrudGroup.make("items", { entity: Item, path: "/api/v1/items" })) {}
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Name extends string,
  D extends Entity.Any,
  Create extends Schema.Top = D["create"],
  Update extends Schema.Top = D["update"],
  const Idem extends UnsafeOperation = never
>(
  name: Name,
  options: {
    readonly entity: D
    readonly path: `/${string}`
    readonly create?: Create
    readonly update?: Update
    /**
     * Annotations per endpoint, for example the permissions of each route
     * (`Authentication.requires(policy, "items:read")`).
     */
    readonly annotations?: { readonly [K in Operation]?: Context.Context<never> } | undefined
    /**
     * The operations that honour `Idempotency-Key` (`Idempotency.endpoint`):
     * their 422/409 are typed errors of those endpoints only. Provide
     * `Idempotency.layer`, and add the group's `Authentication` after this
     * (it then runs outside, so keys are scoped by the verified subject).
     */
    readonly idempotent?: ReadonlyArray<Idem> | undefined
  }
) => {
  // The operation's annotations, and `Idempotency-Key` when it is listed. The
  // middleware is added here; its type, on the whole group (`WithKeys`).
  const configured = <
    E extends HttpApiEndpoint.Constraint & {
      readonly annotateMerge: (annotations: Context.Context<never>) => unknown
    }
  >(
    operation: Operation,
    endpoint: E
  ): E => {
    const extra = options.annotations?.[operation]
    const annotated = (extra === undefined ? endpoint : endpoint.annotateMerge(extra)) as E
    return (
      (options.idempotent as ReadonlyArray<Operation> | undefined)?.includes(operation)
        ? Idempotency.endpoint(annotated)
        : annotated
    ) as E
  }
  const { entity } = options
  const idSchema: D["idSchema"] = entity.idSchema
  const params = { id: idSchema }
  const create = options.create ?? (entity.create as unknown as Create)
  const update = options.update ?? (entity.update as unknown as Update)
  const schema: D["schema"] = entity.schema
  const versioned = <S extends Schema.Top>(success: S) =>
    HttpApiSchema.WithHeaders(success, { etag: EtagHeader })
  const ifMatch = { "if-match": Schema.optionalKey(ConditionHeader) }
  const group = HttpApiGroup.make(name)
    .add(
      configured(
        "list",
        HttpApiEndpoint.get("list", "/", {
          query: ListQuery(entity.sortable as ReadonlyArray<Entity.SortableOf<D>>),
          success: Pagination.Page(schema),
          error: Problem.BadRequest
        })
          .annotate(OpenApi.Summary, `List ${entity.name} entities`)
          // a bad `sort` or `page` fails the query schema before the handler
          // runs: the 400 still names every bad filter too
          .annotate(Problem.QueryErrors, (query) =>
            Effect.match(Filters.parse(entity, query), { onFailure: (errors) => errors, onSuccess: () => [] })
          )
          .annotate(OpenApi.Transform, (operation) => ({
            ...operation,
            parameters: [...(operation.parameters ?? []), ...Filters.openApiParameters(entity)]
          }))
          .annotate(
            OpenApi.Description,
            `A page of ${entity.name} entities. Filters: \`field[op]=value\` (ANDed; a bare \`field=value\` is eq) ` +
              `with op in ${Filters.operators.join(", ")}, on ${entity.filterable.join(", ") || "no field"}. ` +
              `Sort on ${entity.sortable.join(", ")} (\`-\` for descending; ties broken by id).`
          )
      ),
      configured(
        "create",
        HttpApiEndpoint.post("create", "/", {
          payload: create,
          success: HttpApiSchema.WithHeaders(schema.pipe(HttpApiSchema.status(201)), {
            location: Schema.String.check(Schema.isMaxLength(2048)),
            etag: EtagHeader
          }),
          error: Problem.Conflict
        }).annotate(OpenApi.Summary, `Create a ${entity.name}`)
      ),
      configured(
        "get",
        HttpApiEndpoint.get("get", "/:id", {
          params,
          headers: { "if-none-match": Schema.optionalKey(ConditionHeader) },
          success: versioned(schema),
          error: Problem.NotFound
        })
          .annotate(OpenApi.Summary, `Get a ${entity.name}`)
          .annotate(OpenApi.Transform, documentNotModified)
      ),
      configured(
        "update",
        HttpApiEndpoint.patch("update", "/:id", {
          params,
          headers: ifMatch,
          payload: update,
          success: versioned(schema),
          error: [Problem.NotFound, Problem.Conflict, Problem.PreconditionFailed, Problem.Forbidden]
        }).annotate(OpenApi.Summary, `Update a ${entity.name}`)
      ),
      configured(
        "delete",
        HttpApiEndpoint.delete("delete", "/:id", {
          params,
          headers: ifMatch,
          success: HttpApiSchema.NoContent,
          error: [Problem.NotFound, Problem.PreconditionFailed, Problem.Forbidden]
        }).annotate(OpenApi.Summary, `Delete a ${entity.name}`)
      )
    )
    .prefix(options.path)
  return group as WithKeys<typeof group, Idem>
}

// The 304 is answered as a bare response, outside the success schema, so a
// typed client's `get` stays `Item` (a client that sends `If-None-Match`
// reads the response itself); the document still says the 304 exists.
const documentNotModified = (operation: { readonly responses?: object }): object => ({
  ...operation,
  responses: {
    ...operation.responses,
    "304": {
      description: "Not Modified: the entity still has the version named in `If-None-Match`.",
      headers: { ETag: { schema: { type: "string", maxLength: 24 }, description: "The current version." } }
    }
  }
})

/**
 * Maps a repository error to the problem the CRUD endpoints declare:
 * `NotFound` -> 404, duplicate -> 409, stale version -> 412 (a 403 from an
 * object-level check passes through).
 *
 * @since 0.1.0
 * @category errors
 */
export const toProblem = (
  error: Repository.NotFound | Repository.Conflict | Problem.Forbidden
): Problem.NotFound | Problem.Conflict | Problem.PreconditionFailed | Problem.Forbidden => {
  if (error._tag === "ForbiddenProblem") return error
  if (error._tag === "NotFound") return new Problem.NotFound({ detail: error.message })
  return error.reason === "duplicate"
    ? new Problem.Conflict({ detail: error.message })
    : new Problem.PreconditionFailed({ detail: error.message })
}

const locationOf = (url: string, id: string): string => {
  const path = url.split("?")[0] ?? ""
  return `${path.endsWith("/") ? path.slice(0, -1) : path}/${encodeURIComponent(id)}`
}

/**
 * The five handlers of a CRUD group, as `handlers` builds them. Their
 * request and response types are the group's, seen from the server: where
 * the builder is mounted, `HttpApiBuilder.group` checks each of them
 * against the endpoints of the served group, so a group and handlers that
 * disagree (another entity, a create payload the handlers do not take, an
 * endpoint changed in `make`) do not compile.
 *
 * @since 0.2.0
 * @category models
 */
export interface Implementation<D extends Entity.Any, Payload, RC, RA> {
  readonly list: (request: {
    readonly query: ListQueryType<Entity.SortableOf<D>>
    readonly request: { readonly url: string }
  }) => Effect.Effect<Pagination.Page<Entity.Type<D>>, Problem.BadRequest>
  readonly create: (request: {
    readonly payload: Payload
    readonly request: { readonly url: string }
  }) => Effect.Effect<
    HttpApiSchema.withHeaders<Entity.Type<D>, { readonly location: string; readonly etag: string }>,
    Problem.Conflict,
    RC
  >
  readonly get: (request: {
    readonly params: IdParams<D>
    readonly headers: IfNoneMatchHeaders
  }) => Effect.Effect<
    | HttpApiSchema.withHeaders<Entity.Type<D>, { readonly etag: string }>
    | HttpServerResponse.HttpServerResponse,
    Problem.NotFound
  >
  readonly update: (request: {
    readonly params: IdParams<D>
    readonly headers: IfMatchHeaders
    readonly payload: Entity.PatchOf<D>
  }) => Effect.Effect<
    HttpApiSchema.withHeaders<Entity.Type<D>, { readonly etag: string }>,
    Problem.NotFound | Problem.Conflict | Problem.PreconditionFailed | Problem.Forbidden,
    RA
  >
  readonly delete: (request: {
    readonly params: IdParams<D>
    readonly headers: IfMatchHeaders
  }) => Effect.Effect<void, Problem.NotFound | Problem.PreconditionFailed | Problem.Forbidden, RA>
}

/**
 * Implements a group made by {@link make} over a repository: returns the
 * builder that `HttpApiBuilder.group(Api, name, ...)` takes, so the
 * compiler checks the handlers against the group where you mount them.
 *
 * `toCreate` turns the create payload into the repository's input (e.g.
 * adds the owner from the current principal); by default the payload is
 * the input. `authorize` holds object-level checks. Both run per request,
 * so the services they yield are request services: fine for what the
 * endpoint middleware provides (`CurrentPrincipal`). A service of your
 * layers is resolved once, when the handler layer is built, if you pass
 * an Effect that yields it and returns the function (or the checks):
 * `toCreate: Effect.map(Naming, (naming) => (payload) => ...)`. The
 * repository is resolved then too.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { HttpApi, HttpApiBuilder } from "effect/http-api"
 * import type { Entity, Repository } from "@org/core"
 * import { CrudGroup, HttpApp } from "@org/http"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 * class Items extends Context.Service<Items, Repository.ForEntity<typeof Item>>()("app/Items") {}
 * class Api extends HttpApp.api(HttpApi.make("shop").add(CrudGroup.make("items", { entity: Item, path: "/items" }))) {}
 *
 * export const ItemsHandlers = HttpApiBuilder.group(
 *   Api,
 *   "items",
 *   CrudGroup.handlers({ entity: Item, repository: Items })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export function handlers<D extends Entity.Any, R, RA = never, RB = never>(
  options: HandlersOptions<D, R, RA, RB> & { readonly toCreate?: undefined }
): Builder<D, Entity.CreateOf<D>, never, NoInfer<RA>, R | NoInfer<RB>>
export function handlers<D extends Entity.Any, R, Payload, RC = never, RA = never, RB = never, RT = never>(
  options: HandlersOptions<D, R, RA, RB> & {
    readonly toCreate: Resolvable<(payload: Payload) => Effect.Effect<Entity.CreateOf<D>, never, RC>, RT>
  }
): Builder<D, Payload, RC, NoInfer<RA>, R | NoInfer<RB> | RT>
export function handlers<D extends Entity.Any, R, Payload, RC, RA, RB, RT>(
  options: HandlersOptions<D, R, RA, RB> & {
    readonly toCreate?:
      | Resolvable<(payload: Payload) => Effect.Effect<Entity.CreateOf<D>, never, RC>, RT>
      | undefined
  }
): Builder<D, Payload, RC, RA, R | RB | RT> | Builder<D, Entity.CreateOf<D>, never, RA, R | RB> {
  const { toCreate } = options
  return toCreate === undefined
    ? builder(
        options,
        Effect.succeed((payload: Entity.CreateOf<D>) => Effect.succeed(payload))
      )
    : builder(options, resolve(toCreate))
}

/**
 * A function (or object-level checks) given as is, or as an Effect that
 * resolves the services it needs once, when the handler layer is built.
 *
 * @since 0.2.0
 * @category models
 */
export type Resolvable<A, R> = A | Effect.Effect<A, never, R>

const resolve = <A, R>(value: Resolvable<A, R>): Effect.Effect<A, never, R> =>
  Effect.isEffect(value) ? value : Effect.succeed(value)

/**
 * Object-level checks run on the current entity before it is changed (for
 * example "only the owner, or someone with `:any`"); a failure is a 403
 * and nothing is written.
 *
 * @since 0.2.0
 * @category models
 */
export interface Authorize<D extends Entity.Any, RA> {
  readonly update?: ((current: Entity.Type<D>) => Effect.Effect<void, Problem.Forbidden, RA>) | undefined
  readonly delete?: ((current: Entity.Type<D>) => Effect.Effect<void, Problem.Forbidden, RA>) | undefined
}

/**
 * What `handlers` takes besides `toCreate`.
 *
 * @since 0.2.0
 * @category models
 */
export interface HandlersOptions<D extends Entity.Any, R, RA, RB> {
  readonly entity: D
  readonly repository: Effect.Effect<Repository.ForEntity<D>, never, R>
  readonly authorize?: Resolvable<Authorize<D, RA>, RB> | undefined
}

/**
 * The group builder `handlers` returns, for `HttpApiBuilder.group`: it
 * takes the group's handler collection and implements every endpoint.
 * Building it needs `R` and the endpoints' middleware; what `toCreate` and
 * `authorize` yield per request, beyond what that middleware provides, is
 * a requirement of the layer too (the handlers see the layer's services).
 *
 * @since 0.2.0
 * @category models
 */
export type Builder<D extends Entity.Any, Payload, RC, RA, R> = <
  Endpoints extends Record<string, HttpApiEndpoint.Constraint>,
  Out
>(group: {
  readonly "~EndpointsByIdentifier": Endpoints
  readonly handleAll: (implementation: Implementation<D, Payload, RC, RA>) => Out
}) => Effect.Effect<
  Out,
  never,
  | R
  | HttpApiEndpoint.ExcludeProvided<Endpoints[keyof Endpoints], RC | RA>
  | HttpApiEndpoint.Middleware<Endpoints[keyof Endpoints]>
  | HttpApiEndpoint.MiddlewareServices<Endpoints[keyof Endpoints]>
>

const builder =
  <D extends Entity.Any, R, Payload, RC, RA, RB, RT>(
    options: HandlersOptions<D, R, RA, RB>,
    toCreate: Effect.Effect<(payload: Payload) => Effect.Effect<Entity.CreateOf<D>, never, RC>, never, RT>
  ): Builder<D, Payload, RC, RA, R | RB | RT> =>
  (group) =>
    Effect.map(
      Effect.all({
        repository: options.repository,
        toCreate,
        authorize: options.authorize === undefined ? Effect.succeed({}) : resolve(options.authorize)
      }),
      ({ repository, toCreate, authorize }) =>
        group.handleAll(implement(options.entity, repository, toCreate, authorize))
    )

const implement = <D extends Entity.Any, Payload, RC, RA>(
  entity: D,
  repository: Repository.ForEntity<D>,
  toCreate: (payload: Payload) => Effect.Effect<Entity.CreateOf<D>, never, RC>,
  authorize: Authorize<D, RA>
): Implementation<D, Payload, RC, RA> => {
  // Several tags in If-Match need the current version to pick from, and an
  // object-level check needs the current entity: read it only then.
  const expectedVersion = (
    id: Entity.IdOf<D>,
    headers: IfMatchHeaders,
    guard: ((current: Entity.Type<D>) => Effect.Effect<void, Problem.Forbidden, RA>) | undefined
  ) => {
    const ifMatch = Preconditions.parseIfMatch(headers["if-match"])
    const several =
      Option.isSome(ifMatch) && ifMatch.value._tag === "Versions" && ifMatch.value.versions.length > 1
    return several || guard !== undefined
      ? Effect.flatMap(repository.findById(id), (current) =>
          Effect.as(
            guard === undefined ? Effect.void : guard(current),
            Preconditions.expectedVersion(ifMatch, several ? current.version : undefined)
          )
        )
      : Effect.succeed(Preconditions.expectedVersion(ifMatch, undefined))
  }
  const versioned = (entity: Entity.Type<D>) =>
    HttpApiSchema.withHeaders({ body: entity, headers: { etag: Preconditions.etag(entity.version) } })
  // A read answers the JSON the endpoint's schema would encode, made once per
  // entity value: a cached query hands out the same value until it changes, so
  // the hot read skips the encode (its checks, dates, decimals) after the first.
  // Entity values are immutable (a change is a new value, as in every kit
  // repository), so a remembered body never outlives its value.
  const encodeJson = Schema.encodeSync(Schema.toCodecJson(entity.schema))
  const bodies = new WeakMap<object, string>()
  const read = (entity: Entity.Type<D>) => {
    let body = bodies.get(entity)
    if (body === undefined) {
      body = JSON.stringify(encodeJson(entity))
      bodies.set(entity, body)
    }
    return HttpServerResponse.text(body, {
      contentType: "application/json",
      headers: { etag: Preconditions.etag(entity.version) }
    })
  }
  return {
    list: ({ query, request }) =>
      Filters.parse(entity, new URL(request.url, "http://localhost").searchParams).pipe(
        Effect.flatMap((filter) =>
          repository
            .list({ ...Pagination.request(query), filter })
            .pipe(
              Effect.mapError((error) => [
                { in: "query" as const, pointer: `/${error.field}`, message: error.message }
              ])
            )
        ),
        Effect.mapError(
          (errors) => new Problem.BadRequest({ detail: "The request query is invalid.", errors })
        )
      ),
    create: ({ payload, request }) =>
      toCreate(payload).pipe(
        Effect.flatMap(repository.create),
        Effect.map((entity) =>
          HttpApiSchema.withHeaders({
            body: entity,
            headers: {
              location: locationOf(request.url, entity.id),
              etag: Preconditions.etag(entity.version)
            }
          })
        ),
        // a create fails only on a unique field (no version to be stale)
        Effect.mapError((error) => new Problem.Conflict({ detail: error.message }))
      ),
    get: ({ params, headers }) =>
      repository.findById(params.id).pipe(
        Effect.map((entity) =>
          Preconditions.ifNoneMatchHits(headers["if-none-match"], entity.version)
            ? HttpServerResponse.empty({ status: 304, headers: { etag: Preconditions.etag(entity.version) } })
            : read(entity)
        ),
        Effect.mapError((error) => new Problem.NotFound({ detail: error.message }))
      ),
    update: ({ params, headers, payload }) =>
      expectedVersion(params.id, headers, authorize.update).pipe(
        Effect.flatMap((expectedVersion) => repository.update(params.id, payload, { expectedVersion })),
        Effect.map(versioned),
        Effect.mapError(toProblem)
      ),
    delete: ({ params, headers }) =>
      expectedVersion(params.id, headers, authorize.delete).pipe(
        Effect.flatMap((expectedVersion) => repository.delete(params.id, { expectedVersion })),
        // a delete conflicts only on a stale version (no field to be duplicate)
        Effect.mapError((error) =>
          error._tag === "Conflict"
            ? new Problem.PreconditionFailed({ detail: error.message })
            : error._tag === "NotFound"
              ? new Problem.NotFound({ detail: error.message })
              : error
        )
      )
  }
}

type IdParams<D extends Entity.Any> = { readonly id: Entity.IdOf<D> }
type IfMatchHeaders = { readonly "if-match"?: string | undefined }
type IfNoneMatchHeaders = { readonly "if-none-match"?: string | undefined }

type ListQueryType<Field extends string> = {
  readonly page?: number | undefined
  readonly size?: number | undefined
  readonly sort?: ReadonlyArray<Pagination.SortKey<Field>> | undefined
}
