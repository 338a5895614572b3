/**
 * The `RevocationStore` on Redis, over a durable store (e.g. the SQL one of
 * `@org/sql`): Redis answers checks fast and is shared by every instance;
 * the durable store keeps revocations across a Redis restart or flush, and
 * answers whenever Redis cannot.
 *
 * - Writes go to the durable store first: a revocation it cannot record
 *   fails with `RevocationUnavailable` (the caller answers 503). Then to
 *   Redis (`SET ... PXAT until`, keeping the greater cut-off and `until`, in
 *   Lua). A failed Redis write is logged, not returned: this instance answers
 *   from the durable store until a background rebuild has pushed everything
 *   to Redis again.
 * - Checks read the "loaded" marker, the token key and the subject key in
 *   one `MGET`. Without the marker (Redis restarted without persistence, or
 *   was flushed) the answer comes from the durable store and one rebuild
 *   starts: every durable entry is written to Redis, then the marker is set.
 *   A Redis error or timeout also falls back to the durable store, and Redis
 *   is then left alone for `cooldown` so a dead server is not hammered.
 * - Fail closed: when the durable store fails too, the check fails with
 *   `RevocationUnavailable`; it never answers `false` without a source that
 *   knows.
 *
 * Keys live under a namespace: `<ns>t:<jti>`, `<ns>s:<subject>` (value
 * `"<cutoff> <until>"`), `<ns>loaded`, `<ns>rebuilding`. Entry keys expire
 * on the server's clock, so Redis must keep them until then: run it with
 * `maxmemory-policy noeviction` (an evicted entry would be a missed
 * revocation while the marker stays).
 *
 * A revocation whose Redis write failed reaches other instances when this
 * instance's rebuild succeeds (retried with backoff, capped at `cooldown`);
 * until then they may still accept that token.
 *
 * @since 0.1.0
 */
import { RevocationStore } from "@org/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

/**
 * The durable tier the Redis store writes through and falls back to: any
 * `RevocationStore`, provided under this key (see `layerDurable`).
 *
 * @since 0.1.0
 * @category services
 */
export class Durable extends Context.Service<Durable, RevocationStore.RevocationStore["Service"]>()(
  "@org/redis/RedisRevocationStore/Durable"
) {}

/**
 * Options of `make`/`layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Prefix of every key (default `revocations:`). */
  readonly namespace?: string | undefined
  /** Longest wait for one Redis call before falling back (default 250 ms). */
  readonly timeout?: Duration.Input | undefined
  /** How long Redis is skipped after it failed (default 2 s). */
  readonly cooldown?: Duration.Input | undefined
  /** Background rebuild attempts before waiting for the next trigger (default 20). */
  readonly rebuildAttempts?: number | undefined
}

const revokeTokenScript = Redis.script(
  (key: string, until: string, expireAt: number) => [key, until, expireAt],
  {
    lua: `
local old = redis.call('GET', KEYS[1])
if old and tonumber(old) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1`,
    numberOfKeys: 1
  }
).withReturnType<number>()

// A live entry keeps the greatest cut-off and the greatest until; an expired
// one is gone from Redis already, so it lends nothing to the new entry.
const revokeSubjectScript = Redis.script(
  (key: string, cutoff: string, until: string, expireAt: number) => [key, cutoff, until, expireAt],
  {
    lua: `
local cutoff = ARGV[1]
local old = redis.call('GET', KEYS[1])
if old then
  local space = string.find(old, ' ', 1, true)
  local oldCutoff = string.sub(old, 1, space - 1)
  local oldUntil = string.sub(old, space + 1)
  if tonumber(oldCutoff) > tonumber(cutoff) then cutoff = oldCutoff end
  if tonumber(oldUntil) >= tonumber(ARGV[2]) then
    redis.call('SET', KEYS[1], cutoff .. ' ' .. oldUntil, 'KEEPTTL')
    return 1
  end
end
redis.call('SET', KEYS[1], cutoff .. ' ' .. ARGV[2], 'PXAT', ARGV[3])
return 1`,
    numberOfKeys: 1
  }
).withReturnType<number>()

// The marker is set only by the rebuild that still owns the `rebuilding` key:
// if Redis restarted (or another rebuild started) since this one began, its
// writes may be lost, so it must not claim the data is loaded.
const finishRebuildScript = Redis.script(
  (rebuildingKey: string, loadedKey: string, owner: string) => [rebuildingKey, loadedKey, owner],
  {
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], '1')
  redis.call('DEL', KEYS[1])
  return 1
end
return redis.call('EXISTS', KEYS[2])`,
    numberOfKeys: 2
  }
).withReturnType<number>()

// PXAT must be a positive integer; an entry already past `until` expires at once.
const expireAt = (until: number): number => Math.max(1, Math.ceil(until))

/**
 * Makes the store over the `Redis` service and the `durable` store given.
 * The background rebuild runs in the scope. At start, if the marker is
 * missing, Redis is rebuilt before the store is returned (a failure there
 * is logged and retried in the background).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RevocationStore } from "@org/core"
 * import { IoRedis, RedisRevocationStore } from "@org/redis"
 *
 * const program = Effect.gen(function* () {
 *   const durable = yield* RevocationStore.makeMemory
 *   const store = yield* RedisRevocationStore.make(durable, { namespace: "shop:revocations:" })
 *   yield* store.revokeToken("0190f3c2-jti", Date.UTC(2030, 0, 1))
 * }).pipe(Effect.scoped, Effect.provide(IoRedis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (
  durable: RevocationStore.RevocationStore["Service"],
  options: Options = {}
): Effect.fn.Return<RevocationStore.RevocationStore["Service"], never, Redis.Redis | Scope.Scope> {
  const redis = yield* Redis.Redis
  const scope = yield* Effect.scope
  const ns = options.namespace ?? "revocations:"
  const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.millis(250))
  const cooldown = Duration.fromInputUnsafe(options.cooldown ?? Duration.seconds(2))
  const cooldownMillis = Duration.toMillis(cooldown)
  const rebuildAttempts = Math.max(1, options.rebuildAttempts ?? 20)
  const loadedKey = `${ns}loaded`
  const rebuildingKey = `${ns}rebuilding`
  const tokenKey = (tokenId: string) => `${ns}t:${tokenId}`
  const subjectKey = (subject: string) => `${ns}s:${subject}`
  const revokeTokenInRedis = redis.eval(revokeTokenScript)
  const revokeSubjectInRedis = redis.eval(revokeSubjectScript)
  const finishRebuild = redis.eval(finishRebuildScript)

  // Local state. `missed` counts writes that did not reach Redis; Redis is
  // trusted again once a rebuild that started after the last miss succeeded.
  let missed = 0
  let pushed = 0
  let downUntil = 0
  let healthy = true
  let rebuilding = false

  const call = <A>(effect: Effect.Effect<A, Redis.RedisError>) => Effect.timeout(effect, timeout)

  const markDown = (cause: unknown) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      downUntil = now + cooldownMillis
      if (!healthy) return Effect.void
      healthy = false
      return Effect.logWarning(
        `RedisRevocationStore: Redis failed, answering from the durable store (next try in ${Duration.format(cooldown)})`,
        cause
      )
    })

  const markUp = Effect.suspend(() => {
    if (healthy) return Effect.void
    healthy = true
    downUntil = 0
    return Effect.logInfo("RedisRevocationStore: Redis answers again")
  })

  const writeEntry = (entry: RevocationStore.Entry) =>
    entry._tag === "Token"
      ? revokeTokenInRedis(tokenKey(entry.tokenId), String(entry.until), expireAt(entry.until))
      : revokeSubjectInRedis(
          subjectKey(entry.subject),
          String(entry.cutoff),
          String(entry.until),
          expireAt(entry.until)
        )

  const rebuildFailed = (cause: unknown) =>
    new RevocationStore.RevocationUnavailable({ operation: "RedisRevocationStore.rebuild", cause })

  // One attempt: nothing to do if the marker is there and no write of ours
  // is missing; otherwise copy every durable entry, then set the marker.
  const rebuildOnce = Effect.gen(function* () {
    const target = missed
    const loaded = yield* call(redis.send<number>("EXISTS", loadedKey)).pipe(Effect.mapError(rebuildFailed))
    if (loaded === 1 && target === pushed) return
    const owner = `${yield* Clock.currentTimeMillis}-${yield* Random.nextIntBetween(0, Number.MAX_SAFE_INTEGER)}`
    // Expires on its own if this instance dies half-way.
    yield* call(redis.send("SET", rebuildingKey, owner, "PX", "60000")).pipe(Effect.mapError(rebuildFailed))
    const entries = yield* durable.entries
    yield* Effect.forEach(entries, (entry) => call(writeEntry(entry)), {
      concurrency: 16,
      discard: true
    }).pipe(Effect.mapError(rebuildFailed))
    const done = yield* call(finishRebuild(rebuildingKey, loadedKey, owner)).pipe(
      Effect.mapError(rebuildFailed)
    )
    if (done !== 1)
      return yield* rebuildFailed(new Error("Redis lost the rebuild's writes (restart or flush)"))
    pushed = Math.max(pushed, target)
    yield* markUp
    if (missed !== pushed) return yield* rebuildFailed(new Error("writes missed Redis during the rebuild"))
    const message = `RedisRevocationStore: Redis rebuilt from the durable store (${entries.length} entries)`
    yield* entries.length === 0 ? Effect.logDebug(message) : Effect.logInfo(message)
  })

  const retryPolicy = Schedule.max([
    Schedule.min([Schedule.exponential(Duration.millis(100)), Schedule.spaced(cooldown)]),
    Schedule.recurs(rebuildAttempts - 1)
  ])

  // Single flight: at most one rebuild per instance, in the store's scope.
  const startRebuild = Effect.suspend(() => {
    if (rebuilding) return Effect.void
    rebuilding = true
    return rebuildOnce.pipe(
      Effect.retry(retryPolicy),
      Effect.catch((error) =>
        Effect.logWarning(
          "RedisRevocationStore: rebuilding Redis failed; it is retried on the next check",
          error
        )
      ),
      Effect.ensuring(
        Effect.sync(() => {
          rebuilding = false
        })
      ),
      Effect.forkIn(scope),
      Effect.asVoid
    )
  })

  const missedWrite = Effect.suspend(() => {
    missed++
    return startRebuild
  })

  // After the durable write: a Redis failure is logged and repaired later, not returned.
  const mirror = (write: Effect.Effect<unknown, Redis.RedisError>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now < downUntil
        ? missedWrite
        : call(write).pipe(
            Effect.asVoid,
            Effect.catch((error) => Effect.andThen(markDown(error), missedWrite))
          )
    )

  const answer = (
    values: ReadonlyArray<string | null>,
    ref: RevocationStore.TokenRef,
    now: number
  ): boolean | undefined => {
    const [, token, subject] = values
    if (token !== null && token !== undefined) {
      const until = Number(token)
      if (Number.isNaN(until)) return undefined
      if (until > now) return true
    }
    if (subject === null || subject === undefined) return false
    const space = subject.indexOf(" ")
    const cutoff = Number(subject.slice(0, space))
    const until = Number(subject.slice(space + 1))
    if (space < 0 || Number.isNaN(cutoff) || Number.isNaN(until)) return undefined
    return until > now && ref.issuedAt <= cutoff
  }

  const isRevoked = Effect.fnUntraced(function* (ref: RevocationStore.TokenRef) {
    const now = yield* Clock.currentTimeMillis
    if (now < downUntil) return yield* durable.isRevoked(ref)
    if (missed !== pushed) {
      yield* startRebuild
      return yield* durable.isRevoked(ref)
    }
    const values = yield* call(
      redis.send<ReadonlyArray<string | null>>(
        "MGET",
        loadedKey,
        tokenKey(ref.tokenId),
        subjectKey(ref.subject)
      )
    ).pipe(Effect.catch((error) => Effect.as(markDown(error), undefined)))
    if (values === undefined) return yield* durable.isRevoked(ref)
    yield* markUp
    if (values[0] === null || values[0] === undefined) {
      yield* startRebuild
      return yield* durable.isRevoked(ref)
    }
    // A value this store did not write is not an answer: ask the source of truth.
    return answer(values, ref, now) ?? (yield* durable.isRevoked(ref))
  })

  // Start from a loaded Redis when it can be done now; otherwise in the background.
  yield* rebuildOnce.pipe(
    Effect.catch((error) =>
      Effect.andThen(
        Effect.logWarning(
          "RedisRevocationStore: could not load Redis at start; retrying in the background",
          error
        ),
        missedWrite
      )
    )
  )

  return RevocationStore.RevocationStore.of({
    revokeToken: (tokenId, until) =>
      Effect.andThen(
        durable.revokeToken(tokenId, until),
        mirror(revokeTokenInRedis(tokenKey(tokenId), String(until), expireAt(until)))
      ),
    revokeSubject: (subject, cutoff, until) =>
      Effect.andThen(
        durable.revokeSubject(subject, cutoff, until),
        mirror(revokeSubjectInRedis(subjectKey(subject), String(cutoff), String(until), expireAt(until)))
      ),
    isRevoked,
    entries: durable.entries
  })
})

/**
 * Provides `RevocationStore` on Redis over the `Durable` store in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { IoRedis, RedisRevocationStore } from "@org/redis"
 * import { RevocationStoreSql } from "@org/core"
 *
 * const Revocations = RedisRevocationStore.layer({ namespace: "shop:revocations:" }).pipe(
 *   Layer.provide(RedisRevocationStore.layerDurable(RevocationStoreSql.layer())),
 *   Layer.provide(IoRedis.layerConfig())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<RevocationStore.RevocationStore, never, Redis.Redis | Durable> =>
  Layer.effect(
    RevocationStore.RevocationStore,
    Effect.flatMap(Durable, (durable) => make(durable, options))
  )

/**
 * Turns any `RevocationStore` layer into the `Durable` tier of `layer`.
 *
 * @example
 * ```ts
 * import { RevocationStore } from "@org/core"
 * import { RedisRevocationStore } from "@org/redis"
 *
 * const DurableInMemory = RedisRevocationStore.layerDurable(RevocationStore.layerMemory)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDurable = <E, R>(
  store: Layer.Layer<RevocationStore.RevocationStore, E, R>
): Layer.Layer<Durable, E, R> =>
  Layer.effect(Durable, RevocationStore.RevocationStore).pipe(Layer.provide(store))
