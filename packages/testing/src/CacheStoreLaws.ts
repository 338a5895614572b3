/**
 * The laws of a `CacheStore` (the L2 port of the tiered cache): values
 * round-trip as any string, expire after their TTL and report what is left
 * of it, writes replace, deletes by key, literal prefix and tag remove exactly
 * what they name, and the lock is exclusive, released only by its token and
 * freed by its TTL. The memory store passes them; a Redis store must too.
 *
 * Each law is an effect that fails (as a defect with a message) when the
 * implementation breaks it; run each in its own test. Time moves through the
 * fixture's `advance` (`TestClock.adjust` for the memory store, a real sleep
 * for a networked one), so TTLs here are short.
 *
 * @since 0.1.0
 */
import type { CacheStore } from "@org/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * An empty store (or an unused `prefix` of a shared one) and a way to let
 * time pass.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fixture {
  readonly store: CacheStore.CacheStore["Service"]
  /** Prepended to every key, tag and lock name the laws use. */
  readonly prefix: string
  readonly advance: (millis: number) => Effect.Effect<void>
}

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`CacheStore law broken: ${message}`))

const storedValue = (store: CacheStore.CacheStore["Service"], key: string) =>
  Effect.map(
    store.get(key),
    Option.map((stored) => stored.value)
  )

const present = (store: CacheStore.CacheStore["Service"], key: string) =>
  Effect.map(store.get(key), Option.isSome)

type Law = <R>(fresh: Effect.Effect<Fixture, never, R>) => Effect.Effect<void, unknown, R>

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { CacheStore } from "@org/core"
 * import { CacheStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(CacheStore.makeMemory, (store) => ({ store, prefix: "", advance: TestClock.adjust }))
 * for (const [name, law] of Object.entries(CacheStoreLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const laws: Record<string, Law> = {
  "a missing key is absent": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      yield* expect(
        Option.isNone(yield* store.get(`${prefix}nothing`)),
        "get of a never-set key returned a value"
      )
    }),

  "any string round-trips, the empty one and non-ASCII included": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      const values = ["", "plain", '{"a":[1,"b"]}', "é ✓ 😀 \u0000 \n\t", "x".repeat(10_000)]
      for (const [i, value] of values.entries()) {
        yield* store.set(`${prefix}v${i}`, value, { ttlMillis: 60_000 })
      }
      for (const [i, value] of values.entries()) {
        const back = yield* storedValue(store, `${prefix}v${i}`)
        yield* expect(
          Option.isSome(back) && back.value === value,
          `value #${i} came back as ${JSON.stringify(back)} instead of itself`
        )
      }
    }),

  "get reports the remaining TTL, never more than what is left": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix, advance } = yield* fresh
      yield* store.set(`${prefix}k`, "v", { ttlMillis: 1_000 })
      const first = yield* store.get(`${prefix}k`)
      yield* expect(
        Option.isSome(first) && first.value.ttlMillis > 0 && first.value.ttlMillis <= 1_000,
        `remaining TTL right after set is ${JSON.stringify(first)}, expected in (0, 1000]`
      )
      yield* advance(400)
      const later = yield* store.get(`${prefix}k`)
      yield* expect(
        Option.isSome(later) && later.value.ttlMillis > 0 && later.value.ttlMillis <= 600,
        `remaining TTL 400 ms later is ${JSON.stringify(later)}, expected in (0, 600]`
      )
    }),

  "a key expires after its TTL": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix, advance } = yield* fresh
      yield* store.set(`${prefix}short`, "v", { ttlMillis: 100 })
      yield* store.set(`${prefix}long`, "v", { ttlMillis: 60_000 })
      yield* advance(150)
      yield* expect(!(yield* present(store, `${prefix}short`)), "a key is still served after its TTL")
      yield* expect(yield* present(store, `${prefix}long`), "a key with TTL left expired early")
    }),

  "set replaces the value and the TTL": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix, advance } = yield* fresh
      yield* store.set(`${prefix}k`, "old", { ttlMillis: 100 })
      yield* store.set(`${prefix}k`, "new", { ttlMillis: 60_000 })
      yield* advance(150)
      const back = yield* storedValue(store, `${prefix}k`)
      yield* expect(
        Option.isSome(back) && back.value === "new",
        `after an overwrite the key holds ${JSON.stringify(back)}, expected "new" with the new TTL`
      )
    }),

  "delete removes exactly the given keys, missing ones included": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      for (const k of ["a", "b", "c"]) yield* store.set(`${prefix}${k}`, k, { ttlMillis: 60_000 })
      yield* store.delete([`${prefix}a`, `${prefix}c`, `${prefix}missing`])
      yield* expect(!(yield* present(store, `${prefix}a`)), "a deleted key is still present")
      yield* expect(!(yield* present(store, `${prefix}c`)), "the second deleted key is still present")
      yield* expect(yield* present(store, `${prefix}b`), "delete removed a key it was not given")
      yield* store.delete([])
    }),

  "deleteByPrefix removes the keys that start with the literal prefix, and only those": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      const keys = [
        "users:1",
        "users:2",
        "users",
        "usersx:1",
        "teams:1",
        "p*:1",
        "pq:1",
        "p?:1",
        "p[a]:1",
        "pa:1"
      ]
      for (const k of keys) yield* store.set(`${prefix}${k}`, k, { ttlMillis: 60_000 })
      yield* store.deleteByPrefix(`${prefix}users:`)
      // Glob characters are literal: a Redis store must escape them in SCAN MATCH.
      yield* store.deleteByPrefix(`${prefix}p*`)
      yield* store.deleteByPrefix(`${prefix}p?`)
      yield* store.deleteByPrefix(`${prefix}p[a]`)
      for (const gone of ["users:1", "users:2", "p*:1", "p?:1", "p[a]:1"]) {
        yield* expect(!(yield* present(store, `${prefix}${gone}`)), `"${gone}" survived deleteByPrefix`)
      }
      for (const kept of ["users", "usersx:1", "teams:1", "pq:1", "pa:1"]) {
        yield* expect(yield* present(store, `${prefix}${kept}`), `deleteByPrefix removed "${kept}"`)
      }
    }),

  "deleteByTag removes every key carrying the tag, and only those": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      const t = (tag: string) => `${prefix}${tag}`
      yield* store.set(`${prefix}a`, "a", { ttlMillis: 60_000, tags: [t("red")] })
      yield* store.set(`${prefix}b`, "b", { ttlMillis: 60_000, tags: [t("red"), t("blue")] })
      yield* store.set(`${prefix}c`, "c", { ttlMillis: 60_000, tags: [t("blue")] })
      yield* store.set(`${prefix}d`, "d", { ttlMillis: 60_000 })
      yield* store.deleteByTag(t("red"))
      yield* expect(!(yield* present(store, `${prefix}a`)), "a key tagged red survived deleteByTag(red)")
      yield* expect(
        !(yield* present(store, `${prefix}b`)),
        "a key tagged red and blue survived deleteByTag(red)"
      )
      yield* expect(yield* present(store, `${prefix}c`), "deleteByTag(red) removed a key tagged only blue")
      yield* expect(yield* present(store, `${prefix}d`), "deleteByTag(red) removed an untagged key")
      yield* store.deleteByTag(t("never-used"))
    }),

  "a key rewritten with a tag is removed by that tag": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      yield* store.set(`${prefix}k`, "v1", { ttlMillis: 60_000, tags: [`${prefix}old`] })
      yield* store.set(`${prefix}k`, "v2", { ttlMillis: 60_000, tags: [`${prefix}new`] })
      yield* store.deleteByTag(`${prefix}new`)
      yield* expect(!(yield* present(store, `${prefix}k`)), "a key survived deleteByTag of its current tag")
    }),

  "an expired tagged key stays gone, and deleting its tag later is harmless": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix, advance } = yield* fresh
      yield* store.set(`${prefix}k`, "v1", { ttlMillis: 100, tags: [`${prefix}t`] })
      yield* advance(150)
      yield* store.deleteByTag(`${prefix}t`)
      yield* expect(!(yield* present(store, `${prefix}k`)), "an expired key came back")
      // Rewritten after its tagged version expired (the tag set may remember it:
      // over-deletion is allowed, so only absence of errors is checked here).
      yield* store.set(`${prefix}k`, "v2", { ttlMillis: 60_000 })
      yield* store.deleteByTag(`${prefix}t`)
    }),

  "the lock is exclusive and released only by its token": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      const lock = `${prefix}lock`
      yield* expect(yield* store.acquireLock(lock, "one", 10_000), "a free lock was not acquired")
      yield* expect(!(yield* store.acquireLock(lock, "two", 10_000)), "a held lock was acquired again")
      yield* expect(
        !(yield* store.acquireLock(lock, "one", 10_000)),
        "a held lock was re-acquired by its holder"
      )
      yield* expect(!(yield* store.releaseLock(lock, "two")), "a lock was released with a wrong token")
      yield* expect(
        !(yield* store.acquireLock(lock, "three", 10_000)),
        "a wrong-token release freed the lock"
      )
      yield* expect(yield* store.releaseLock(lock, "one"), "the holder could not release its lock")
      yield* expect(!(yield* store.releaseLock(lock, "one")), "a lock was released twice")
      yield* expect(yield* store.acquireLock(lock, "two", 10_000), "a released lock could not be acquired")
    }),

  "a lock frees itself after its TTL, and a stale token cannot release the new holder": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix, advance } = yield* fresh
      const lock = `${prefix}lock`
      yield* expect(yield* store.acquireLock(lock, "one", 100), "a free lock was not acquired")
      yield* advance(150)
      yield* expect(yield* store.acquireLock(lock, "two", 10_000), "an expired lock could not be acquired")
      yield* expect(
        !(yield* store.releaseLock(lock, "one")),
        "an expired holder released the new holder's lock"
      )
      yield* expect(!(yield* store.acquireLock(lock, "three", 10_000)), "the new holder lost its lock")
    }),

  "locks and values live apart": (fresh) =>
    Effect.gen(function* () {
      const { store, prefix } = yield* fresh
      const name = `${prefix}same`
      yield* expect(yield* store.acquireLock(name, "t", 10_000), "a free lock was not acquired")
      yield* expect(!(yield* present(store, name)), "acquiring a lock created a value")
      yield* store.set(name, "v", { ttlMillis: 60_000 })
      yield* store.deleteByPrefix(name)
      yield* expect(!(yield* store.acquireLock(name, "u", 10_000)), "deleting values freed a lock")
      yield* expect(
        yield* store.releaseLock(name, "t"),
        "the lock holder could not release after value writes"
      )
    })
}
