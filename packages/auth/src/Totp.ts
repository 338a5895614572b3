/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), with the
 * parameters every authenticator app understands: HMAC-SHA-1, 6 digits,
 * 30-second steps.
 *
 * - `generateSecret` makes a 160-bit secret, base32 (RFC 4648, no padding);
 *   `otpauthUri` turns it into the URI an app scans as a QR code.
 * - `verify` accepts the code of the current step or of one step either
 *   side (clock drift), and returns the step it matched. Storing that step
 *   and passing it back as `lastUsedStep` makes every code single-use: a
 *   code of that step or an earlier one is refused (replay).
 * - Codes are compared in constant time; anything but exactly `digits`
 *   ASCII digits is refused before any comparison.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A TOTP secret: base32 (RFC 4648 alphabet, upper case, no padding) of at
 * least 128 bits, as RFC 4226 requires.
 *
 * @since 0.1.0
 * @category models
 */
export const Secret = Schema.String.check(Schema.isPattern(/^[A-Z2-7]{26,128}$/u)).pipe(
  Schema.brand("TotpSecret")
)

/**
 * A decoded `Secret` (a branded string).
 *
 * @since 0.1.0
 * @category models
 */
export type Secret = typeof Secret.Type

/**
 * The number of digits of a code.
 *
 * @since 0.1.0
 * @category models
 */
export type Digits = 6 | 7 | 8

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/**
 * Encodes bytes as base32 (RFC 4648, no padding).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeBase32 = (bytes: Uint8Array): string => {
  let out = ""
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += alphabet[(buffer >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31]
  return out
}

// A branded secret holds only alphabet characters, so every lookup hits.
const decodeBase32 = (text: string): Uint8Array => {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8))
  let buffer = 0
  let bits = 0
  let index = 0
  for (const char of text) {
    buffer = ((buffer << 5) | alphabet.indexOf(char)) & 0xffff
    bits += 5
    if (bits >= 8) {
      out[index++] = (buffer >>> (bits - 8)) & 0xff
      bits -= 8
    }
  }
  return out
}

/**
 * Makes a fresh random 160-bit secret.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Totp } from "@org/auth"
 *
 * const program = Effect.map(Totp.generateSecret, (secret) =>
 *   Totp.otpauthUri({ issuer: "Acme", account: "ada@example.com", secret })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateSecret: Effect.Effect<Secret> = Effect.sync(() =>
  Secret.make(encodeBase32(randomBytes(20)))
)

/**
 * The `otpauth://totp/...` URI of an enrollment (the QR code's content):
 * label `issuer:account` and the `issuer` parameter, percent-encoded.
 *
 * @example
 * ```ts
 * import { Totp } from "@org/auth"
 *
 * const uri = Totp.otpauthUri({
 *   issuer: "Acme Corp",
 *   account: "ada@example.com",
 *   secret: Totp.Secret.make("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
 * })
 * // otpauth://totp/Acme%20Corp:ada%40example.com?secret=GEZD...&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const otpauthUri = (options: {
  readonly issuer: string
  readonly account: string
  readonly secret: Secret
  readonly digits?: Digits | undefined
  readonly period?: number | undefined
}): string => {
  const issuer = encodeURIComponent(options.issuer)
  const label = `${issuer}:${encodeURIComponent(options.account)}`
  return `otpauth://totp/${label}?secret=${options.secret}&issuer=${issuer}&algorithm=SHA1&digits=${options.digits ?? 6}&period=${options.period ?? 30}`
}

/**
 * The time step of an instant (epoch milliseconds): steps of `period`
 * seconds since the epoch.
 *
 * @since 0.1.0
 * @category utils
 */
export const stepAt = (now: number, period = 30): number => Math.floor(now / 1000 / period)

/**
 * The code of a time step, a non-negative integer (RFC 4226 HOTP with the
 * step as counter).
 *
 * @example
 * ```ts
 * import { Totp } from "@org/auth"
 *
 * const secret = Totp.Secret.make("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
 * Totp.codeAt(secret, Totp.stepAt(59_000), 8) // "94287082" (RFC 6238 test vector)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const codeAt = (secret: Secret, step: number, digits: Digits = 6): string => {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac("sha1", decodeBase32(secret)).update(counter).digest()
  const offset = mac[mac.length - 1]! & 0x0f
  const binary = mac.readUInt32BE(offset) & 0x7fffffff
  return String(binary % 10 ** digits).padStart(digits, "0")
}

/**
 * What `verify` needs. `now` is epoch milliseconds; `lastUsedStep` is the
 * step of the last accepted code of this secret; `window` is how many steps
 * either side of the current one are accepted (default 1).
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions {
  readonly secret: Secret
  readonly code: string
  readonly now: number
  readonly lastUsedStep?: number | undefined
  readonly window?: number | undefined
  readonly digits?: Digits | undefined
  readonly period?: number | undefined
}

/**
 * Checks a code: `Some(step)` with the step it matched (store it as the new
 * `lastUsedStep`), `None` when it is malformed, wrong, outside the window,
 * or of a step at or before `lastUsedStep` (a replay). Every candidate step
 * is compared, in constant time, whatever matches first.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Totp } from "@org/auth"
 *
 * const secret = Totp.Secret.make("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
 * const now = 1_700_000_000_000
 * const step = Totp.verify({ secret, code: Totp.codeAt(secret, Totp.stepAt(now)), now })
 * Option.isSome(step) // true
 * Totp.verify({ secret, code: Totp.codeAt(secret, Totp.stepAt(now)), now, lastUsedStep: Totp.stepAt(now) }) // None
 * ```
 *
 * @since 0.1.0
 * @category verification
 */
export const verify = (options: VerifyOptions): Option.Option<number> => {
  const digits = options.digits ?? 6
  if (options.code.length !== digits || !/^[0-9]+$/.test(options.code)) return Option.none()
  const current = stepAt(options.now, options.period)
  const window = options.window ?? 1
  const given = Buffer.from(options.code, "ascii")
  let matched: number | undefined
  for (let step = current - window; step <= current + window; step++) {
    if (step < 0 || (options.lastUsedStep !== undefined && step <= options.lastUsedStep)) continue
    const equal = timingSafeEqual(Buffer.from(codeAt(options.secret, step, digits), "ascii"), given)
    if (equal && matched === undefined) matched = step
  }
  return Option.fromUndefinedOr(matched)
}

/**
 * `verify` at the current time of the `Clock` (so `TestClock` moves it).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Totp } from "@org/auth"
 *
 * const check = (secret: Totp.Secret, code: string, lastUsedStep: number | undefined) =>
 *   Totp.verifyNow({ secret, code, lastUsedStep })
 * ```
 *
 * @since 0.1.0
 * @category verification
 */
export const verifyNow = (options: Omit<VerifyOptions, "now">): Effect.Effect<Option.Option<number>> =>
  Effect.map(Clock.currentTimeMillis, (now) => verify({ ...options, now }))
