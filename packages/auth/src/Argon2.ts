/**
 * Argon2id password hashing: the `PasswordHasher` port of `@org/core` on
 * hash-wasm, computed in a bounded pool of worker threads.
 *
 * - Parameters default to the OWASP floor (m = 19 MiB, t = 2, p = 1) and
 *   `make`/`layer` refuse anything weaker; `makeTest`/`layerTest` accept
 *   cheap parameters and exist **for tests only, never production**.
 * - Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`,
 *   unpadded standard base64), interchangeable with libargon2 and hash-wasm's
 *   `argon2Verify`. Parameters travel with each hash, so `verify` uses the
 *   stored ones and `needsRehash` tells a login to upgrade an old hash.
 * - Passwords are NFC-normalised before hashing, so the same password typed
 *   on two keyboards (precomposed or combining accents) gives the same hash.
 * - hash-wasm blocks the thread it runs on (tens of milliseconds per hash at
 *   the floor), so every hash runs in a worker thread: at most `poolSize` at
 *   once, the rest wait in FIFO order. An interrupted waiter leaves the
 *   queue; an interrupted running hash finishes in its worker and is
 *   discarded. A crashed worker is replaced and its job dies (a defect).
 *   Workers end with the scope of `make` (or the layer).
 *
 * @since 0.1.0
 */
import { randomBytes, timingSafeEqual } from "node:crypto"
import { availableParallelism } from "node:os"
import { PasswordHasher } from "@org/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Pool from "./internal/argon2Pool.ts"
import * as Phc from "./internal/phc.ts"

/**
 * The cost parameters. `memoryKiB`, `iterations` and `parallelism` go into
 * each hash; `hashLength` and `saltLength` are in bytes; `poolSize` is the
 * number of worker threads (the most hashes computed at once).
 *
 * @since 0.1.0
 * @category models
 */
export interface Params {
  readonly memoryKiB: number
  readonly iterations: number
  readonly parallelism: number
  readonly hashLength: number
  readonly saltLength: number
  readonly poolSize: number
}

/**
 * Parameters to override; the rest take their defaults.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = { readonly [K in keyof Params]?: Params[K] | undefined }

/**
 * The weakest cost `make` and `layer` accept: OWASP's Argon2id
 * recommendation (19 MiB, two passes, one lane).
 *
 * @since 0.1.0
 * @category constants
 */
export const owaspFloor = { memoryKiB: 19_456, iterations: 2, parallelism: 1 } as const

/**
 * The defaults of `make`/`layer` (the OWASP floor, 32-byte hashes, 16-byte
 * salts) except `poolSize`, which `defaultPoolSize` derives from the machine.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = { ...owaspFloor, hashLength: 32, saltLength: 16 } as const

/**
 * The defaults of `makeTest`/`layerTest`: 512 KiB and one pass, cheap enough
 * for test suites that hash many passwords. For tests only, never production.
 *
 * @since 0.1.0
 * @category constants
 */
export const testDefaults = {
  memoryKiB: 512,
  iterations: 1,
  parallelism: 1,
  hashLength: 32,
  saltLength: 16
} as const

/**
 * One worker per core, leaving one core to the event loop, at most four
 * (more mostly adds memory: each running hash holds `memoryKiB`).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPoolSize = (): number => Math.max(1, Math.min(4, availableParallelism() - 1))

/**
 * A parameter is out of range (below the OWASP floor, or beyond the bounds a
 * stored hash may have, so that everything hashed can be verified).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidParameters extends Schema.TaggedError<InvalidParameters>()("InvalidParameters", {
  parameter: Schema.String,
  reason: Schema.String
}) {}

const resolveParams = (
  options: Options,
  base: Omit<Params, "poolSize">,
  floor: { readonly memoryKiB: number; readonly iterations: number; readonly parallelism: number }
): Effect.Effect<Params, InvalidParameters> => {
  const params: Params = {
    memoryKiB: options.memoryKiB ?? base.memoryKiB,
    iterations: options.iterations ?? base.iterations,
    parallelism: options.parallelism ?? base.parallelism,
    hashLength: options.hashLength ?? base.hashLength,
    saltLength: options.saltLength ?? base.saltLength,
    poolSize: options.poolSize ?? defaultPoolSize()
  }
  const ranges: ReadonlyArray<readonly [keyof Params, number, number]> = [
    ["memoryKiB", Math.max(floor.memoryKiB, 8 * params.parallelism), Phc.limits.maxMemoryKiB],
    ["iterations", floor.iterations, Phc.limits.maxIterations],
    ["parallelism", floor.parallelism, Phc.limits.maxParallelism],
    ["hashLength", Phc.limits.minHashLength, Phc.limits.maxHashLength],
    ["saltLength", 16, Phc.limits.maxSaltLength],
    ["poolSize", 1, 64]
  ]
  for (const [parameter, min, max] of ranges) {
    const value = params[parameter]
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      return Effect.fail(
        new InvalidParameters({ parameter, reason: `must be an integer from ${min} to ${max}, got ${value}` })
      )
    }
  }
  return Effect.succeed(params)
}

const encoder = new TextEncoder()

// A fresh buffer per call: it is transferred to (and zeroed by) the worker.
const passwordBytes = (password: Redacted.Redacted<string>): Uint8Array<ArrayBuffer> =>
  encoder.encode(Redacted.value(password).normalize("NFC"))

const makeWith = Effect.fnUntraced(function* (params: Params) {
  const pool = yield* Pool.make({ size: params.poolSize, hashWasmUrl: import.meta.resolve("hash-wasm") })
  const compute = (
    password: Uint8Array<ArrayBuffer>,
    salt: Uint8Array,
    stored: Omit<Phc.Phc, "hash" | "salt">,
    length: number
  ) =>
    pool.run({
      password,
      salt,
      memoryKiB: stored.memoryKiB,
      iterations: stored.iterations,
      parallelism: stored.parallelism,
      hashLength: length
    })

  // hash-wasm (unlike libargon2) refuses an empty password; such a password
  // is hashed as one zero byte so a check still costs a full hash, and never
  // matches.
  const checkAgainst = Effect.fnUntraced(function* (stored: Phc.Phc, password: Redacted.Redacted<string>) {
    const bytes = passwordBytes(password)
    const empty = bytes.length === 0
    const computed = yield* compute(
      empty ? new Uint8Array(1) : bytes,
      stored.salt,
      stored,
      stored.hash.length
    )
    return !empty && timingSafeEqual(computed, stored.hash)
  })

  const hash = Effect.fn("Argon2.hash")(function* (password: Redacted.Redacted<string>) {
    const bytes = passwordBytes(password)
    if (bytes.length === 0)
      return yield* Effect.die(new Cause.IllegalArgumentError("cannot hash an empty password"))
    const salt = yield* Effect.sync(() => new Uint8Array(randomBytes(params.saltLength)))
    const digest = yield* compute(bytes, salt, params, params.hashLength)
    return Phc.format({ ...params, salt, hash: digest })
  })

  const dummy = yield* hash(Redacted.make(randomBytes(24).toString("base64"))).pipe(
    Effect.flatMap((encoded) => Effect.fromOption(Phc.parse(encoded))),
    Effect.orDie
  )
  const dummyVerify = (password: Redacted.Redacted<string>) => Effect.asVoid(checkAgainst(dummy, password))

  const verify = Effect.fn("Argon2.verify")(function* (encoded: string, password: Redacted.Redacted<string>) {
    const stored = Phc.parse(encoded)
    if (Option.isNone(stored)) {
      // Same cost as a real check: a malformed row must not stand out.
      yield* dummyVerify(password)
      return false
    }
    return yield* checkAgainst(stored.value, password)
  })

  const needsRehash = (encoded: string): boolean => {
    const stored = Phc.parse(encoded)
    if (Option.isNone(stored)) return true
    const { memoryKiB, iterations, parallelism, salt, hash: digest } = stored.value
    return (
      memoryKiB < params.memoryKiB ||
      iterations < params.iterations ||
      parallelism < params.parallelism ||
      digest.length < params.hashLength ||
      salt.length < params.saltLength
    )
  }

  return PasswordHasher.PasswordHasher.of({ hash, verify, needsRehash, dummyVerify })
})

/**
 * Starts the worker pool and returns the hasher; workers end with the scope.
 * Refuses parameters below `owaspFloor`. Computes one hash at start-up (the
 * target of `dummyVerify`).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Argon2 } from "@org/auth"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const hasher = yield* Argon2.make({ memoryKiB: 65_536, iterations: 3 })
 *     const hash = yield* hasher.hash(Redacted.make("correct horse battery staple"))
 *     return yield* hasher.verify(hash, Redacted.make("correct horse battery staple")) // true
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<PasswordHasher.PasswordHasher["Service"], InvalidParameters, Scope.Scope> =>
  Effect.flatMap(resolveParams(options, defaults, owaspFloor), makeWith)

/**
 * Like `make` with cheap defaults (`testDefaults`) and no floor, because test
 * suites hash many passwords. For tests only, never production.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Argon2 } from "@org/auth"
 *
 * const program = Effect.scoped(
 *   Effect.flatMap(Argon2.makeTest(), (hasher) => hasher.hash(Redacted.make("a test password")))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTest = (
  options: Options = {}
): Effect.Effect<PasswordHasher.PasswordHasher["Service"], InvalidParameters, Scope.Scope> =>
  Effect.flatMap(
    resolveParams(options, testDefaults, { memoryKiB: 8, iterations: 1, parallelism: 1 }),
    makeWith
  )

/**
 * The `PasswordHasher` layer (see `make`).
 *
 * @example
 * ```ts
 * import { Argon2 } from "@org/auth"
 *
 * const PasswordHasherLive = Argon2.layer({ poolSize: 2 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<PasswordHasher.PasswordHasher, InvalidParameters> =>
  Layer.effect(PasswordHasher.PasswordHasher, make(options))

/**
 * The `PasswordHasher` layer with cheap parameters (see `makeTest`). For
 * tests only, never production.
 *
 * @example
 * ```ts
 * import { Argon2 } from "@org/auth"
 *
 * const PasswordHasherTest = Argon2.layerTest()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  options: Options = {}
): Layer.Layer<PasswordHasher.PasswordHasher, InvalidParameters> =>
  Layer.effect(PasswordHasher.PasswordHasher, makeTest(options))
