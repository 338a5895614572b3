import { assert, describe, it } from "@effect/vitest"
import { Totp } from "@org/auth"
import { Effect, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

// RFC 6238 appendix B: ASCII "12345678901234567890" as the SHA-1 key.
const rfcSecret = Totp.Secret.make("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
const secondsToMillis = (seconds: number) => seconds * 1000

describe("Totp", () => {
  it("base32 encodes as RFC 4648 section 10, without padding", () => {
    const vectors: ReadonlyArray<readonly [string, string]> = [
      ["", ""],
      ["f", "MY"],
      ["fo", "MZXQ"],
      ["foo", "MZXW6"],
      ["foob", "MZXW6YQ"],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI"]
    ]
    for (const [text, encoded] of vectors)
      assert.strictEqual(Totp.encodeBase32(new TextEncoder().encode(text)), encoded)
    assert.strictEqual(Totp.encodeBase32(new TextEncoder().encode("12345678901234567890")), rfcSecret)
  })

  it("matches the RFC 6238 SHA-1 test vectors (8 digits)", () => {
    const vectors: ReadonlyArray<readonly [number, string]> = [
      [59, "94287082"],
      [1111111109, "07081804"],
      [1111111111, "14050471"],
      [1234567890, "89005924"],
      [2000000000, "69279037"],
      [20000000000, "65353130"]
    ]
    for (const [seconds, code] of vectors) {
      const now = secondsToMillis(seconds)
      assert.strictEqual(Totp.codeAt(rfcSecret, Totp.stepAt(now), 8), code)
      assert.deepStrictEqual(
        Totp.verify({ secret: rfcSecret, code, now, digits: 8 }),
        Option.some(Totp.stepAt(now))
      )
    }
  })

  it("matches the RFC 4226 HOTP test vectors (6 digits, counter as step)", () => {
    const codes = [
      "755224",
      "287082",
      "359152",
      "969429",
      "338314",
      "254676",
      "287922",
      "162583",
      "399871",
      "520489"
    ]
    codes.forEach((code, counter) => {
      assert.strictEqual(Totp.codeAt(rfcSecret, counter), code)
    })
  })

  it.effect("generateSecret makes distinct 160-bit base32 secrets", () =>
    Effect.gen(function* () {
      const secrets = yield* Effect.all(Array.from({ length: 20 }, () => Totp.generateSecret))
      assert.strictEqual(new Set(secrets).size, 20)
      for (const secret of secrets) {
        assert.match(secret, /^[A-Z2-7]{32}$/)
        assert.isTrue(Schema.is(Totp.Secret)(secret))
      }
    })
  )

  it("otpauthUri percent-encodes the label and issuer and names every parameter", () => {
    const uri = Totp.otpauthUri({ issuer: "Acme Corp", account: "ada+mfa@example.com", secret: rfcSecret })
    assert.strictEqual(
      uri,
      "otpauth://totp/Acme%20Corp:ada%2Bmfa%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
    )
    const parsed = new URL(
      Totp.otpauthUri({ issuer: "A:B & C", account: "x:y", secret: rfcSecret, digits: 8 })
    )
    assert.strictEqual(decodeURIComponent(parsed.pathname), "/A:B & C:x:y")
    assert.strictEqual(parsed.pathname.split(":").length, 2, "only the separator colon is literal")
    assert.strictEqual(parsed.searchParams.get("issuer"), "A:B & C")
    assert.strictEqual(parsed.searchParams.get("digits"), "8")
  })

  it("accepts the code of step N at steps N-1, N and N+1 only, and reports step N", () => {
    const step = 56_666_666
    const code = Totp.codeAt(rfcSecret, step)
    const at = (s: number, offsetSeconds = 0) => secondsToMillis(s * 30 + offsetSeconds)
    for (const current of [step - 1, step, step + 1]) {
      assert.deepStrictEqual(Totp.verify({ secret: rfcSecret, code, now: at(current) }), Option.some(step))
      assert.deepStrictEqual(
        Totp.verify({ secret: rfcSecret, code, now: at(current, 29.999) }),
        Option.some(step)
      )
    }
    assert.deepStrictEqual(Totp.verify({ secret: rfcSecret, code, now: at(step + 2) }), Option.none())
    assert.deepStrictEqual(Totp.verify({ secret: rfcSecret, code, now: at(step - 2, 29.999) }), Option.none())
    assert.deepStrictEqual(
      Totp.verify({ secret: rfcSecret, code, now: at(step + 2), window: 2 }),
      Option.some(step)
    )
  })

  it("refuses a replay: the step at or before lastUsedStep", () => {
    const step = 56_666_666
    const code = Totp.codeAt(rfcSecret, step)
    const now = secondsToMillis(step * 30)
    assert.deepStrictEqual(Totp.verify({ secret: rfcSecret, code, now, lastUsedStep: step }), Option.none())
    assert.deepStrictEqual(
      Totp.verify({ secret: rfcSecret, code, now, lastUsedStep: step + 1 }),
      Option.none()
    )
    assert.deepStrictEqual(
      Totp.verify({ secret: rfcSecret, code, now, lastUsedStep: step - 1 }),
      Option.some(step)
    )
    // The previous step's code after the current one was used is a replay too.
    const previous = Totp.codeAt(rfcSecret, step - 1)
    assert.deepStrictEqual(
      Totp.verify({ secret: rfcSecret, code: previous, now, lastUsedStep: step }),
      Option.none()
    )
  })

  it("refuses codes that are not exactly `digits` ASCII digits", () => {
    const now = secondsToMillis(59)
    const code = Totp.codeAt(rfcSecret, Totp.stepAt(now))
    for (const malformed of [
      "",
      code.slice(1),
      `${code}0`,
      ` ${code}`,
      `${code.slice(0, 5)}a`,
      code.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))),
      `+${code.slice(1)}`
    ]) {
      assert.deepStrictEqual(
        Totp.verify({ secret: rfcSecret, code: malformed, now }),
        Option.none(),
        malformed
      )
    }
  })

  it("property: a wrong code of the right shape is refused unless it collides with a window code", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 60, max: 2 ** 40 }),
        fc.stringMatching(/^[0-9]{6}$/),
        (seconds, guess) => {
          const now = secondsToMillis(seconds)
          const step = Totp.stepAt(now)
          const window = [step - 1, step, step + 1].map((s) => Totp.codeAt(rfcSecret, s))
          const result = Totp.verify({ secret: rfcSecret, code: guess, now })
          assert.strictEqual(Option.isSome(result), window.includes(guess))
        }
      )
    )
  })

  it.effect("verifyNow reads the Clock", () =>
    Effect.gen(function* () {
      const step = 1_000
      yield* TestClock.setTime(secondsToMillis(step * 30))
      const code = Totp.codeAt(rfcSecret, step)
      assert.deepStrictEqual(yield* Totp.verifyNow({ secret: rfcSecret, code }), Option.some(step))
      yield* TestClock.adjust("60 seconds")
      assert.deepStrictEqual(yield* Totp.verifyNow({ secret: rfcSecret, code }), Option.none())
    })
  )

  it("the Secret schema refuses short, padded or lower-case secrets", () => {
    const is = Schema.is(Totp.Secret)
    assert.isFalse(is("GEZDGNBVGY3TQOJQ"))
    assert.isFalse(is("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ===="))
    assert.isFalse(is("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"))
    assert.isFalse(is("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1"))
    assert.isTrue(is(rfcSecret))
  })
})
