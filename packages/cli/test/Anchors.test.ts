/**
 * The example's real registration files carry every anchor the planner
 * edits at (the other tests use frozen copies of them).
 */
import { assert, describe, it } from "@effect/vitest"
import { Planner } from "@org/cli"
import { liveExampleFiles } from "./fixtures.ts"

describe("anchors", () => {
  const files = liveExampleFiles()
  for (const { path, ...names } of Object.values(Planner.anchors)) {
    for (const anchor of Object.values(names)) {
      it(`${path} has // ${anchor}`, () => {
        assert.include(files.get(path), `// ${anchor}`)
      })
    }
  }
})
