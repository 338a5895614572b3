/**
 * Cache metrics are read, not pushed: the caches keep plain counters and
 * register series whose values are read when metrics are snapshotted or
 * exported, so the hit path does no metric work at all.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { Lru } from "./cacheLru.ts"

/** @internal */
export type Source = () => number

const ignore = () => {}

/** @internal */
export const register = (
  context: Context.Context<never>,
  cache: string,
  counters: Record<string, Source>,
  gauges: Record<string, Source>
): (() => void) => {
  const attributes = { cache }
  const registrations: Array<Metric.Registration> = []
  for (const [name, read] of Object.entries(counters)) {
    registrations.push(
      Metric.registerUnsafe(Metric.counter(name, { attributes, incremental: true }), context, {
        get: () => ({ count: read(), incremental: true }),
        update: ignore,
        modify: ignore
      })
    )
  }
  for (const [name, read] of Object.entries(gauges)) {
    registrations.push(
      Metric.registerUnsafe(Metric.gauge(name, { attributes }), context, {
        get: () => ({ value: read() }),
        update: ignore,
        modify: ignore
      })
    )
  }
  return () => {
    for (const registration of registrations) registration.remove()
  }
}

/** @internal */
export const ttlMillis = (ttl: Duration.Input | undefined, fallback: number): number =>
  ttl === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(ttl))

/** @internal */
export const statsOf = (lru: Lru<unknown, unknown>) => {
  const { hits, misses, evictions, expirations } = lru.counters
  return {
    hits,
    misses,
    evictions,
    expirations,
    size: lru.map.size,
    bytes: lru.bytes,
    hitRate: hits + misses === 0 ? 0 : hits / (hits + misses)
  }
}

/** @internal */
export const registerMetrics = (lru: Lru<unknown, unknown>, name: string) =>
  Effect.flatMap(Effect.context<never>(), (context) =>
    Effect.acquireRelease(
      Effect.sync(() =>
        register(
          context,
          name,
          {
            "cache.hits": () => lru.counters.hits,
            "cache.misses": () => lru.counters.misses,
            "cache.evictions": () => lru.counters.evictions,
            "cache.expirations": () => lru.counters.expirations
          },
          {
            "cache.size": () => lru.map.size,
            "cache.bytes": () => lru.bytes,
            "cache.hit_rate": () => statsOf(lru).hitRate
          }
        )
      ),
      (remove) => Effect.sync(remove)
    )
  )
