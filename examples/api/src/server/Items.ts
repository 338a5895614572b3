/**
 * The items feature's server side: the repository (Postgres, reads by id
 * through the tiered cache) and the CRUD handlers with their object-level
 * checks (only the owner, or an admin, changes or deletes an item).
 *
 * @since 0.1.0
 */
import { UserId } from "@org/accounts/AccountsApi"
import {
  Principal,
  type Rbac,
  type Repository,
  RepositoryCache,
  RepositoryMemory,
  RepositorySql
} from "@org/core"
import { CrudGroup, Problem } from "@org/http"
import { Context, Effect, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../api/Api.ts"
import { type CreateItem, Item } from "../domain/Item.ts"
import { type Permission, policy } from "../domain/Policy.ts"

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
