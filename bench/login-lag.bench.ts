/**
 * Event-loop responsiveness during a burst of logins: 20 concurrent password
 * verifications at the OWASP floor (Argon2id, m = 19 MiB, t = 2, p = 1),
 * (a) through `Argon2.layer`'s worker pool (default pool size), and
 * (b) with hash-wasm's `argon2Verify` on the main thread, as a naive
 * handler would call it. While they run, `monitorEventLoopDelay` (1 ms
 * resolution) records the gaps between event-loop turns: how long any
 * other request would wait (an idle loop shows about 1 ms, the sampling
 * period). Each mode runs 3 rounds; the table shows the median round. Printed per mode: p50/p99/max delay and wall time of the burst;
 * in the table, delays and wall time per login as "ns per op".
 * Usage: `./node_modules/.bin/node --conditions=@org/source bench/run.ts login-lag`.
 */
import { createRequire } from "node:module"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as Argon2 from "../packages/auth/src/Argon2.ts"
import type { Comparison } from "./harness.ts"

// hash-wasm is a dependency of @org/auth only: load the copy it resolves.
const hashWasm: {
  readonly argon2Verify: (options: { password: string; hash: string }) => Promise<boolean>
} = createRequire(new URL("../packages/auth/package.json", import.meta.url))("hash-wasm")

const logins = 20
const rounds = 3
const password = "correct horse battery staple"

interface Round {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly wall: number
}

const measureRound = async (burst: () => Promise<ReadonlyArray<boolean>>): Promise<Round> => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  // Let the sampling timer start before the loop can be blocked.
  await sleep(5)
  const start = performance.now()
  const results = await burst()
  const wall = performance.now() - start
  // A loop blocked to the end of the burst records its delay at the next
  // tick: let that tick happen before reading.
  await sleep(5)
  histogram.disable()
  if (!results.every((ok) => ok)) throw new Error("a login failed to verify")
  return {
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
    max: histogram.max,
    wall: wall * 1e6
  }
}

const medianRound = async (burst: () => Promise<ReadonlyArray<boolean>>): Promise<Round> => {
  const all: Array<Round> = []
  for (let i = 0; i < rounds; i++) all.push(await measureRound(burst))
  const median = (pick: (round: Round) => number) =>
    all.map(pick).sort((a, b) => a - b)[Math.floor(rounds / 2)]!
  return {
    p50: median((r) => r.p50),
    p99: median((r) => r.p99),
    max: median((r) => r.max),
    wall: median((r) => r.wall)
  }
}

const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const scope = Scope.makeUnsafe()
  const hasher = await Effect.runPromise(Scope.provide(Argon2.make(), scope))
  const poolSize = Argon2.defaultPoolSize()
  try {
    const stored = await Effect.runPromise(hasher.hash(Redacted.make(password)))
    const pooled = () =>
      Effect.runPromise(
        Effect.all(
          Array.from({ length: logins }, () => hasher.verify(stored, Redacted.make(password))),
          { concurrency: "unbounded" }
        )
      )
    const mainThread = () =>
      Promise.all(Array.from({ length: logins }, () => hashWasm.argon2Verify({ password, hash: stored })))
    // Warm-up: compile the WebAssembly module in every worker and here.
    await pooled()
    await hashWasm.argon2Verify({ password, hash: stored })

    const ours = await medianRound(pooled)
    const baseline = await medianRound(mainThread)
    const name = `worker pool (${poolSize} worker${poolSize === 1 ? "" : "s"})`
    for (const [label, round] of [
      [name, ours],
      ["hash-wasm on the main thread", baseline]
    ] as const) {
      console.log(
        `login-lag: ${label}: event-loop delay p50 ${ms(round.p50)}, p99 ${ms(round.p99)}, max ${ms(round.max)}; ` +
          `${logins} logins in ${ms(round.wall)}`
      )
    }
    return [
      {
        title: `login-lag: event-loop delay p99 during ${logins} concurrent logins`,
        ours: { name, nsPerOp: ours.p99 },
        baseline: { name: "main thread", nsPerOp: baseline.p99 },
        target: 0.2
      },
      {
        title: `login-lag: event-loop delay max during ${logins} concurrent logins`,
        ours: { name, nsPerOp: ours.max },
        baseline: { name: "main thread", nsPerOp: baseline.max }
      },
      {
        title: `login-lag: wall time per login (${logins} concurrent)`,
        ours: { name, nsPerOp: ours.wall / logins },
        baseline: { name: "main thread", nsPerOp: baseline.wall / logins }
      }
    ]
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
