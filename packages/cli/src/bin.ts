/**
 * The `gen` command (`pnpm gen entity ...` from the repository root): the
 * only module of the package that touches the process and the disk. It
 * reads the files the planner asks for, prints the plan, writes it (unless
 * `--dry-run`), and formats what it wrote with the workspace's biome when
 * there is one, so long names that wrap still pass `pnpm lint`.
 *
 * The repository root is `ORG_CLI_ROOT` when set (tests point it at a
 * copy), else the current directory (pnpm runs root scripts there).
 *
 * @since 0.1.0
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Cli from "./Cli.ts"

const root = Path.resolve(process.env.ORG_CLI_ROOT ?? process.cwd())

const read = (path: string): string | undefined => {
  const absolute = Path.join(root, path)
  return Fs.existsSync(absolute) ? Fs.readFileSync(absolute, "utf8") : undefined
}

const main = (): number => {
  const outcome = Cli.run(process.argv.slice(2), read)
  if (outcome.stderr !== "") process.stderr.write(outcome.stderr)
  if (outcome.exitCode !== 0) return outcome.exitCode
  for (const write of outcome.writes) {
    const absolute = Path.join(root, write.path)
    Fs.mkdirSync(Path.dirname(absolute), { recursive: true })
    Fs.writeFileSync(absolute, write.content)
  }
  process.stdout.write(outcome.stdout)
  const biome = Path.join(root, "node_modules", ".bin", "biome")
  if (outcome.writes.length > 0 && Fs.existsSync(biome)) {
    const formatted = spawnSync(biome, ["check", "--write", ...outcome.writes.map((w) => w.path)], {
      cwd: root,
      encoding: "utf8"
    })
    if (formatted.status !== 0) {
      process.stderr.write(
        `warning: biome could not format the generated files:\n${formatted.stdout}${formatted.stderr}`
      )
    }
  }
  return 0
}

try {
  process.exitCode = main()
} catch (error) {
  // a disk failure: one line, no stack trace
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
}
