/**
 * The generated files for one spec with every option, as file snapshots
 * under `__snapshots__/` (the repository path plus `.snap`, so neither tsc
 * nor biome treats them as sources): a change in the output is a diff to
 * review. Update with `vitest run --project cli -u`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Planner } from "@org/cli"
import { Result } from "effect"
import { everyOption, exampleFiles, noOption, view } from "./fixtures.ts"

const cases = [
  ["every-option", everyOption],
  ["no-option", noOption]
] as const

describe("generated files", () => {
  for (const [label, request] of cases) {
    const plan = Planner.plan(request, view(exampleFiles()))
    if (Result.isFailure(plan)) throw new Error(plan.failure.message)
    for (const write of plan.success.writes) {
      it(`${label}: ${write.path}`, async () => {
        await expect(write.content).toMatchFileSnapshot(`__snapshots__/${label}/${write.path}.snap`)
      })
    }
    for (const edit of plan.success.edits) {
      it(`${label}: edit of ${edit.path}`, async () => {
        await expect(edit.after).toMatchFileSnapshot(`__snapshots__/${label}/${edit.path}.snap`)
      })
    }
  }
})
