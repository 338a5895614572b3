/**
 * Closed-path overhead of `CircuitBreaker` against cockatiel (the target:
 * within 2x), with Effect's own `effect/persistence` breaker and a bare
 * Effect loop for context. Every case runs the same trivial operation `ops`
 * times: ours in a loop inside one Effect run, cockatiel as `ops` awaited
 * `execute`s.
 * Usage: `./node_modules/.bin/pnpm bench circuit`.
 */

import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleAll, SamplingBreaker } from "cockatiel"
import { Effect, Exit, Layer, Scope } from "effect"
import * as EffectCircuitBreaker from "effect/persistence/CircuitBreaker"
import * as CircuitBreaker from "../packages/core/src/CircuitBreaker.ts"
import { type Case, type Comparison, compare } from "./harness.ts"

const scope = Scope.makeUnsafe()
const inScope = <A>(effect: Effect.Effect<A, never, Scope.Scope>): A =>
  Effect.runSync(Scope.provide(effect, scope))

const operation = Effect.succeed(1)

const effectLoop = (
  name: string,
  run: (op: Effect.Effect<number>) => Effect.Effect<unknown, unknown>
): Case => ({
  name,
  batch: (ops) =>
    Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < ops; i++) yield* run(operation)
      }).pipe(Effect.ignore)
    )
})

const cockatielCase = (name: string, policy: { execute: <T>(fn: () => T) => Promise<T> }): Case => ({
  name,
  batch: async (ops) => {
    for (let i = 0; i < ops; i++) await policy.execute(() => 1)
  }
})

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const consecutive = inScope(CircuitBreaker.make({ name: "bench", trip: { consecutiveFailures: 5 } }))
  const rate = inScope(
    CircuitBreaker.make({
      name: "bench-rate",
      trip: { failureRate: 0.5, window: "10 seconds", minimumCalls: 20 }
    })
  )
  const traced = inScope(CircuitBreaker.make({ name: "bench-traced", traceCalls: true }))
  const open = inScope(
    CircuitBreaker.make({ name: "bench-open", trip: { consecutiveFailures: 1 }, openFor: "10 minutes" })
  )
  Effect.runSync(Effect.exit(open.execute(Effect.fail("down"))))

  const theirs = inScope(
    EffectCircuitBreaker.make({
      tripPolicy: EffectCircuitBreaker.consecutive(5),
      openDuration: "10 seconds"
    }).pipe(Effect.provide(Layer.fresh(EffectCircuitBreaker.layerStoreMemory())))
  )

  const cockatiel = circuitBreaker(handleAll, {
    halfOpenAfter: 10_000,
    breaker: new ConsecutiveBreaker(5)
  })
  const cockatielSampling = circuitBreaker(handleAll, {
    halfOpenAfter: 10_000,
    breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000, minimumRps: 2 })
  })
  const cockatielOpen = circuitBreaker(handleAll, {
    halfOpenAfter: 600_000,
    breaker: new ConsecutiveBreaker(1)
  })
  await cockatielOpen.execute(() => Promise.reject(new Error("down"))).catch(() => undefined)

  const results = [
    await compare(
      "circuit breaker, closed path (5 consecutive)",
      effectLoop("CircuitBreaker", consecutive.execute),
      cockatielCase("cockatiel", cockatiel),
      { target: 2 }
    ),
    await compare(
      "circuit breaker, closed path (failure rate over 10 s)",
      effectLoop("CircuitBreaker rate", rate.execute),
      cockatielCase("cockatiel sampling", cockatielSampling),
      { target: 2 }
    ),
    await compare(
      "context: the Effect loop alone (no breaker)",
      effectLoop("bare Effect", (op) => op),
      cockatielCase("cockatiel", cockatiel)
    ),
    await compare(
      "context: effect/persistence CircuitBreaker",
      effectLoop("effect CircuitBreaker", (op) => theirs.execute(op, { key: "bench" })),
      cockatielCase("cockatiel", cockatiel)
    ),
    await compare(
      "context: a span per call (traceCalls)",
      effectLoop("traceCalls", traced.execute),
      effectLoop("CircuitBreaker", consecutive.execute)
    ),
    await compare(
      "context: open circuit, rejection",
      effectLoop("CircuitBreaker open", (op) => Effect.exit(open.execute(op))),
      {
        name: "cockatiel open",
        batch: async (ops) => {
          for (let i = 0; i < ops; i++) {
            await cockatielOpen.execute(() => 1).catch((error) => error instanceof BrokenCircuitError)
          }
        }
      }
    )
  ]
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return results
}
