import { assert, describe, it } from "@effect/vitest"
import { Bulkhead } from "@org/core"
import { Deferred, Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

// Lets forked fibers run until `condition` holds (they only need a few turns).
const eventually = (condition: Effect.Effect<boolean>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      if (yield* condition) return
      yield* Effect.yieldNow
    }
    assert.fail("condition never held")
  })

const state = (bulkhead: Bulkhead.Bulkhead) => Effect.all([bulkhead.running, bulkhead.queued])

describe("Bulkhead", () => {
  it.effect("runs up to maxConcurrent, queues up to maxQueue, rejects the rest with a typed error", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "reject", maxConcurrent: 2, maxQueue: 1 })
      const gate = yield* Deferred.make<void>()
      const fibers = yield* Effect.forEach([1, 2, 3], (n) =>
        Effect.forkChild(bulkhead.run(Effect.as(Deferred.await(gate), n)))
      )
      yield* eventually(Effect.map(state(bulkhead), ([r, q]) => r === 2 && q === 1))
      const error = yield* Effect.flip(bulkhead.run(Effect.succeed(4)))
      assert.instanceOf(error, Bulkhead.BulkheadFull)
      assert.deepStrictEqual(
        { tag: error._tag, name: error.name, maxConcurrent: error.maxConcurrent, maxQueue: error.maxQueue },
        { tag: "BulkheadFull", name: "reject", maxConcurrent: 2, maxQueue: 1 }
      )
      assert.strictEqual(error.message, "Bulkhead reject is full (2 running, 1 queued)")
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.joinAll(fibers), [1, 2, 3])
      assert.deepStrictEqual(yield* state(bulkhead), [0, 0])
    })
  )

  it.effect("maxQueue defaults to 0: rejects as soon as every slot is taken", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "no-queue", maxConcurrent: 1 })
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      yield* eventually(Effect.map(bulkhead.running, (r) => r === 1))
      const exit = yield* Effect.exit(Effect.succeed(1).pipe(Bulkhead.with(bulkhead)))
      assert.isTrue(Exit.isFailure(exit))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Effect.succeed(2).pipe(Bulkhead.with(bulkhead)), 2)
    })
  )

  it.effect("waiters run in arrival order (FIFO)", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "fifo", maxConcurrent: 1, maxQueue: 5 })
      const gate = yield* Deferred.make<void>()
      const started: Array<number> = []
      const holder = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      yield* eventually(Effect.map(bulkhead.running, (r) => r === 1))
      const waiters: Array<Fiber.Fiber<void, Bulkhead.BulkheadFull>> = []
      for (const n of [1, 2, 3, 4, 5]) {
        waiters.push(yield* Effect.forkChild(bulkhead.run(Effect.sync(() => void started.push(n)))))
        yield* eventually(Effect.map(bulkhead.queued, (q) => q === n))
      }
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.joinAll(waiters)
      assert.deepStrictEqual(started, [1, 2, 3, 4, 5])
    })
  )

  it.effect("an interrupted waiter leaves the queue", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "leave", maxConcurrent: 1, maxQueue: 2 })
      const gate = yield* Deferred.make<void>()
      const started: Array<string> = []
      const holder = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      yield* eventually(Effect.map(bulkhead.running, (r) => r === 1))
      const b = yield* Effect.forkChild(bulkhead.run(Effect.sync(() => void started.push("b"))))
      const c = yield* Effect.forkChild(bulkhead.run(Effect.sync(() => void started.push("c"))))
      yield* eventually(Effect.map(bulkhead.queued, (q) => q === 2))
      yield* Fiber.interrupt(b)
      assert.deepStrictEqual(yield* state(bulkhead), [1, 1])
      // The freed queue place is usable again.
      const d = yield* Effect.forkChild(bulkhead.run(Effect.sync(() => void started.push("d"))))
      yield* eventually(Effect.map(bulkhead.queued, (q) => q === 2))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(c)
      yield* Fiber.join(d)
      assert.deepStrictEqual(started, ["c", "d"])
      assert.deepStrictEqual(yield* state(bulkhead), [0, 0])
    })
  )

  it.effect("an interrupted running call frees its slot for the next waiter", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "free", maxConcurrent: 1, maxQueue: 1 })
      const holder = yield* Effect.forkChild(bulkhead.run(Effect.never))
      yield* eventually(Effect.map(bulkhead.running, (r) => r === 1))
      const next = yield* Effect.forkChild(bulkhead.run(Effect.succeed("next")))
      yield* eventually(Effect.map(bulkhead.queued, (q) => q === 1))
      yield* Fiber.interrupt(holder)
      assert.strictEqual(yield* Fiber.join(next), "next")
      assert.deepStrictEqual(yield* state(bulkhead), [0, 0])
    })
  )

  it.effect("a waiter interrupted after it was handed a slot passes the slot on", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "handoff", maxConcurrent: 1, maxQueue: 2 })
      const gate = yield* Deferred.make<void>()
      const started: Array<string> = []
      const holder = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      yield* eventually(Effect.map(bulkhead.running, (r) => r === 1))
      const b = yield* Effect.forkChild(bulkhead.run(Effect.sync(() => void started.push("b"))))
      const c = yield* Effect.forkChild(bulkhead.run(Effect.sync(() => void started.push("c"))))
      yield* eventually(Effect.map(bulkhead.queued, (q) => q === 2))
      // No yield in between: the holder finishes and hands its slot to b, then
      // b is interrupted before it gets to run.
      yield* Effect.sync(() => {
        Deferred.doneUnsafe(gate, Exit.void)
        b.interruptUnsafe()
      })
      yield* Fiber.join(holder)
      yield* Fiber.join(c)
      assert.deepStrictEqual(started, ["c"])
      assert.deepStrictEqual(yield* state(bulkhead), [0, 0])
    })
  )

  it.effect("a long queue of quick calls does not grow the stack", () =>
    Effect.gen(function* () {
      const size = 20_000
      const bulkhead = yield* Bulkhead.make({ name: "deep", maxConcurrent: 1, maxQueue: size })
      const gate = yield* Deferred.make<void>()
      let done = 0
      const holder = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      yield* eventually(Effect.map(bulkhead.running, (r) => r === 1))
      const fibers = yield* Effect.forEach(Array.from({ length: size }), () =>
        Effect.forkChild(bulkhead.run(Effect.sync(() => void done++)))
      )
      yield* eventually(Effect.map(bulkhead.queued, (q) => q === size))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.joinAll(fibers)
      assert.strictEqual(done, size)
    })
  )

  it.effect("a failing call frees its slot", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "fail", maxConcurrent: 1 })
      const exit = yield* Effect.exit(bulkhead.run(Effect.fail("boom")))
      assert.deepStrictEqual(exit, Exit.fail("boom"))
      assert.deepStrictEqual(yield* state(bulkhead), [0, 0])
    })
  )

  it.effect("reports running, queued and rejected as metrics", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "metrics", maxConcurrent: 1, maxQueue: 1 })
      const gate = yield* Deferred.make<void>()
      const fibers = yield* Effect.forEach([1, 2], () => Effect.forkChild(bulkhead.run(Deferred.await(gate))))
      yield* eventually(Effect.map(state(bulkhead), ([r, q]) => r === 1 && q === 1))
      yield* Effect.exit(bulkhead.run(Effect.void))
      yield* Effect.exit(bulkhead.run(Effect.void))
      const metrics = Bulkhead.metrics("metrics")
      const running = yield* Metric.value(metrics.running)
      const queued = yield* Metric.value(metrics.queued)
      const rejected = yield* Metric.value(metrics.rejected)
      assert.deepStrictEqual([running.value, queued.value, rejected.count], [1, 1, 2])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      assert.strictEqual((yield* Metric.value(metrics.running)).value, 0)
      assert.strictEqual((yield* Metric.value(metrics.queued)).value, 0)
      // The series carry the bulkhead's name.
      const snapshot = yield* Metric.snapshot
      const series = snapshot.filter((m) => m.attributes?.bulkhead === "metrics").map((m) => m.id)
      assert.deepStrictEqual(series.sort(), [
        "bulkhead_queued",
        "bulkhead_rejected_total",
        "bulkhead_running"
      ])
    })
  )

  it.effect("rejects settings that make no sense", () =>
    Effect.sync(() => {
      assert.throws(() => Bulkhead.makeUnsafe({ name: "x", maxConcurrent: 0 }), RangeError)
      assert.throws(() => Bulkhead.makeUnsafe({ name: "x", maxConcurrent: 1.5 }), RangeError)
      assert.throws(() => Bulkhead.makeUnsafe({ name: "x", maxConcurrent: 1, maxQueue: -1 }), RangeError)
    })
  )

  it.effect("under random loads and interruptions: bounds hold, FIFO, nothing leaks", () => {
    // Across all runs, every path must have been taken at least once.
    const seen = { rejected: 0, queued: 0, interruptedWaiting: 0, interruptedRunning: 0 }
    return Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 0, max: 4 }),
          fc.array(
            fc.record({
              arrival: fc.integer({ min: 0, max: 100 }),
              duration: fc.integer({ min: 1, max: 60 }),
              interruptAt: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined })
            }),
            { minLength: 3, maxLength: 30 }
          ),
          (maxConcurrent, maxQueue, tasks) =>
            Effect.runPromise(
              Effect.gen(function* () {
                const bulkhead = yield* Bulkhead.make({ name: "property", maxConcurrent, maxQueue })
                let current = 0
                let highWater = 0
                let maxQueued = 0
                const enqueued: Array<number> = []
                const startedFromQueue: Array<number> = []
                const started = new Set<number>()
                const outcomes: Array<"done" | "rejected" | "interrupted"> = []
                const fibers = yield* Effect.forEach(tasks, (task, i) =>
                  Effect.forkChild(
                    Effect.gen(function* () {
                      yield* Effect.sleep(task.arrival)
                      const [running, queued] = yield* state(bulkhead)
                      assert.isAtMost(running, maxConcurrent)
                      assert.isAtMost(queued, maxQueue)
                      const full = running === maxConcurrent && queued === maxQueue
                      const waits = running === maxConcurrent && !full
                      if (waits) enqueued.push(i)
                      const body = Effect.sync(() => {
                        started.add(i)
                        if (waits) startedFromQueue.push(i)
                        highWater = Math.max(highWater, ++current)
                      }).pipe(
                        Effect.andThen(Effect.sleep(task.duration)),
                        Effect.ensuring(Effect.sync(() => void current--))
                      )
                      if (full) seen.rejected++
                      if (waits) seen.queued++
                      const exit = yield* Effect.exit(bulkhead.run(body))
                      maxQueued = Math.max(maxQueued, yield* bulkhead.queued)
                      // Rejected exactly when it was full on arrival.
                      assert.strictEqual(Exit.isFailure(exit), full)
                      outcomes[i] = full ? "rejected" : "done"
                    }).pipe(
                      Effect.onInterrupt(() =>
                        Effect.sync(() => {
                          outcomes[i] = "interrupted"
                          if (enqueued.includes(i) && !startedFromQueue.includes(i)) seen.interruptedWaiting++
                          else if (started.has(i)) seen.interruptedRunning++
                        })
                      )
                    )
                  )
                )
                yield* Effect.forEach(tasks, (task, i) =>
                  task.interruptAt === undefined
                    ? Effect.void
                    : Effect.forkChild(
                        Effect.andThen(Effect.sleep(task.interruptAt), Fiber.interrupt(fibers[i]!))
                      )
                )
                yield* TestClock.adjust("1 hour")
                yield* Fiber.awaitAll(fibers)
                assert.isAtMost(highWater, maxConcurrent)
                assert.isAtMost(maxQueued, maxQueue)
                // Waiters start in the order they queued (interrupted ones drop out).
                assert.deepStrictEqual(
                  startedFromQueue,
                  enqueued.filter((i) => startedFromQueue.includes(i))
                )
                // No slot or queue place leaked, every task settled.
                assert.deepStrictEqual(yield* state(bulkhead), [0, 0])
                assert.strictEqual(current, 0)
                assert.strictEqual(outcomes.filter((o) => o !== undefined).length, tasks.length)
                // Capacity is intact: maxConcurrent calls can run at once again.
                const gate = yield* Deferred.make<void>()
                const again = yield* Effect.forEach(
                  Array.from({ length: maxConcurrent }, () => bulkhead.run(Deferred.await(gate))),
                  (call) => Effect.forkChild(call)
                )
                yield* eventually(Effect.map(bulkhead.running, (r) => r === maxConcurrent))
                yield* Deferred.succeed(gate, undefined)
                yield* Fiber.joinAll(again)
              }).pipe(Effect.provide(TestClock.layer()))
            )
        ),
        { numRuns: 200 }
      )
    ).pipe(
      Effect.andThen(
        Effect.sync(() => {
          assert.isAbove(seen.rejected, 0)
          assert.isAbove(seen.queued, 0)
          assert.isAbove(seen.interruptedWaiting, 0)
          assert.isAbove(seen.interruptedRunning, 0)
        })
      )
    )
  })
})
