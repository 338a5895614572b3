import { assert, describe, it } from "@effect/vitest"
import { Ordering } from "@org/core"
import { DateTime } from "effect"
import * as fc from "fast-check"

// Postgres' "C" collation compares the UTF-8 bytes: that is the reference.
const utf8Order = (a: string, b: string) =>
  Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")))

describe("Ordering", () => {
  it("compareStrings agrees with UTF-8 byte order for any well-formed strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        assert.strictEqual(Math.sign(Ordering.compareStrings(a, b)), utf8Order(a, b))
      }),
      { numRuns: 2_000 }
    )
  })

  it("orders astral characters after U+E000..U+FFFF (unlike JavaScript's <)", () => {
    assert.isTrue("\u{1F600}" < "\uFFFD")
    assert.isAbove(Ordering.compareStrings("\u{1F600}", "\uFFFD"), 0)
    assert.isBelow(Ordering.compareStrings("a", "ab"), 0)
    assert.strictEqual(Ordering.compareStrings("é", "é"), 0)
  })

  it("puts null last ascending and first descending, like Postgres", () => {
    const rows = [
      { id: "3", v: null },
      { id: "1", v: 2 },
      { id: "2", v: 1 }
    ]
    const asc = [...rows].sort(Ordering.bySortKeys([{ field: "v", direction: "asc" }]))
    const desc = [...rows].sort(Ordering.bySortKeys([{ field: "v", direction: "desc" }]))
    assert.deepStrictEqual(
      asc.map((r) => r.id),
      ["2", "1", "3"]
    )
    assert.deepStrictEqual(
      desc.map((r) => r.id),
      ["3", "1", "2"]
    )
  })

  it("compares date-times by instant and breaks ties by id", () => {
    const t = DateTime.makeUnsafe(1_000)
    const rows = [
      { id: "b", at: t },
      { id: "a", at: t },
      { id: "c", at: DateTime.makeUnsafe(500) }
    ]
    rows.sort(Ordering.bySortKeys([{ field: "at", direction: "asc" }]))
    assert.deepStrictEqual(
      rows.map((r) => r.id),
      ["c", "a", "b"]
    )
  })

  it("compareValues is a total preorder on mixed-null numbers (antisymmetric and transitive)", () => {
    const value = fc.option(fc.integer({ min: -3, max: 3 }), { nil: null })
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        assert.strictEqual(Math.sign(Ordering.compareValues(a, b)), -Math.sign(Ordering.compareValues(b, a)))
        if (Ordering.compareValues(a, b) <= 0 && Ordering.compareValues(b, c) <= 0) {
          assert.isAtMost(Ordering.compareValues(a, c), 0)
        }
      })
    )
  })
})
