/**
 * One-time MFA recovery codes: `xxxx-xxxx-xxxx`, 12 characters from a
 * 32-symbol alphabet without look-alikes (Crockford's: digits and letters
 * without i, l, o, u), so 60 random bits each.
 *
 * Only hashes are stored: SHA-256 of the normalised code, in hex. A fast
 * hash is enough here, unlike for passwords: a code is 60 uniformly random
 * bits, so a stolen hash cannot be reversed by guessing, and an Argon2 cost
 * would only slow every check down. Entry is forgiving (case, dashes and
 * spaces are ignored, `o` reads as `0` and `i`/`l` as `1`), and a used code
 * is removed by its index from `matches`.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import * as Effect from "effect/Effect"

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

/**
 * Makes `count` distinct fresh codes (default 10), to show the user once.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RecoveryCodes } from "@org/auth"
 *
 * const program = Effect.map(RecoveryCodes.generate(), (codes) => ({
 *   show: codes,
 *   store: codes.map(RecoveryCodes.hash)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (count = 10): Effect.Effect<ReadonlyArray<string>> =>
  Effect.sync(() => {
    const codes = new Set<string>()
    while (codes.size < count) {
      // 256 is a multiple of 32: masking a byte keeps every symbol equally likely.
      const symbols = Array.from(randomBytes(12), (byte) => alphabet[byte & 31])
      codes.add(
        `${symbols.slice(0, 4).join("")}-${symbols.slice(4, 8).join("")}-${symbols.slice(8).join("")}`
      )
    }
    return [...codes]
  })

/**
 * The canonical form of a code as typed: lower case, without dashes or
 * whitespace, with `o` read as `0` and `i`/`l` as `1`.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalize = (code: string): string =>
  code
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\s-]+/gu, "")
    .replaceAll("o", "0")
    .replace(/[il]/g, "1")

/**
 * The stored form of a code: SHA-256 of `normalize(code)`, in hex.
 *
 * @since 0.1.0
 * @category utils
 */
export const hash = (code: string): string =>
  createHash("sha256").update(normalize(code), "utf8").digest("hex")

/**
 * The index in `hashes` of the hash of `code`, or -1. Every stored hash is
 * compared in constant time, whatever matches first.
 *
 * @example
 * ```ts
 * import { RecoveryCodes } from "@org/auth"
 *
 * const stored = [RecoveryCodes.hash("7h3k-9qzm-x2dp")]
 * RecoveryCodes.matches("7H3K 9QZM X2DP", stored) // 0
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const matches = (code: string, hashes: ReadonlyArray<string>): number => {
  const given = Buffer.from(hash(code), "hex")
  let found = -1
  hashes.forEach((stored, index) => {
    const candidate = Buffer.from(stored, "hex")
    const equal = candidate.length === given.length && timingSafeEqual(candidate, given)
    if (equal && found === -1) found = index
  })
  return found
}
