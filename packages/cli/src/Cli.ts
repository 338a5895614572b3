/**
 * The command line of the generator, parsed without touching the process:
 *
 *   gen entity <Name> --fields "<spec>" [--plural <Plural>] [--with-events]
 *     [--with-cache] [--soft-delete] [--owned] [--dry-run] [--force]
 *
 * `run` turns arguments and a view of the repository into what `bin.ts`
 * must do (print, write, exit with a code), so the whole command is tested
 * without a file system.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Planner from "./Planner.ts"

/**
 * The usage text.
 *
 * @since 0.1.0
 * @category constants
 */
export const usage = `Usage: pnpm gen entity <Name> --fields "<spec>" [options]

  <Name>               the entity, PascalCase and singular (Invoice)
  --fields "<spec>"    name:type pairs, comma separated; a trailing ? makes a field nullable
                       types: string, string(1..200), text, int, int(>=0), number(>0,<1),
                       decimal(12,2), decimal(12,2,>=0), boolean, uuid, date, enum(a|b|c)
  --plural <Plural>    the plural when English rules get it wrong (Person: --plural People)
  --with-events        raise <Name>Created/Updated/Deleted through the event bus
  --with-cache         cache get and list (implies --with-events: events invalidate the cache)
  --soft-delete        delete marks the row (deleted_at) instead of removing it
  --owned              rows belong to their creator (ownerId); update/delete :own and :any
  --dry-run            print the plan, write nothing
  --force              overwrite generated files that exist

Example:
  pnpm gen entity Invoice --fields "title:string(1..200),amount:decimal(12,2),status:enum(draft|sent|paid),due:date?" --owned --with-events`

/**
 * Bad command-line usage (unknown flag, missing name or `--fields`).
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { reason: Schema.String }) {
  override get message(): string {
    return `${this.reason}\n\n${usage}`
  }
}

/**
 * A parsed command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Command {
  readonly request: Planner.Request
  readonly dryRun: boolean
}

const flags = ["--with-events", "--with-cache", "--soft-delete", "--owned", "--dry-run", "--force"] as const

/**
 * Parses the arguments after the script name (`entity Invoice --fields ...`).
 * `--fields=spec` and `--fields spec` are both accepted; a `--` that pnpm
 * may pass through is ignored.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgs = (argv: ReadonlyArray<string>): Result.Result<Command, UsageError> => {
  const args = argv.filter((a) => a !== "--")
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    return Result.fail(new UsageError({ reason: "No command given." }))
  }
  if (args[0] !== "entity") return Result.fail(new UsageError({ reason: `Unknown command "${args[0]}".` }))
  let name: string | undefined
  let fields: string | undefined
  let plural: string | undefined
  const set = new Set<string>()
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!
    const valued = (flag: string): string | undefined | UsageError => {
      if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1)
      if (arg !== flag) return undefined
      const value = args[++i]
      if (value === undefined) return new UsageError({ reason: `${flag} needs a value.` })
      return value
    }
    const f = valued("--fields")
    if (f instanceof UsageError) return Result.fail(f)
    if (f !== undefined) {
      fields = f
      continue
    }
    const p = valued("--plural")
    if (p instanceof UsageError) return Result.fail(p)
    if (p !== undefined) {
      plural = p
      continue
    }
    if ((flags as ReadonlyArray<string>).includes(arg)) {
      set.add(arg)
      continue
    }
    if (arg.startsWith("-")) return Result.fail(new UsageError({ reason: `Unknown option "${arg}".` }))
    if (name !== undefined) return Result.fail(new UsageError({ reason: `Unexpected argument "${arg}".` }))
    name = arg
  }
  if (name === undefined) return Result.fail(new UsageError({ reason: "The entity name is missing." }))
  if (fields === undefined) return Result.fail(new UsageError({ reason: "--fields is missing." }))
  return Result.succeed({
    request: {
      name,
      plural,
      fields,
      withEvents: set.has("--with-events"),
      withCache: set.has("--with-cache"),
      softDelete: set.has("--soft-delete"),
      owned: set.has("--owned"),
      force: set.has("--force")
    },
    dryRun: set.has("--dry-run")
  })
}

/**
 * What `bin.ts` must do: print `stdout`/`stderr`, write `writes` (full
 * texts by path), exit with `exitCode` (0 done, 2 refused: bad usage,
 * spec, name, or a file that exists). `format` lists the files written, for
 * the formatter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly exitCode: 0 | 2
  readonly stdout: string
  readonly stderr: string
  readonly writes: ReadonlyArray<{ readonly path: string; readonly content: string }>
}

/**
 * Runs the command against a view of the repository: the plan, or its
 * refusal as one message.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>, files: Planner.Files): Outcome => {
  const command = parseArgs(argv)
  if (Result.isFailure(command)) {
    return { exitCode: 2, stdout: "", stderr: `${command.failure.message}\n`, writes: [] }
  }
  const planned = Planner.plan(command.success.request, files)
  if (Result.isFailure(planned)) {
    return { exitCode: 2, stdout: "", stderr: `error: ${planned.failure.message}\n`, writes: [] }
  }
  const plan = planned.success
  const text = Planner.describe(plan)
  if (command.success.dryRun) {
    return { exitCode: 0, stdout: `Dry run: nothing written.\n${text}\n`, stderr: "", writes: [] }
  }
  return {
    exitCode: 0,
    stdout: `${text}\nNext: pnpm check && pnpm vitest run --project example-api\n`,
    stderr: "",
    writes: [
      ...plan.writes.map((w) => ({ path: w.path, content: w.content })),
      ...plan.edits.map((e) => ({ path: e.path, content: e.after }))
    ]
  }
}
