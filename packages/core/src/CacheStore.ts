/**
 * The L2 cache port: a shared store of strings with a TTL per key, tags,
 * prefix deletion and a short-lived lock, shaped so that a Redis
 * implementation is a handful of commands (`GET` + `PTTL`, `SET PX`,
 * `DEL`, `SCAN MATCH` + `DEL`, a tag set per tag maintained by Lua,
 * `SET NX PX` for the lock and a compare-and-delete script to release it).
 *
 * The contract every implementation obeys is the law suite
 * `CacheStoreLaws` of `@org/testing`; `layerMemory` passes it and is meant for
 * users' tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A failure of the store (unreachable, timed out, refused). The tiered cache
 * never lets it reach a caller: it falls back to L1 and the loader.
 *
 * @since 0.1.0
 * @category errors
 */
export class CacheStoreError extends Schema.TaggedError<CacheStoreError>()("CacheStoreError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {}

/**
 * A stored value and how long it has left to live, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stored {
  readonly value: string
  readonly ttlMillis: number
}

/**
 * The store service. Keys, prefixes, tags and lock names are opaque strings
 * (callers namespace them); TTLs are positive integers of milliseconds.
 *
 * - `get` returns a live value with its remaining TTL (`0 < ttlMillis <= ttl`
 *   set); an expired key is absent.
 * - `set` replaces the value, TTL and tags of the key.
 * - `delete`, `deleteByPrefix` (a literal prefix: no glob characters) and
 *   `deleteByTag` remove keys; deleting what does not exist is not an error.
 *   `deleteByTag` removes every key currently carrying the tag and may also
 *   remove keys that carried it before being overwritten (a spurious miss is
 *   safe, a survivor is not).
 * - `acquireLock(name, token, ttlMillis)` succeeds only when no live lock of
 *   that name exists; `releaseLock(name, token)` removes it only when it is
 *   still held with that token. Locks live apart from values.
 *
 * @since 0.1.0
 * @category services
 */
export class CacheStore extends Context.Service<
  CacheStore,
  {
    readonly get: (key: string) => Effect.Effect<Option.Option<Stored>, CacheStoreError>
    readonly set: (
      key: string,
      value: string,
      options: { readonly ttlMillis: number; readonly tags?: ReadonlyArray<string> | undefined }
    ) => Effect.Effect<void, CacheStoreError>
    readonly delete: (keys: ReadonlyArray<string>) => Effect.Effect<void, CacheStoreError>
    readonly deleteByPrefix: (prefix: string) => Effect.Effect<void, CacheStoreError>
    readonly deleteByTag: (tag: string) => Effect.Effect<void, CacheStoreError>
    readonly acquireLock: (
      name: string,
      token: string,
      ttlMillis: number
    ) => Effect.Effect<boolean, CacheStoreError>
    readonly releaseLock: (name: string, token: string) => Effect.Effect<boolean, CacheStoreError>
  }
>()("@org/core/CacheStore") {}

interface MemoryEntry {
  readonly value: string
  readonly expiresAt: number
  readonly tags: ReadonlyArray<string>
}

/**
 * Makes an in-memory store that keeps time with the `Clock` of each
 * operation (so `TestClock.adjust` expires keys and locks). It keeps a tag
 * index like the Redis store does, and drops expired keys when it meets them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CacheStore } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* CacheStore.makeMemory
 *   yield* store.set("users:1", "{\"name\":\"Ada\"}", { ttlMillis: 60_000, tags: ["team:7"] })
 *   yield* store.deleteByTag("team:7")
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<CacheStore["Service"]> = Effect.sync(() => {
  const entries = new Map<string, MemoryEntry>()
  const tagIndex = new Map<string, Set<string>>()
  const locks = new Map<string, { readonly token: string; readonly expiresAt: number }>()

  const remove = (key: string) => {
    const entry = entries.get(key)
    if (entry === undefined) return
    entries.delete(key)
    for (const tag of entry.tags) {
      const keys = tagIndex.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) tagIndex.delete(tag)
    }
  }
  const live = (key: string, now: number) => {
    const entry = entries.get(key)
    if (entry !== undefined && entry.expiresAt <= now) {
      remove(key)
      return undefined
    }
    return entry
  }

  return CacheStore.of({
    get: (key) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.currentTimeMillisUnsafe()
          const entry = live(key, now)
          return entry === undefined
            ? Option.none()
            : Option.some({ value: entry.value, ttlMillis: entry.expiresAt - now })
        })
      ),
    set: (key, value, { ttlMillis, tags = [] }) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          remove(key)
          entries.set(key, { value, expiresAt: clock.currentTimeMillisUnsafe() + ttlMillis, tags })
          for (const tag of tags) {
            const keys = tagIndex.get(tag)
            if (keys === undefined) tagIndex.set(tag, new Set([key]))
            else keys.add(key)
          }
        })
      ),
    delete: (keys) =>
      Effect.sync(() => {
        for (const key of keys) remove(key)
      }),
    deleteByPrefix: (prefix) =>
      Effect.sync(() => {
        for (const key of entries.keys()) if (key.startsWith(prefix)) remove(key)
      }),
    deleteByTag: (tag) =>
      Effect.sync(() => {
        for (const key of tagIndex.get(tag) ?? []) remove(key)
      }),
    acquireLock: (name, token, ttlMillis) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.currentTimeMillisUnsafe()
          const held = locks.get(name)
          if (held !== undefined && held.expiresAt > now) return false
          locks.set(name, { token, expiresAt: now + ttlMillis })
          return true
        })
      ),
    releaseLock: (name, token) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const held = locks.get(name)
          if (
            held === undefined ||
            held.token !== token ||
            held.expiresAt <= clock.currentTimeMillisUnsafe()
          ) {
            return false
          }
          locks.delete(name)
          return true
        })
      )
  })
})

/**
 * A fresh in-memory store per layer build. Share one build between several
 * tiered caches to simulate instances that share a Redis.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<CacheStore> = Layer.effect(CacheStore, makeMemory)
