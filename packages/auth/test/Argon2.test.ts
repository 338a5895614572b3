import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Argon2 } from "@org/auth"
import { PasswordHasher } from "@org/core"
import { Cause, Effect, Exit, Fiber, Redacted, Result } from "effect"
import { argon2id, argon2Verify } from "hash-wasm"
import * as Pool from "../src/internal/argon2Pool.ts"

const secret = (value: string) => Redacted.make(value)
const testHasher = Argon2.makeTest({ poolSize: 2 })

// One pass over 16 MiB: slow enough (tens of ms) to observe a busy pool.
const slowJob = (): Pool.Job => ({
  password: new TextEncoder().encode("slow job password"),
  salt: new Uint8Array(16).fill(7),
  memoryKiB: 16_384,
  iterations: 2,
  parallelism: 1,
  hashLength: 32
})

const makePool = (size: number) => Pool.make({ size, hashWasmUrl: import.meta.resolve("hash-wasm") })

// Fibers start asynchronously: wait until the pool has seen them.
const waitFor = <A>(read: Effect.Effect<A>, done: (a: A) => boolean) =>
  Effect.gen(function* () {
    for (;;) {
      const value = yield* read
      if (done(value)) return value
      yield* Effect.sleep("1 millis")
    }
  })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    yield* effect
    return performance.now() - start
  })

describe("Argon2", () => {
  it.live("hashes to a PHC string that verifies; another password does not", () =>
    Effect.gen(function* () {
      const hasher = yield* testHasher
      const hash = yield* hasher.hash(secret("correct horse battery staple"))
      assert.match(hash, /^\$argon2id\$v=19\$m=512,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
      assert.isTrue(yield* hasher.verify(hash, secret("correct horse battery staple")))
      assert.isFalse(yield* hasher.verify(hash, secret("correct horse battery stapler")))
      const again = yield* hasher.hash(secret("correct horse battery staple"))
      assert.notStrictEqual(again, hash, "a fresh salt per hash")
    }).pipe(Effect.scoped)
  )

  it.live("normalises to NFC: precomposed and combining accents are the same password", () =>
    Effect.gen(function* () {
      const hasher = yield* testHasher
      const hash = yield* hasher.hash(secret("caf\u00e9 au lait tous les jours"))
      assert.isTrue(yield* hasher.verify(hash, secret("cafe\u0301 au lait tous les jours")))
    }).pipe(Effect.scoped)
  )

  it.live("interoperates with hash-wasm's own encoding and argon2Verify, both ways", () =>
    Effect.gen(function* () {
      const hasher = yield* testHasher
      const theirs = yield* Effect.promise(() =>
        argon2id({
          password: "interop password",
          salt: new Uint8Array(16).fill(42),
          memorySize: 1024,
          iterations: 2,
          parallelism: 2,
          hashLength: 32,
          outputType: "encoded"
        })
      )
      assert.isTrue(yield* hasher.verify(theirs, secret("interop password")))
      assert.isFalse(yield* hasher.verify(theirs, secret("interop passwore")))
      const ours = yield* hasher.hash(secret("interop password"))
      assert.isTrue(yield* Effect.promise(() => argon2Verify({ password: "interop password", hash: ours })))
    }).pipe(Effect.scoped)
  )

  it.live("malformed, foreign and hostile hashes verify to false without costing more", () =>
    Effect.gen(function* () {
      const hasher = yield* testHasher
      const good = yield* hasher.hash(secret("password one two"))
      const [, , , params, salt, digest] = good.split("$")
      const hostile = [
        "",
        "not a hash",
        good.replace("argon2id", "argon2i"),
        good.replace("v=19", "v=16"),
        `$argon2id$v=19$m=4194304,t=2,p=1$${salt}$${digest}`,
        `$argon2id$v=19$m=512,t=100000,p=1$${salt}$${digest}`,
        `$argon2id$v=19$m=512,t=1,p=255$${salt}$${digest}`,
        `$argon2id$v=19$m=0512,t=1,p=1$${salt}$${digest}`,
        `$argon2id$v=19$${params}$${salt}==$${digest}`,
        `$argon2id$v=19$${params}$c2FsdA$${digest}`,
        `$argon2id$v=19$${params}$${salt}$${digest}$`,
        `$argon2id$v=19$${params}$${salt}$${digest?.slice(0, 10)}`,
        `${good} `
      ]
      for (const hash of hostile) {
        const duration = yield* elapsed(
          Effect.flatMap(hasher.verify(hash, secret("password one two")), (ok) =>
            Effect.sync(() => assert.isFalse(ok, hash))
          )
        )
        assert.isBelow(duration, 2_000, hash)
        assert.isTrue(hasher.needsRehash(hash), hash)
      }
    }).pipe(Effect.scoped)
  )

  it.live("the empty password: verify is false, hash dies", () =>
    Effect.gen(function* () {
      const hasher = yield* testHasher
      const hash = yield* hasher.hash(secret("a real password"))
      assert.isFalse(yield* hasher.verify(hash, secret("")))
      const exit = yield* Effect.exit(hasher.hash(secret("")))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
    }).pipe(Effect.scoped)
  )

  it.live("needsRehash: weaker stored parameters, a shorter hash or salt, or garbage", () =>
    Effect.gen(function* () {
      const current = yield* Argon2.makeTest({ memoryKiB: 1024, iterations: 2, parallelism: 2, poolSize: 1 })
      const same = yield* current.hash(secret("some password"))
      assert.isFalse(current.needsRehash(same))
      const salt = "AAAAAAAAAAAAAAAAAAAAAA"
      const hash32 = "A".repeat(43)
      const make = (m: number, t: number, p: number, s = salt, h = hash32) =>
        `$argon2id$v=19$m=${m},t=${t},p=${p}$${s}$${h}`
      assert.isFalse(current.needsRehash(make(1024, 2, 2)))
      assert.isFalse(current.needsRehash(make(4096, 3, 4)))
      assert.isTrue(current.needsRehash(make(512, 2, 2)))
      assert.isTrue(current.needsRehash(make(1024, 1, 2)))
      assert.isTrue(current.needsRehash(make(1024, 2, 1)))
      assert.isTrue(current.needsRehash(make(1024, 2, 2, salt, "A".repeat(22))))
      assert.isTrue(current.needsRehash(make(1024, 2, 2, "AAAAAAAAAAA")))
      assert.isTrue(current.needsRehash("$2b$12$bcryptbcryptbcryptbcrypt"))
    }).pipe(Effect.scoped)
  )

  it.effect("make and layer refuse parameters below the OWASP floor; makeTest accepts them", () =>
    Effect.gen(function* () {
      const refused = [
        { memoryKiB: 19_455 },
        { iterations: 1 },
        { parallelism: 0 },
        { hashLength: 8 },
        { saltLength: 8 },
        { poolSize: 0 },
        { memoryKiB: 1_048_576 },
        { iterations: 2.5 }
      ]
      for (const options of refused) {
        const result = yield* Effect.result(Effect.scoped(Argon2.make(options)))
        assert.isTrue(Result.isFailure(result), JSON.stringify(options))
        if (Result.isFailure(result)) assert.strictEqual(result.failure._tag, "InvalidParameters")
      }
      const layer = yield* Effect.result(
        Effect.scoped(
          Effect.provide(Effect.asVoid(PasswordHasher.PasswordHasher), Argon2.layer({ iterations: 1 }))
        )
      )
      assert.isTrue(Result.isFailure(layer))
      const test = yield* Effect.result(
        Effect.scoped(Argon2.makeTest({ memoryKiB: 64, iterations: 1, poolSize: 1 }))
      )
      assert.isTrue(Result.isSuccess(test))
    })
  )

  it.live(
    "at the OWASP floor: hashes and verifies, needs no rehash, and dummyVerify costs what a verify costs",
    () =>
      Effect.gen(function* () {
        const hasher = yield* PasswordHasher.PasswordHasher
        const hash = yield* hasher.hash(secret("Tr0ub4dor&3 but longer"))
        assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
        assert.isFalse(hasher.needsRehash(hash))
        const verifies: Array<number> = []
        const dummies: Array<number> = []
        // Interleaved, median of 5: load on a shared machine hits both alike.
        for (let i = 0; i < 5; i++) {
          verifies.push(yield* elapsed(hasher.verify(hash, secret("wrong password guess"))))
          dummies.push(yield* elapsed(hasher.dummyVerify(secret("wrong password guess"))))
        }
        const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[2]!
        const ratio = median(dummies) / median(verifies)
        assert.isAbove(ratio, 0.4, `dummy ${median(dummies)} ms vs verify ${median(verifies)} ms`)
        assert.isBelow(ratio, 2.5, `dummy ${median(dummies)} ms vs verify ${median(verifies)} ms`)
      }).pipe(Effect.provide(Argon2.layer({ poolSize: 1 })))
  )

  it.live("runs under plain Node and lets the process exit once the scope is closed", () =>
    Effect.gen(function* () {
      const argon2 = new URL("../src/Argon2.ts", import.meta.url).href
      const script = `
        import { Effect, Redacted } from "effect"
        import * as Argon2 from ${JSON.stringify(argon2)}
        const ok = await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
          const hasher = yield* Argon2.makeTest({ poolSize: 2 })
          const hash = yield* hasher.hash(Redacted.make("plain node password"))
          return yield* hasher.verify(hash, Redacted.make("plain node password"))
        })))
        console.log(JSON.stringify({ ok }))
      `
      const result = yield* Effect.callback<{ code: number | null; stdout: string; stderr: string }>(
        (resume) => {
          const child = execFile(
            process.execPath,
            ["--conditions=@org/source", "--input-type=module", "-e", script],
            { cwd: fileURLToPath(new URL("..", import.meta.url)), timeout: 30_000 },
            (error, stdout, stderr) =>
              resume(
                Effect.succeed({ code: error === null ? 0 : (error.code as number | null), stdout, stderr })
              )
          )
          return Effect.sync(() => child.kill())
        }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.trim(), JSON.stringify({ ok: true }))
    })
  )
})

describe("Argon2 worker pool", () => {
  it.live("runs at most `size` jobs at once", () =>
    Effect.gen(function* () {
      const pool = yield* makePool(2)
      const fibers = yield* Effect.forEach(Array.from({ length: 6 }), () =>
        Effect.forkChild(pool.run(slowJob()))
      )
      yield* waitFor(pool.stats, (stats) => stats.running === 2 && stats.queued > 0)
      let maxRunning = 0
      let busy = true
      while (busy) {
        const stats = yield* pool.stats
        maxRunning = Math.max(maxRunning, stats.running)
        busy = stats.running + stats.queued > 0
        yield* Effect.sleep("1 millis")
      }
      assert.strictEqual(maxRunning, 2)
      const hashes = yield* Fiber.joinAll(fibers)
      assert.strictEqual(new Set(hashes.map((hash) => Buffer.from(hash).toString("hex"))).size, 1)
    }).pipe(Effect.scoped)
  )

  it.live("waiting jobs run in the order they were submitted", () =>
    Effect.gen(function* () {
      const pool = yield* makePool(1)
      const finished: Array<number> = []
      const fibers: Array<Fiber.Fiber<Uint8Array>> = []
      for (let i = 0; i < 5; i++) {
        fibers.push(
          yield* Effect.forkChild(
            pool.run(slowJob()).pipe(Effect.tap(() => Effect.sync(() => finished.push(i))))
          )
        )
        // Submit the next one only once this one is in the pool.
        yield* waitFor(pool.stats, (stats) => stats.running + stats.queued + finished.length === i + 1)
      }
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(finished, [0, 1, 2, 3, 4])
      assert.deepStrictEqual(yield* pool.stats, { running: 0, queued: 0 })
    }).pipe(Effect.scoped)
  )

  it.live("an interrupted waiter leaves the queue", () =>
    Effect.gen(function* () {
      const pool = yield* makePool(1)
      const running = yield* Effect.forkChild(pool.run(slowJob()))
      yield* waitFor(pool.stats, (stats) => stats.running === 1)
      const waiting = yield* Effect.forkChild(pool.run(slowJob()))
      yield* waitFor(pool.stats, (stats) => stats.queued === 1)
      yield* Fiber.interrupt(waiting)
      assert.deepStrictEqual(yield* pool.stats, { running: 1, queued: 0 })
      assert.strictEqual((yield* Fiber.join(running)).length, 32)
      assert.deepStrictEqual(yield* pool.stats, { running: 0, queued: 0 })
    }).pipe(Effect.scoped)
  )

  it.live(
    "an interrupted running job keeps its worker until the worker is done, then the worker is reused",
    () =>
      Effect.gen(function* () {
        const pool = yield* makePool(1)
        const first = yield* Effect.forkChild(pool.run(slowJob()))
        yield* waitFor(pool.stats, (stats) => stats.running === 1)
        yield* Fiber.interrupt(first)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(first)))
        assert.deepStrictEqual(yield* pool.stats, { running: 1, queued: 0 })
        const second = yield* pool.run(slowJob())
        assert.strictEqual(second.length, 32)
        assert.strictEqual(yield* pool.liveWorkers, 1)
      }).pipe(Effect.scoped)
  )

  it.live("a crashed worker fails its job as a defect and is replaced", () =>
    Effect.gen(function* () {
      const pool = yield* makePool(1)
      yield* pool.crashNext
      const exit = yield* Effect.exit(pool.run(slowJob()))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.instanceOf(Cause.squash(exit.cause), Pool.Argon2WorkerCrashed)
      assert.strictEqual((yield* pool.run(slowJob())).length, 32)
      assert.strictEqual(yield* pool.liveWorkers, 1)
    }).pipe(Effect.scoped)
  )

  it.live("closing the scope terminates every worker and interrupts waiting jobs", () =>
    Effect.gen(function* () {
      const { pool, waiting } = yield* Effect.scoped(
        Effect.gen(function* () {
          const pool = yield* makePool(2)
          yield* Effect.forkDetach(pool.run(slowJob()))
          yield* Effect.forkDetach(pool.run(slowJob()))
          const waiting = yield* Effect.forkDetach(pool.run(slowJob()))
          yield* waitFor(pool.stats, (stats) => stats.queued === 1)
          assert.strictEqual(yield* pool.liveWorkers, 2)
          return { pool, waiting }
        })
      )
      assert.strictEqual(yield* pool.liveWorkers, 0)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(waiting)))
    })
  )
})
