/**
 * Runs every benchmark suite in this folder (`*.bench.ts`, each exporting
 * `run(): Promise<Comparison[]>`) and prints one table.
 * Usage: `npx -y pnpm@10.34.9 bench` (or `... bench <suite>` for one suite,
 * `... bench <text>` for every suite whose name contains it).
 */
import { readdirSync } from "node:fs"
import { type Comparison, report } from "./harness.ts"

const filter = process.argv[2] ?? ""
const files = readdirSync(import.meta.dirname).filter((file) => file.endsWith(".bench.ts"))
// A suite's own name runs that suite alone (`load`, not also `load-smoke`);
// anything else runs every suite whose file name contains it.
const suites = files.includes(`${filter}.bench.ts`)
  ? [`${filter}.bench.ts`]
  : files.filter((file) => file.includes(filter)).sort()
const all: Array<Comparison> = []
for (const file of suites) {
  const suite: { run: () => Promise<ReadonlyArray<Comparison>> } = await import(`./${file}`)
  all.push(...(await suite.run()))
}
if (all.length === 0) console.log("no benchmark suites matched")
else if (!report(all)) process.exitCode = 1
