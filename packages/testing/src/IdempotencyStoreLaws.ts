/**
 * The laws of an `IdempotencyStore`: of concurrent begins of one key exactly
 * one starts; a replay returns exactly what was completed; another
 * fingerprint is a mismatch; a running claim is busy until its lease ends,
 * then another request takes it over and the old claim can no longer
 * complete; records expire after their ttl; abandon frees the key (only for
 * its owner); scopes and keys never mix.
 *
 * Each law is an effect that fails (as a defect with a message) when the
 * implementation breaks it. Time moves through the fixture's `advance`
 * (`TestClock.adjust` for stores on the `Clock`, a real sleep for one on a
 * server's clock), so ttl and lease here are a few hundred milliseconds.
 *
 * @since 0.2.0
 */
import type { IdempotencyStore } from "@org/core"
import * as Effect from "effect/Effect"

/**
 * An empty store (or an unused namespace of a shared one) and a way to let
 * time pass.
 *
 * @since 0.2.0
 * @category models
 */
export interface Fixture {
  readonly store: IdempotencyStore.IdempotencyStore["Service"]
  readonly advance: (millis: number) => Effect.Effect<void>
}

/**
 * A law: an effect over fresh fixtures.
 *
 * @since 0.2.0
 * @category models
 */
export type Law = <R>(fresh: Effect.Effect<Fixture, never, R>) => Effect.Effect<void, unknown, R>

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`IdempotencyStore law broken: ${message}`))

const timing: IdempotencyStore.Timing = { ttl: 600, lease: 300 }

const response = (status: number, text: string): IdempotencyStore.StoredResponse => ({
  status,
  headers: { "content-type": "application/json", location: "/items/1", etag: '"1"' },
  // Every byte value, so a store that goes through text would show it.
  body: new Uint8Array([...new TextEncoder().encode(text), 0, 1, 127, 128, 255])
})

const sameResponse = (a: IdempotencyStore.StoredResponse, b: IdempotencyStore.StoredResponse): boolean =>
  a.status === b.status &&
  JSON.stringify(Object.entries(a.headers).sort()) === JSON.stringify(Object.entries(b.headers).sort()) &&
  a.body.length === b.body.length &&
  a.body.every((byte, i) => byte === b.body[i])

const started = (begin: IdempotencyStore.Begin): string | undefined =>
  begin._tag === "Started" ? begin.token : undefined

const show = (begin: IdempotencyStore.Begin): string => begin._tag

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { IdempotencyStore } from "@org/core"
 * import { IdempotencyStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(IdempotencyStore.makeMemory, (store) => ({ store, advance: TestClock.adjust }))
 * for (const [name, law] of Object.entries(IdempotencyStoreLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.2.0
 * @category laws
 */
export const laws: Record<string, Law> = {
  "of N concurrent begins of one key exactly one starts, the others are busy": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const outcomes = yield* Effect.all(
        Array.from({ length: 16 }, () => store.begin("s", "race", "fp", timing)),
        { concurrency: "unbounded" }
      )
      const starts = outcomes.filter((o) => o._tag === "Started").length
      yield* expect(
        starts === 1,
        `${starts} of 16 concurrent begins started (${outcomes.map(show).join(",")})`
      )
      yield* expect(
        outcomes.every((o) => o._tag === "Started" || o._tag === "Busy"),
        `a concurrent begin was neither started nor busy (${outcomes.map(show).join(",")})`
      )
    }),

  "a completed key replays exactly what was completed, to every later begin": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const token = started(yield* store.begin("s", "k", "fp", timing))
      yield* expect(token !== undefined, "the first begin of a key did not start")
      const first = response(201, '{"id":"é✓"}')
      yield* expect(
        yield* store.complete("s", "k", token ?? "", first),
        "complete of the owner returned false"
      )
      for (let i = 0; i < 2; i++) {
        const again = yield* store.begin("s", "k", "fp", timing)
        yield* expect(again._tag === "Replay", `begin after complete was ${show(again)}, not Replay`)
        if (again._tag === "Replay") {
          yield* expect(
            sameResponse(again.response, first),
            "the replayed response differs from the completed one"
          )
        }
      }
      yield* expect(
        !(yield* store.complete("s", "k", token ?? "", response(500, "x"))),
        "a completed record was completed again"
      )
    }),

  "another fingerprint under a used key is a mismatch, in progress or completed": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const token = started(yield* store.begin("s", "k", "fp-1", timing))
      const whileRunning = yield* store.begin("s", "k", "fp-2", timing)
      yield* expect(
        whileRunning._tag === "Mismatch",
        `another fingerprint in progress was ${show(whileRunning)}`
      )
      yield* store.complete("s", "k", token ?? "", response(201, "{}"))
      const afterwards = yield* store.begin("s", "k", "fp-2", timing)
      yield* expect(
        afterwards._tag === "Mismatch",
        `another fingerprint once completed was ${show(afterwards)}`
      )
      const same = yield* store.begin("s", "k", "fp-1", timing)
      yield* expect(same._tag === "Replay", `the mismatch disturbed the record: ${show(same)}`)
    }),

  "a running claim is busy until its lease ends, then another begin takes it over": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const first = started(yield* store.begin("s", "k", "fp", timing))
      const busy = yield* store.begin("s", "k", "fp", timing)
      yield* expect(busy._tag === "Busy", `a second begin while running was ${show(busy)}`)
      if (busy._tag === "Busy") {
        yield* expect(
          busy.retryAfterMillis > 0 && busy.retryAfterMillis <= 300,
          `Busy says retry after ${busy.retryAfterMillis} ms, the lease is 300 ms`
        )
      }
      yield* advance(400)
      const second = started(yield* store.begin("s", "k", "fp", timing))
      yield* expect(second !== undefined, "a begin after the lease ended did not take over")
      yield* expect(second !== first, "the takeover reused the old claim's token")
      yield* expect(
        !(yield* store.complete("s", "k", first ?? "", response(201, "old"))),
        "the claim whose lease ended could still complete"
      )
      yield* store.abandon("s", "k", first ?? "")
      yield* expect(
        yield* store.complete("s", "k", second ?? "", response(201, "new")),
        "the new owner could not complete (did the old owner's abandon remove it?)"
      )
      const replay = yield* store.begin("s", "k", "fp", timing)
      yield* expect(
        replay._tag === "Replay" && sameResponse(replay.response, response(201, "new")),
        `after the takeover completed, begin was ${show(replay)} or replayed the wrong response`
      )
    }),

  "records expire after their ttl: the key starts afresh, with any fingerprint": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const token = started(yield* store.begin("s", "k", "fp", timing))
      yield* store.complete("s", "k", token ?? "", response(201, "{}"))
      yield* advance(200)
      const live = yield* store.begin("s", "k", "fp", timing)
      yield* expect(live._tag === "Replay", `before its ttl a record was ${show(live)}`)
      yield* advance(600)
      const expired = yield* store.begin("s", "k", "other", timing)
      yield* expect(expired._tag === "Started", `after its ttl a key was ${show(expired)}, not Started`)
    }),

  "abandon frees the key for a new begin, but only the owner's abandon": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const token = started(yield* store.begin("s", "k", "fp", timing))
      yield* store.abandon("s", "k", "not-the-token")
      const stillBusy = yield* store.begin("s", "k", "fp", timing)
      yield* expect(stillBusy._tag === "Busy", `a stranger's abandon freed the key: ${show(stillBusy)}`)
      yield* store.abandon("s", "k", token ?? "")
      const again = yield* store.begin("s", "k", "other-fp", timing)
      yield* expect(again._tag === "Started", `after abandon a begin was ${show(again)}, not Started`)
      yield* expect(
        !(yield* store.complete("s", "k", token ?? "", response(201, "{}"))),
        "an abandoned claim could still complete"
      )
    }),

  "scopes and keys never mix, whatever they contain": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const odd = ["k", "K", "a b", "%_*?[", "'; DROP TABLE x; --", "x".repeat(255)]
      for (const scope of ["sub:u1", "sub:u2", "ip:203.0.113.7"]) {
        for (const key of odd) {
          const begin = yield* store.begin(scope, key, `${scope}/${key}`, timing)
          yield* expect(begin._tag === "Started", `(${scope}, ${JSON.stringify(key)}) was ${show(begin)}`)
          yield* store.complete(scope, key, started(begin) ?? "", response(200, `${scope}/${key}`))
        }
      }
      for (const scope of ["sub:u1", "sub:u2", "ip:203.0.113.7"]) {
        for (const key of odd) {
          const replay = yield* store.begin(scope, key, `${scope}/${key}`, timing)
          yield* expect(
            replay._tag === "Replay" && sameResponse(replay.response, response(200, `${scope}/${key}`)),
            `(${scope}, ${JSON.stringify(key)}) replayed ${show(replay)} or another record's response`
          )
        }
      }
    })
}
