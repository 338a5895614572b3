/**
 * A read-through cache in front of any `Repository`: `findById` goes through
 * a `TieredCache` (L1, L2, then the repository), and every write of an entity
 * invalidates its entry, once at once (so this instance never serves its own
 * stale copy) and once more after the surrounding `UnitOfWork` commits (so a
 * copy reloaded by a concurrent reader before the commit is dropped too).
 * Lists and counts are not cached. A deleted entity is never cached: the
 * repository fails with `NotFound`, and failures are not cached.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as CacheStore from "./CacheStore.ts"
import type * as Entity from "./Entity.ts"
import type * as InvalidationBus from "./InvalidationBus.ts"
import type * as Repository from "./Repository.ts"
import * as TieredCache from "./TieredCache.ts"
import * as UnitOfWork from "./UnitOfWork.ts"

/**
 * Options: the entry TTL and the tiered cache's tuning (its name defaults to
 * the entity's, its namespace to the entity's table).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly ttl: TieredCache.Options<unknown, unknown>["ttl"]
  readonly l1?: TieredCache.Options<unknown, unknown>["l1"]
  readonly timeout?: TieredCache.Options<unknown, unknown>["timeout"]
  readonly guard?: TieredCache.Options<unknown, unknown>["guard"]
}

/**
 * Wraps a repository with a read-through cache of `findById`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Entity, RepositoryCache, RepositorySql } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * const items = Effect.flatMap(RepositorySql.make(Item), (repository) =>
 *   RepositoryCache.make(Item, repository, { ttl: "5 minutes" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <D extends Entity.Any>(
  definition: D,
  repository: Repository.ForEntity<D>,
  options: Options
): Effect.Effect<
  Repository.ForEntity<D>,
  never,
  CacheStore.CacheStore | InvalidationBus.InvalidationBus | Scope.Scope
> =>
  Effect.gen(function* () {
    const cache = yield* TieredCache.make<Entity.Type<D>, unknown>({
      name: definition.name,
      namespace: definition.table,
      schema: definition.schema,
      ttl: options.ttl,
      ...(options.l1 === undefined ? {} : { l1: options.l1 }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      ...(options.guard === undefined ? {} : { guard: options.guard })
    })

    const invalidate = (id: string) =>
      Effect.gen(function* () {
        yield* cache.invalidate(id)
        const unitOfWork = yield* Effect.serviceOption(UnitOfWork.UnitOfWork)
        if (Option.isSome(unitOfWork)) yield* unitOfWork.value.afterCommit(cache.invalidate(id))
      })

    const afterWrite =
      (id: Entity.IdOf<D>) =>
      <A, E, R>(write: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        // Invalidated whatever the outcome: a failed write may still have
        // raced with a reader, and an extra miss is cheap.
        Effect.ensuring(write, invalidate(String(id)))

    return {
      create: repository.create,
      findById: (id) => cache.getOrLoad(String(id), () => repository.findById(id)),
      update: (id, patch, writeOptions) => repository.update(id, patch, writeOptions).pipe(afterWrite(id)),
      delete: (id, writeOptions) => repository.delete(id, writeOptions).pipe(afterWrite(id)),
      list: repository.list,
      count: repository.count
    }
  })
