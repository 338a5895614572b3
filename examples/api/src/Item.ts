/**
 * The item entity of the example API (see shared API contract): its fields,
 * the payloads clients may send, and the repository service.
 *
 * @since 0.1.0
 */
import { Entity, type Repository, RepositoryCache, RepositoryMemory, RepositorySql } from "@org/core"
import { Context, Effect, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

/**
 * An item id (UUID).
 *
 * @since 0.1.0
 * @category models
 */
export const ItemId = Entity.Uuid.pipe(Schema.brand("ItemId"))

/**
 * A user id (UUID v7, as the users store assigns them).
 *
 * @since 0.1.0
 * @category models
 */
export const UserId = Entity.Uuid.pipe(Schema.brand("UserId"))

/**
 * @since 0.1.0
 * @category models
 */
export type UserId = typeof UserId.Type

const notBlank = Schema.makeFilter((s: string) => s.trim().length > 0, { expected: "a non-blank string" })

/**
 * 1..200 characters, not blank.
 *
 * @since 0.1.0
 * @category models
 */
export const Name = Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(200), notBlank)

/**
 * A price: a number >= 0 with at most 2 decimals, below 10^10 (numeric(12,2)).
 *
 * @since 0.1.0
 * @category models
 */
export const Price = Schema.Finite.check(
  Schema.isGreaterThanOrEqualTo(0),
  Schema.isLessThan(10_000_000_000),
  Schema.makeFilter((n: number) => Number(n.toFixed(2)) === n, {
    expected: "a number with at most 2 decimals"
  })
)

/**
 * A quantity: an integer >= 0 that fits a Postgres `integer`.
 *
 * @since 0.1.0
 * @category models
 */
export const Quantity = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_147_483_647 }))

/**
 * The item entity. `ownerId` is set by the server, never by the client.
 *
 * @since 0.1.0
 * @category models
 */
export const Item = Entity.make("Item", {
  table: "items",
  id: ItemId,
  fields: {
    name: Name,
    description: Schema.NullOr(Entity.Text.check(Schema.isMaxLength(2000))),
    price: Price,
    quantity: Quantity,
    category: Schema.NullOr(Entity.Text.check(Schema.isMaxLength(50))),
    ownerId: UserId
  },
  sortable: ["id", "name", "price", "quantity", "category", "createdAt", "updatedAt"],
  filterable: [
    "id",
    "name",
    "description",
    "price",
    "quantity",
    "category",
    "ownerId",
    "createdAt",
    "updatedAt"
  ]
})

const { ownerId: _owner, ...clientFields } = Item.create.fields
const { ownerId: _ownerPatch, ...clientPatch } = Item.update.fields

/**
 * What a client sends to create an item (no owner: the server sets it).
 *
 * @since 0.1.0
 * @category models
 */
export const CreateItem = Schema.Struct(clientFields)

/**
 * What a client sends to change an item: any subset of its fields; `null`
 * clears `description` or `category`.
 *
 * @since 0.1.0
 * @category models
 */
export const UpdateItem = Schema.Struct(clientPatch)

/**
 * The items repository.
 *
 * @since 0.1.0
 * @category services
 */
export class Items extends Context.Service<Items, Repository.ForEntity<typeof Item>>()(
  "@org/example-api/Items"
) {
  /**
   * Items in Postgres (needs a `SqlClient`), reads by id through the tiered
   * cache (needs a `CacheStore` and an `InvalidationBus`: memory or Redis).
   * L1 copies live at most 30 s, the bound on staleness if an invalidation
   * message is lost; L2 entries 5 minutes.
   */
  static readonly layer = Layer.effect(
    Items,
    Effect.flatMap(RepositorySql.make(Item), (repository) =>
      RepositoryCache.make(Item, repository, {
        ttl: "5 minutes",
        l1: { maxEntries: 10_000, maxTtl: "30 seconds" }
      })
    )
  ).pipe(Layer.provide(SecureRandom.layerWebCrypto))
  /** Items in memory, for tests. */
  static readonly layerMemory = Layer.effect(Items, RepositoryMemory.make(Item)).pipe(
    Layer.provide(SecureRandom.layerWebCrypto)
  )
}
