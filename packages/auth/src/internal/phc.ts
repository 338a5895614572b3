/**
 * The PHC string format of Argon2id hashes, as libargon2 and hash-wasm
 * write it: `$argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<hash>`
 * with standard base64 without padding.
 *
 * Parsing is strict and bounded: a stored hash is data, and a hostile one
 * must not make a verification allocate gigabytes or run for minutes.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import * as Option from "effect/Option"

/** @internal */
export interface Phc {
  readonly memoryKiB: number
  readonly iterations: number
  readonly parallelism: number
  readonly salt: Uint8Array
  readonly hash: Uint8Array
}

/**
 * The largest parameters accepted anywhere (configuration and stored
 * hashes), so that every hash this module writes can also be verified.
 *
 * @internal
 */
export const limits = {
  maxMemoryKiB: 262_144,
  maxIterations: 16,
  maxParallelism: 16,
  minSaltLength: 8,
  maxSaltLength: 64,
  minHashLength: 16,
  maxHashLength: 64
} as const

const pattern =
  /^\$argon2id\$v=19\$m=([1-9][0-9]{0,8}),t=([1-9][0-9]{0,8}),p=([1-9][0-9]{0,8})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

/** @internal */
export const encodeBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes).toString("base64").replace(/=+$/, "")

// Only the canonical encoding is accepted (no stray trailing bits), so one
// hash has exactly one spelling.
const decodeBase64 = (text: string): Uint8Array | undefined => {
  const bytes = Buffer.from(text, "base64")
  return encodeBase64(bytes) === text ? new Uint8Array(bytes) : undefined
}

/** @internal */
export const parse = (encoded: string): Option.Option<Phc> => {
  const match = pattern.exec(encoded)
  if (match === null) return Option.none()
  const memoryKiB = Number(match[1])
  const iterations = Number(match[2])
  const parallelism = Number(match[3])
  const salt = decodeBase64(match[4]!)
  const hash = decodeBase64(match[5]!)
  if (
    salt === undefined ||
    hash === undefined ||
    iterations > limits.maxIterations ||
    parallelism > limits.maxParallelism ||
    memoryKiB > limits.maxMemoryKiB ||
    memoryKiB < 8 * parallelism ||
    salt.length < limits.minSaltLength ||
    salt.length > limits.maxSaltLength ||
    hash.length < limits.minHashLength ||
    hash.length > limits.maxHashLength
  ) {
    return Option.none()
  }
  return Option.some({ memoryKiB, iterations, parallelism, salt, hash })
}

/** @internal */
export const format = (phc: Phc): string =>
  `$argon2id$v=19$m=${phc.memoryKiB},t=${phc.iterations},p=${phc.parallelism}$${encodeBase64(phc.salt)}$${encodeBase64(phc.hash)}`
