/**
 * JWT signing and verification (jose) over a `JwtKeys.KeySet`, and the
 * `AccessTokens` port of `@org/core` built on it.
 *
 * A `Codec` signs and verifies tokens of a given `typ`: access tokens are
 * `at+jwt` (RFC 9068); other short-lived tokens (an MFA challenge, say) use
 * their own `typ` and so can never pass for an access token, nor the other
 * way round.
 *
 * Verification refuses before any crypto what need not reach it: tokens
 * longer than `maxLength`, anything but three canonical base64url segments,
 * a header that is not a small JSON object, a header member other than
 * `alg`, `kid` and `typ` (so `crit`, `jwk`, `jku`, `x5u`, `x5c`, `b64` are
 * refused and nothing is ever fetched), a `kid` not in the key set (exact map
 * lookup; it is never a path or a query), an `alg` other than the one that
 * key is pinned to (which covers `none` in every spelling and HS256 signed
 * with a public key) and a wrong `typ`. jose then checks the signature, `iss`,
 * `aud`, `exp` and `nbf` (with the clock skew, on the Effect `Clock`), and
 * the codec checks `iat` is not in the future and `sub`/`jti` are non-empty.
 *
 * A token that passed is remembered (a bounded LRU keyed by the SHA-256 of
 * the token and its `typ`, `verifiedCacheSize` entries, 10,000 by
 * default): presented again, it skips the signature check, which is most of
 * the cost of an authenticated request. An entry is served only before the
 * token's `exp` (the clock skew is not extended to it) and not before its
 * `iat` and `nbf` less the skew; any other token, a tampered copy included, hashes to
 * another key and gets the whole check. Revocation is not the codec's
 * business: callers check it on every request, cached or not.
 *
 * @since 0.1.0
 */

import { Buffer } from "node:buffer"
import { AccessTokens } from "@org/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Jose from "jose"
import * as VerifiedCache from "./internal/verifiedCache.ts"
import type * as JwtKeys from "./JwtKeys.ts"

const { InvalidToken } = AccessTokens
type InvalidToken = AccessTokens.InvalidToken

/**
 * The `typ` of access tokens (RFC 9068).
 *
 * @since 0.1.0
 * @category constants
 */
export const accessTokenType = "at+jwt"

/**
 * The longest token accepted by default (8 KiB), checked before any parsing.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxLength = 8192

/**
 * Settings of a codec. `clockSkew` (default 30 seconds) is the tolerance on
 * `exp`, `nbf` and `iat`; `verifiedCacheSize` (default
 * `defaultVerifiedCacheSize`, 0 turns it off) bounds the tokens remembered
 * as verified.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly keys: JwtKeys.KeySet
  readonly issuer: string
  readonly audience: string
  readonly clockSkew?: Duration.Input | undefined
  readonly maxLength?: number | undefined
  readonly verifiedCacheSize?: number | undefined
}

/**
 * What to sign. `claims` are extra claims; the registered ones (`iss`,
 * `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`) are always the codec's.
 *
 * @since 0.1.0
 * @category models
 */
export interface SignInput {
  readonly typ: string
  readonly subject: string
  readonly ttl: Duration.Input
  readonly claims?: Readonly<Record<string, unknown>> | undefined
}

/**
 * A signed token. Times are epoch milliseconds (whole seconds, as in the
 * token).
 *
 * @since 0.1.0
 * @category models
 */
export interface Signed {
  readonly token: string
  readonly tokenId: string
  readonly issuedAt: number
  readonly expiresAt: number
}

/**
 * A verified token: its registered claims (times in epoch milliseconds), the
 * `kid` that verified it and every claim of the payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verified {
  readonly subject: string
  readonly tokenId: string
  readonly issuedAt: number
  readonly expiresAt: number
  readonly kid: string
  readonly claims: Readonly<Record<string, unknown>>
}

/**
 * The codec service: `sign` never fails for a finite positive `ttl` (a
 * signing failure is a defect); `verify` fails with `InvalidToken` for
 * anything it does not accept and never dies on bad input.
 *
 * @since 0.1.0
 * @category services
 */
export class Codec extends Context.Service<
  Codec,
  {
    readonly sign: (input: SignInput) => Effect.Effect<Signed>
    readonly verify: (
      token: string,
      options: { readonly typ: string }
    ) => Effect.Effect<Verified, InvalidToken>
  }
>()("@org/auth/Jwt/Codec") {}

/**
 * How many verified tokens a codec remembers by default: 10,000 entries of
 * about 0.5 KiB (the key and the claims), a few MiB at most.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultVerifiedCacheSize = 10_000

const maxHeaderLength = 1024
const allowedHeader = new Set(["alg", "kid", "typ"])
const embeddedKeyHeaders = new Set(["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"])
const requiredClaims = ["sub", "jti", "exp", "iat"]
const utf8 = new TextDecoder("utf-8", { fatal: true })

// Refusals are frequent under attack and their reasons a small fixed set:
// one error value per reason spares a validated construction per token.
const refusals = new Map<string, InvalidToken>()
const refusal = (reason: string): InvalidToken => {
  let error = refusals.get(reason)
  if (error === undefined) {
    error = new InvalidToken({ reason })
    refusals.set(reason, error)
  }
  return error
}

const invalid = (reason: string) => Effect.fail(refusal(reason))

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const nonEmptyString = (u: unknown): u is string => typeof u === "string" && u.length > 0

// `application/at+jwt` and `AT+JWT` name the same type (RFC 7515 4.1.9).
const normalizeTyp = (typ: string) => {
  const lower = typ.toLowerCase()
  return lower.startsWith("application/") ? lower.slice("application/".length) : lower
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const base64urlChars = /^[A-Za-z0-9_-]+$/

// Canonical base64url without padding: only the alphabet, a possible length,
// and zero unused bits in the last character, so one byte string has one
// spelling (a tampered-but-equivalent signature cannot slip through).
const isCanonicalBase64url = (segment: string) => {
  if (segment.length % 4 === 1 || !base64urlChars.test(segment)) return false
  const rest = segment.length % 4
  if (rest === 0) return true
  const last = alphabet.indexOf(segment[segment.length - 1]!)
  return rest === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0
}

const headerReason = (name: string) =>
  name === "crit"
    ? "crit"
    : name === "b64"
      ? "b64"
      : embeddedKeyHeaders.has(name)
        ? "embedded-key"
        : "header-parameter"

const decodeHeader = (segment: string) =>
  Effect.try({
    try: (): unknown => JSON.parse(utf8.decode(Buffer.from(segment, "base64url"))),
    catch: () => refusal("header-json")
  })

// jose's error codes, shortened for logs; anything unexpected is still a refusal.
const fromJose = (error: unknown): InvalidToken => {
  if (error instanceof Jose.errors.JWTClaimValidationFailed)
    return refusal(`claim-${error.claim}-${error.reason}`)
  if (error instanceof Jose.errors.JWTExpired) return refusal("expired")
  if (error instanceof Jose.errors.JWSSignatureVerificationFailed) return refusal("signature")
  if (error instanceof Jose.errors.JOSEError) return refusal(`jose-${error.code}`)
  return refusal("invalid")
}

const seconds = (millis: number) => Math.floor(millis / 1000)

/**
 * Makes a codec over a key set. Keys are already imported in the key set,
 * so each verification does one signature check and no key parsing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Jwt, JwtKeys } from "@org/auth"
 *
 * const program = Effect.gen(function* () {
 *   const keys = yield* JwtKeys.loadOrGenerate({ dir: ".data", alg: "ES256" })
 *   const codec = yield* Jwt.make({ keys, issuer: "org-example", audience: "org-example-api" })
 *   const { token } = yield* codec.sign({ typ: "mfa+jwt", subject: "user-1", ttl: "5 minutes" })
 *   return yield* codec.verify(token, { typ: "mfa+jwt" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Codec["Service"]> =>
  Effect.sync(() => {
    const { keys, issuer, audience } = options
    const maxLength = options.maxLength ?? defaultMaxLength
    const skew = Duration.toSeconds(options.clockSkew ?? "30 seconds")
    const signer = keys.signer
    const cacheSize = options.verifiedCacheSize ?? defaultVerifiedCacheSize
    const cache = cacheSize > 0 ? VerifiedCache.make<Verified>(cacheSize) : undefined

    const sign = Effect.fnUntraced(function* (input: SignInput) {
      const ttl = Math.floor(Duration.toSeconds(input.ttl))
      if (!Number.isFinite(ttl) || ttl < 1)
        return yield* Effect.die(new RangeError("ttl must be finite and >= 1 s"))
      const now = seconds(yield* Clock.currentTimeMillis)
      const tokenId = yield* Effect.sync(() => SecureRandom.uuidV4Unsafe())
      const exp = now + ttl
      const payload = { ...input.claims, iss: issuer, aud: audience, sub: input.subject, jti: tokenId }
      const token = yield* Effect.promise(() =>
        new Jose.SignJWT(payload)
          .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: input.typ })
          .setIssuedAt(now)
          .setNotBefore(now)
          .setExpirationTime(exp)
          .sign(signer.key)
      )
      return { token, tokenId, issuedAt: now * 1000, expiresAt: exp * 1000 } satisfies Signed
    })

    // A token verified before and still inside its window is answered from
    // the cache without entering the full check below.
    const verify = (
      token: string,
      verifyOptions: { readonly typ: string }
    ): Effect.Effect<Verified, InvalidToken> => {
      if (typeof token !== "string" || token.length === 0) return invalid("empty")
      if (token.length > maxLength) return invalid("too-large")
      return Effect.clockWith((clock) => {
        const nowMillis = clock.currentTimeMillisUnsafe()
        const cacheKey = cache?.keyOf(verifyOptions.typ, token)
        const known = cacheKey === undefined ? undefined : cache!.get(cacheKey, nowMillis)
        return known !== undefined
          ? Effect.succeed(known)
          : verifyFully(token, verifyOptions, nowMillis, cacheKey)
      })
    }

    const verifyFully = Effect.fnUntraced(function* (
      token: string,
      verifyOptions: { readonly typ: string },
      nowMillis: number,
      cacheKey: string | undefined
    ): Effect.fn.Return<Verified, InvalidToken> {
      const segments = token.split(".", 4)
      if (segments.length !== 3) return yield* invalid("segments")
      const [headerSegment, payloadSegment, signature] = segments as [string, string, string]
      if (signature.length === 0) return yield* invalid("no-signature")
      if (headerSegment.length > maxHeaderLength) return yield* invalid("header-too-large")
      if (
        !isCanonicalBase64url(headerSegment) ||
        !isCanonicalBase64url(payloadSegment) ||
        !isCanonicalBase64url(signature)
      ) {
        return yield* invalid("base64url")
      }
      const header = yield* decodeHeader(headerSegment)
      if (!isRecord(header)) return yield* invalid("header-json")
      for (const name of Object.keys(header)) {
        if (!allowedHeader.has(name)) return yield* invalid(headerReason(name))
      }
      if (typeof header.kid !== "string") return yield* invalid("kid-missing")
      const key = keys.verifiers.get(header.kid)
      if (key === undefined) return yield* invalid("kid-unknown")
      if (header.alg !== key.alg) return yield* invalid("alg")
      if (typeof header.typ !== "string" || normalizeTyp(header.typ) !== normalizeTyp(verifyOptions.typ)) {
        return yield* invalid("typ")
      }
      const { payload } = yield* Effect.tryPromise({
        try: () =>
          Jose.jwtVerify(token, key.key, {
            algorithms: [key.alg],
            issuer,
            audience,
            typ: verifyOptions.typ,
            clockTolerance: skew,
            requiredClaims,
            // jose reads the wall clock unless told the time; this keeps TestClock in charge.
            currentDate: new Date(nowMillis)
          }),
        catch: fromJose
      })
      if (!nonEmptyString(payload.sub)) return yield* invalid("claim-sub")
      if (!nonEmptyString(payload.jti)) return yield* invalid("claim-jti")
      const iat = payload.iat
      const exp = payload.exp
      if (typeof iat !== "number" || typeof exp !== "number") return yield* invalid("claim-time")
      if (iat > seconds(nowMillis) + skew) return yield* invalid("iat-future")
      const verified: Verified = {
        subject: payload.sub,
        tokenId: payload.jti,
        issuedAt: iat * 1000,
        expiresAt: exp * 1000,
        kid: key.kid,
        claims: payload
      }
      // Served again only in [max(iat, nbf) - skew, exp): where this check passes too.
      if (cacheKey !== undefined) {
        const from = typeof payload.nbf === "number" ? Math.max(iat, payload.nbf) : iat
        cache!.set(cacheKey, verified, { notBefore: (from - skew) * 1000, expiresAt: verified.expiresAt })
      }
      return verified
    })

    return Codec.of({ sign, verify })
  })

const isStringArray = (u: unknown): u is ReadonlyArray<string> =>
  Array.isArray(u) && u.every((item) => typeof item === "string")

/**
 * The `AccessTokens` port over a codec: `at+jwt` tokens with `roles` (string
 * array) and, when given, `sid` (the refresh-token family), living `ttl`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Jwt, JwtKeys } from "@org/auth"
 *
 * const program = Effect.gen(function* () {
 *   const keys = yield* JwtKeys.loadOrGenerate({ dir: ".data", alg: "ES256" })
 *   const codec = yield* Jwt.make({ keys, issuer: "org-example", audience: "org-example-api" })
 *   const tokens = Jwt.accessTokens(codec, { ttl: "15 minutes" })
 *   return yield* tokens.issue({ subject: "user-1", roles: ["user"] })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const accessTokens = (
  codec: Codec["Service"],
  options: { readonly ttl: Duration.Input }
): AccessTokens.AccessTokens["Service"] =>
  AccessTokens.AccessTokens.of({
    issue: (input) =>
      Effect.map(
        codec.sign({
          typ: accessTokenType,
          subject: input.subject,
          ttl: options.ttl,
          claims:
            input.sessionId === undefined
              ? { roles: input.roles }
              : { roles: input.roles, sid: input.sessionId }
        }),
        (signed) => ({
          ...signed,
          subject: input.subject,
          roles: [...input.roles],
          ...(input.sessionId === undefined ? {} : { sessionId: input.sessionId })
        })
      ),
    verify: (token) =>
      Effect.flatMap(codec.verify(token, { typ: accessTokenType }), (verified) => {
        const { roles, sid } = verified.claims
        if (!isStringArray(roles)) return invalid("claim-roles")
        if (sid !== undefined && !nonEmptyString(sid)) return invalid("claim-sid")
        return Effect.succeed({
          subject: verified.subject,
          tokenId: verified.tokenId,
          issuedAt: verified.issuedAt,
          expiresAt: verified.expiresAt,
          roles,
          ...(sid === undefined ? {} : { sessionId: sid })
        })
      })
  })

/**
 * Provides the `Codec` and the `AccessTokens` port (access tokens living
 * `accessTtl`). Load the key set first, e.g. with `JwtKeys.fromConfig`, and
 * build this layer from it (`Layer.unwrap`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Jwt, JwtKeys } from "@org/auth"
 *
 * const TokensLive = Layer.unwrap(
 *   Effect.map(JwtKeys.loadOrGenerate({ dir: ".data", alg: "ES256" }), (keys) =>
 *     Jwt.layer({ keys, issuer: "org-example", audience: "org-example-api", accessTtl: "15 minutes" })
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly accessTtl: Duration.Input }
): Layer.Layer<Codec | AccessTokens.AccessTokens> =>
  Layer.effectContext(
    Effect.map(make(options), (codec) =>
      Context.make(Codec, codec).pipe(
        Context.add(AccessTokens.AccessTokens, accessTokens(codec, { ttl: options.accessTtl }))
      )
    )
  )
