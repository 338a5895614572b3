/**
 * Authenticated encryption of small secrets at rest (TOTP secrets):
 * AES-256-GCM with a 32-byte key from configuration and a random 96-bit IV
 * per message.
 *
 * A sealed value is one ASCII string, `v1.<iv>.<ciphertext>.<tag>` (each
 * part base64url), so it fits a text column and the version leaves room for
 * another algorithm or key later. The associated data (`aad`, e.g. the user
 * id) is authenticated but not stored: a value copied to another row does
 * not open there. A wrong key, a wrong `aad` or any tampering fails with
 * `SecretBoxOpenFailed`, never with a defect.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * The configured key is not 32 bytes of base64 (standard or URL-safe,
 * padding optional).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSecretBoxKey extends Schema.TaggedError<InvalidSecretBoxKey>()("InvalidSecretBoxKey", {
  reason: Schema.String
}) {}

/**
 * A sealed value could not be opened: malformed, sealed with another key,
 * bound to another `aad`, or altered.
 *
 * @since 0.1.0
 * @category errors
 */
export class SecretBoxOpenFailed extends Schema.TaggedError<SecretBoxOpenFailed>()("SecretBoxOpenFailed", {
  reason: Schema.String
}) {}

/**
 * A validated key. The bytes live in a `KeyObject`, which prints no key
 * material when logged or inspected.
 *
 * @since 0.1.0
 * @category models
 */
export interface Key {
  readonly _tag: "SecretBoxKey"
  readonly key: KeyObject
}

const ivLength = 12
const tagLength = 16
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/
const base64url = /^[A-Za-z0-9_-]*$/

/**
 * Reads a key from its base64 text (standard or URL-safe alphabet, padding
 * optional), typically a `Config.Redacted` value.
 *
 * @example
 * ```ts
 * import { Config, Effect } from "effect"
 * import { SecretBox } from "@org/auth"
 *
 * const key = Effect.flatMap(Config.Redacted("MFA_ENCRYPTION_KEY"), SecretBox.keyFromBase64)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const keyFromBase64 = (
  encoded: string | Redacted.Redacted<string>
): Effect.Effect<Key, InvalidSecretBoxKey> =>
  Effect.suspend(() => {
    const text = (Redacted.isRedacted(encoded) ? Redacted.value(encoded) : encoded).trim()
    const standard = text.replaceAll("-", "+").replaceAll("_", "/")
    if (!base64.test(standard)) {
      return Effect.fail(new InvalidSecretBoxKey({ reason: "the key is not base64" }))
    }
    const bytes = Buffer.from(standard, "base64")
    if (bytes.length !== 32) {
      return Effect.fail(new InvalidSecretBoxKey({ reason: `the key must be 32 bytes, got ${bytes.length}` }))
    }
    return Effect.succeed<Key>({ _tag: "SecretBoxKey", key: createSecretKey(bytes) })
  })

/**
 * Makes a fresh random key, as base64 (what `keyFromBase64` reads). For
 * development setups that persist their own key; production keys come from
 * a secret store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SecretBox } from "@org/auth"
 *
 * const key = Effect.flatMap(SecretBox.generateKey, SecretBox.keyFromBase64)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateKey: Effect.Effect<Redacted.Redacted<string>> = Effect.sync(() =>
  Redacted.make(randomBytes(32).toString("base64"))
)

/**
 * Encrypts `plaintext` bound to `aad` (the id of the row that stores it).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SecretBox } from "@org/auth"
 *
 * const program = Effect.gen(function* () {
 *   const key = yield* Effect.flatMap(SecretBox.generateKey, SecretBox.keyFromBase64)
 *   const sealed = yield* SecretBox.seal(key, "JBSWY3DPEHPK3PXP", "user:42")
 *   return yield* SecretBox.open(key, sealed, "user:42") // "JBSWY3DPEHPK3PXP"
 * })
 * ```
 *
 * @since 0.1.0
 * @category encryption
 */
export const seal = (key: Key, plaintext: string, aad: string): Effect.Effect<string> =>
  Effect.sync(() => {
    const iv = randomBytes(ivLength)
    const cipher = createCipheriv("aes-256-gcm", key.key, iv, { authTagLength: tagLength })
    cipher.setAAD(Buffer.from(aad, "utf8"))
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
    const tag = cipher.getAuthTag()
    return `v1.${iv.toString("base64url")}.${ciphertext.toString("base64url")}.${tag.toString("base64url")}`
  })

/**
 * Decrypts a value made by `seal` with the same key and `aad`.
 *
 * @since 0.1.0
 * @category encryption
 */
export const open = (key: Key, sealed: string, aad: string): Effect.Effect<string, SecretBoxOpenFailed> =>
  Effect.suspend(() => {
    const parts = sealed.split(".")
    if (parts.length !== 4 || parts[0] !== "v1" || !parts.slice(1).every((part) => base64url.test(part))) {
      return Effect.fail(new SecretBoxOpenFailed({ reason: "malformed sealed value" }))
    }
    const iv = Buffer.from(parts[1]!, "base64url")
    const ciphertext = Buffer.from(parts[2]!, "base64url")
    const tag = Buffer.from(parts[3]!, "base64url")
    if (iv.length !== ivLength || tag.length !== tagLength) {
      return Effect.fail(new SecretBoxOpenFailed({ reason: "malformed sealed value" }))
    }
    return Effect.try({
      try: () => {
        const decipher = createDecipheriv("aes-256-gcm", key.key, iv, { authTagLength: tagLength })
        decipher.setAAD(Buffer.from(aad, "utf8"))
        decipher.setAuthTag(tag)
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8")
      },
      catch: () =>
        new SecretBoxOpenFailed({ reason: "authentication failed (wrong key, wrong row or altered value)" })
    })
  })
