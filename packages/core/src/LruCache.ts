/**
 * The L1 cache: an in-process LRU bounded by entry count and, optionally, by
 * bytes, with a TTL per entry, tags for group invalidation and metrics
 * (`cache.hits`, `cache.misses`, `cache.evictions`, `cache.expirations`,
 * `cache.size`, `cache.bytes`, `cache.hit_rate`, labelled `cache=<name>`).
 *
 * Effect's own `Cache` is an LRU with TTL and lookup dedupe, but it reports
 * no hits, misses or evictions and keeps a fiber per entry; this one keeps a
 * plain `Map` in recency order and counters that the metrics read at export
 * time, so a hit does no allocation beyond the effect that returns it.
 *
 * Expired entries are dropped lazily: by the read that finds them, or when
 * they reach the least recent end while the cache is over a bound (counted
 * as expirations, not evictions).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Lru } from "./internal/cacheLru.ts"
import { registerMetrics, statsOf, ttlMillis } from "./internal/cacheMetrics.ts"

/**
 * Options of one write.
 *
 * @since 0.1.0
 * @category models
 */
export interface SetOptions {
  /** Time to live of this entry; the cache's `ttl` when omitted, forever when both are. */
  readonly ttl?: Duration.Input | undefined
  /** Tags for `deleteWhere`. */
  readonly tags?: ReadonlyArray<string> | undefined
}

/**
 * Counters since the cache was made, and its current size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly hits: number
  readonly misses: number
  readonly evictions: number
  readonly expirations: number
  readonly size: number
  readonly bytes: number
  /** `hits / (hits + misses)`, 0 before the first read. */
  readonly hitRate: number
}

/**
 * An in-process LRU cache.
 *
 * @since 0.1.0
 * @category models
 */
export interface LruCache<K, V> {
  readonly name: string
  /** The value of a live entry (made most recent), counting a hit or a miss. */
  readonly get: (key: K) => Effect.Effect<Option.Option<V>>
  readonly set: (key: K, value: V, options?: SetOptions) => Effect.Effect<void>
  /** Whether an entry was removed. */
  readonly delete: (key: K) => Effect.Effect<boolean>
  /** Removes the entries whose key or tags match; returns how many. */
  readonly deleteWhere: (predicate: (key: K, tags: ReadonlyArray<string>) => boolean) => Effect.Effect<number>
  readonly clear: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

/**
 * Options of `make`. `maxBytes` needs `sizeOf`, the size of one value in
 * whatever unit `maxBytes` counts.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<K, V> = {
  /** Label of the metrics; keep it unique per process. */
  readonly name: string
  readonly maxEntries: number
  /** Default time to live of an entry; entries live until evicted when omitted. */
  readonly ttl?: Duration.Input | undefined
} & (
  | { readonly maxBytes?: undefined; readonly sizeOf?: undefined }
  | { readonly maxBytes: number; readonly sizeOf: (value: V, key: K) => number }
)

/**
 * Makes an LRU cache. It reads time from the `Clock` of the fiber that makes
 * it (a `TestClock` in tests); its metrics are registered until the scope
 * closes.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { LruCache } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const cache = yield* LruCache.make<string, number>({ name: "scores", maxEntries: 1_000, ttl: "1 minute" })
 *   yield* cache.set("ada", 42)
 *   return yield* cache.get("ada") // Option.some(42)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K, V>(options: Options<K, V>): Effect.Effect<LruCache<K, V>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const lru = new Lru<K, V>(options.maxEntries, options.maxBytes ?? Infinity, () =>
      clock.currentTimeMillisUnsafe()
    )
    yield* registerMetrics(lru, options.name)
    const defaultTtl = ttlMillis(options.ttl, Infinity)
    const sizeOf = options.sizeOf
    return {
      name: options.name,
      get: (key) =>
        Effect.sync(() => {
          const entry = lru.get(key)
          return entry === undefined ? Option.none() : Option.some(entry.value)
        }),
      set: (key, value, setOptions) =>
        Effect.sync(() =>
          lru.set(
            key,
            value,
            ttlMillis(setOptions?.ttl, defaultTtl),
            sizeOf === undefined ? 0 : sizeOf(value, key),
            setOptions?.tags
          )
        ),
      delete: (key) => Effect.sync(() => lru.delete(key)),
      deleteWhere: (predicate) => Effect.sync(() => lru.deleteWhere(predicate)),
      clear: Effect.sync(() => lru.clear()),
      stats: Effect.sync(() => statsOf(lru))
    }
  })
