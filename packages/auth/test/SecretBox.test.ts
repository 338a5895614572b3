import { randomBytes } from "node:crypto"
import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { SecretBox } from "@org/auth"
import { Effect, Redacted } from "effect"
import * as fc from "fast-check"

const freshKey = Effect.flatMap(SecretBox.generateKey, SecretBox.keyFromBase64)

// Flips one bit of one character of a base64url part, keeping it base64url.
const tamper = (sealed: string, part: number): string => {
  const parts = sealed.split(".")
  const text = parts[part]!
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  const at = 0
  const replaced = alphabet[(alphabet.indexOf(text[at]!) + 1) % 64]!
  parts[part] = replaced + text.slice(1)
  return parts.join(".")
}

describe("SecretBox", () => {
  it.effect("seals to v1.<iv>.<ciphertext>.<tag> and opens with the same key and aad", () =>
    Effect.gen(function* () {
      const key = yield* freshKey
      const sealed = yield* SecretBox.seal(key, "JBSWY3DPEHPK3PXP", "user:42")
      assert.match(sealed, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
      assert.notInclude(sealed, "JBSWY3DPEHPK3PXP")
      assert.strictEqual(yield* SecretBox.open(key, sealed, "user:42"), "JBSWY3DPEHPK3PXP")
      const again = yield* SecretBox.seal(key, "JBSWY3DPEHPK3PXP", "user:42")
      assert.notStrictEqual(again, sealed, "a fresh IV per seal")
    })
  )

  it.effect("property: open(seal(x)) is x for any text, including empty and non-ASCII", () =>
    Effect.gen(function* () {
      const key = yield* freshKey
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.string({ unit: "grapheme", maxLength: 200 }),
            fc.string(),
            async (plaintext, aad) => {
              const opened = await Effect.runPromise(
                Effect.flatMap(SecretBox.seal(key, plaintext, aad), (sealed) =>
                  SecretBox.open(key, sealed, aad)
                )
              )
              assert.strictEqual(opened, plaintext)
            }
          ),
          { numRuns: 100 }
        )
      )
    })
  )

  it.effect("another aad (row), another key or any altered part fails with SecretBoxOpenFailed", () =>
    Effect.gen(function* () {
      const key = yield* freshKey
      const other = yield* freshKey
      const sealed = yield* SecretBox.seal(key, "a totp secret", "user:42")
      const failures = [
        SecretBox.open(key, sealed, "user:43"),
        SecretBox.open(other, sealed, "user:42"),
        SecretBox.open(key, tamper(sealed, 1), "user:42"),
        SecretBox.open(key, tamper(sealed, 2), "user:42"),
        SecretBox.open(key, tamper(sealed, 3), "user:42"),
        SecretBox.open(key, sealed.replace("v1.", "v2."), "user:42"),
        SecretBox.open(key, `${sealed}.x`, "user:42"),
        SecretBox.open(key, sealed.slice(0, -4), "user:42"),
        SecretBox.open(key, "", "user:42"),
        SecretBox.open(key, "v1.!!!.???.***", "user:42")
      ]
      for (const attempt of failures) {
        const error = yield* Effect.flip(attempt)
        assert.strictEqual(error._tag, "SecretBoxOpenFailed")
      }
    })
  )

  it.effect("keyFromBase64 takes 32 bytes of standard or URL-safe base64, with or without padding", () =>
    Effect.gen(function* () {
      const bytes = randomBytes(32)
      const standard = bytes.toString("base64")
      const keys = yield* Effect.all([
        SecretBox.keyFromBase64(standard),
        SecretBox.keyFromBase64(standard.replace(/=+$/, "")),
        SecretBox.keyFromBase64(bytes.toString("base64url")),
        SecretBox.keyFromBase64(Redacted.make(` ${standard}\n`))
      ])
      const sealed = yield* SecretBox.seal(keys[0], "same key", "aad")
      for (const key of keys) assert.strictEqual(yield* SecretBox.open(key, sealed, "aad"), "same key")
      for (const bad of [
        "",
        "not base64 at all!",
        randomBytes(16).toString("base64"),
        randomBytes(33).toString("base64")
      ]) {
        const error = yield* Effect.flip(SecretBox.keyFromBase64(bad))
        assert.strictEqual(error._tag, "InvalidSecretBoxKey")
      }
    })
  )

  it.effect("neither a key nor a generated key prints its material", () =>
    Effect.gen(function* () {
      const encoded = yield* SecretBox.generateKey
      const key = yield* SecretBox.keyFromBase64(encoded)
      const raw = Redacted.value(encoded)
      assert.notInclude(inspect(key, { depth: 10 }), raw)
      assert.notInclude(JSON.stringify(key), raw)
      assert.notInclude(String(encoded), raw)
      assert.strictEqual(Buffer.from(raw, "base64").length, 32)
    })
  )
})
