import { describe, it } from "@effect/vitest"
import { EventBus, Outbox, OutboxDispatcher, RepositoryMemory, UnitOfWork } from "@org/core"
import { EventBusLaws, Widget } from "@org/testing"
import { Context, Effect, Layer, Option } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

const subject = {
  bus: EventBus.layerMemory.pipe(Layer.provideMerge(UnitOfWork.layerMemory)),
  fresh: RepositoryMemory.make(Widget.Widget)
}

describe("EventBus.layerMemory with UnitOfWork.layerMemory and RepositoryMemory", () => {
  for (const [name, law] of Object.entries(EventBusLaws.laws)) {
    it.effect(name, () => law(subject).pipe(Effect.provide(SecureRandom.layerWebCrypto)))
  }
})

// The ids of the events appended in committed transactions: what `Idle` waits for.
class Committed extends Context.Service<Committed, Set<string>>()("test/EventBus/Committed") {}

// `Outbox.makeMemory` (what `Outbox.layerMemory` provides), noting the ids it
// stores once their transaction commits.
const TrackedOutbox: Layer.Layer<Outbox.Outbox | Committed, never, UnitOfWork.UnitOfWork> =
  Layer.effectContext(
    Effect.gen(function* () {
      const outbox = yield* Outbox.makeMemory
      const uow = yield* UnitOfWork.UnitOfWork
      const committed = new Set<string>()
      const tracked = Outbox.Outbox.of({
        ...outbox,
        append: (events) =>
          Effect.andThen(
            outbox.append(events),
            uow.afterCommit(
              Effect.sync(() => {
                for (const event of events) committed.add(event.id)
              })
            )
          )
      })
      return Context.make(Outbox.Outbox, tracked).pipe(Context.add(Committed, committed))
    })
  )

/**
 * A running dispatcher over the bus's `consumers`, and the `Idle` of that
 * setup: drain, then wait until every committed event is settled (delivered
 * or dead-lettered, so no delivery is in flight). Short timings: a hanging
 * handler is given up on after 100 ms (the dispatcher's `handlerTimeout`), a
 * failing one is dead-lettered after 3 quick attempts.
 */
const DispatcherIdle: Layer.Layer<EventBus.Idle, never, EventBus.EventBus | Outbox.Outbox | Committed> =
  Layer.effect(
    EventBus.Idle,
    Effect.gen(function* () {
      const bus = yield* EventBus.EventBus
      const outbox = yield* Outbox.Outbox
      const committed = yield* Committed
      const dispatcher = yield* OutboxDispatcher.make({
        consumers: bus.consumers,
        pollInterval: "20 millis",
        handlerTimeout: "100 millis",
        maxAttempts: 3,
        backoff: () => "10 millis",
        shutdownTimeout: "1 second"
      })
      const settled = Effect.map(
        Effect.forEach([...committed], (id) =>
          Effect.map(outbox.get(id), (row) => {
            const done = Option.isNone(row) || row.value.state !== "pending"
            if (done) committed.delete(id)
            return done
          })
        ),
        (all) => all.every((done) => done)
      )
      const idle: Effect.Effect<void> = Effect.flatMap(Effect.andThen(dispatcher.drain, settled), (done) =>
        done ? Effect.void : Effect.andThen(Effect.sleep("5 millis"), idle)
      )
      // Outside any transaction of the caller: handlers must not join it.
      return EventBus.Idle.of({ await: Effect.provideService(idle, UnitOfWork.CurrentJournal, undefined) })
    })
  )

const outboxSubject = {
  bus: DispatcherIdle.pipe(
    Layer.provideMerge(EventBus.layer),
    Layer.provideMerge(TrackedOutbox),
    Layer.provideMerge(UnitOfWork.layerMemory)
  ),
  fresh: RepositoryMemory.make(Widget.Widget)
}

/**
 * Broken by `Outbox.makeMemory`, not by the bus: it stores an appended row at
 * once and `claim` does not look at whether its transaction committed, so a
 * dispatcher that claims while the transaction is open (here: `Idle`, called
 * inside it; in an app: the polling loop, or another commit's wakeup)
 * delivers the event before the commit, and delivers it even when the
 * transaction then rolls back. The fix is to make memory rows claimable only
 * from their transaction's commit; drop this entry with it.
 */
describe("EventBus.layer over Outbox.layerMemory, a running OutboxDispatcher and UnitOfWork.layerMemory", () => {
  for (const [name, law] of Object.entries(EventBusLaws.laws)) {
    // Live: the dispatcher polls, times handlers out and backs off on the clock.
    it.live(name, () => law(outboxSubject).pipe(Effect.provide(SecureRandom.layerWebCrypto)))
  }
})
