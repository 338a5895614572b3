/**
 * Every code sample compiles (STYLE.md rule 15). Extracts each fenced `ts` /
 * `typescript` block from the READMEs and docs/, and each fenced `ts` block
 * in a doc comment (`@example`) of packages/* and examples/* sources, writes
 * each as its own module under `.docs-check/`, type-checks them all with one
 * `tsc -p` (strict, as the sources are, except for unused names) and maps
 * every error back to the line of the doc it came from.
 *
 *   node --conditions=@org/source scripts/check-docs.ts
 *
 * The fence's info string may say more after the language:
 * - ```ts nocheck: not checked (a signature overview, not code);
 * - ```ts file=Api.ts: the block is the module `./Api.ts` for the other
 *   blocks of the same file (a server sample importing the definition
 *   shown above it).
 *
 * Imports resolve as a user of the kit sees them: `.docs-check/node_modules`
 * links every workspace package by its name (resolved through its
 * `exports`, with the `@org/source` condition) and every dependency that a
 * workspace package has installed, so a sample may import `@org/sql` or
 * `@effect/platform-node` although the root package.json declares neither.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const started = performance.now()
const root = Path.resolve(import.meta.dirname, "..")
const scratchName = ".docs-check"
const scratch = Path.join(root, scratchName)

const posix = (path: string) => path.split(Path.sep).join("/")

const walk = (dir: string, accept: (name: string) => boolean): Array<string> => {
  if (!Fs.existsSync(dir)) return []
  const out: Array<string> = []
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue
    const path = Path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...walk(path, accept))
    else if (accept(entry.name)) out.push(path)
  }
  return out.sort()
}

const subdirs = (dir: string): Array<string> =>
  Fs.readdirSync(Path.join(root, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => Path.join(root, dir, entry.name))
    .sort()

const workspaces = [...subdirs("packages"), ...subdirs("examples")]
const markdownFiles = [
  Path.join(root, "README.md"),
  ...walk(Path.join(root, "docs"), (name) => name.endsWith(".md")),
  ...workspaces.map((dir) => Path.join(dir, "README.md"))
].filter((path) => Fs.existsSync(path))
const sourceFiles = workspaces.flatMap((dir) =>
  walk(Path.join(dir, "src"), (name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
)

// -----------------------------------------------------------------------------
// extraction
// -----------------------------------------------------------------------------

interface Sample {
  /** The doc it comes from, relative to the repository root. */
  readonly source: string
  /** 1-based line in the source of the sample's first line of code. */
  readonly line: number
  /** Characters removed from the start of each line (indentation, ` * `). */
  readonly column: number
  readonly code: string
  /** Its module under the scratch directory: `<source, flattened>/<line or name>.ts`. */
  readonly module: string
}

interface Line {
  readonly text: string
  readonly number: number
  readonly column: number
}

const fenceOpen = /^( *)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/
const moduleName = /^[A-Za-z0-9_.-]+\.ts$/

const fencedBlocks = (source: string, lines: ReadonlyArray<Line>, into: Array<Sample>) => {
  for (let i = 0; i < lines.length; i++) {
    const open = fenceOpen.exec(lines[i]!.text)
    if (open === null) continue
    const [, indent = "", fence = "", lang = "", info = ""] = open
    const close = new RegExp(`^ *${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`)
    let end = i + 1
    while (end < lines.length && !close.test(lines[end]!.text)) end++
    const body = lines.slice(i + 1, end)
    const words = info.trim().split(/\s+/)
    const file = words.find((word) => word.startsWith("file="))?.slice("file=".length)
    if (file !== undefined && !moduleName.test(file)) {
      throw new Error(`${source}:${lines[i]!.number}: file=${file} is not a module name like Api.ts`)
    }
    if (/^(ts|typescript)$/i.test(lang) && !words.includes("nocheck") && body.length > 0) {
      const first = body[0]!
      const code = body.map(({ text }) =>
        text.startsWith(indent) ? text.slice(indent.length) : text.trimStart()
      )
      into.push({
        source,
        line: first.number,
        column: first.column + indent.length,
        code: `${code.join("\n")}\n`,
        module: `${source.replaceAll("/", "__")}/${file ?? `${first.number}.ts`}`
      })
    }
    i = end
  }
}

const fromMarkdown = (source: string, text: string, into: Array<Sample>) =>
  fencedBlocks(
    source,
    text.split(/\r?\n/).map((line, i) => ({ text: line, number: i + 1, column: 0 })),
    into
  )

// Doc comments: `/**` to `*/`, each line without its ` * ` gutter.
const fromSource = (source: string, text: string, into: Array<Sample>) => {
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\/\*\*/.test(lines[i]!) || lines[i]!.includes("*/")) continue
    const comment: Array<Line> = []
    let j = i + 1
    for (; j < lines.length && !lines[j]!.includes("*/"); j++) {
      const gutter = /^\s*\* ?/.exec(lines[j]!)?.[0] ?? ""
      comment.push({ text: lines[j]!.slice(gutter.length), number: j + 1, column: gutter.length })
    }
    fencedBlocks(source, comment, into)
    i = j
  }
}

const samples: Array<Sample> = []
for (const path of markdownFiles) {
  fromMarkdown(posix(Path.relative(root, path)), Fs.readFileSync(path, "utf8"), samples)
}
for (const path of sourceFiles) {
  fromSource(posix(Path.relative(root, path)), Fs.readFileSync(path, "utf8"), samples)
}

// -----------------------------------------------------------------------------
// the scratch project
// -----------------------------------------------------------------------------

Fs.rmSync(scratch, { recursive: true, force: true })
Fs.mkdirSync(Path.join(scratch, "node_modules"), { recursive: true })

const link = (name: string, target: string) => {
  const at = Path.join(scratch, "node_modules", name)
  if (Fs.existsSync(at)) return
  Fs.mkdirSync(Path.dirname(at), { recursive: true })
  Fs.symlinkSync(Path.relative(Path.dirname(at), Fs.realpathSync(target)), at, "dir")
}
// Workspace packages by their names.
for (const dir of workspaces) {
  const manifest = Path.join(dir, "package.json")
  if (!Fs.existsSync(manifest)) continue
  const { name } = JSON.parse(Fs.readFileSync(manifest, "utf8")) as { readonly name?: string }
  if (name !== undefined) link(name, dir)
}
// What workspace packages have installed and the root has not (drivers,
// platform packages); the root's node_modules is found by the usual lookup.
for (const dir of workspaces) {
  const modules = Path.join(dir, "node_modules")
  if (!Fs.existsSync(modules)) continue
  for (const entry of Fs.readdirSync(modules)) {
    if (entry.startsWith(".")) continue
    const names = entry.startsWith("@")
      ? Fs.readdirSync(Path.join(modules, entry)).map((scoped) => `${entry}/${scoped}`)
      : [entry]
    for (const name of names) {
      if (!Fs.existsSync(Path.join(root, "node_modules", name))) link(name, Path.join(modules, name))
    }
  }
}

const byModule = new Map<string, Sample>()
for (const sample of samples) {
  const other = byModule.get(sample.module)
  if (other !== undefined) {
    throw new Error(
      `${sample.source}:${sample.line}: a second block for ${other.module} (first at line ${other.line})`
    )
  }
  byModule.set(sample.module, sample)
  Fs.mkdirSync(Path.dirname(Path.join(scratch, sample.module)), { recursive: true })
  Fs.writeFileSync(Path.join(scratch, sample.module), sample.code)
}

const tsconfig = {
  extends: "../tsconfig.base.json",
  compilerOptions: {
    noEmit: true,
    customConditions: ["@org/source"],
    // Samples declare things to show them, not to use them.
    noUnusedLocals: false,
    noUnusedParameters: false
  },
  include: ["*/*.ts"]
}
Fs.writeFileSync(Path.join(scratch, "tsconfig.json"), `${JSON.stringify(tsconfig, null, 2)}\n`)

// -----------------------------------------------------------------------------
// type check and report
// -----------------------------------------------------------------------------

const tsc = Path.join(root, "node_modules", "typescript", "bin", "tsc")
const run = spawnSync(process.execPath, [tsc, "-p", `${scratchName}/tsconfig.json`, "--pretty", "false"], {
  cwd: root,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024
})
if (run.error !== undefined) throw run.error

interface Failure {
  readonly source: string
  readonly line: number
  readonly text: Array<string>
}
const failures: Array<Failure> = []
const failed = new Set<Sample>()
const diagnostic = /^(.+?)\((\d+),(\d+)\): (?:error|warning) (TS\d+): (.*)$/
for (const line of `${run.stdout}${run.stderr}`.split(/\r?\n/)) {
  if (line.trim() === "") continue
  const match = diagnostic.exec(line)
  const previous = failures.at(-1)
  if (match === null) {
    // The rest of the previous message (indented), or an error of tsc itself.
    if (previous !== undefined && line.startsWith(" ")) previous.text.push(line)
    else failures.push({ source: "", line: 0, text: [`tsc: ${line}`] })
    continue
  }
  const [, file = "", row = "0", col = "0", code = "", message = ""] = match
  const path = posix(file)
  const sample = path.startsWith(`${scratchName}/`)
    ? byModule.get(path.slice(scratchName.length + 1))
    : undefined
  if (sample === undefined) {
    // In a module that samples import: reported where it is.
    failures.push({ source: path, line: Number(row), text: [`${path}:${row}:${col}: ${code} ${message}`] })
    continue
  }
  failed.add(sample)
  const at = sample.line + Number(row) - 1
  failures.push({
    source: sample.source,
    line: at,
    text: [`${sample.source}:${at}:${sample.column + Number(col)}: ${code} ${message}`]
  })
}
failures.sort((a, b) => a.source.localeCompare(b.source) || a.line - b.line)

const seconds = ((performance.now() - started) / 1000).toFixed(1)
const counted = `${samples.length} samples from ${new Set(samples.map((sample) => sample.source)).size} files`
if (failures.length > 0 || run.status !== 0) {
  for (const failure of failures) console.error(failure.text.join("\n"))
  console.error(
    `\ndocs check: ${counted}, ${failed.size} do not compile (${seconds}s); the modules are in ${scratchName}/`
  )
  process.exit(1)
}
console.log(`docs check: ${counted}, all compile (${seconds}s)`)
