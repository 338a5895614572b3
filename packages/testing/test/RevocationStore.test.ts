import { assert, describe, it } from "@effect/vitest"
import { RevocationStore } from "@org/core"
import { RevocationStoreLaws } from "@org/testing"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"

const fresh = Effect.map(RevocationStore.makeMemory, (store) => ({
  store,
  advance: TestClock.adjust,
  slackMillis: 0
}))

describe("RevocationStore.layerMemory obeys the RevocationStore laws", () => {
  for (const [name, law] of Object.entries(RevocationStoreLaws.laws)) {
    it.effect(name, () => law(fresh, { runs: 300 }))
  }
})

type Store = RevocationStore.RevocationStore["Service"]

const freshWriteThrough = Effect.gen(function* () {
  const store = yield* Effect.orDie(RevocationStore.makeWriteThrough(yield* RevocationStore.makeMemory))
  return { store, advance: TestClock.adjust, slackMillis: 0 }
})

describe("RevocationStore.makeWriteThrough obeys the RevocationStore laws", () => {
  for (const [name, law] of Object.entries(RevocationStoreLaws.laws)) {
    it.effect(name, () => law(freshWriteThrough, { runs: 100 }))
  }
})

describe("RevocationStore.makeWriteThrough", () => {
  it.effect("what it revoked is in the durable store, and a new one made on it (a restart) knows it", () =>
    Effect.gen(function* () {
      const durable = yield* RevocationStore.makeMemory
      const first = yield* RevocationStore.makeWriteThrough(durable)
      yield* first.revokeToken("t1", 10_000)
      yield* first.revokeSubject("u1", 500, 10_000)
      assert.isTrue(yield* durable.isRevoked({ tokenId: "t1", subject: "x", issuedAt: 0 }))
      const restarted = yield* RevocationStore.makeWriteThrough(durable)
      assert.isTrue(yield* restarted.isRevoked({ tokenId: "t1", subject: "x", issuedAt: 0 }))
      assert.isTrue(yield* restarted.isRevoked({ tokenId: "other", subject: "u1", issuedAt: 500 }))
      assert.isFalse(yield* restarted.isRevoked({ tokenId: "other", subject: "u1", issuedAt: 501 }))
    })
  )

  it.effect("a revocation the durable store refuses fails, and is not remembered either", () =>
    Effect.gen(function* () {
      const memory = yield* RevocationStore.makeMemory
      const down = new RevocationStore.RevocationUnavailable({ operation: "test", cause: "down" })
      const durable: Store = {
        ...memory,
        revokeToken: () => Effect.fail(down),
        revokeSubject: () => Effect.fail(down)
      }
      const store = yield* RevocationStore.makeWriteThrough(durable)
      const token = yield* Effect.exit(store.revokeToken("t1", 10_000))
      const subject = yield* Effect.exit(store.revokeSubject("u1", 500, 10_000))
      assert.isTrue(Exit.isFailure(token) && Exit.isFailure(subject))
      assert.isFalse(yield* store.isRevoked({ tokenId: "t1", subject: "u1", issuedAt: 0 }))
    })
  )
})

// Broken stores, each wrong in one way a real implementation could be.
const mutants: Record<string, (store: Store) => Store> = {
  "cut-off is exclusive (issuedAt < cutoff)": (store) => ({
    ...store,
    isRevoked: (ref) => store.isRevoked({ ...ref, issuedAt: ref.issuedAt + 1 })
  }),
  "token entries never expire": (store) => ({
    ...store,
    revokeToken: (tokenId, until) => store.revokeToken(tokenId, until + 1_000_000)
  }),
  "a second revocation of a subject is ignored": (store) => {
    const seen = new Set<string>()
    return {
      ...store,
      revokeSubject: (subject, cutoff, until) =>
        Effect.suspend(() => {
          if (seen.has(subject)) return Effect.void
          seen.add(subject)
          return store.revokeSubject(subject, cutoff, until)
        })
    }
  },
  "entries forgets subjects": (store) => ({
    ...store,
    entries: Effect.map(store.entries, (entries) => entries.filter((entry) => entry._tag === "Token"))
  })
}

describe("the RevocationStore laws catch broken stores", () => {
  for (const [name, mutate] of Object.entries(mutants)) {
    const broken = Effect.map(fresh, (fixture) => ({ ...fixture, store: mutate(fixture.store) }))
    it.effect(`the model-based law rejects a store where ${name}`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(RevocationStoreLaws.modelBased(broken, { runs: 200 }))
        assert.isTrue(Exit.isFailure(exit), "the model-based law passed a broken store")
      })
    )
    it.effect(`some example law rejects a store where ${name}`, () =>
      Effect.gen(function* () {
        const {
          "agrees with a model over random sequences of revocations, checks and time": _,
          ...examples
        } = RevocationStoreLaws.laws
        const exits = yield* Effect.forEach(Object.values(examples), (law) => Effect.exit(law(broken)))
        assert.isTrue(exits.some(Exit.isFailure), "every example law passed a broken store")
      })
    )
  }
})

describe("the model-based law probes boundaries", () => {
  it.effect("it rejects a store that still refuses a token at exactly its until", () =>
    Effect.gen(function* () {
      const broken = Effect.map(fresh, (fixture) => ({
        ...fixture,
        store: {
          ...fixture.store,
          revokeToken: (id: string, until: number) => fixture.store.revokeToken(id, until + 1)
        }
      }))
      const exit = yield* Effect.exit(RevocationStoreLaws.modelBased(broken, { runs: 300 }))
      assert.isTrue(Exit.isFailure(exit), "the model-based law passed a store that is off by one at expiry")
    })
  )
})
