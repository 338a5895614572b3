/**
 * Name rules: derived names, plurals, and every refusal naming the name.
 */
import { assert, describe, it } from "@effect/vitest"
import { FieldSpec, Names } from "@org/cli"

const names = (name: string, plural?: string): Names.EntityNames => {
  const result = Names.entityNames(name, plural)
  if (result instanceof Names.InvalidName) throw new Error(result.message)
  return result
}

const refusedEntity = (name: string): Names.InvalidName => {
  const result = Names.entityNames(name)
  if (!(result instanceof Names.InvalidName)) throw new Error(`accepted ${name}`)
  return result
}

const fieldError = (spec: string): Names.InvalidName | undefined => {
  const parsed = FieldSpec.parse(spec)
  if (parsed instanceof FieldSpec.InvalidSpec) throw new Error(parsed.message)
  return Names.checkFields(parsed)
}

describe("Names", () => {
  it("derives table, route, group and permission names", () => {
    assert.deepStrictEqual(names("Invoice"), {
      pascal: "Invoice",
      camel: "invoice",
      pluralPascal: "Invoices",
      pluralCamel: "invoices",
      table: "invoices",
      kebab: "invoices"
    })
    assert.deepInclude(names("LineItem"), {
      table: "line_items",
      kebab: "line-items",
      pluralCamel: "lineItems"
    })
    assert.deepInclude(names("Person", "People"), { table: "people", pluralPascal: "People" })
  })

  it("pluralizes by the common English rules", () => {
    assert.deepStrictEqual(
      ["Box", "Category", "Day", "Bus", "Match", "Wish", "Invoice"].map(Names.pluralize),
      ["Boxes", "Categories", "Days", "Buses", "Matches", "Wishes", "Invoices"]
    )
  })

  const entityCases: ReadonlyArray<readonly [string, string]> = [
    ["invoice", "upper-case letter"],
    ["In_voice", "letters and digits"],
    ["HTTPLog", "two capitals"],
    ["Item", "already has"],
    ["User", "already has"],
    ["Audit", "already has"],
    ["Package", "JavaScript reserved word"],
    ["", "is empty"]
  ]
  for (const [name, reason] of entityCases) {
    it(`refuses the entity name ${JSON.stringify(name)}`, () => {
      const error = refusedEntity(name)
      assert.include(error.message, reason)
      assert.strictEqual(error.value, name)
    })
  }

  it("refuses a plural that names an existing entity", () => {
    const error = Names.entityNames("Thing", "User")
    assert.instanceOf(error, Names.InvalidName)
    assert.include(String(error instanceof Names.InvalidName ? error.message : ""), "already has")
  })

  const fieldCases: ReadonlyArray<readonly [string, number, string]> = [
    ["id:uuid", 1, "manages"],
    ["title:text,createdAt:date", 2, "manages"],
    ["ownerId:uuid", 1, "manages"],
    ["version:int", 1, "manages"],
    ["class:text", 1, "JavaScript reserved word"],
    ["constructor:text", 1, "JavaScript reserved word"],
    ["order:int", 1, "SQL reserved word"],
    ["user:text", 1, "SQL reserved word"],
    ["title:text,title:string", 2, "same field as field 1"],
    ["Title:text", 1, "lower-case letter"],
    ["my_title:text", 1, "letters and digits"]
  ]
  for (const [spec, field, reason] of fieldCases) {
    it(`refuses the fields ${JSON.stringify(spec)} at field ${field}`, () => {
      const error = fieldError(spec)
      assert.isDefined(error)
      assert.strictEqual(error!.what, `field ${field}`)
      assert.include(error!.message, reason)
    })
  }

  it("accepts ordinary fields", () => {
    assert.isUndefined(fieldError("title:string(1..200),amount:decimal(12,2),status:enum(a|b),dueAt:date?"))
  })
})
