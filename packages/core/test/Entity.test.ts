import { assert, describe, it } from "@effect/vitest"
import { Entity } from "@org/core"
import { DateTime, Schema } from "effect"
import * as fc from "fast-check"

// A local entity, so core's tests need no other workspace package.
const W = Entity.make("Widget", {
  table: "widgets",
  id: Entity.Uuid.pipe(Schema.brand("WidgetId")),
  fields: {
    name: Entity.Text,
    sku: Entity.Text,
    price: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
    quantity: Schema.Int,
    active: Schema.Boolean,
    note: Schema.NullOr(Entity.Text)
  },
  unique: ["sku"]
})

describe("Entity", () => {
  it("Uuid accepts either case and always decodes to lowercase", () => {
    const decode = Schema.decodeUnknownSync(Entity.Uuid)
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        assert.strictEqual(decode(id.toUpperCase()), id.toLowerCase())
      })
    )
    assert.throws(() => decode("not-a-uuid"))
    assert.throws(() => decode("00000000-0000-0000-0000-00000000000g"))
  })

  it("Text refuses NUL and unpaired surrogates but keeps any other Unicode", () => {
    const decode = Schema.decodeUnknownSync(Entity.Text)
    assert.throws(() => decode("a\u0000b"))
    assert.throws(() => decode("a\uD800b"))
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        if (!s.includes("\u0000")) assert.strictEqual(decode(s), s)
      })
    )
  })

  it("derives columns in snake_case and keeps the allow-list to known fields", () => {
    assert.deepStrictEqual(W.columns, {
      id: "id",
      name: "name",
      sku: "sku",
      price: "price",
      quantity: "quantity",
      active: "active",
      note: "note",
      createdAt: "created_at",
      updatedAt: "updated_at",
      version: "version"
    })
  })

  it("create input: nullable fields default to null; others are required", () => {
    const decode = Schema.decodeUnknownSync(W.create)
    const input = { name: "n", sku: "s", price: 1, quantity: 1, active: true }
    assert.deepStrictEqual(decode(input), { ...input, note: null })
    assert.throws(() => decode({ ...input, name: undefined }))
  })

  it("update patch: every field optional, unknown keys are not kept", () => {
    const decode = Schema.decodeUnknownSync(W.update)
    assert.deepStrictEqual(decode({}), {})
    assert.deepStrictEqual(decode({ note: null }), { note: null })
    assert.throws(() => decode({ price: -1 }))
  })

  it("the record schema round-trips through JSON", () => {
    const record = {
      id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      name: "saw",
      sku: "S",
      price: 12.5,
      quantity: 2,
      active: false,
      note: null,
      createdAt: "2026-11-26T10:00:00.000Z",
      updatedAt: "2026-11-26T10:00:00.000Z",
      version: 1
    }
    const decoded = Schema.decodeUnknownSync(W.schema)(record)
    assert.isTrue(DateTime.isDateTime(decoded.createdAt))
    assert.deepStrictEqual(Schema.encodeSync(W.schema)(decoded), record)
  })

  it("refuses an array field in sortable, filterable or unique, naming the entity and the field", () => {
    const fields = { tags: Schema.Array(Entity.Text), maybe: Schema.NullOr(Schema.Array(Entity.Text)) }
    const base = { table: "tagged", id: Entity.Uuid, fields }
    const refused = (
      options: Partial<Record<"sortable" | "filterable" | "unique", ReadonlyArray<"tags" | "maybe">>>,
      role: string,
      field: string
    ) =>
      assert.throws(
        () => Entity.make("Tagged", { ...base, ...options }),
        new RegExp(`Entity Tagged: the array field "${field}" cannot be ${role}`)
      )
    refused({ sortable: ["tags"] }, "sortable", "tags")
    refused({ filterable: ["maybe"] }, "filterable", "maybe")
    refused({ unique: ["tags"] }, "unique", "tags")
    // Stored, just not listed: fine.
    assert.deepStrictEqual(Entity.make("Tagged", base).fields, fields)
  })

  it("rejects reserved field names", () => {
    assert.throws(() =>
      Entity.make("Bad", { table: "bad", id: Entity.Uuid, fields: { version: Schema.String } as never })
    )
  })
})
