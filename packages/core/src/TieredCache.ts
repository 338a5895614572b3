/**
 * The tiered cache: an in-process LRU (L1) in front of a shared `CacheStore`
 * (L2) in front of a loader.
 *
 * - A read tries L1, then L2, then the loader; an L1 entry filled from L2
 *   lives no longer than the L2 entry's remaining TTL (nor `l1.maxTtl`).
 * - Concurrent misses of one key in a process run one lookup; with the
 *   store's lock, at most one instance runs the loader while the lock is held,
 *   the others poll L2 for its result.
 * - `set` and the invalidations (`invalidate`, `invalidatePrefix`,
 *   `invalidateTag`) clear L1 and L2 and publish on the `InvalidationBus`, so
 *   every other instance drops its L1 copy; an in-flight load of an
 *   invalidated key still answers its callers but is not cached.
 * - No cache failure reaches a caller: every L2 operation is bounded by a
 *   timeout (50 ms by default) and passed through `guard` (plug a
 *   `CircuitBreaker` in there); after `outage.failures` consecutive failures
 *   L2 is skipped for `outage.coolDown`, then one request probes it. Entering
 *   and leaving an outage is logged once each.
 * - Tracing: every `getOrLoad` sets `cache.hit` (`l1`, `l2`, `miss`) and
 *   `cache.name` on the caller's span; only a load gets a span of its own,
 *   `TieredCache.load`.
 *
 * Keys, prefixes and tags are scoped to the cache's namespace.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { CacheStore, type CacheStoreError } from "./CacheStore.ts"
import { type Invalidation, InvalidationBus, type Target } from "./InvalidationBus.ts"
import { Lru } from "./internal/cacheLru.ts"
import { register, registerMetrics, statsOf, ttlMillis } from "./internal/cacheMetrics.ts"
import type * as LruCache from "./LruCache.ts"

/**
 * Options of one entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface EntryOptions<A> {
  /** Time to live in L2 (and at most in L1); the cache's `ttl` when omitted. */
  readonly ttl?: Duration.Input | undefined
  /** Tags for `invalidateTag`, fixed or computed from the value. */
  readonly tags?: ReadonlyArray<string> | ((value: A) => ReadonlyArray<string>) | undefined
}

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, I> {
  /** Label of the metrics; keep it unique per process. */
  readonly name: string
  /** Prefix of the store keys and of the bus messages; `name` when omitted. */
  readonly namespace?: string | undefined
  /** Encodes values for L2 (as JSON text). */
  readonly schema: Schema.Codec<A, I>
  /** Default time to live of an entry. */
  readonly ttl: Duration.Input
  readonly l1?:
    | {
        /** 10 000 when omitted. */
        readonly maxEntries?: number | undefined
        /** A bound on the summed length of the entries' JSON text. */
        readonly maxBytes?: number | undefined
        /**
         * The longest an L1 entry lives, whatever its L2 TTL: the staleness
         * bound when an invalidation message is lost. 1 minute when omitted.
         */
        readonly maxTtl?: Duration.Input | undefined
      }
    | undefined
  /** Bound of every L2 operation; 50 ms when omitted. */
  readonly timeout?: Duration.Input | undefined
  /** After `failures` (5) consecutive L2 failures, skip L2 for `coolDown` (5 seconds). */
  readonly outage?:
    | { readonly failures?: number | undefined; readonly coolDown?: Duration.Input | undefined }
    | undefined
  /**
   * Cross-instance stampede lock: held for at most `ttl` (2 seconds) by the
   * instance that loads; the others poll L2 every `poll` (20 ms). `false`
   * turns it off.
   */
  readonly lock?:
    | false
    | { readonly ttl?: Duration.Input | undefined; readonly poll?: Duration.Input | undefined }
    | undefined
  /** Wraps every L2 operation, e.g. in a circuit breaker; its failures count as L2 failures. */
  readonly guard?: (<X, E>(effect: Effect.Effect<X, E>) => Effect.Effect<X, unknown>) | undefined
}

/**
 * Counters since the cache was made.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly l1: LruCache.Stats
  readonly l2Hits: number
  readonly l2Misses: number
  readonly l2Errors: number
  /** Loader runs. */
  readonly loads: number
  /** Whether L2 is currently skipped. */
  readonly outage: boolean
}

/**
 * A tiered cache of values of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TieredCache<A> {
  readonly name: string
  readonly namespace: string
  /** This instance's id on the bus. */
  readonly id: string
  /** The cached value, else the loaded one (cached unless invalidated meanwhile). Loader failures are not cached. */
  readonly getOrLoad: <E, R>(
    key: string,
    load: () => Effect.Effect<A, E, R>,
    options?: EntryOptions<A>
  ) => Effect.Effect<A, E, R>
  /** The cached value, from L1 or L2. */
  readonly get: (key: string) => Effect.Effect<Option.Option<A>>
  /** Writes L1 and L2 and tells the other instances to drop their copy. */
  readonly set: (key: string, value: A, options?: EntryOptions<A>) => Effect.Effect<void>
  readonly invalidate: (keys: string | ReadonlyArray<string>) => Effect.Effect<void>
  readonly invalidatePrefix: (prefix: string) => Effect.Effect<void>
  readonly invalidateTag: (tag: string) => Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

interface Loading<A> {
  readonly deferred: Deferred.Deferred<Option.Option<A>>
  /** An invalidation arrived during the load: answer, but do not cache. */
  dirty: boolean
}

/** `off`: no lock configured; `down`: L2 failed; `expired`: waited a whole lock TTL. */
type LockState = "held" | "busy" | "off" | "down" | "expired"

type Read<A> =
  | { readonly _tag: "Hit"; readonly value: A }
  | { readonly _tag: "Miss" }
  | { readonly _tag: "Down" }

const missed: Read<never> = { _tag: "Miss" }
const down: Read<never> = { _tag: "Down" }

/** Where a `getOrLoad` found its value: the `cache.hit` attribute of the caller's span. */
type Found = "l1" | "l2" | "miss"

// On the caller's span, not a span of its own: a span per L1 hit would cost
// more than the hit. Reads the fiber's cached span, allocates nothing.
const mark = (fiber: Fiber.Fiber<unknown, unknown>, name: string, found: Found): void => {
  const span = fiber.cache.span
  if (span !== undefined && span._tag === "Span" && span.status._tag === "Started") {
    span.attribute("cache.name", name)
    span.attribute("cache.hit", found)
  }
}

const randomId = Effect.map(
  Effect.all([Random.nextInt, Random.nextInt]),
  ([a, b]) => `${(a >>> 0).toString(36)}${(b >>> 0).toString(36)}`
)

const notDirty = () => false

interface Held<A> {
  readonly value: A
  readonly exit: Exit.Exit<A>
}

const millisOf = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

/**
 * Makes a tiered cache over the `CacheStore` and `InvalidationBus` in
 * context. It subscribes to the bus and registers its metrics until the scope
 * closes; it reads time from the `Clock` of the fiber that makes it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { CacheStore, InvalidationBus, TieredCache } from "@org/core"
 *
 * const User = Schema.Struct({ id: Schema.String, name: Schema.String })
 * declare const fetchUser: (id: string) => Effect.Effect<typeof User.Type>
 *
 * const program = Effect.gen(function* () {
 *   const users = yield* TieredCache.make({ name: "users", schema: User, ttl: "5 minutes" })
 *   const ada = yield* users.getOrLoad("1", () => fetchUser("1"), { tags: ["team:7"] })
 *   yield* users.invalidateTag("team:7")
 *   return ada
 * }).pipe(Effect.scoped, Effect.provide([CacheStore.layerMemory, InvalidationBus.layerMemory]))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I>(
  options: Options<A, I>
): Effect.Effect<TieredCache<A>, never, CacheStore | InvalidationBus | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* CacheStore
    const bus = yield* InvalidationBus
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const name = options.name
    const namespace = options.namespace ?? name
    const id = `${namespace}-${yield* randomId}`
    const defaultTtl = millisOf(options.ttl)
    const l1MaxTtl = ttlMillis(options.l1?.maxTtl, 60_000)
    const timeout = ttlMillis(options.timeout, 50)
    const outageFailures = options.outage?.failures ?? 5
    const coolDown = ttlMillis(options.outage?.coolDown, 5_000)
    const lockTtl = options.lock === false ? 0 : ttlMillis(options.lock?.ttl, 2_000)
    const lockPoll = options.lock === false ? 0 : ttlMillis(options.lock?.poll, 20)
    const guard = options.guard
    // L2 holds the value with its tags, so an instance that fills its L1 from
    // L2 can still drop the entry on a tag invalidation from another instance.
    const codec = Schema.fromJsonString(
      Schema.Struct({ tags: Schema.Array(Schema.String), value: Schema.toCodecJson(options.schema) })
    )
    const encode = Schema.encodeEffect(codec)
    const decode = Schema.decodeEffect(codec)

    // Each L1 entry keeps its value as a ready `Exit` too: a hit returns it,
    // no effect allocated per read.
    const l1 = new Lru<string, Held<A>>(
      options.l1?.maxEntries ?? 10_000,
      options.l1?.maxBytes ?? Infinity,
      now
    )
    const loading = new Map<string, Loading<A>>()
    const counters = { l2Hits: 0, l2Misses: 0, l2Errors: 0, loads: 0 }
    const health = { failures: 0, outage: false, retryAt: 0, probing: false }

    yield* registerMetrics(l1, name)
    const context = yield* Effect.context<never>()
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        register(
          context,
          name,
          {
            "cache.l2.hits": () => counters.l2Hits,
            "cache.l2.misses": () => counters.l2Misses,
            "cache.l2.errors": () => counters.l2Errors,
            "cache.loads": () => counters.loads
          },
          { "cache.l2.outage": () => (health.outage ? 1 : 0) }
        )
      ),
      (remove) => Effect.sync(remove)
    )

    const loadSpan = {
      kind: "internal",
      attributes: { "cache.name": name },
      captureStackTrace: false
    } as const
    const found = <X>(value: X, where: Found): Effect.Effect<X> =>
      Effect.withFiber((fiber) => {
        mark(fiber, name, where)
        return Effect.succeed(value)
      })

    const storeKey = (key: string) => `${namespace}:${key}`
    const storeTag = (tag: string) => `${namespace}:${tag}`

    const succeeded = <X>(value: X) => {
      health.failures = 0
      health.probing = false
      if (!health.outage) return Effect.succeed(Option.some(value))
      health.outage = false
      return Effect.as(
        Effect.logInfo("cache L2 is back").pipe(Effect.annotateLogs({ cache: name })),
        Option.some(value)
      )
    }
    const failed = (operation: string, cause: Cause.Cause<unknown>) => {
      counters.l2Errors++
      health.failures++
      health.probing = false
      if (health.outage) {
        health.retryAt = now() + coolDown
        return Effect.succeedNone
      }
      if (health.failures < outageFailures) return Effect.succeedNone
      health.outage = true
      health.retryAt = now() + coolDown
      return Effect.as(
        Effect.logWarning("cache L2 unavailable: serving from L1 and the loader").pipe(
          Effect.annotateLogs({
            cache: name,
            operation,
            failures: health.failures,
            cause: Cause.pretty(cause)
          })
        ),
        Option.none()
      )
    }

    /**
     * Runs one L2 operation under the guard and the timeout; `none` when it
     * failed or L2 is being skipped. Writes that must not be skipped (deletes)
     * pass `always`.
     */
    const l2 = <X>(
      operation: string,
      effect: Effect.Effect<X, CacheStoreError>,
      always = false
    ): Effect.Effect<Option.Option<X>> =>
      Effect.suspend(() => {
        if (health.outage && !always) {
          if (health.probing || now() < health.retryAt) return Effect.succeedNone
          health.probing = true
        }
        const guarded: Effect.Effect<X, unknown> = guard === undefined ? effect : guard(effect)
        return guarded.pipe(
          Effect.timeout(timeout),
          Effect.matchCauseEffect({
            onSuccess: succeeded,
            onFailure: (cause) =>
              Cause.hasInterruptsOnly(cause) ? Effect.interrupt : failed(operation, cause)
          }),
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              health.probing = false
            })
          )
        )
      })

    const tagsOf = (value: A, entry: EntryOptions<A> | undefined): ReadonlyArray<string> => {
      const tags = entry?.tags
      return tags === undefined ? [] : typeof tags === "function" ? tags(value) : tags
    }

    const markDirty = (target: Target) => {
      for (const [key, load] of loading) {
        if (
          target._tag === "Tag" ||
          (target._tag === "Prefix" && key.startsWith(target.prefix)) ||
          (target._tag === "Keys" && target.keys.includes(key))
        ) {
          load.dirty = true
        }
      }
    }

    const dropLocal = (target: Target) => {
      markDirty(target)
      switch (target._tag) {
        case "Keys":
          for (const key of target.keys) l1.delete(key)
          return
        case "Prefix":
          l1.deleteWhere((key) => key.startsWith(target.prefix))
          return
        case "Tag":
          l1.deleteWhere((_, tags) => tags.includes(target.tag))
          return
      }
    }

    let busFailing = false
    const publish = (target: Target) =>
      bus.publish({ origin: id, namespace, target } satisfies Invalidation).pipe(
        Effect.timeout(timeout),
        Effect.matchCauseEffect({
          onSuccess: () =>
            Effect.sync(() => {
              busFailing = false
            }),
          onFailure: (cause) => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
            if (busFailing) return Effect.void
            busFailing = true
            return Effect.logWarning(
              "cache invalidation not published: other instances may serve stale L1"
            ).pipe(Effect.annotateLogs({ cache: name, cause: Cause.pretty(cause) }))
          }
        })
      )

    yield* bus.subscribe((message) =>
      message.origin === id || message.namespace !== namespace
        ? Effect.void
        : Effect.sync(() => dropLocal(message.target))
    )

    const fillL1 = (key: string, value: A, ttl: number, size: number, tags: ReadonlyArray<string>) =>
      l1.set(key, { value, exit: Exit.succeed(value) }, Math.min(ttl, l1MaxTtl), size, tags)

    /**
     * Reads L2: a hit is decoded and copied into L1 for no longer than its
     * remaining TTL; `Down` when L2 failed or is being skipped.
     */
    const readL2 = (key: string): Effect.Effect<Read<A>> =>
      Effect.flatMap(l2("get", store.get(storeKey(key))), (result): Effect.Effect<Read<A>> => {
        if (Option.isNone(result)) return Effect.succeed(down)
        if (Option.isNone(result.value)) {
          counters.l2Misses++
          return Effect.succeed(missed)
        }
        const { value: text, ttlMillis: remaining } = result.value.value
        return decode(text).pipe(
          Effect.map(({ tags, value }): Read<A> => {
            counters.l2Hits++
            fillL1(key, value, remaining, text.length, tags)
            return { _tag: "Hit", value }
          }),
          // Unreadable (e.g. written by an older schema): a miss, overwritten by the next load.
          Effect.catch(() =>
            Effect.sync((): Read<A> => {
              counters.l2Misses++
              return missed
            })
          )
        )
      })

    const acquire = (key: string, token: string): Effect.Effect<LockState> =>
      lockTtl === 0
        ? Effect.succeed("off")
        : Effect.map(l2("lock", store.acquireLock(storeKey(key), token, lockTtl)), (acquired) =>
            Option.isNone(acquired) ? "down" : acquired.value ? "held" : "busy"
          )

    /** Another instance is loading: poll L2 until its value appears, or the lock frees or expires. */
    const awaitOther = Effect.fnUntraced(function* (key: string, token: string) {
      const deadline = now() + lockTtl
      while (true) {
        yield* Effect.sleep(lockPoll)
        const read = yield* readL2(key)
        if (read._tag === "Hit") return { read, lock: "busy" as LockState }
        if (read._tag === "Down") return { read, lock: "down" as LockState }
        if (now() >= deadline) return { read, lock: "expired" as LockState }
        const lock = yield* acquire(key, token)
        if (lock !== "busy") return { read, lock }
      }
    })

    const write = (
      key: string,
      value: A,
      entry: EntryOptions<A> | undefined,
      dirty: () => boolean,
      l2Down: boolean
    ) =>
      Effect.gen(function* () {
        const ttl = ttlMillis(entry?.ttl, defaultTtl)
        const tags = tagsOf(value, entry)
        const text = yield* Effect.option(encode({ tags, value }))
        if (dirty()) return
        fillL1(key, value, ttl, Option.isSome(text) ? text.value.length : 0, tags)
        if (Option.isSome(text) && ttl > 0 && !l2Down) {
          yield* l2(
            "set",
            store.set(storeKey(key), text.value, { ttlMillis: Math.ceil(ttl), tags: tags.map(storeTag) })
          )
        }
      })

    const lead = <E, R>(
      key: string,
      load: () => Effect.Effect<A, E, R>,
      entry: EntryOptions<A> | undefined,
      self: Loading<A>
    ): Effect.Effect<A, E, R> =>
      Effect.gen(function* () {
        const read = yield* readL2(key)
        if (read._tag === "Hit") return yield* found(read.value, "l2")
        // One failed L2 operation per request at most: a down L2 costs one timeout.
        const token = yield* randomId
        let lock: LockState = read._tag === "Down" ? "down" : yield* acquire(key, token)
        if (lock === "busy") {
          const other = yield* awaitOther(key, token)
          if (other.read._tag === "Hit") return yield* found(other.read.value, "l2")
          lock = other.lock
        }
        yield* found(undefined, "miss")
        counters.loads++
        const skipL2 = lock === "down"
        const run = Effect.tap(Effect.suspend(load), (value) =>
          write(key, value, entry, () => self.dirty, skipL2)
        ).pipe(Effect.withSpan("TieredCache.load", loadSpan))
        if (lock !== "held") return yield* run
        return yield* Effect.ensuring(run, l2("unlock", store.releaseLock(storeKey(key), token), true))
      })

    const miss = <E, R>(
      key: string,
      load: () => Effect.Effect<A, E, R>,
      entry: EntryOptions<A> | undefined
    ): Effect.Effect<A, E, R> =>
      Effect.suspend(() => {
        const current = loading.get(key)
        if (current !== undefined) {
          // Waited for another fiber's lookup: a miss for this caller too.
          return Effect.flatMap(Deferred.await(current.deferred), (result) =>
            Option.isSome(result) ? found(result.value, "miss") : getOrLoad(key, load, entry)
          )
        }
        const self: Loading<A> = { deferred: Deferred.makeUnsafe(), dirty: false }
        loading.set(key, self)
        return lead(key, load, entry, self).pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (loading.get(key) === self) loading.delete(key)
              return Deferred.succeed(
                self.deferred,
                Exit.isSuccess(exit) ? Option.some(exit.value) : Option.none()
              )
            })
          )
        )
      })

    const getOrLoad = <E, R>(
      key: string,
      load: () => Effect.Effect<A, E, R>,
      entry?: EntryOptions<A>
    ): Effect.Effect<A, E, R> =>
      Effect.withFiber((fiber) => {
        const hit = l1.get(key)
        if (hit === undefined) return miss(key, load, entry)
        mark(fiber, name, "l1")
        return hit.value.exit
      })

    const invalidateEverywhere = (target: Target, remote: Effect.Effect<void, CacheStoreError>) =>
      Effect.suspend(() => {
        dropLocal(target)
        return Effect.andThen(l2("invalidate", remote, true), publish(target))
      })

    return {
      name,
      namespace,
      id,
      getOrLoad,
      get: (key) =>
        Effect.suspend(() => {
          const hit = l1.get(key)
          return hit === undefined
            ? Effect.map(readL2(key), (read) =>
                read._tag === "Hit" ? Option.some(read.value) : Option.none()
              )
            : Effect.succeed(Option.some(hit.value.value))
        }),
      set: (key, value, entry) =>
        Effect.suspend(() => {
          dropLocal({ _tag: "Keys", keys: [key] })
          return Effect.andThen(
            write(key, value, entry, notDirty, false),
            publish({ _tag: "Keys", keys: [key] })
          )
        }),
      invalidate: (keys) => {
        const list = typeof keys === "string" ? [keys] : keys
        return invalidateEverywhere({ _tag: "Keys", keys: list }, store.delete(list.map(storeKey)))
      },
      invalidatePrefix: (prefix) =>
        invalidateEverywhere({ _tag: "Prefix", prefix }, store.deleteByPrefix(storeKey(prefix))),
      invalidateTag: (tag) => invalidateEverywhere({ _tag: "Tag", tag }, store.deleteByTag(storeTag(tag))),
      stats: Effect.sync(() => ({ l1: statsOf(l1), ...counters, outage: health.outage }))
    } satisfies TieredCache<A>
  })
