/**
 * The planner, without a file system: what it creates and edits, that it
 * refuses to overwrite, that running it twice adds nothing twice, and that
 * every refusal is one message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cli, Planner } from "@org/cli"
import { Result } from "effect"
import { everyOption, exampleFiles, noOption, view } from "./fixtures.ts"

const planned = (request: Planner.Request, files = exampleFiles()): Planner.Plan => {
  const plan = Planner.plan(request, view(files))
  if (Result.isFailure(plan)) throw new Error(plan.failure.message)
  return plan.success
}

const refusal = (request: Planner.Request, files = exampleFiles()): Planner.Failure => {
  const plan = Planner.plan(request, view(files))
  if (Result.isSuccess(plan)) throw new Error("planned")
  return plan.failure
}

// The repository after the plan is carried out.
const applied = (plan: Planner.Plan, files: Map<string, string>): Map<string, string> => {
  const next = new Map(files)
  for (const write of plan.writes) next.set(write.path, write.content)
  for (const edit of plan.edits) next.set(edit.path, edit.after)
  return next
}

describe("Planner", () => {
  it("creates the entity's files and registers it, with every option", () => {
    const plan = planned(everyOption)
    assert.deepStrictEqual(
      plan.writes.map((w) => w.path),
      [
        "examples/api/src/domain/Invoice.ts",
        "examples/api/src/domain/InvoiceEvents.ts",
        "examples/api/src/api/InvoicesApi.ts",
        "examples/api/src/server/Invoices.ts",
        "examples/api/test/Invoices.test.ts",
        "examples/api/test/InvoicesRepository.integration.test.ts"
      ]
    )
    assert.deepStrictEqual(
      plan.edits.map((e) => e.path),
      [
        "examples/api/src/api/Api.ts",
        "examples/api/src/domain/Policy.ts",
        "examples/api/src/server/Migrations.ts",
        "examples/api/src/server/App.ts",
        "examples/api/test/OpenApiConformance.test.ts"
      ]
    )
    const policy = plan.edits[1]!
    assert.deepStrictEqual(policy.added, [
      '"invoices:read"',
      '"invoices:create"',
      '"invoices:update:own"',
      '"invoices:update:any"',
      '"invoices:delete:own"',
      '"invoices:delete:any"',
      '"invoices:read"',
      '"invoices:create"',
      '"invoices:update:own"',
      '"invoices:delete:own"',
      '"invoices:update:any"',
      '"invoices:delete:any"'
    ])
    const migrations = plan.edits[2]!.after
    assert.match(migrations, /"9_audit_log": AuditLogSql\.migration,\n/)
    assert.match(
      migrations,
      /"10_create_invoices": EntityTable\.migration\(Invoice\)\n\s*\/\/ @org\/cli:migrations/
    )
  })

  it("without options: no events file, one update and one delete permission for admins, rows removed", () => {
    const plan = planned(noOption)
    assert.notInclude(
      plan.writes.map((w) => w.path),
      "examples/api/src/domain/InvoiceEvents.ts"
    )
    const policy = plan.edits.find((e) => e.path.endsWith("Policy.ts"))!.after
    assert.match(policy, /"invoices:update",\n\s*"invoices:delete"\n\s*\/\/ @org\/cli:admin-permissions/)
    const server = plan.writes.find((w) => w.path.endsWith("server/Invoices.ts"))!.content
    assert.include(server, "DELETE FROM")
    assert.notInclude(server, "EventBus.emit")
    assert.notInclude(server, "Cqrs.cached")
    assert.notInclude(server, "ownerId")
    assert.include(plan.notes.join("\n"), "delete removes the row")
  })

  it("--with-cache implies events: cached reads are invalidated by them", () => {
    const plan = planned({ ...noOption, withCache: true })
    assert.include(
      plan.writes.map((w) => w.path),
      "examples/api/src/domain/InvoiceEvents.ts"
    )
    assert.include(plan.notes.join("\n"), "--with-cache implies --with-events")
  })

  it("refuses to overwrite a file without --force, and overwrites it with", () => {
    const files = applied(planned(everyOption), exampleFiles())
    const error = refusal(everyOption, files)
    assert.strictEqual(error._tag, "PlanError")
    assert.strictEqual(
      error.message,
      "examples/api/src/domain/Invoice.ts: exists: pass --force to overwrite it"
    )
    const again = planned({ ...everyOption, force: true }, files)
    assert.isTrue(again.writes.every((w) => w.overwrites))
    // registrations are there already: nothing is added twice
    assert.deepStrictEqual(again.edits, [])
  })

  it("registers a second entity beside the first", () => {
    const files = applied(planned(everyOption), exampleFiles())
    const plan = planned(
      { ...noOption, name: "Payment", fields: "reference:string(..40),paid:boolean" },
      files
    )
    const migrations = plan.edits.find((e) => e.path.endsWith("Migrations.ts"))!
    assert.include(migrations.after, '"10_create_invoices": EntityTable.migration(Invoice),')
    assert.include(migrations.after, '"11_create_payments": EntityTable.migration(Payment)\n')
    // the EntityTable import is there already
    assert.deepStrictEqual(
      migrations.added.filter((a) => a.startsWith("import")),
      ['import { Payment } from "../domain/Payment.ts"']
    )
    const app = plan.edits.find((e) => e.path.endsWith("App.ts"))!.after
    assert.match(app, /Invoices\.InvoicesHandlers,\n\s*Payments\.PaymentsHandlers\n/)
  })

  it("names a missing anchor", () => {
    const files = exampleFiles()
    const path = "examples/api/src/server/App.ts"
    files.set(path, files.get(path)!.replace("// @org/cli:handlers", "// handlers"))
    const error = refusal(everyOption, files)
    assert.strictEqual(error._tag, "PlanError")
    assert.include(error.message, `${path}: the anchor comment "// @org/cli:handlers" is missing`)
  })

  it("string[]: a bounded list of bounded text, stored but neither sortable nor filterable", () => {
    const model = Planner.model({ ...everyOption, fields: "title:text,tags:string[],more:string[]?" })
    assert.isTrue(Result.isSuccess(model))
    if (Result.isFailure(model)) return
    const [, tags, more] = model.success.fields
    assert.strictEqual(
      tags!.schema,
      "Schema.Array(Entity.Text.check(Schema.isMaxCodePoints(255))).check(Schema.isMaxLength(100))"
    )
    assert.strictEqual(more!.schema, `Schema.NullOr(${tags!.schema})`)
    assert.notInclude(model.success.sortable, "tags")
    assert.notInclude(model.success.filterable, "tags")
    assert.notInclude(model.success.filterable, "more")
    assert.include(model.success.filterable, "title")
  })

  it("refuses bad names and specs before looking at files", () => {
    assert.strictEqual(refusal({ ...everyOption, name: "Item" }, new Map())._tag, "InvalidName")
    assert.strictEqual(refusal({ ...everyOption, fields: "a:int(" }, new Map())._tag, "InvalidSpec")
    assert.strictEqual(refusal({ ...everyOption, fields: "id:uuid" }, new Map())._tag, "InvalidName")
  })
})

describe("Cli.run", () => {
  const files = view(exampleFiles())

  it("--dry-run prints the plan and writes nothing", () => {
    const outcome = Cli.run(
      ["entity", "Invoice", "--fields", everyOption.fields, "--owned", "--dry-run"],
      files
    )
    assert.strictEqual(outcome.exitCode, 0)
    assert.deepStrictEqual(outcome.writes, [])
    assert.include(outcome.stdout, "Dry run: nothing written.")
    assert.include(outcome.stdout, "create examples/api/src/domain/Invoice.ts")
    assert.include(outcome.stdout, "edit examples/api/src/domain/Policy.ts")
  })

  it("writes the created and the changed files", () => {
    const outcome = Cli.run(
      ["entity", "Invoice", `--fields=${everyOption.fields}`, "--", "--with-events"],
      files
    )
    assert.strictEqual(outcome.exitCode, 0)
    assert.strictEqual(outcome.writes.length, 6 + 5)
  })

  const refusals: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [[], "No command given."],
    [["entities"], 'Unknown command "entities".'],
    [["entity", "--fields", "a:int"], "The entity name is missing."],
    [["entity", "Invoice"], "--fields is missing."],
    [["entity", "Invoice", "--fields"], "--fields needs a value."],
    [["entity", "Invoice", "--fields", "a:int", "--colour"], 'Unknown option "--colour".'],
    [["entity", "Invoice", "--fields", "a:nope"], 'error: --fields: field 1 (a): unknown type "nope"'],
    [
      ["entity", "user", "--fields", "a:int"],
      'error: entity name "user": must start with an upper-case letter'
    ],
    [
      ["entity", "Invoice", "--fields", "order:int"],
      'error: field 1 "order": its column "order" is an SQL reserved word'
    ]
  ]
  for (const [argv, message] of refusals) {
    it(`exits 2 on ${JSON.stringify(argv.join(" "))}`, () => {
      const outcome = Cli.run(argv, files)
      assert.strictEqual(outcome.exitCode, 2)
      assert.deepStrictEqual(outcome.writes, [])
      assert.isTrue(outcome.stderr.startsWith(message), outcome.stderr)
      assert.notInclude(outcome.stderr, "    at ")
    })
  }
})
