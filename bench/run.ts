/**
 * Runs every benchmark suite in this folder (`*.bench.ts`, each exporting
 * `run(): Promise<Comparison[]>`) and prints one table.
 * Usage: `npx -y pnpm@10.34.9 bench` (or `... bench <name-filter>`).
 */
import { readdirSync } from "node:fs"
import { type Comparison, report } from "./harness.ts"

const filter = process.argv[2] ?? ""
const suites = readdirSync(import.meta.dirname)
  .filter((file) => file.endsWith(".bench.ts") && file.includes(filter))
  .sort()
const all: Array<Comparison> = []
for (const file of suites) {
  const suite: { run: () => Promise<ReadonlyArray<Comparison>> } = await import(`./${file}`)
  all.push(...(await suite.run()))
}
if (all.length === 0) console.log("no benchmark suites matched")
else if (!report(all)) process.exitCode = 1
