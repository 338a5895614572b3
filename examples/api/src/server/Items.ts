/**
 * The items feature's server side. Writes go through the command bus and
 * reads through the query bus:
 *
 * - create, update and delete are commands, each in a transaction (the
 *   `transaction` middleware) that also raises its event (`ItemCreated`,
 *   `ItemUpdated`, `ItemDeleted`): with the outbox the event is stored with
 *   the write and delivered after the commit (the audit log, the relay);
 * - get and list are queries whose results are cached (a tiered cache per
 *   query, L1 in process and L2 in the `CacheStore`), dropped when an item
 *   event commits, on every instance (the `InvalidationBus`);
 * - the CRUD handlers see all of it as the `Items` repository, and keep the
 *   object-level checks: only the owner, or an admin, changes or deletes an
 *   item.
 *
 * @since 0.1.0
 */
import { UserId } from "@org/accounts/AccountsApi"
import {
  Cqrs,
  EventBus,
  Pagination,
  Principal,
  type Rbac,
  Repository,
  RepositoryMemory,
  RepositorySql,
  Specification
} from "@org/core"
import { CrudGroup, Problem } from "@org/http"
import { Context, Effect, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { type CreateItem, Item } from "../domain/Item.ts"
import { ItemCreated, ItemDeleted, ItemUpdated } from "../domain/ItemEvents.ts"
import { type Permission, policy } from "../domain/Policy.ts"

/**
 * The items repository the handlers use (backed by the buses in `layer`).
 *
 * @since 0.1.0
 * @category services
 */
export class Items extends Context.Service<Items, Repository.ForEntity<typeof Item>>()(
  "@org/example-api/Items"
) {}

/**
 * Where items are stored: Postgres (`layer`, needs a `SqlClient`) or memory.
 *
 * @since 0.3.0
 * @category services
 */
export class ItemsStore extends Context.Service<ItemsStore, Repository.ForEntity<typeof Item>>()(
  "@org/example-api/ItemsStore"
) {
  static readonly layer = Layer.effect(ItemsStore, RepositorySql.make(Item)).pipe(
    Layer.provide(SecureRandom.layerWebCrypto)
  )
  static readonly layerMemory = Layer.effect(ItemsStore, RepositoryMemory.make(Item)).pipe(
    Layer.provide(SecureRandom.layerWebCrypto)
  )
}

const write = Schema.Struct({ expectedVersion: Schema.optionalKey(Schema.Int) })
const ItemErrors = Schema.Union([Repository.NotFound, Repository.Conflict])

/**
 * Stores a new item and raises `ItemCreated`.
 *
 * @since 0.3.0
 * @category commands
 */
export const CreateItemCommand = Cqrs.command("CreateItem", {
  payload: { input: Item.create },
  success: Item.schema,
  error: Repository.Conflict
})

/**
 * Applies a patch and raises `ItemUpdated`.
 *
 * @since 0.3.0
 * @category commands
 */
export const UpdateItemCommand = Cqrs.command("UpdateItem", {
  payload: { id: Item.idSchema, patch: Item.update, options: write },
  success: Item.schema,
  error: ItemErrors
})

/**
 * Deletes an item and raises `ItemDeleted`.
 *
 * @since 0.3.0
 * @category commands
 */
export const DeleteItemCommand = Cqrs.command("DeleteItem", {
  payload: { id: Item.idSchema, options: write },
  success: Schema.Void,
  error: ItemErrors
})

/**
 * One item by id.
 *
 * @since 0.3.0
 * @category queries
 */
export const GetItemQuery = Cqrs.query("GetItem", {
  payload: { id: Item.idSchema },
  success: Item.schema,
  error: Repository.NotFound
})

/**
 * A page of items.
 *
 * @since 0.3.0
 * @category queries
 */
export const ListItemsQuery = Cqrs.query("ListItems", {
  payload: {
    page: Schema.Int,
    size: Schema.Int,
    sort: Schema.Array(
      Schema.Struct({ field: Schema.Literals(Item.sortable), direction: Pagination.Direction })
    ),
    filter: Schema.optionalKey(Specification.Spec)
  },
  success: Pagination.Page(Item.schema),
  error: Specification.SpecificationError
})

const itemEvents = [ItemCreated, ItemUpdated, ItemDeleted]

// Cached reads live this long at most (L2; L1 copies 60 s by TieredCache's
// default bound), whatever happens to invalidations.
const cacheFor = "5 minutes"

// The handlers' errors are the repository's; the bus adds only what cannot
// happen here (no sync handler vetoes item events, and requests are built
// from decoded input).
const asRepository = <A, E>(
  effect: Effect.Effect<A, E | EventBus.EventVetoed | Cqrs.ValidationError>
): Effect.Effect<A, Exclude<E, EventBus.EventVetoed | Cqrs.ValidationError>> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, EventBus.EventVetoed | Cqrs.ValidationError> =>
      Schema.is(EventBus.EventVetoed)(error) || Schema.is(Cqrs.ValidationError)(error),
    Effect.die
  ) as Effect.Effect<A, Exclude<E, EventBus.EventVetoed | Cqrs.ValidationError>>

const writeOptions = (options: Repository.WriteOptions | undefined) =>
  options?.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }

const make = Effect.gen(function* () {
  const store = yield* ItemsStore
  yield* Effect.flatMap(EventBus.EventBus, (bus) => bus.register(itemEvents))
  const commands = yield* Cqrs.makeCommandBus({
    handlers: [
      Cqrs.handler(CreateItemCommand, ({ input }) =>
        Effect.tap(store.create(input), (item) => EventBus.emit(ItemCreated, item.id, item))
      ),
      Cqrs.handler(UpdateItemCommand, ({ id, options, patch }) =>
        Effect.tap(store.update(id, patch, options), (item) =>
          EventBus.emit(ItemUpdated, item.id, { item, changed: Object.keys(patch) })
        )
      ),
      Cqrs.handler(DeleteItemCommand, ({ id, options }) =>
        Effect.flatMap(store.findById(id), (item) =>
          Effect.andThen(
            store.delete(id, { expectedVersion: options.expectedVersion ?? item.version }),
            EventBus.emit(ItemDeleted, id, { ownerId: item.ownerId, version: item.version })
          )
        )
      )
    ] as const,
    middleware: [Cqrs.logging, Cqrs.tracing, Cqrs.metrics, Cqrs.validation, Cqrs.transaction]
  })
  const queries = yield* Cqrs.makeQueryBus({
    handlers: [
      Cqrs.cached(GetItemQuery, { ttl: cacheFor, invalidatedBy: itemEvents }, ({ id }) => store.findById(id)),
      Cqrs.cached(ListItemsQuery, { ttl: cacheFor, invalidatedBy: itemEvents }, ({ _tag: _, ...request }) =>
        store.list(request)
      )
    ] as const,
    middleware: [Cqrs.logging, Cqrs.tracing, Cqrs.metrics]
  })
  return Items.of({
    create: (input) =>
      asRepository(
        commands.dispatch(
          CreateItemCommand.make({
            input: { ...input, description: input.description ?? null, category: input.category ?? null }
          })
        )
      ),
    update: (id, patch, options) =>
      asRepository(commands.dispatch(UpdateItemCommand.make({ id, patch, options: writeOptions(options) }))),
    delete: (id, options) =>
      asRepository(commands.dispatch(DeleteItemCommand.make({ id, options: writeOptions(options) }))),
    findById: (id) => asRepository(queries.dispatch(GetItemQuery.make({ id }))),
    list: ({ filter, page, size, sort }) =>
      asRepository(
        queries.dispatch(
          ListItemsQuery.make({ page, size, sort, ...(filter === undefined ? {} : { filter }) })
        )
      ),
    count: store.count
  })
})

/**
 * `Items` over the buses: needs the `ItemsStore`, an `EventBus`, a
 * `UnitOfWork`, a `CacheStore` and an `InvalidationBus`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = Layer.effect(Items, make)

const decodeUserId = Schema.decodeUnknownEffect(UserId)

// Object-level check: the owner with `own`, or anyone with `any` (BOLA).
const ownerOr = (ownerId: string, permissions: Rbac.OwnOrAny<Permission>) =>
  policy
    .requireOwnerOr(ownerId, permissions)
    .pipe(Effect.mapError(() => new Problem.Forbidden({ detail: "This item belongs to someone else." })))

/**
 * The items handlers over the `Items` repository in context. A new item
 * belongs to the caller; only its owner (or an admin) changes or deletes it.
 *
 * @since 0.1.0
 * @category layers
 */
export const ItemsHandlers = HttpApiBuilder.group(
  Api,
  "items",
  CrudGroup.handlers({
    entity: Item,
    repository: Items,
    toCreate: (payload: typeof CreateItem.Type) =>
      Effect.flatMap(Principal.CurrentPrincipal, (principal) =>
        Effect.map(decodeUserId(principal.subject).pipe(Effect.orDie), (ownerId) => ({ ...payload, ownerId }))
      ),
    authorize: {
      update: (item) => ownerOr(item.ownerId, { own: "items:update:own", any: "items:update:any" }),
      delete: (item) => ownerOr(item.ownerId, { own: "items:delete:own", any: "items:delete:any" })
    }
  })
)
