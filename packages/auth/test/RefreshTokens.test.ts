import { assert, describe, it } from "@effect/vitest"
import { RefreshTokens } from "@org/auth"
import { Effect, Exit, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { TestClock } from "effect/testing"
import * as RefreshTokenLaws from "./laws/RefreshTokenLaws.ts"

const fresh = (options: RefreshTokens.Options) =>
  Effect.map(RefreshTokens.makeMemory(options), (tokens) => ({ tokens, advance: TestClock.adjust })).pipe(
    Effect.provide(SecureRandom.layerWebCrypto)
  )

describe("RefreshTokens.makeMemory obeys the refresh-token laws", () => {
  for (const [name, law] of Object.entries(RefreshTokenLaws.laws)) {
    it.effect(name, () => law(fresh))
  }

  it.effect("agrees with the model on random scenarios", () =>
    RefreshTokenLaws.model(fresh, { numRuns: 300 })
  )
})

describe("RefreshTokens", () => {
  it.effect("layerMemory provides the service, and purgeExpired runs through it", () =>
    Effect.gen(function* () {
      const session = yield* RefreshTokens.RefreshTokens.use((tokens) => tokens.issue("alice"))
      yield* TestClock.adjust("8 days")
      assert.strictEqual(yield* RefreshTokens.purgeExpired, 1)
      yield* TestClock.adjust("30 days")
      assert.strictEqual(yield* RefreshTokens.purgeExpired, 1)
      const error = yield* Effect.flip(
        RefreshTokens.RefreshTokens.use((tokens) => tokens.rotate(session.token))
      )
      assert.strictEqual(error.reason, "unknown")
    }).pipe(
      Effect.provide(
        RefreshTokens.layerMemory({ ttl: "7 days" }).pipe(Layer.provide(SecureRandom.layerWebCrypto))
      )
    )
  )

  it.effect("a reuse error names the session it revoked, for the security log", () =>
    Effect.gen(function* () {
      const tokens = yield* RefreshTokens.makeMemory({ ttl: "1 hour" })
      const session = yield* tokens.issue("alice")
      yield* tokens.rotate(session.token)
      const error = yield* Effect.flip(tokens.rotate(session.token))
      assert.deepStrictEqual(
        { reason: error.reason, familyId: error.familyId, userId: error.userId, message: error.message },
        {
          reason: "reused",
          familyId: session.familyId,
          userId: "alice",
          message: "Refresh token rejected: reused"
        }
      )
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )

  it.effect("rejects lifetimes that are not positive and finite, and a userId that is empty", () =>
    Effect.gen(function* () {
      const invalid: ReadonlyArray<RefreshTokens.Options> = [
        { ttl: 0 },
        { ttl: "1 hour", familyMaxAge: 0 },
        { ttl: "Infinity" }
      ]
      for (const options of invalid) {
        const exit = yield* Effect.exit(RefreshTokens.makeMemory(options))
        assert.isTrue(Exit.hasDies(exit), `options ${JSON.stringify(options)} were accepted`)
      }
      const tokens = yield* RefreshTokens.makeMemory({ ttl: "1 hour" })
      assert.isTrue(Exit.hasDies(yield* Effect.exit(tokens.issue(""))))
      assert.isTrue(Exit.hasDies(yield* Effect.exit(tokens.purgeExpired(0))))
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )
})
