import { assert, describe, it } from "@effect/vitest"
import { Outbox, UnitOfWork } from "@org/core"
import { OutboxLaws } from "@org/testing"
import { Effect, Exit, Layer, Option } from "effect"
import { TestClock } from "effect/testing"

const fresh = Effect.gen(function* () {
  const outbox = yield* Outbox.makeMemory
  const unitOfWork = yield* UnitOfWork.UnitOfWork
  return { outbox, unitOfWork, advance: TestClock.adjust }
}).pipe(Effect.provide(UnitOfWork.layerMemory))

describe("OutboxLaws.fromLayer", () => {
  const fromLayer = OutboxLaws.fromLayer(
    Layer.merge(Outbox.layerMemory, UnitOfWork.layerMemory),
    TestClock.adjust
  )
  for (const [name, law] of Object.entries(OutboxLaws.laws)) {
    it.effect(name, () => law(fromLayer))
  }
})

describe("Outbox.layerMemory obeys the Outbox laws", () => {
  for (const [name, law] of Object.entries(OutboxLaws.laws)) {
    it.effect(name, () => law(fresh))
  }
  it.effect("agrees with the model", () => OutboxLaws.modelBased(fresh, { runs: 200 }))
})

type Store = Outbox.Outbox["Service"]

// Broken outboxes, each wrong in one way a real implementation could be: the laws must catch each.
const mutants: Record<string, (store: Store) => Store> = {
  "leases are ignored": (store) => ({ ...store, complete: (id) => Effect.as(store.get(id), true) }),
  "retry forgets completed": (store) => ({
    ...store,
    retry: (id, lease, options) => store.retry(id, lease, { ...options, completed: [] })
  }),
  "retry ignores after": (store) => ({
    ...store,
    retry: (id, lease, options) => store.retry(id, lease, { ...options, after: 0 })
  }),
  "replay does nothing": (store) => ({ ...store, replay: () => Effect.succeed(0) }),
  "stats see nothing": (store) => ({
    ...store,
    stats: Effect.succeed({ pending: 0, dead: 0, oldestPending: Option.none() })
  }),
  "claims in reverse order": (store) => ({
    ...store,
    claim: (options) => Effect.map(store.claim(options), (claimed) => [...claimed].reverse())
  })
}

describe("the laws catch broken outboxes", () => {
  for (const [name, mutate] of Object.entries(mutants)) {
    it.effect(name, () =>
      Effect.gen(function* () {
        const broken = Effect.map(fresh, (fixture) => ({ ...fixture, outbox: mutate(fixture.outbox) }))
        let caught = 0
        for (const law of Object.values(OutboxLaws.laws)) {
          const exit = yield* Effect.exit(law(broken))
          if (Exit.isFailure(exit)) caught++
        }
        const model = yield* Effect.exit(OutboxLaws.modelBased(broken, { runs: 50 }))
        if (Exit.isFailure(model)) caught++
        assert.isAbove(caught, 0, `no law caught the mutant "${name}"`)
      })
    )
  }
})

describe("Outbox.layerInboxMemory", () => {
  it.effect("runs an effect once per (consumer, event); a failure records nothing", () =>
    Effect.gen(function* () {
      const inbox = yield* Outbox.makeInboxMemory
      const id = "0190e7a2-7c4e-7a1b-8c3d-4e5f60718293"
      assert.isTrue(Exit.isFailure(yield* Effect.exit(inbox.once("a", id, Effect.fail("no")))))
      assert.deepStrictEqual(yield* inbox.once("a", id, Effect.succeed(1)), Option.some(1))
      assert.deepStrictEqual(yield* inbox.once("a", id, Effect.succeed(2)), Option.none())
      assert.deepStrictEqual(yield* inbox.once("b", id, Effect.succeed(3)), Option.some(3))
    })
  )

  it.effect("a rolled-back memory transaction forgets the event", () =>
    Effect.gen(function* () {
      const inbox = yield* Outbox.makeInboxMemory
      const uow = yield* UnitOfWork.UnitOfWork
      const id = "0190e7a2-7c4e-7a1b-8c3d-4e5f60718293"
      yield* uow
        .transaction(Effect.andThen(inbox.once("a", id, Effect.void), Effect.fail("x")))
        .pipe(Effect.ignore)
      assert.deepStrictEqual(yield* inbox.once("a", id, Effect.succeed(1)), Option.some(1))
    }).pipe(Effect.provide(UnitOfWork.layerMemory))
  )
})
