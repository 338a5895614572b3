import { assert, describe, it } from "@effect/vitest"
import { PasswordPolicy } from "@org/auth"
import { Effect, Result } from "effect"
import * as fc from "fast-check"

const reasons = (password: string, context?: PasswordPolicy.Context): ReadonlyArray<string> => {
  const result = PasswordPolicy.check(password, context)
  return Result.isFailure(result) ? result.failure.reasons : []
}

const refused = (password: string, context?: PasswordPolicy.Context) =>
  assert.isNotEmpty(reasons(password, context), `should refuse ${JSON.stringify(password)}`)

const accepted = (password: string, context?: PasswordPolicy.Context) =>
  assert.deepStrictEqual(reasons(password, context), [], `should accept ${JSON.stringify(password)}`)

const leet: Record<string, ReadonlyArray<string>> = {
  a: ["a", "A", "@", "4"],
  o: ["o", "O", "0"],
  i: ["i", "I", "1", "!"],
  l: ["l", "L", "1", "|"],
  e: ["e", "E", "3"],
  s: ["s", "S", "$", "5"],
  t: ["t", "T", "7", "+"]
}

// A listed word, each letter possibly upper-cased or substituted, with a
// digits/punctuation prefix and suffix.
const disguisedCommon = fc
  .record({
    word: fc.constantFrom(...PasswordPolicy.commonPasswords),
    picks: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
    prefix: fc.stringMatching(/^[0-9!@#.*_-]{0,3}$/),
    suffix: fc.stringMatching(/^(?:19|20)?[0-9]{0,4}[!?.#*]{0,2}$/)
  })
  .map(({ word, picks, prefix, suffix }) => {
    const body = [...word]
      .map((letter, i) => {
        const options = leet[letter] ?? [letter, letter.toUpperCase()]
        return options[picks[i % picks.length]! % options.length]!
      })
      .join("")
    return `${prefix}${body}${suffix}`
  })

describe("PasswordPolicy", () => {
  it("accepts long, varied passwords and passphrases", () => {
    accepted("correct horse battery staple")
    accepted("Tr0ub4dor&3-but-much-longer")
    accepted("v8#Kq2!mZp9@wL")
    accepted("mañana será otro día")
    accepted("xxx9Gh!kLmnOpq")
  })

  it("refuses lengths outside 12..128 code points after NFC", () => {
    assert.deepStrictEqual(reasons("Xk9!mQ2#vL7"), ["must be at least 12 characters long"])
    assert.deepStrictEqual(reasons("Xk9!mQ2#vL7@".repeat(11)), ["must be at most 128 characters long"])
    // 12 code points, though 24 UTF-16 units.
    accepted("😀🐙🚀🎉🌈🍕⚡️🎸🧩🦊🌙🔑".replace("\uFE0F", ""))
    // Combining accents count once NFC has composed them.
    refused("e\u0301".repeat(11))
  })

  it("refuses whitespace only, one repeated character, repeated patterns, too few distinct characters", () => {
    assert.include(reasons(" ".repeat(14)), "must not be only spaces")
    refused("aaaaaaaaaaaaaaaaB1")
    refused("abcabcabcabc")
    refused("passwordpassword")
    refused("Xy7!Xy7!Xy7!Xy7!")
    refused("112211221122")
  })

  it("refuses keyboard, alphabetical and numeric sequences, with or without digits after them", () => {
    for (const password of [
      "123456789012",
      "098765432109",
      "qwertyuiopas",
      "QWERTYUIOPASDF",
      "abcdefghijkl",
      "zyxwvutsrqpo",
      "azertyuiopqs",
      "qwertyuiop12!",
      "!!abcdefghij",
      "!@#$%^&*()!@"
    ]) {
      assert.include(reasons(password), "must not be a keyboard, alphabetical or numeric sequence", password)
    }
    accepted("abcdef-river-stone")
  })

  it("refuses common passwords with substitutions and a year, digits or punctuation around them", () => {
    for (const password of [
      "Password2024!",
      "P@ssw0rd123!",
      "p@$$w0rd2023",
      "letmein123456",
      "iloveyou2024",
      "Welcome12345",
      "admin1234567",
      "Dragon_Monkey_99",
      "football1990!",
      "qwerty123456",
      "2024-Sunshine!"
    ]) {
      assert.include(
        reasons(password),
        "must not be a common password, even with digits or symbols added",
        password
      )
    }
    accepted("Password manager says hi 2024")
  })

  it("refuses passwords containing the email local part or the name (4+ characters, any case)", () => {
    const context = { email: "ada.lovelace@example.com", name: "Ada Lovelace" }
    assert.include(reasons("LOVELACE-rocks-1815", context), "must not contain your name or email address")
    assert.include(reasons("my ada.lovelace secret", context), "must not contain your name or email address")
    assert.include(reasons("x9 adalovelace x9", context), "must not contain your name or email address")
    // "ada" alone is too short to count.
    accepted("ada writes engines 1843", context)
    accepted("ada writes engines 1843", { email: "bob@example.com" })
  })

  it("property: reasons come from a fixed set of sentences, so they never echo the password", () => {
    const known = new Set([
      "must be at least 12 characters long",
      "must be at most 128 characters long",
      "must not be only spaces",
      "must not be mostly one character, a short pattern repeated or too few different characters",
      "must not be a keyboard, alphabetical or numeric sequence",
      "must not be a common password, even with digits or symbols added",
      "must not contain your name or email address"
    ])
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), fc.emailAddress(), (password, email) => {
        for (const reason of reasons(password, { email })) assert.isTrue(known.has(reason), reason)
      })
    )
  })

  it("property: anything accepted has 12..128 code points after NFC", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 0, maxLength: 140 }), (password) => {
        if (Result.isSuccess(PasswordPolicy.check(password))) {
          const length = [...password.normalize("NFC")].length
          assert.isTrue(length >= PasswordPolicy.minLength && length <= PasswordPolicy.maxLength)
        }
      })
    )
  })

  it("property: every listed password is refused, however disguised", () => {
    fc.assert(
      fc.property(disguisedCommon, (password) => {
        assert.isTrue(Result.isFailure(PasswordPolicy.check(password)), password)
      }),
      { numRuns: 500 }
    )
  })

  it.effect("validate is check as an Effect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(PasswordPolicy.validate("Password2024!"))
      assert.strictEqual(error._tag, "WeakPassword")
      yield* PasswordPolicy.validate("correct horse battery staple")
    })
  )
})
