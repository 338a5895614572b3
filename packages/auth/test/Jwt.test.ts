import * as NodeCrypto from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Jwt, JwtKeys } from "@org/auth"
import { AccessTokens } from "@org/core"
import { JwtAttacks } from "@org/testing"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

const issuer = "org-test"
const audience = "org-test-api"

const ecPem = NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString()
const rsaPem = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString()
const hsSecret = "an HS256 development secret, long enough"

const fixtures: ReadonlyArray<{ readonly alg: JwtKeys.Algorithm; readonly key: string }> = [
  { alg: "ES256", key: ecPem },
  { alg: "RS256", key: rsaPem },
  { alg: "HS256", key: hsSecret }
]

const pairOf = (alg: JwtKeys.Algorithm, key: string) => JwtKeys.fromPrivateKey(key, { alg })
const keySetOf = (alg: JwtKeys.Algorithm, key: string) =>
  Effect.flatMap(pairOf(alg, key), (signer) => JwtKeys.make({ signer }))

const setup = (
  alg: JwtKeys.Algorithm,
  key: string,
  options: { readonly clockSkew?: number; readonly maxLength?: number } = {}
) =>
  Effect.gen(function* () {
    const keys = yield* keySetOf(alg, key)
    const codec = yield* Jwt.make({ keys, issuer, audience, ...options })
    return { keys, codec, tokens: Jwt.accessTokens(codec, { ttl: "15 minutes" }) }
  })

const decodeSegment = (token: string, index: number): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split(".")[index] ?? "", "base64url").toString("utf8"))

const reasonOf = (effect: Effect.Effect<unknown, AccessTokens.InvalidToken>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual(error._tag, "InvalidToken")
    return error.reason
  })

describe("Jwt", () => {
  for (const { alg, key } of fixtures) {
    describe(alg, () => {
      it.effect("issues an at+jwt with the registered claims, roles and sid, and verifies it", () =>
        Effect.gen(function* () {
          yield* TestClock.setTime(1_700_000_000_123)
          const { keys, tokens } = yield* setup(alg, key)
          const issued = yield* tokens.issue({
            subject: "user-1",
            roles: ["user", "admin"],
            sessionId: "family-1"
          })
          const header = decodeSegment(issued.token, 0)
          const payload = decodeSegment(issued.token, 1)
          assert.deepStrictEqual(header, { alg, kid: keys.signer.kid, typ: "at+jwt" })
          assert.deepStrictEqual(Object.keys(payload).sort(), [
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "roles",
            "sid",
            "sub"
          ])
          assert.strictEqual(payload.iat, 1_700_000_000)
          assert.strictEqual(payload.exp, 1_700_000_000 + 900)
          assert.strictEqual(issued.issuedAt, 1_700_000_000_000)
          assert.strictEqual(issued.expiresAt, 1_700_000_900_000)
          assert.match(
            issued.tokenId,
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
          )
          const claims = yield* tokens.verify(issued.token)
          assert.deepStrictEqual(claims, {
            subject: "user-1",
            tokenId: issued.tokenId,
            issuedAt: issued.issuedAt,
            expiresAt: issued.expiresAt,
            roles: ["user", "admin"],
            sessionId: "family-1"
          })
          const other = yield* tokens.issue({ subject: "user-1", roles: [] })
          assert.notStrictEqual(other.tokenId, issued.tokenId)
          assert.notProperty(yield* tokens.verify(other.token), "sessionId")
        })
      )

      it.effect("refuses every attack of the JwtAttacks battery, and the controls verify", () =>
        Effect.gen(function* () {
          yield* TestClock.setTime(1_700_000_000_000)
          const { codec, tokens } = yield* setup(alg, key)
          const valid = (yield* tokens.issue({ subject: "user-1", roles: ["user"], sessionId: "s1" })).token
          const mfaToken = (yield* codec.sign({ typ: "mfa+jwt", subject: "user-1", ttl: "5 minutes" })).token
          const ctx: JwtAttacks.Context = {
            valid,
            signingKey: { alg, key },
            mfaToken,
            refreshToken: NodeCrypto.randomBytes(32).toString("base64url")
          }
          for (const control of JwtAttacks.controls(ctx)) {
            const claims = yield* tokens.verify(control.token)
            assert.strictEqual(claims.subject, "user-1", control.name)
          }
          assert.lengthOf(JwtAttacks.controls(ctx), 2)
          const battery = JwtAttacks.attacks(ctx)
          assert.isAtLeast(battery.length, 90)
          const accepted: Array<string> = []
          const reasons = new Map<string, string>()
          for (const attack of battery) {
            const result = yield* Effect.result(tokens.verify(attack.token))
            if (result._tag === "Success") accepted.push(attack.name)
            else reasons.set(attack.name, result.failure.reason)
          }
          assert.deepStrictEqual(accepted, [])
          // Correctly signed attacks are refused for what they attack, not for a bad signature.
          for (const attack of battery.filter((a) => a.category === "claims" || a.category === "size")) {
            assert.notStrictEqual(reasons.get(attack.name), "signature", attack.name)
          }
          for (const attack of battery.filter((a) => a.category === "size")) {
            assert.strictEqual(reasons.get(attack.name), "too-large", attack.name)
          }
          assert.strictEqual(reasons.get("iat an hour ahead"), "iat-future")
          assert.strictEqual(reasons.get("expired an hour ago"), "expired")
          assert.strictEqual(reasons.get("nbf an hour ahead"), "claim-nbf-check_failed")
          assert.strictEqual(reasons.get("wrong iss"), "claim-iss-check_failed")
          assert.strictEqual(reasons.get("wrong aud"), "claim-aud-check_failed")
          assert.strictEqual(reasons.get("MFA challenge token as access token"), "typ")
          assert.strictEqual(reasons.get("alg nOnE with the original signature"), "alg")
          assert.strictEqual(reasons.get("crit with an unknown extension"), "crit")
          assert.strictEqual(reasons.get("jku to a stranger JWKS"), "embedded-key")
          assert.strictEqual(reasons.get("kid __proto__"), "kid-unknown")
          if (alg !== "HS256") {
            assert.strictEqual(reasons.get("key confusion: HS256 keyed with the SPKI PEM"), "alg")
            assert.strictEqual(reasons.get("signature in non-canonical base64url"), "base64url")
          }
          if (alg === "ES256") assert.strictEqual(reasons.get("psychic signature: ES256 r=s=0"), "signature")
        })
      )

      it.effect("a padded token verifies under a larger limit, so only its length refuses it", () =>
        Effect.gen(function* () {
          const big = yield* setup(alg, key, { maxLength: 100_000 })
          const { token } = yield* big.codec.sign({
            typ: "at+jwt",
            subject: "user-1",
            ttl: "1 minute",
            claims: { roles: [], pad: "x".repeat(9000) }
          })
          assert.isAbove(token.length, 8192)
          assert.strictEqual((yield* big.tokens.verify(token)).subject, "user-1")
          const small = yield* setup(alg, key)
          assert.strictEqual(yield* reasonOf(small.tokens.verify(token)), "too-large")
        })
      )
    })
  }

  it.effect("layer provides the Codec and the AccessTokens port over the same keys", () =>
    Effect.gen(function* () {
      const keys = yield* keySetOf("ES256", ecPem)
      const program = Effect.gen(function* () {
        const tokens = yield* AccessTokens.AccessTokens
        const codec = yield* Jwt.Codec
        const issued = yield* tokens.issue({ subject: "u", roles: ["user"] })
        assert.strictEqual(issued.expiresAt - issued.issuedAt, 600_000)
        const verified = yield* codec.verify(issued.token, { typ: Jwt.accessTokenType })
        assert.strictEqual(verified.kid, keys.signer.kid)
        return yield* tokens.verify(issued.token)
      })
      const claims = yield* program.pipe(
        Effect.provide(Jwt.layer({ keys, issuer, audience, accessTtl: "10 minutes" }))
      )
      assert.deepStrictEqual(claims.roles, ["user"])
    })
  )

  it.effect("expiry follows the Effect clock with the configured skew", () =>
    Effect.gen(function* () {
      const { tokens } = yield* setup("ES256", ecPem)
      const strict = yield* setup("ES256", ecPem, { clockSkew: 0 })
      const { token } = yield* tokens.issue({ subject: "u", roles: [] })
      yield* TestClock.adjust("15 minutes")
      assert.strictEqual(yield* reasonOf(strict.tokens.verify(token)), "expired")
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual((yield* tokens.verify(token)).subject, "u")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* reasonOf(tokens.verify(token)), "expired")
    })
  )

  it.effect("a token issued in the future is refused until the skew covers it", () =>
    Effect.gen(function* () {
      const { tokens } = yield* setup("ES256", ecPem)
      yield* TestClock.setTime(60_000)
      const { token } = yield* tokens.issue({ subject: "u", roles: [] })
      yield* TestClock.setTime(0)
      assert.strictEqual(yield* reasonOf(tokens.verify(token)), "claim-nbf-check_failed")
      yield* TestClock.setTime(30_000)
      assert.strictEqual((yield* tokens.verify(token)).subject, "u")
    })
  )

  it.effect("typ separates token kinds: an MFA token is no access token and vice versa", () =>
    Effect.gen(function* () {
      const { codec, tokens } = yield* setup("ES256", ecPem)
      const mfa = yield* codec.sign({ typ: "mfa+jwt", subject: "u", ttl: "5 minutes" })
      const access = yield* tokens.issue({ subject: "u", roles: [] })
      assert.strictEqual(yield* reasonOf(tokens.verify(mfa.token)), "typ")
      assert.strictEqual(yield* reasonOf(codec.verify(access.token, { typ: "mfa+jwt" })), "typ")
      assert.strictEqual((yield* codec.verify(mfa.token, { typ: "mfa+jwt" })).tokenId, mfa.tokenId)
      // RFC 7515: the media type may be spelled in full and in any case.
      assert.strictEqual((yield* codec.verify(access.token, { typ: "application/AT+JWT" })).subject, "u")
    })
  )

  it.effect("registered claims cannot be overridden through extra claims", () =>
    Effect.gen(function* () {
      const { codec } = yield* setup("ES256", ecPem)
      const signed = yield* codec.sign({
        typ: "x+jwt",
        subject: "u",
        ttl: "1 minute",
        claims: { sub: "admin", iss: "evil", aud: "evil", exp: 9_999_999_999, jti: "fixed", custom: [1] }
      })
      const verified = yield* codec.verify(signed.token, { typ: "x+jwt" })
      assert.strictEqual(verified.subject, "u")
      assert.strictEqual(verified.tokenId, signed.tokenId)
      assert.strictEqual(verified.expiresAt, 60_000)
      assert.strictEqual(verified.claims.iss, issuer)
      assert.deepStrictEqual(verified.claims.custom, [1])
    })
  )

  it.effect("rotation: old tokens verify while their key is listed, new tokens carry the new kid", () =>
    Effect.gen(function* () {
      const oldPair = yield* pairOf("ES256", ecPem)
      const newPair = yield* pairOf("RS256", rsaPem)
      const before = yield* Jwt.make({ keys: yield* JwtKeys.make({ signer: oldPair }), issuer, audience })
      const oldToken = (yield* Jwt.accessTokens(before, { ttl: "15 minutes" }).issue({
        subject: "u",
        roles: []
      })).token
      const during = Jwt.accessTokens(
        yield* Jwt.make({
          keys: yield* JwtKeys.make({ signer: newPair, verifiers: [oldPair.verifier] }),
          issuer,
          audience
        }),
        { ttl: "15 minutes" }
      )
      assert.strictEqual((yield* during.verify(oldToken)).subject, "u")
      const newToken = (yield* during.issue({ subject: "u", roles: [] })).token
      assert.strictEqual(decodeSegment(newToken, 0).kid, newPair.signer.kid)
      assert.notStrictEqual(newPair.signer.kid, oldPair.signer.kid)
      const after = Jwt.accessTokens(
        yield* Jwt.make({ keys: yield* JwtKeys.make({ signer: newPair }), issuer, audience }),
        { ttl: "15 minutes" }
      )
      assert.strictEqual(yield* reasonOf(after.verify(oldToken)), "kid-unknown")
      assert.strictEqual((yield* after.verify(newToken)).subject, "u")
    })
  )

  it.effect("a token of another issuer's key with the same kid is refused by its signature", () =>
    Effect.gen(function* () {
      const mine = yield* setup("ES256", ecPem)
      const otherPem = NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
        .privateKey.export({ type: "pkcs8", format: "pem" })
        .toString()
      const otherPair = yield* pairOf("ES256", otherPem)
      const impostor = yield* JwtKeys.make({
        signer: { ...otherPair, signer: { ...otherPair.signer, kid: mine.keys.signer.kid } }
      })
      const forged = yield* Jwt.make({ keys: impostor, issuer, audience })
      const { token } = yield* Jwt.accessTokens(forged, { ttl: "1 minute" }).issue({
        subject: "u",
        roles: []
      })
      assert.strictEqual(yield* reasonOf(mine.tokens.verify(token)), "signature")
    })
  )

  it.effect("round trip: any subject, roles and session verify to what was issued", () =>
    Effect.gen(function* () {
      const { tokens } = yield* setup("ES256", ecPem)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.string({ minLength: 1, unit: "grapheme" }),
            fc.array(fc.string({ unit: "grapheme" }), { maxLength: 8 }),
            fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
            (subject, roles, sessionId) =>
              Effect.runPromise(
                Effect.gen(function* () {
                  const issued = yield* tokens.issue({ subject, roles, sessionId })
                  const claims = yield* tokens.verify(issued.token)
                  assert.strictEqual(claims.subject, subject)
                  assert.deepStrictEqual(claims.roles, roles)
                  assert.strictEqual(claims.sessionId, sessionId)
                  assert.strictEqual(claims.tokenId, issued.tokenId)
                  assert.strictEqual(claims.expiresAt, issued.expiresAt)
                })
              )
          ),
          { numRuns: 200 }
        )
      )
    })
  )

  it.effect("arbitrary strings and JWT-shaped junk never verify and never die", () =>
    Effect.gen(function* () {
      const { keys, tokens } = yield* setup("ES256", ecPem)
      const segment = fc
        .oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue()))
        .map((value) => Buffer.from(JSON.stringify(value) ?? "null").toString("base64url"))
      const header = fc
        .record(
          {
            alg: fc.constantFrom("ES256", "none", "HS256", "RS256", 7),
            kid: fc.oneof(fc.constant(keys.signer.kid), fc.string()),
            typ: fc.constantFrom("at+jwt", "JWT")
          },
          { requiredKeys: [] }
        )
        .map((value) => Buffer.from(JSON.stringify(value)).toString("base64url"))
      const junk = fc.oneof(
        fc.string(),
        fc.string({ unit: "binary" }),
        fc.tuple(fc.oneof(segment, header), segment, fc.base64String()).map((parts) => parts.join(".")),
        fc.array(fc.oneof(segment, header, fc.string()), { maxLength: 6 }).map((parts) => parts.join("."))
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(junk, (token) =>
            Effect.runPromise(
              Effect.map(Effect.flip(tokens.verify(token)), (error) =>
                assert.strictEqual(error._tag, "InvalidToken")
              )
            )
          ),
          { numRuns: 2000 }
        )
      )
    })
  )

  describe("verified-token cache", () => {
    // A hit does no crypto and no asynchronous work: it completes when run
    // synchronously, where a full check (jose's promise) cannot.
    const isHit = (effect: Effect.Effect<unknown, AccessTokens.InvalidToken>) =>
      Effect.map(Effect.context<never>(), (context) =>
        Exit.isSuccess(Effect.runSyncExit(Effect.provideContext(effect, context)))
      )

    it.effect("a verified token is served from the cache with the same claims until it is evicted", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(1_700_000_000_000)
        const keys = yield* keySetOf("ES256", ecPem)
        const codec = yield* Jwt.make({ keys, issuer, audience, verifiedCacheSize: 2 })
        const tokens = Jwt.accessTokens(codec, { ttl: "15 minutes" })
        const [a, b, c] = yield* Effect.forEach(["a", "b", "c"], (subject) =>
          Effect.map(tokens.issue({ subject, roles: ["user"] }), (issued) => issued.token)
        )
        assert.isFalse(yield* isHit(tokens.verify(a!)), "first sight: the full check")
        const first = yield* tokens.verify(a!)
        assert.isTrue(yield* isHit(tokens.verify(a!)), "second sight: cached")
        assert.deepStrictEqual(yield* tokens.verify(a!), first)
        // Another typ is another entry: the access token is no MFA token, cached or not.
        assert.strictEqual(yield* reasonOf(codec.verify(a!, { typ: "mfa+jwt" })), "typ")
        yield* tokens.verify(b!)
        yield* tokens.verify(a!) // a is now the most recently used
        yield* tokens.verify(c!) // evicts b, the least recently used
        assert.isTrue(yield* isHit(tokens.verify(a!)))
        assert.isTrue(yield* isHit(tokens.verify(c!)))
        assert.isFalse(yield* isHit(tokens.verify(b!)), "evicted: the full check again")
        const off = yield* Jwt.make({ keys, issuer, audience, verifiedCacheSize: 0 })
        yield* off.verify(a!, { typ: Jwt.accessTokenType })
        assert.isFalse(yield* isHit(off.verify(a!, { typ: Jwt.accessTokenType })), "size 0: no cache")
      })
    )

    it.effect("a cached token is refused past its exp, and tampered copies of it are refused", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(1_700_000_000_000)
        const { tokens } = yield* setup("ES256", ecPem, { clockSkew: 0 })
        const token = (yield* tokens.issue({ subject: "user-1", roles: ["user"] })).token
        yield* tokens.verify(token)
        assert.isTrue(yield* isHit(tokens.verify(token)))
        const [header, payload, signature] = token.split(".") as [string, string, string]
        const flip = (segment: string) => `${segment[0] === "A" ? "B" : "A"}${segment.slice(1)}`
        for (const forged of [
          [header, payload, flip(signature)],
          [header, flip(payload), signature],
          [flip(header), payload, signature]
        ]) {
          const refused = yield* Effect.result(tokens.verify(forged.join(".")))
          assert.strictEqual(refused._tag, "Failure", forged.join("."))
        }
        yield* TestClock.adjust("15 minutes")
        assert.strictEqual(yield* reasonOf(tokens.verify(token)), "expired")
      })
    )

    it.effect("law: with or without the cache, every check at every time gives the same answer", () =>
      Effect.gen(function* () {
        const keys = yield* keySetOf("ES256", ecPem)
        const start = 1_700_000_000_000
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 0, max: 60 }),
              // seconds from the issue, before it (iat/nbf less the skew) to past exp + skew
              fc.array(fc.integer({ min: -90, max: 400 }), { minLength: 1, maxLength: 12 }),
              async (skew, offsets) => {
                const program = Effect.gen(function* () {
                  yield* TestClock.setTime(start)
                  const cached = yield* Jwt.make({ keys, issuer, audience, clockSkew: skew })
                  const uncached = yield* Jwt.make({
                    keys,
                    issuer,
                    audience,
                    clockSkew: skew,
                    verifiedCacheSize: 0
                  })
                  const { token } = yield* cached.sign({ typ: "at+jwt", subject: "s", ttl: "5 minutes" })
                  for (const offset of offsets) {
                    yield* TestClock.setTime(start + offset * 1000)
                    const a = yield* Effect.result(cached.verify(token, { typ: "at+jwt" }))
                    const b = yield* Effect.result(uncached.verify(token, { typ: "at+jwt" }))
                    assert.deepStrictEqual(a, b, `at ${offset} s, skew ${skew} s`)
                  }
                })
                await Effect.runPromise(Effect.provide(program, TestClock.layer()))
              }
            ),
            { numRuns: 60 }
          )
        )
      })
    )
  })
})
