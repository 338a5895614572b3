/**
 * The cost of checking an access token, to decide whether a verified-token
 * cache would pay (issue 5 allows one "if benchmarks show it pays"):
 * - our `AccessTokens.verify` (header checks, pinned key, jose, claim checks)
 *   against a bare jose `jwtVerify` with the same key: the overhead of the
 *   kit's defences;
 * - the whole per-request check (verify + in-memory revocation lookup)
 *   against the same verify alone: what a cache could save at most is the
 *   verify, since the revocation check must run on every request anyway;
 * - a refusal before crypto (oversized token) against a full verify;
 * - a token seen before, from the codec's verified-token cache, against a
 *   full verify (the codec without the cache).
 * Usage: `./node_modules/.bin/pnpm bench jwt`.
 */
import { createRequire } from "node:module"
import { Effect } from "effect"
import * as Jwt from "../packages/auth/src/Jwt.ts"
import * as JwtKeys from "../packages/auth/src/JwtKeys.ts"
import * as RevocationStore from "../packages/core/src/RevocationStore.ts"
import { type Case, type Comparison, compare } from "./harness.ts"

// jose is a dependency of @org/auth only: load the copy it resolves.
const jose: {
  readonly jwtVerify: (token: string, key: unknown, options: Record<string, unknown>) => Promise<unknown>
} = createRequire(new URL("../packages/auth/package.json", import.meta.url))("jose")

const setup = Effect.runPromise(
  Effect.gen(function* () {
    const jwk = yield* JwtKeys.generate("ES256")
    const signer = yield* JwtKeys.fromPrivateKey(jwk, { alg: "ES256" })
    const keys = yield* JwtKeys.make({ signer })
    // The full check every time: what the cache saves is measured against it.
    const codec = yield* Jwt.make({ keys, issuer: "bench", audience: "bench-api", verifiedCacheSize: 0 })
    const tokens = Jwt.accessTokens(codec, { ttl: "15 minutes" })
    const cachedCodec = yield* Jwt.make({ keys, issuer: "bench", audience: "bench-api" })
    const cached = Jwt.accessTokens(cachedCodec, { ttl: "15 minutes" })
    const issued = yield* tokens.issue({ subject: "0190f3c2-0000-7000-8000-000000000000", roles: ["user"] })
    const revocations = yield* RevocationStore.makeMemory
    for (let i = 0; i < 10_000; i++) yield* revocations.revokeToken(`revoked-${i}`, Number.MAX_SAFE_INTEGER)
    return { tokens, cached, token: issued.token, publicKey: signer.verifier.key, revocations }
  })
)

const loop = (name: string, once: () => Promise<unknown>): Case => ({
  name,
  batch: async (ops) => {
    for (let i = 0; i < ops; i++) await once()
  }
})

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const { tokens, cached, token, publicKey, revocations } = await setup
  const verify = () => Effect.runPromise(tokens.verify(token))
  const check = () =>
    Effect.runPromise(
      Effect.flatMap(tokens.verify(token), (claims) =>
        revocations.isRevoked({ tokenId: claims.tokenId, subject: claims.subject, issuedAt: claims.issuedAt })
      )
    )
  const bare = () =>
    jose.jwtVerify(token, publicKey, {
      algorithms: ["ES256"],
      issuer: "bench",
      audience: "bench-api",
      typ: "at+jwt"
    })
  const fromCache = () => Effect.runPromise(cached.verify(token))
  const oversized = "a".repeat(9000)
  const refuse = () => Effect.runPromise(Effect.flip(tokens.verify(oversized)))
  const options = { ops: 500, samples: 9 }
  return [
    await compare(
      "ES256 verify: kit vs bare jose",
      loop("AccessTokens.verify", verify),
      loop("jose.jwtVerify", bare),
      {
        ...options,
        target: 1.5
      }
    ),
    await compare(
      "per request: verify + revocation check vs verify",
      loop("verify + isRevoked", check),
      loop("verify", verify),
      options
    ),
    await compare(
      "a token seen before: cached vs full verify",
      loop("cached verify", fromCache),
      loop("verify", verify),
      {
        ...options,
        target: 0.05
      }
    ),
    await compare(
      "oversized token refused vs full verify",
      loop("refuse > 8 KiB", refuse),
      loop("verify", verify),
      options
    )
  ]
}
