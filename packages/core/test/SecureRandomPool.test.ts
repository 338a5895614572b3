import { assert, describe, it } from "@effect/vitest"
import { SecureRandomPool } from "@org/core"
import { Effect } from "effect"

describe("SecureRandomPool", () => {
  it("hands out every byte once: draws across refills never repeat a window of the pool", () => {
    const draw = SecureRandomPool.randomBytes(64)
    const seen = new Set<string>()
    // 16-byte draws: a repeat would mean the pool served the same bytes twice.
    for (let i = 0; i < 5_000; i++) {
      const bytes = draw(16)
      assert.strictEqual(bytes.length, 16)
      const hex = Buffer.from(bytes).toString("hex")
      assert.isFalse(seen.has(hex), `draw ${i} repeated`)
      seen.add(hex)
    }
  })

  it("draws are copies: changing one does not change the next", () => {
    const draw = SecureRandomPool.randomBytes(64)
    const first = draw(8)
    const copy = Uint8Array.from(first)
    first.fill(0)
    const second = draw(8)
    assert.notDeepEqual(Array.from(second), Array.from(first))
    assert.notDeepEqual(Array.from(copy), Array.from(first))
  })

  it("large draws bypass the pool and still have the asked length", () => {
    const draw = SecureRandomPool.randomBytes(64)
    assert.strictEqual(draw(17).length, 17)
    assert.strictEqual(draw(1000).length, 1000)
    assert.strictEqual(draw(0).length, 0)
  })

  it("bytes look uniform: every value of 256 appears in 256 KiB, none far off its share", () => {
    const draw = SecureRandomPool.randomBytes()
    const counts = new Array<number>(256).fill(0)
    for (let i = 0; i < 16_384; i++) for (const byte of draw(16)) counts[byte]!++
    // 1024 expected per value; a CSPRNG stays within +-25% with overwhelming probability.
    for (const count of counts) assert.isTrue(count > 768 && count < 1280, `count ${count}`)
  })

  it.effect("a SecureRandom service over the pool: distinct, ordered UUIDv7s", () =>
    Effect.gen(function* () {
      const random = SecureRandomPool.make()
      const ids = yield* Effect.forEach(Array.from({ length: 2_000 }), () => random.uuidV7())
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.deepStrictEqual([...ids].sort(), ids, "monotonic")
      for (const id of ids)
        assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    })
  )
})
