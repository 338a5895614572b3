/**
 * The L2 `CacheStore` of the tiered cache on Redis (any `Redis` service, e.g.
 * `IoRedis.layer`). Keys live under a namespace: values at `<ns>v:<key>`
 * (with the TTL in Redis), tag sets at `<ns>t:<tag>`, locks at `<ns>l:<name>`.
 * Multi-step operations are Lua scripts, so each is atomic on the server:
 * read value and remaining TTL together, write a value and its tags, delete a
 * tag's keys, release a lock only with its token.
 *
 * A tag set outlives its members by at most the longest TTL written to it (it
 * is re-expired on every write), and a key re-written with other tags stays
 * in its old tag sets until they expire: deleting such a tag deletes the key
 * too. That over-invalidates, never under-invalidates.
 *
 * @since 0.1.0
 */
import { CacheStore } from "@org/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"

const getScript = Redis.script((key: string) => [key], {
  lua: `
local value = redis.call('GET', KEYS[1])
if not value then return nil end
return { value, redis.call('PTTL', KEYS[1]) }`,
  numberOfKeys: 1
}).withReturnType<[string, number] | null>()

const setScript = Redis.script(
  (key: string, value: string, ttlMillis: number, tagKeys: ReadonlyArray<string>) => [
    key,
    ...tagKeys,
    value,
    ttlMillis
  ],
  {
    lua: `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1`,
    numberOfKeys: (_key, _value, _ttl, tagKeys) => 1 + tagKeys.length
  }
)

const deleteTagScript = Redis.script((tagKey: string) => [tagKey], {
  lua: `
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys`,
  numberOfKeys: 1
}).withReturnType<number>()

const releaseScript = Redis.script((lockKey: string, token: string) => [lockKey, token], {
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  numberOfKeys: 1
}).withReturnType<number>()

// SCAN MATCH patterns are globs: escape the caller's prefix.
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/**
 * Makes the store over the `Redis` service in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IoRedis, RedisCacheStore } from "@org/redis"
 *
 * const store = RedisCacheStore.make({ namespace: "shop:cache:" }).pipe(
 *   Effect.provide(IoRedis.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly namespace?: string } = {}) =>
  Effect.map(Redis.Redis, (redis) => {
    const ns = options.namespace ?? "cache:"
    const valueKey = (key: string) => `${ns}v:${key}`
    const tagKey = (tag: string) => `${ns}t:${tag}`
    const lockKey = (name: string) => `${ns}l:${name}`
    const failure = (operation: string) => (cause: unknown) =>
      new CacheStore.CacheStoreError({ operation, cause })
    const get = redis.eval(getScript)
    const set = redis.eval(setScript)
    const deleteTag = redis.eval(deleteTagScript)
    const release = redis.eval(releaseScript)

    const deleteByPrefix = (prefix: string) =>
      Effect.gen(function* () {
        let cursor = "0"
        do {
          const [next, keys] = yield* redis.send<[string, Array<string>]>(
            "SCAN",
            cursor,
            "MATCH",
            `${globEscape(valueKey(prefix))}*`,
            "COUNT",
            "500"
          )
          if (keys.length > 0) yield* redis.send("UNLINK", ...keys)
          cursor = next
        } while (cursor !== "0")
      })

    return CacheStore.CacheStore.of({
      get: (key) =>
        get(valueKey(key)).pipe(
          // Every value is written with a TTL; one in its last millisecond counts as gone.
          Effect.map((found) =>
            found === null || found[1] <= 0
              ? Option.none()
              : Option.some({ value: found[0], ttlMillis: found[1] })
          ),
          Effect.mapError(failure("get"))
        ),
      set: (key, value, { ttlMillis, tags = [] }) =>
        set(valueKey(key), value, Math.max(1, Math.ceil(ttlMillis)), tags.map(tagKey)).pipe(
          Effect.asVoid,
          Effect.mapError(failure("set"))
        ),
      delete: (keys) =>
        keys.length === 0
          ? Effect.void
          : redis
              .send("UNLINK", ...keys.map(valueKey))
              .pipe(Effect.asVoid, Effect.mapError(failure("delete"))),
      deleteByPrefix: (prefix) => deleteByPrefix(prefix).pipe(Effect.mapError(failure("deleteByPrefix"))),
      deleteByTag: (tag) =>
        deleteTag(tagKey(tag)).pipe(Effect.asVoid, Effect.mapError(failure("deleteByTag"))),
      acquireLock: (name, token, ttlMillis) =>
        redis
          .send<string | null>(
            "SET",
            lockKey(name),
            token,
            "NX",
            "PX",
            String(Math.max(1, Math.ceil(ttlMillis)))
          )
          .pipe(
            Effect.map((reply) => reply === "OK"),
            Effect.mapError(failure("acquireLock"))
          ),
      releaseLock: (name, token) =>
        release(lockKey(name), token).pipe(
          Effect.map((deleted) => deleted === 1),
          Effect.mapError(failure("releaseLock"))
        )
    })
  })

/**
 * Provides `CacheStore` on the `Redis` service in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: { readonly namespace?: string } = {}
): Layer.Layer<CacheStore.CacheStore, never, Redis.Redis> =>
  Layer.effect(CacheStore.CacheStore, make(options))
