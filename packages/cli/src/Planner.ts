/**
 * The entity generator's pure core: from a request (name, `--fields`,
 * options) and a read-only view of the repository, the plan: the files to
 * create and the edits to the example's registration points, each edit
 * made at an anchor comment (`// @org/cli:<name>`) so it never guesses at
 * code. No file system, no process: `bin.ts` reads, asks for a plan, and
 * writes it.
 *
 * Edits are idempotent: a line already present is not added again, so
 * generating the same entity twice with `--force` rewrites its files and
 * leaves the registrations as they are.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as FieldSpec from "./FieldSpec.ts"
import * as Templates from "./internal/templates.ts"
import * as Model from "./Model.ts"
import * as Names from "./Names.ts"

/**
 * What to generate.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly name: string
  /** The plural when English rules get it wrong (`Person` -> `People`). */
  readonly plural?: string | undefined
  readonly fields: string
  readonly withEvents: boolean
  readonly withCache: boolean
  readonly softDelete: boolean
  readonly owned: boolean
  /** Overwrite files that exist. */
  readonly force: boolean
}

/**
 * A read-only view of the repository: a file's text by its path relative to
 * the root, `undefined` when there is none.
 *
 * @since 0.1.0
 * @category models
 */
export type Files = (path: string) => string | undefined

/**
 * A file the plan writes; `overwrites` when it exists (only with `force`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileWrite {
  readonly path: string
  readonly content: string
  readonly overwrites: boolean
}

/**
 * A change to an existing file: its text before and after, and what was
 * added, one line per insertion.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileEdit {
  readonly path: string
  readonly before: string
  readonly after: string
  readonly added: ReadonlyArray<string>
}

/**
 * The plan: files created, files changed, and notes for the user.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly names: Names.EntityNames
  readonly writes: ReadonlyArray<FileWrite>
  readonly edits: ReadonlyArray<FileEdit>
  readonly notes: ReadonlyArray<string>
}

/**
 * The plan cannot be made from this repository: a file exists (without
 * `--force`), or a registration point has lost its anchor comment.
 *
 * @since 0.1.0
 * @category errors
 */
export class PlanError extends Schema.TaggedError<PlanError>()("PlanError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/**
 * Every way a request can be refused.
 *
 * @since 0.1.0
 * @category errors
 */
export type Failure = FieldSpec.InvalidSpec | Names.InvalidName | PlanError

/**
 * Where the example lives, relative to the repository root.
 *
 * @since 0.1.0
 * @category constants
 */
export const exampleRoot = "examples/api"

/**
 * The anchor comments the planner edits at, by file.
 *
 * @since 0.1.0
 * @category constants
 */
export const anchors = {
  api: { path: `${exampleRoot}/src/api/Api.ts`, imports: "@org/cli:imports", groups: "@org/cli:groups" },
  policy: {
    path: `${exampleRoot}/src/domain/Policy.ts`,
    permissions: "@org/cli:permissions",
    user: "@org/cli:user-permissions",
    admin: "@org/cli:admin-permissions"
  },
  migrations: {
    path: `${exampleRoot}/src/server/Migrations.ts`,
    imports: "@org/cli:imports",
    migrations: "@org/cli:migrations"
  },
  app: {
    path: `${exampleRoot}/src/server/App.ts`,
    imports: "@org/cli:imports",
    services: "@org/cli:services",
    handlers: "@org/cli:handlers"
  },
  conformance: {
    path: `${exampleRoot}/test/OpenApiConformance.test.ts`,
    operations: "@org/cli:conformance"
  }
} as const

// -----------------------------------------------------------------------------
// Edits at anchors
// -----------------------------------------------------------------------------

/**
 * One insertion at an anchor:
 * - `import`: the line goes below the anchor, after a blank line (its own
 *   import chunk, so biome's import sorting never moves it);
 * - `item`: a list item goes above the anchor at its indentation, and the
 *   item before it gets the comma it now needs;
 * - `chain`: a method call (`.add(X)`) goes above the anchor;
 * - `statements`: lines of code go above the anchor at its indentation
 *   (skipped when their first line is already in the file).
 *
 * @since 0.1.0
 * @category models
 */
export interface Insertion {
  readonly anchor: string
  readonly kind: "import" | "item" | "chain" | "statements"
  readonly text: string
}

const findAnchor = (lines: ReadonlyArray<string>, anchor: string): number =>
  lines.findIndex((line) => {
    const t = line.trim()
    return t === `// ${anchor}` || t.startsWith(`// ${anchor} `)
  })

const isComment = (line: string) => line.trim().startsWith("//")

// The first line of the list that holds the anchor: walk up until the
// brackets opened outnumber those closed.
const listStart = (lines: ReadonlyArray<string>, at: number): number => {
  let depth = 0
  for (let i = at - 1; i >= 0; i--) {
    const line = lines[i]!
    if (isComment(line)) continue
    for (let c = line.length - 1; c >= 0; c--) {
      const ch = line[c]
      if (ch === ")" || ch === "]" || ch === "}") depth++
      else if (ch === "(" || ch === "[" || ch === "{") depth--
    }
    if (depth < 0) return i + 1
  }
  return 0
}

const normalized = (line: string) => line.trim().replace(/,$/, "")

/**
 * Applies insertions to a file's text; an insertion whose line is already
 * there is skipped. Fails when an anchor is missing.
 *
 * @since 0.1.0
 * @category edits
 */
export const applyInsertions = (
  path: string,
  text: string,
  insertions: ReadonlyArray<Insertion>
): Result.Result<{ readonly text: string; readonly added: ReadonlyArray<string> }, PlanError> => {
  const lines = text.split("\n")
  const added: Array<string> = []
  for (const insertion of insertions) {
    const at = findAnchor(lines, insertion.anchor)
    if (at < 0) {
      return Result.fail(
        new PlanError({
          path,
          reason: `the anchor comment "// ${insertion.anchor}" is missing: put it back where the generator adds its code, or register the entity by hand`
        })
      )
    }
    const indent = lines[at]!.slice(0, lines[at]!.length - lines[at]!.trimStart().length)
    switch (insertion.kind) {
      case "import": {
        if (lines.some((line) => line.trim() === insertion.text)) continue
        lines.splice(at + 1, 0, "", insertion.text)
        break
      }
      case "chain": {
        const start = listStart(lines, at)
        if (lines.slice(start, at).some((line) => line.trim() === insertion.text)) continue
        lines.splice(at, 0, `${indent}${insertion.text}`)
        break
      }
      case "statements": {
        const first = insertion.text.split("\n")[0]!.trim()
        if (lines.some((line) => line.trim() === first)) continue
        lines.splice(at, 0, ...insertion.text.split("\n").map((l) => `${indent}${l}`))
        break
      }
      case "item": {
        const start = listStart(lines, at)
        const first = normalized(insertion.text.split("\n")[0]!)
        if (lines.slice(start, at).some((line) => normalized(line) === first)) continue
        // the previous item (skipping comments and blank lines) now needs a comma
        let previous = at - 1
        while (previous >= start && (isComment(lines[previous]!) || lines[previous]!.trim() === ""))
          previous--
        if (previous >= start) {
          const line = lines[previous]!
          if (!/[,([{]$/.test(line.trimEnd())) lines[previous] = `${line.trimEnd()},`
        }
        const itemLines = insertion.text.split("\n").map((l) => `${indent}${l}`)
        lines.splice(at, 0, ...itemLines)
        break
      }
    }
    added.push(insertion.text)
  }
  return Result.succeed({ text: lines.join("\n"), added })
}

// The next migration id: one above the highest `"<n>_...":` key.
const nextMigrationId = (text: string): number => {
  let highest = 0
  for (const match of text.matchAll(/^\s*"(\d+)_[A-Za-z0-9_]+"\s*:/gm)) {
    highest = Math.max(highest, Number(match[1]))
  }
  return highest + 1
}

// -----------------------------------------------------------------------------
// The plan
// -----------------------------------------------------------------------------

const registrations = (
  model: Model.Model,
  files: Files
): Result.Result<ReadonlyArray<readonly [string, ReadonlyArray<Insertion>]>, PlanError> => {
  const { names, permissions } = model
  const N = names.pascal
  const P = names.pluralPascal
  const migrationsText = files(anchors.migrations.path)
  if (migrationsText === undefined) {
    return Result.fail(
      new PlanError({ path: anchors.migrations.path, reason: "not found: run from the repository root" })
    )
  }
  const migrationLine = `EntityTable.migration(${N})`
  const hasMigration = migrationsText.includes(migrationLine)
  const migrationKey = `${nextMigrationId(migrationsText)}_create_${names.table}`
  return Result.succeed([
    [
      anchors.api.path,
      [
        { anchor: anchors.api.imports, kind: "import", text: `import { ${P}Group } from "./${P}Api.ts"` },
        { anchor: anchors.api.groups, kind: "chain", text: `.add(${P}Group)` }
      ]
    ],
    [
      anchors.policy.path,
      [
        ...permissions.all.map(
          (p): Insertion => ({ anchor: anchors.policy.permissions, kind: "item", text: JSON.stringify(p) })
        ),
        ...permissions.user.map(
          (p): Insertion => ({ anchor: anchors.policy.user, kind: "item", text: JSON.stringify(p) })
        ),
        ...permissions.admin.map(
          (p): Insertion => ({ anchor: anchors.policy.admin, kind: "item", text: JSON.stringify(p) })
        )
      ]
    ],
    [
      anchors.migrations.path,
      [
        {
          anchor: anchors.migrations.imports,
          kind: "import",
          text: `import * as EntityTable from "@org/core/EntityTable"`
        },
        {
          anchor: anchors.migrations.imports,
          kind: "import",
          text: `import { ${N} } from "../domain/${N}.ts"`
        },
        ...(hasMigration
          ? []
          : [
              {
                anchor: anchors.migrations.migrations,
                kind: "item",
                text: `// the ${names.table} table, derived from the entity (generated by \`pnpm gen entity ${N}\`)\n${JSON.stringify(migrationKey)}: ${migrationLine}`
              } satisfies Insertion
            ])
      ]
    ],
    [
      anchors.app.path,
      [
        { anchor: anchors.app.imports, kind: "import", text: `import * as ${P} from "./${P}.ts"` },
        {
          anchor: anchors.app.services,
          kind: "item",
          text: `${P}.layer.pipe(Layer.provide(${P}.${P}Store.layer))`
        },
        { anchor: anchors.app.handlers, kind: "item", text: `${P}.${P}Handlers` }
      ]
    ],
    [
      anchors.conformance.path,
      [{ anchor: anchors.conformance.operations, kind: "statements", text: Templates.conformance(model) }]
    ]
  ])
}

const generated = (model: Model.Model): ReadonlyArray<readonly [string, string]> => {
  const { names, options } = model
  const src = `${exampleRoot}/src`
  const test = `${exampleRoot}/test`
  return [
    [`${src}/domain/${names.pascal}.ts`, Templates.domain(model)],
    ...(options.events ? [[`${src}/domain/${names.pascal}Events.ts`, Templates.events(model)] as const] : []),
    [`${src}/api/${names.pluralPascal}Api.ts`, Templates.api(model)],
    [`${src}/server/${names.pluralPascal}.ts`, Templates.server(model)],
    [`${test}/${names.pluralPascal}.test.ts`, Templates.httpTest(model)],
    [`${test}/${names.pluralPascal}Repository.integration.test.ts`, Templates.repositoryTest(model)]
  ]
}

/**
 * The model of a request: the parsed spec, checked names, options.
 *
 * @since 0.1.0
 * @category planning
 */
export const model = (request: Request): Result.Result<Model.Model, Failure> => {
  const names = Names.entityNames(request.name, request.plural)
  if (names instanceof Names.InvalidName) return Result.fail(names)
  const spec = FieldSpec.parse(request.fields)
  if (spec instanceof FieldSpec.InvalidSpec) return Result.fail(spec)
  const badField = Names.checkFields(spec)
  if (badField !== undefined) return Result.fail(badField)
  return Result.succeed(
    Model.make(names, spec, {
      events: request.withEvents,
      cache: request.withCache,
      softDelete: request.softDelete,
      owned: request.owned
    })
  )
}

/**
 * Plans the generation of an entity against the repository seen through
 * `files`: every file it creates (refusing to overwrite one without
 * `force`) and every registration it adds to the example.
 *
 * @example
 * ```ts
 * import { Planner } from "@org/cli"
 * import { Result } from "effect"
 *
 * const plan = Planner.plan(
 *   {
 *     name: "Invoice",
 *     fields: "title:string(1..200),amount:decimal(12,2),due:date?",
 *     withEvents: true,
 *     withCache: false,
 *     softDelete: false,
 *     owned: true,
 *     force: false
 *   },
 *   () => undefined
 * )
 * if (Result.isFailure(plan)) console.error(plan.failure.message)
 * ```
 *
 * @since 0.1.0
 * @category planning
 */
export const plan = (request: Request, files: Files): Result.Result<Plan, Failure> =>
  Result.flatMap(model(request), (model) => {
    const writes: Array<FileWrite> = []
    for (const [path, content] of generated(model)) {
      const exists = files(path) !== undefined
      if (exists && !request.force) {
        return Result.fail(new PlanError({ path, reason: "exists: pass --force to overwrite it" }))
      }
      writes.push({ path, content, overwrites: exists })
    }
    const planned = registrations(model, files)
    if (Result.isFailure(planned)) return Result.fail(planned.failure)
    const edits: Array<FileEdit> = []
    for (const [path, insertions] of planned.success) {
      const before = files(path)
      if (before === undefined) {
        return Result.fail(new PlanError({ path, reason: "not found: run from the repository root" }))
      }
      const applied = applyInsertions(path, before, insertions)
      if (Result.isFailure(applied)) return Result.fail(applied.failure)
      if (applied.success.added.length > 0) {
        edits.push({ path, before, after: applied.success.text, added: applied.success.added })
      }
    }
    const notes = [
      ...(request.withCache && !request.withEvents
        ? ["--with-cache implies --with-events: cached reads are dropped when the entity's events commit"]
        : []),
      request.softDelete
        ? "delete marks the row (deleted_at) and keeps it"
        : "delete removes the row (pass --soft-delete to keep deleted rows)"
    ]
    return Result.succeed({ names: model.names, writes, edits, notes })
  })

/**
 * A plan as text: files created and changed, and the notes.
 *
 * @since 0.1.0
 * @category printing
 */
export const describe = (plan: Plan): string =>
  [
    `Entity ${plan.names.pascal}: table ${plan.names.table}, routes /api/v1/${plan.names.kebab}`,
    "Files created:",
    ...plan.writes.map((w) => `  ${w.overwrites ? "overwrite" : "create"} ${w.path}`),
    "Files changed:",
    ...(plan.edits.length === 0 ? ["  (none: already registered)"] : []),
    ...plan.edits.flatMap((e) => [
      `  edit ${e.path}`,
      ...e.added.map((a) => `    + ${a.split("\n").at(-1)}`)
    ]),
    ...plan.notes.map((n) => `Note: ${n}`)
  ].join("\n")
