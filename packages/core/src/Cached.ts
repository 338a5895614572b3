/**
 * `cached` for effect-returning functions: derive a key from the arguments,
 * answer from the tiered cache, call the function on a miss and cache its
 * value (encoded by the cache's Schema in L2) with a TTL and tags. Failures of
 * the function are not cached. Time is the `Clock` of the fiber that made the
 * cache, so `TestClock.adjust` expires entries in tests.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CacheStore } from "./CacheStore.ts"
import type { InvalidationBus } from "./InvalidationBus.ts"
import * as TieredCache from "./TieredCache.ts"

/**
 * A cached function; `cache` invalidates what it cached.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cached<Args extends ReadonlyArray<unknown>, A, E, R> {
  (...args: Args): Effect.Effect<A, E, R>
  readonly cache: TieredCache.TieredCache<A>
}

/**
 * How a function's calls map to cache entries.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyOptions<Args extends ReadonlyArray<unknown>, A> {
  /** The entry of a call; two calls with one key must mean the same value. */
  readonly key: (...args: Args) => string
  /** Time to live of the entries; the cache's when omitted. */
  readonly ttl?: Duration.Input | undefined
  /** Tags of an entry, from its value and the call's arguments. */
  readonly tags?: ((value: A, ...args: Args) => ReadonlyArray<string>) | undefined
}

/**
 * Caches `f` in an existing tiered cache (several functions may share one,
 * with distinct keys).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Cached, TieredCache } from "@org/core"
 *
 * const User = Schema.Struct({ id: Schema.String, teamId: Schema.String })
 * declare const users: TieredCache.TieredCache<typeof User.Type>
 * declare const fetchUser: (id: string) => Effect.Effect<typeof User.Type>
 *
 * const getUser = Cached.wrap(users, fetchUser, {
 *   key: (id) => `user:${id}`,
 *   tags: (user) => [`team:${user.teamId}`]
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = <Args extends ReadonlyArray<unknown>, A, E, R>(
  cache: TieredCache.TieredCache<A>,
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options: KeyOptions<Args, A>
): Cached<Args, A, E, R> => {
  const { key, tags } = options
  const fixed: TieredCache.EntryOptions<A> = { ttl: options.ttl }
  const call = (...args: Args): Effect.Effect<A, E, R> =>
    cache.getOrLoad(
      key(...args),
      () => f(...args),
      tags === undefined ? fixed : { ttl: options.ttl, tags: (value) => tags(value, ...args) }
    )
  return Object.assign(call, { cache })
}

/**
 * Makes a tiered cache for `f` alone and caches `f` in it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Cached } from "@org/core"
 *
 * const Price = Schema.Struct({ sku: Schema.String, cents: Schema.Int })
 * declare const fetchPrice: (sku: string) => Effect.Effect<typeof Price.Type>
 *
 * const program = Effect.gen(function* () {
 *   const price = yield* Cached.make(fetchPrice, {
 *     name: "prices",
 *     schema: Price,
 *     ttl: "30 seconds",
 *     key: (sku) => sku,
 *     tags: (_, sku) => [`sku:${sku}`]
 *   })
 *   const first = yield* price("A-1") // loads
 *   const again = yield* price("A-1") // L1 hit
 *   yield* price.cache.invalidateTag("sku:A-1")
 *   return [first, again]
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Args extends ReadonlyArray<unknown>, A, I, E, R>(
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options: TieredCache.Options<A, I> & KeyOptions<Args, A>
): Effect.Effect<Cached<Args, A, E, R>, never, CacheStore | InvalidationBus | Scope.Scope> =>
  Effect.map(TieredCache.make(options), (cache) => wrap(cache, f, options))
