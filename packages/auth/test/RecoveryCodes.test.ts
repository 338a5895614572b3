import { assert, describe, it } from "@effect/vitest"
import { RecoveryCodes } from "@org/auth"
import { Effect } from "effect"
import * as fc from "fast-check"

describe("RecoveryCodes", () => {
  it.effect("generates distinct xxxx-xxxx-xxxx codes from the confusable-free alphabet (60 bits)", () =>
    Effect.gen(function* () {
      const codes = yield* RecoveryCodes.generate()
      assert.strictEqual(codes.length, 10)
      assert.strictEqual(new Set(codes).size, 10)
      for (const code of codes)
        assert.match(code, /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/)
      assert.strictEqual((yield* RecoveryCodes.generate(3)).length, 3)
    })
  )

  it.effect("every symbol of the alphabet turns up (all 32 are used)", () =>
    Effect.gen(function* () {
      const codes = yield* RecoveryCodes.generate(200)
      const symbols = new Set(codes.join("").replaceAll("-", ""))
      assert.strictEqual(symbols.size, 32)
      for (const confusable of ["i", "l", "o", "u"]) assert.isFalse(symbols.has(confusable))
    })
  )

  it("normalize ignores case, dashes and spaces, and reads o as 0 and i or l as 1", () => {
    assert.strictEqual(RecoveryCodes.normalize(" 7H3K-9QZM x2dp "), "7h3k9qzmx2dp")
    assert.strictEqual(RecoveryCodes.normalize("Oo1i-Ll00-abcd"), "00111100abcd")
    assert.strictEqual(RecoveryCodes.hash("7h3k-9qzm-x2dp"), RecoveryCodes.hash("7H3K 9QZM X2DP"))
    assert.match(RecoveryCodes.hash("7h3k-9qzm-x2dp"), /^[0-9a-f]{64}$/)
  })

  it.effect("matches returns the index of the code's hash, or -1; malformed stored hashes never match", () =>
    Effect.gen(function* () {
      const codes = yield* RecoveryCodes.generate()
      const hashes = codes.map(RecoveryCodes.hash)
      codes.forEach((code, index) => {
        assert.strictEqual(RecoveryCodes.matches(code.toUpperCase(), hashes), index)
      })
      assert.strictEqual(RecoveryCodes.matches("zzzz-zzzz-zzzz", hashes), -1)
      assert.strictEqual(RecoveryCodes.matches(codes[0]!, ["", "xyz", hashes[0]!.slice(0, 10)]), -1)
      assert.strictEqual(RecoveryCodes.matches(codes[0]!, []), -1)
    })
  )

  it("property: a code matches exactly the hashes of its own normal form", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (a, b) => {
        const matched = RecoveryCodes.matches(a, [RecoveryCodes.hash(b)]) === 0
        assert.strictEqual(matched, RecoveryCodes.normalize(a) === RecoveryCodes.normalize(b))
      })
    )
  })
})
