import { assert, describe, it } from "@effect/vitest"
import { IdempotencyStore } from "@org/core"
import { IdempotencyStoreLaws } from "@org/testing"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"

const fresh = Effect.map(IdempotencyStore.makeMemory, (store) => ({ store, advance: TestClock.adjust }))

describe("IdempotencyStore.layerMemory obeys the IdempotencyStore laws", () => {
  for (const [name, law] of Object.entries(IdempotencyStoreLaws.laws)) {
    it.effect(name, () => law(fresh))
  }
})

type Store = IdempotencyStore.IdempotencyStore["Service"]

// Broken stores, each wrong in one way a real implementation could be: the laws must catch each.
const mutants: Record<string, (store: Store) => Store> = {
  "fingerprints are ignored": (store) => ({
    ...store,
    begin: (scope, key, _fingerprint, timing) => store.begin(scope, key, "same", timing)
  }),
  "records never expire": (store) => ({
    ...store,
    begin: (scope, key, fingerprint, timing) =>
      store.begin(scope, key, fingerprint, { ...timing, ttl: 1_000_000_000 })
  }),
  "abandon does nothing": (store) => ({ ...store, abandon: () => Effect.void }),
  "scopes are ignored": (store) => ({
    ...store,
    begin: (_scope, key, fingerprint, timing) => store.begin("one", key, fingerprint, timing),
    complete: (_scope, key, token, response) => store.complete("one", key, token, response),
    abandon: (_scope, key, token) => store.abandon("one", key, token)
  }),
  "a busy key starts again": (store) => ({
    ...store,
    begin: (scope, key, fingerprint, timing) =>
      Effect.map(store.begin(scope, key, fingerprint, timing), (begin) =>
        begin._tag === "Busy" ? { _tag: "Started" as const, token: "x" } : begin
      )
  }),
  "the replayed body loses its last byte": (store) => ({
    ...store,
    begin: (scope, key, fingerprint, timing) =>
      Effect.map(store.begin(scope, key, fingerprint, timing), (begin) =>
        begin._tag === "Replay"
          ? { ...begin, response: { ...begin.response, body: begin.response.body.slice(0, -1) } }
          : begin
      )
  })
}

describe("the laws catch broken stores", () => {
  for (const [name, mutate] of Object.entries(mutants)) {
    it.effect(name, () =>
      Effect.gen(function* () {
        const broken = Effect.map(fresh, (fixture) => ({ ...fixture, store: mutate(fixture.store) }))
        let caught = 0
        for (const law of Object.values(IdempotencyStoreLaws.laws)) {
          const exit = yield* Effect.exit(law(broken))
          if (Exit.isFailure(exit)) caught++
        }
        assert.isAbove(caught, 0, `no law caught the mutant "${name}"`)
      })
    )
  }
})
