/**
 * `bin.ts` on a temporary copy of the registration files (the fixtures): what
 * `--dry-run` and `--force` do on disk, and the exit codes.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { everyOption, fixturePath, registrationPaths, root } from "./fixtures.ts"

const bin = Path.join(root, "packages/cli/src/bin.ts")
let dir = ""

beforeEach(() => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "org-cli-"))
  for (const path of registrationPaths) {
    Fs.mkdirSync(Path.dirname(Path.join(dir, path)), { recursive: true })
    Fs.copyFileSync(fixturePath(path), Path.join(dir, path))
  }
})

afterEach(() => {
  Fs.rmSync(dir, { recursive: true, force: true })
})

const gen = (...args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, ["--conditions=@org/source", bin, ...args], {
    cwd: root,
    env: { ...process.env, ORG_CLI_ROOT: dir },
    encoding: "utf8",
    timeout: 60_000
  })

// Every file under the temporary root with its text.
const snapshot = (): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (at: string) => {
    for (const entry of Fs.readdirSync(at, { withFileTypes: true })) {
      const path = Path.join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else out[Path.relative(dir, path)] = Fs.readFileSync(path, "utf8")
    }
  }
  walk(dir)
  return out
}

const args = ["entity", "Invoice", "--fields", everyOption.fields, "--owned", "--with-events"]

describe("bin", () => {
  it("--dry-run prints the plan and changes nothing", () => {
    const before = snapshot()
    const run = gen(...args, "--dry-run")
    assert.strictEqual(run.status, 0, run.stderr)
    assert.include(run.stdout, "create examples/api/src/server/Invoices.ts")
    assert.deepStrictEqual(snapshot(), before)
  }, 60_000)

  it("writes once, refuses a second time, overwrites with --force", () => {
    const first = gen(...args)
    assert.strictEqual(first.status, 0, first.stderr)
    const written = snapshot()
    assert.include(Object.keys(written), "examples/api/src/domain/Invoice.ts")
    assert.include(written["examples/api/src/domain/Policy.ts"], '"invoices:update:own"')

    Fs.writeFileSync(Path.join(dir, "examples/api/src/domain/Invoice.ts"), "// edited by hand\n")
    const second = gen(...args)
    assert.strictEqual(second.status, 2)
    assert.strictEqual(
      second.stderr,
      "error: examples/api/src/domain/Invoice.ts: exists: pass --force to overwrite it\n"
    )
    assert.strictEqual(
      Fs.readFileSync(Path.join(dir, "examples/api/src/domain/Invoice.ts"), "utf8"),
      "// edited by hand\n"
    )

    const forced = gen(...args, "--force")
    assert.strictEqual(forced.status, 0, forced.stderr)
    // the same files again, registrations not doubled
    assert.deepStrictEqual(snapshot(), written)
  }, 60_000)

  it("a bad spec is one line and exit code 2", () => {
    const run = gen("entity", "Invoice", "--fields", "title:string(1..200),amount:decimal(12;2)")
    assert.strictEqual(run.status, 2)
    assert.strictEqual(
      run.stderr,
      'error: --fields: field 2 (amount): decimal needs its precision and scale, e.g. "decimal(12,2)" in "amount:decimal(12;2)"\n'
    )
    assert.strictEqual(run.stdout, "")
  }, 60_000)
})
