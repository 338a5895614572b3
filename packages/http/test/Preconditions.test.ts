import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import * as fc from "fast-check"
import { Preconditions } from "../src/index.ts"

const version = fc.integer({ min: 1, max: 1_000_000 })

describe("Preconditions", () => {
  it("If-Match of an ETag asks for exactly that version", () => {
    fc.assert(
      fc.property(version, (v) => {
        const ifMatch = Preconditions.parseIfMatch(Preconditions.etag(v))
        assert.deepStrictEqual(ifMatch, Option.some({ _tag: "Versions", versions: [v] }))
        assert.strictEqual(Preconditions.expectedVersion(ifMatch, undefined), v)
      })
    )
  })

  it("several tags: the current version when listed, else one that cannot match", () => {
    fc.assert(
      fc.property(fc.uniqueArray(version, { minLength: 2, maxLength: 5 }), version, (versions, current) => {
        const header = versions.map(Preconditions.etag).join(", ")
        const expected = Preconditions.expectedVersion(Preconditions.parseIfMatch(header), current)
        assert.strictEqual(expected, versions.includes(current) ? current : 0)
      })
    )
  })

  it("absent or * If-Match makes the write unconditional", () => {
    assert.isUndefined(Preconditions.expectedVersion(Preconditions.parseIfMatch(undefined), 3))
    assert.isUndefined(Preconditions.expectedVersion(Preconditions.parseIfMatch(" * "), 3))
  })

  it("weak or malformed If-Match tags never match (strong comparison)", () => {
    for (const header of [
      'W/"3"',
      "3",
      '"03"',
      '"3',
      '"abc"',
      '""',
      "garbage",
      '"1e3"',
      '"99999999999999999"'
    ]) {
      const ifMatch = Preconditions.parseIfMatch(header)
      assert.deepStrictEqual(ifMatch, Option.some({ _tag: "Versions", versions: [] }), header)
      assert.strictEqual(Preconditions.expectedVersion(ifMatch, 3), 0, header)
    }
  })

  it("If-None-Match uses weak comparison and * matches any current version", () => {
    fc.assert(
      fc.property(version, version, (v, other) => {
        assert.isTrue(Preconditions.ifNoneMatchHits(Preconditions.etag(v), v))
        assert.isTrue(Preconditions.ifNoneMatchHits(`W/${Preconditions.etag(v)}`, v))
        assert.isTrue(Preconditions.ifNoneMatchHits(`"x", ${Preconditions.etag(v)}`, v))
        assert.strictEqual(Preconditions.ifNoneMatchHits(Preconditions.etag(other), v), other === v)
        assert.isTrue(Preconditions.ifNoneMatchHits("*", v))
        assert.isFalse(Preconditions.ifNoneMatchHits(undefined, v))
      })
    )
  })

  it("never throws on arbitrary header text", () => {
    fc.assert(
      fc.property(fc.string(), version, (header, v) => {
        Preconditions.expectedVersion(Preconditions.parseIfMatch(header), v)
        Preconditions.ifNoneMatchHits(header, v)
      })
    )
  })
})
