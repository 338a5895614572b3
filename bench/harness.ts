/**
 * A tiny benchmark harness: each case runs a batch of operations repeatedly,
 * after a warm-up, and reports nanoseconds per operation (median of the
 * samples). Comparisons are ratios measured in the same run, never absolute
 * thresholds: the machine's speed cancels out.
 */
import { performance } from "node:perf_hooks"

export interface Case {
  readonly name: string
  /** Runs `ops` operations. */
  readonly batch: (ops: number) => Promise<void> | void
}

export interface Result {
  readonly name: string
  readonly nsPerOp: number
}

export const measure = async (
  bench: Case,
  options: { ops?: number; samples?: number } = {}
): Promise<Result> => {
  const ops = options.ops ?? 10_000
  const samples = options.samples ?? 15
  for (let i = 0; i < 3; i++) await bench.batch(ops)
  const times: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const start = performance.now()
    await bench.batch(ops)
    times.push(((performance.now() - start) * 1e6) / ops)
  }
  times.sort((a, b) => a - b)
  return { name: bench.name, nsPerOp: times[Math.floor(times.length / 2)]! }
}

/**
 * Several cases measured in turn, one sample of each per round (after a
 * warm-up of each), so a slow moment of the machine hits all of them alike:
 * the median nanoseconds per operation of each case, in order.
 */
export const measureInterleaved = async (
  cases: ReadonlyArray<Case>,
  options: { ops?: number; samples?: number } = {}
): Promise<ReadonlyArray<number>> => {
  const ops = options.ops ?? 10_000
  const samples = options.samples ?? 15
  for (const bench of cases) for (let i = 0; i < 3; i++) await bench.batch(ops)
  const times = cases.map((): Array<number> => [])
  for (let round = 0; round < samples; round++) {
    for (const [i, bench] of cases.entries()) {
      const start = performance.now()
      await bench.batch(ops)
      times[i]!.push(((performance.now() - start) * 1e6) / ops)
    }
  }
  return times.map((sample) => sample.sort((a, b) => a - b)[Math.floor(sample.length / 2)]!)
}

export interface Comparison {
  readonly title: string
  readonly ours: Result
  readonly baseline: Result
  /** The largest acceptable ours/baseline ratio (the target), if any. */
  readonly target?: number
}

export const compare = async (
  title: string,
  ours: Case,
  baseline: Case,
  options: { ops?: number; samples?: number; target?: number } = {}
): Promise<Comparison> => ({
  title,
  ours: await measure(ours, options),
  baseline: await measure(baseline, options),
  ...(options.target === undefined ? {} : { target: options.target })
})

const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} us` : `${ns.toFixed(0)} ns`)

/** Prints a table of comparisons; returns false when a target is missed. */
export const report = (comparisons: ReadonlyArray<Comparison>): boolean => {
  let ok = true
  const rows = comparisons.map((c) => {
    const ratio = c.ours.nsPerOp / c.baseline.nsPerOp
    const verdict =
      c.target === undefined
        ? ""
        : ratio <= c.target
          ? `ok (target <= ${c.target}x)`
          : `MISSED (target <= ${c.target}x)`
    if (c.target !== undefined && ratio > c.target) ok = false
    return [
      c.title,
      `${c.ours.name}: ${fmt(c.ours.nsPerOp)}`,
      `${c.baseline.name}: ${fmt(c.baseline.nsPerOp)}`,
      `${ratio.toFixed(2)}x`,
      verdict
    ]
  })
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "))
  return ok
}
