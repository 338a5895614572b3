/**
 * The client-safe rule of `pnpm lint` bites: a definition module that
 * reaches server code (directly, or through a kit barrel that also exports
 * servers) fails dependency-cruiser. Each case plants a violating file in
 * the example's `src/`, runs the real configuration on it, and removes it.
 */
import { spawnSync } from "node:child_process"
import { rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const depcruise = `${root}node_modules/.bin/depcruise`

const cruise = (file: string, source: string) => {
  const path = `${root}${file}`
  writeFileSync(path, source)
  try {
    return spawnSync(depcruise, ["--config", ".dependency-cruiser.cjs", file], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000
    })
  } finally {
    rmSync(path, { force: true })
  }
}

describe("client-safe definitions (dependency-cruiser)", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    [
      "examples/api/src/api/PlantedHandlers.ts",
      'export { Items } from "../server/Items.ts"\n',
      "server/Items.ts"
    ],
    [
      "examples/api/src/domain/PlantedBarrel.ts",
      'import { Entity } from "@org/core"\nexport const Id = Entity.Uuid\n',
      "packages/core/src/index.ts"
    ],
    [
      "examples/api/src/api/PlantedSql.ts",
      'import { PgDatabase } from "@org/sql"\nexport const ready = PgDatabase.ready\n',
      "packages/sql/"
    ],
    [
      "examples/api/src/domain/PlantedNode.ts",
      'import { createHash } from "node:crypto"\nexport const hash = createHash\n',
      "definitions-import-no-node-builtins"
    ]
  ]
  for (const [file, source, named] of cases) {
    it(`refuses ${file.split("/").slice(-2).join("/")}`, () => {
      const result = cruise(file, source)
      assert.notStrictEqual(result.status, 0, result.stdout)
      assert.include(result.stdout, named)
      assert.match(result.stdout, /definitions-(are-client-safe|import-no-node-builtins)/)
    })
  }

  it("accepts a definition that imports kit modules by their own path", () => {
    const result = cruise(
      "examples/api/src/domain/PlantedClean.ts",
      'import * as Entity from "@org/core/Entity"\nimport * as Problem from "@org/http/Problem"\nexport const parts = [Entity.Uuid, Problem.NotFound]\n'
    )
    assert.strictEqual(result.status, 0, result.stdout)
  })
})
