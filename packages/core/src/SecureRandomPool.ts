/**
 * A `SecureRandom` whose bytes come from a pool the platform's CSPRNG fills a
 * few KiB at a time. Per-request ids (request ids, event ids: UUIDv7 needs 10
 * random bytes) otherwise cost one `crypto.getRandomValues` call each, which
 * showed in a CPU profile of the request path; Node's own `randomUUID` pools
 * the same way. Every byte is handed out once, so the output is as
 * unpredictable as the CSPRNG's; requests larger than a quarter of the pool
 * go to the CSPRNG directly.
 *
 * @since 0.4.0
 */
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Layer from "effect/Layer"

/**
 * The pool's size in bytes unless told otherwise.
 *
 * @since 0.4.0
 * @category constants
 */
export const defaultPoolSize = 4096

/**
 * The pooled byte source: `size` fresh bytes per call.
 *
 * @since 0.4.0
 * @category constructors
 */
export const randomBytes = (poolSize: number = defaultPoolSize): ((size: number) => Uint8Array) => {
  let pool: Uint8Array = new Uint8Array(0)
  let offset = 0
  return (size) => {
    if (size > poolSize / 4) return SecureRandom.randomBytesUnsafe(size)
    if (offset + size > pool.length) {
      pool = SecureRandom.randomBytesUnsafe(poolSize)
      offset = 0
    }
    const bytes = pool.slice(offset, offset + size)
    offset += size
    return bytes
  }
}

/**
 * A `SecureRandom` service over a pool.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SecureRandomPool } from "@org/core"
 *
 * const random = SecureRandomPool.make()
 * const id = Effect.runSync(random.uuidV7())
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const make = (poolSize: number = defaultPoolSize): SecureRandom.SecureRandom["Service"] =>
  SecureRandom.make(randomBytes(poolSize))

/**
 * Provides `SecureRandom` over a pool.
 *
 * @since 0.4.0
 * @category layers
 */
export const layer = (poolSize: number = defaultPoolSize): Layer.Layer<SecureRandom.SecureRandom> =>
  Layer.sync(SecureRandom.SecureRandom, () => make(poolSize))
