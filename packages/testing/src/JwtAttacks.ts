/**
 * A battery of forged JSON Web Tokens that a verifier of access tokens must
 * refuse, built from one valid token with node:crypto only (no JWT library,
 * so the battery shares no bug with the verifier under test).
 *
 * It covers `alg: none` in several spellings, RS256/ES256 -> HS256 key
 * confusion, stripped, empty, tampered and "psychic" (CVE-2022-21449)
 * signatures, bad or missing `exp`/`nbf`/`iat`/`sub`/`jti`, wrong
 * `iss`/`aud`/`typ`, `crit`, embedded `jwk`/`jku`/`x5u`/`x5c`, `kid`
 * traversal and injection, oversized tokens, and other kinds of token (a
 * refresh token, an MFA challenge) presented as an access token. Attacks that
 * need server state (a revoked token, a deleted user) are not here.
 *
 * Given the real signing key, claim and header attacks are signed with it,
 * so each is refused for its own reason and not merely for a bad signature;
 * `controls` then returns tokens re-signed the same way that must verify,
 * which keeps a test of the battery from passing vacuously.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as NodeCrypto from "node:crypto"

/**
 * The algorithms the battery can sign with.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "ES256" | "RS256" | "HS256"

/**
 * The verifier's real signing key: a PEM private key or private JWK for
 * ES256/RS256; the raw secret string or an `oct` JWK for HS256.
 *
 * @since 0.1.0
 * @category models
 */
export interface SigningKey {
  readonly alg: Algorithm
  readonly key: string | NodeCrypto.JsonWebKey
}

/**
 * What the battery starts from. Only `valid` is required; every other field
 * adds attacks (or makes them sharper) and the ones that need it are left
 * out when it is missing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  /** A valid access token from the service under test (just issued). */
  readonly valid: string
  /** The real signing key, to forge correctly signed tokens with bad claims. */
  readonly signingKey?: SigningKey | undefined
  /** The public key as SPKI PEM (derived from `signingKey` or `publicJwk` when absent). */
  readonly publicKeyPem?: string | undefined
  /** The public key as a JWK, as published in the JWKS. */
  readonly publicJwk?: NodeCrypto.JsonWebKey | undefined
  /** An opaque refresh token of the service. */
  readonly refreshToken?: string | undefined
  /** An MFA challenge token of the service. */
  readonly mfaToken?: string | undefined
  /** The verifier's length limit (default 8192). */
  readonly maxLength?: number | undefined
}

/**
 * What an attack targets. A server may answer `size` attacks with 431 or 413
 * instead of 401.
 *
 * @since 0.1.0
 * @category models
 */
export type Category = "alg" | "signature" | "claims" | "header" | "kid" | "size" | "token-type" | "malformed"

/**
 * One forged token that must not verify.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attack {
  readonly name: string
  readonly category: Category
  readonly token: string
}

type Json = Record<string, unknown>

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const decode = (segment: string): Json => JSON.parse(Buffer.from(segment, "base64url").toString("utf8"))

// The P-256 group order: (r, s) = (n, n) is the other classic psychic pair.
const p256Order = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex")

let strangers: { readonly ec: NodeCrypto.KeyObject; readonly rsa: NodeCrypto.KeyObject } | undefined
const strangerKeys = () => {
  strangers ??= {
    ec: NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
    rsa: NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
  }
  return strangers
}

const secretBytes = (key: string | NodeCrypto.JsonWebKey) =>
  typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key.k ?? "", "base64url")

const privateKeyObject = (key: string | NodeCrypto.JsonWebKey) =>
  typeof key === "string"
    ? NodeCrypto.createPrivateKey(key)
    : NodeCrypto.createPrivateKey({ key, format: "jwk" })

const signBytes = (alg: Algorithm, key: NodeCrypto.KeyObject | Buffer, input: string): Buffer => {
  if (alg === "HS256") return NodeCrypto.createHmac("sha256", key).update(input).digest()
  return alg === "ES256"
    ? NodeCrypto.sign("sha256", Buffer.from(input), {
        key: key as NodeCrypto.KeyObject,
        dsaEncoding: "ieee-p1363"
      })
    : NodeCrypto.sign("sha256", Buffer.from(input), key as NodeCrypto.KeyObject)
}

const hmac = (algorithm: "sha256" | "sha512", key: string | Buffer, input: string) =>
  NodeCrypto.createHmac(algorithm, key).update(input).digest().toString("base64url")

const join = (header: string, payload: string, signature: string) => `${header}.${payload}.${signature}`

/**
 * Every attack, by name and category. Each token must fail to verify as an
 * access token; the battery itself never fails for a well-formed `valid`.
 *
 * @example
 * ```ts
 * import { JwtAttacks } from "@org/testing"
 *
 * declare const valid: string
 * declare const privatePem: string
 * for (const attack of JwtAttacks.attacks({ valid, signingKey: { alg: "ES256", key: privatePem } })) {
 *   // expect verify(attack.token) to fail with InvalidToken (or a 401 over HTTP)
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const attacks = (ctx: Context): ReadonlyArray<Attack> => {
  const [h, p, s] = ctx.valid.split(".") as [string, string, string]
  const header = decode(h)
  const payload = decode(p)
  const alg = (typeof header.alg === "string" ? header.alg : "ES256") as Algorithm
  const kid = header.kid
  const iat = typeof payload.iat === "number" ? payload.iat : 0
  const maxLength = ctx.maxLength ?? 8192
  const keys = strangerKeys()

  // With the real key, forged tokens differ from valid ones only where the
  // attack says; without it they are signed by a stranger key of the same alg.
  const realKey = ctx.signingKey
  const signer: { readonly alg: Algorithm; readonly key: NodeCrypto.KeyObject | Buffer } =
    realKey === undefined
      ? { alg, key: alg === "RS256" ? keys.rsa : alg === "HS256" ? NodeCrypto.randomBytes(32) : keys.ec }
      : {
          alg: realKey.alg,
          key: realKey.alg === "HS256" ? secretBytes(realKey.key) : privateKeyObject(realKey.key)
        }
  const signed = (headerValue: Json, payloadValue: Json | string) => {
    const input = `${encode(headerValue)}.${
      typeof payloadValue === "string"
        ? Buffer.from(payloadValue).toString("base64url")
        : encode(payloadValue)
    }`
    return `${input}.${signBytes(signer.alg, signer.key, input).toString("base64url")}`
  }
  const withClaims = (changes: Json, removed: ReadonlyArray<string> = []) => {
    const next: Json = { ...payload, ...changes }
    for (const name of removed) delete next[name]
    return signed(header, next)
  }
  const withHeader = (changes: Json, removed: ReadonlyArray<string> = []) => {
    const next: Json = { ...header, ...changes }
    for (const name of removed) delete next[name]
    return signed(next, payload)
  }

  const publicKey = (() => {
    if (ctx.publicKeyPem !== undefined) return NodeCrypto.createPublicKey(ctx.publicKeyPem)
    if (ctx.publicJwk !== undefined) return NodeCrypto.createPublicKey({ key: ctx.publicJwk, format: "jwk" })
    if (realKey !== undefined && realKey.alg !== "HS256")
      return NodeCrypto.createPublicKey(privateKeyObject(realKey.key))
    return undefined
  })()

  const out: Array<Attack> = []
  const add = (category: Category, name: string, token: string) => out.push({ name, category, token })

  // alg
  for (const none of ["none", "None", "NONE", "nOnE"]) {
    const forged = encode({ ...header, alg: none })
    add("alg", `alg ${none} with an empty signature`, join(forged, p, ""))
    add("alg", `alg ${none} with the original signature`, join(forged, p, s))
  }
  add("alg", "alg none without kid, no signature", join(encode({ alg: "none", typ: header.typ }), p, ""))
  add("alg", "alg missing", join(encode({ kid, typ: header.typ }), p, s))
  add("alg", "alg empty string", join(encode({ ...header, alg: "" }), p, s))
  add("alg", "alg null", join(encode({ ...header, alg: null }), p, s))
  add("alg", "alg as a list", join(encode({ ...header, alg: [alg] }), p, s))
  for (const other of ["ES256", "RS256", "PS256", "ES384", "ES256K", "EdDSA"].filter(
    (name) => name !== alg
  )) {
    add("alg", `alg switched to ${other}, original signature`, join(encode({ ...header, alg: other }), p, s))
  }
  add("alg", "alg lower-case", join(encode({ ...header, alg: alg.toLowerCase() }), p, s))
  if (alg !== "HS256") {
    const forged = `${encode({ ...header, alg: "HS256" })}.${p}`
    add("alg", "HS256 with an empty secret", `${forged}.${hmac("sha256", Buffer.alloc(0), forged)}`)
  }
  if (publicKey !== undefined && alg !== "HS256") {
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString()
    const der = publicKey.export({ type: "spki", format: "der" })
    const jwk = JSON.stringify(ctx.publicJwk ?? publicKey.export({ format: "jwk" }))
    const rsaPkcs1 =
      publicKey.asymmetricKeyType === "rsa"
        ? publicKey.export({ type: "pkcs1", format: "pem" }).toString()
        : undefined
    const secrets: Array<readonly [string, string | Buffer]> = [
      ["the SPKI PEM", pem],
      ["the SPKI PEM without its final newline", pem.trimEnd()],
      ["the SPKI PEM with CRLF line ends", pem.replaceAll("\n", "\r\n")],
      ["the SPKI DER bytes", der],
      ["the public JWK JSON", jwk]
    ]
    if (rsaPkcs1 !== undefined) secrets.push(["the PKCS#1 PEM", rsaPkcs1])
    for (const [label, secret] of secrets) {
      const forged = `${encode({ ...header, alg: "HS256" })}.${p}`
      add("alg", `key confusion: HS256 keyed with ${label}`, `${forged}.${hmac("sha256", secret, forged)}`)
    }
    const forged512 = `${encode({ ...header, alg: "HS512" })}.${p}`
    add(
      "alg",
      "key confusion: HS512 keyed with the SPKI PEM",
      `${forged512}.${hmac("sha512", pem, forged512)}`
    )
    const forgedKeep = `${h}.${p}`
    add(
      "alg",
      "key confusion: HMAC of the SPKI PEM under the original header",
      `${forgedKeep}.${hmac("sha256", pem, forgedKeep)}`
    )
  }

  // signature
  const flip = (segment: string, index: number) => {
    const c = segment[index] ?? "A"
    return `${segment.slice(0, index)}${c === "A" ? "B" : "A"}${segment.slice(index + 1)}`
  }
  add("signature", "signature stripped (two segments)", `${h}.${p}`)
  add("signature", "signature empty", join(h, p, ""))
  add("signature", "signature tampered", join(h, p, flip(s, Math.floor(s.length / 2))))
  add("signature", "signature first character tampered", join(h, p, flip(s, 0)))
  add("signature", "signature truncated", join(h, p, s.slice(0, -4)))
  add("signature", "signature extended", join(h, p, `${s}AAAA`))
  add("signature", "signature doubled", join(h, p, `${s}${s}`))
  add("signature", "signature with base64 padding", join(h, p, `${s}==`))
  add("signature", "signature in standard base64", join(h, p, Buffer.from(s, "base64url").toString("base64")))
  const lastBits = s.length % 4
  if (lastBits !== 0) {
    // Same bytes, different spelling: an unused low bit of the last character flipped.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    const last = alphabet.indexOf(s[s.length - 1]!)
    const twisted = alphabet[last ^ 0x01]!
    add("signature", "signature in non-canonical base64url", join(h, p, `${s.slice(0, -1)}${twisted}`))
  }
  add(
    "signature",
    "payload tampered (sub), original signature",
    join(h, encode({ ...payload, sub: "admin" }), s)
  )
  add(
    "signature",
    "payload tampered (roles), original signature",
    join(h, encode({ ...payload, roles: ["admin"] }), s)
  )
  add(
    "signature",
    "payload re-encoded with whitespace, original signature",
    join(h, Buffer.from(JSON.stringify(payload, null, 1)).toString("base64url"), s)
  )
  add(
    "signature",
    "header re-encoded with whitespace, original signature",
    join(Buffer.from(JSON.stringify(header, null, 1)).toString("base64url"), p, s)
  )
  const zero64 = Buffer.alloc(64).toString("base64url")
  const es256Header = encode({ ...header, alg: "ES256" })
  add("signature", "psychic signature: ES256 r=s=0", join(es256Header, p, zero64))
  add("signature", "psychic signature: ES256 r=s=0, DER encoded", join(es256Header, p, "MAYCAQACAQA"))
  add(
    "signature",
    "psychic signature: ES256 r=s=n (curve order)",
    join(es256Header, p, Buffer.concat([p256Order, p256Order]).toString("base64url"))
  )
  add("signature", "psychic signature: zeros under the original header", join(h, p, zero64))
  {
    const input = `${h}.${p}`
    const strangerAlg: Algorithm = alg === "RS256" ? "RS256" : alg === "HS256" ? "HS256" : "ES256"
    const stranger =
      strangerAlg === "RS256" ? keys.rsa : strangerAlg === "HS256" ? NodeCrypto.randomBytes(32) : keys.ec
    add(
      "signature",
      "signed by a stranger key under the real kid",
      `${input}.${signBytes(strangerAlg, stranger, input).toString("base64url")}`
    )
  }

  // claims
  add("claims", "expired an hour ago", withClaims({ iat: iat - 7200, nbf: iat - 7200, exp: iat - 3600 }))
  add("claims", "expired five minutes ago", withClaims({ iat: iat - 1200, nbf: iat - 1200, exp: iat - 300 }))
  add("claims", "nbf an hour ahead", withClaims({ nbf: iat + 3600, exp: iat + 7200 }))
  add("claims", "iat an hour ahead", withClaims({ iat: iat + 3600, nbf: iat, exp: iat + 7200 }))
  for (const claim of ["sub", "jti", "exp", "iat", "iss", "aud"]) {
    add("claims", `${claim} missing`, withClaims({}, [claim]))
  }
  add("claims", "sub empty", withClaims({ sub: "" }))
  add("claims", "sub a number", withClaims({ sub: 42 }))
  add("claims", "jti empty", withClaims({ jti: "" }))
  add("claims", "exp a string", withClaims({ exp: String(iat + 900) }))
  add("claims", "exp null", withClaims({ exp: null }))
  add("claims", "roles a string", withClaims({ roles: "admin" }))
  add("claims", "roles holding a number", withClaims({ roles: ["user", 1] }))
  add("claims", "roles missing", withClaims({}, ["roles"]))
  add("claims", "wrong iss", withClaims({ iss: `${String(payload.iss)}-evil` }))
  add("claims", "iss as a list", withClaims({ iss: [payload.iss] }))
  add("claims", "wrong aud", withClaims({ aud: `${String(payload.aud)}-evil` }))
  add("claims", "aud list without ours", withClaims({ aud: ["someone-else", "another"] }))
  add("claims", "typ JWT", withHeader({ typ: "JWT" }))
  add("claims", "typ missing", withHeader({}, ["typ"]))
  add("claims", "typ at+jwt+x", withHeader({ typ: "at+jwt+x" }))
  add("claims", "typ application/jwt", withHeader({ typ: "application/jwt" }))

  // header
  add("header", "crit with an unknown extension", withHeader({ crit: ["x-unknown"], "x-unknown": true }))
  add("header", "crit naming a registered claim", withHeader({ crit: ["exp"] }))
  add("header", "crit empty", withHeader({ crit: [] }))
  add("header", "b64 false (unencoded payload)", withHeader({ b64: false, crit: ["b64"] }))
  {
    const strangerPublic = NodeCrypto.createPublicKey(keys.ec).export({ format: "jwk" })
    const selfSigned = (extra: Json, keepKid: boolean) => {
      const forgedHeader: Json = { ...header, alg: "ES256", ...extra }
      if (!keepKid) delete forgedHeader.kid
      const input = `${encode(forgedHeader)}.${p}`
      return `${input}.${signBytes("ES256", keys.ec, input).toString("base64url")}`
    }
    add("header", "embedded jwk (stranger key), real kid", selfSigned({ jwk: strangerPublic }, true))
    add("header", "embedded jwk (stranger key), no kid", selfSigned({ jwk: strangerPublic }, false))
    add("header", "jku to a stranger JWKS", selfSigned({ jku: "https://attacker.invalid/jwks.json" }, true))
    add(
      "header",
      "x5u to a stranger certificate",
      selfSigned({ x5u: "https://attacker.invalid/cert.pem" }, true)
    )
    add("header", "x5c with a stranger chain", selfSigned({ x5c: [encode("not a certificate")] }, true))
    add("header", "embedded jwk with the real signature", withHeader({ jwk: strangerPublic }))
  }
  add("header", "header not JSON", join(Buffer.from("not json").toString("base64url"), p, s))
  add("header", "header a JSON list", join(encode([header]), p, s))
  add("header", "header a JSON string", join(encode("ES256"), p, s))
  add("header", "header oversized", withHeader({ "x-pad": "x".repeat(2048) }))

  // kid
  const emptyKeyHs = (kidValue: unknown, secret: string | Buffer) => {
    const forged = `${encode({ ...header, alg: "HS256", kid: kidValue })}.${p}`
    return `${forged}.${hmac("sha256", secret, forged)}`
  }
  add("kid", "kid traversal to /dev/null, HS256 empty secret", emptyKeyHs("../../../../../../dev/null", ""))
  add("kid", "kid absolute path, HS256 empty secret", emptyKeyHs("/dev/null", ""))
  add("kid", "kid file URL", emptyKeyHs("file:///etc/passwd", ""))
  add(
    "kid",
    "kid SQL injection, HS256 keyed with the injected value",
    emptyKeyHs("x' UNION SELECT 'k'-- ", "k")
  )
  add("kid", "kid SQL injection always-true", emptyKeyHs("' OR '1'='1", "1"))
  add("kid", "kid command injection", emptyKeyHs("key|whoami", ""))
  add("kid", "kid shell substitution", emptyKeyHs("$(id)", ""))
  add("kid", "kid URL", withHeader({ kid: "https://attacker.invalid/key.pem" }))
  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
    add("kid", `kid ${name}`, withHeader({ kid: name }))
  }
  if (typeof kid === "string") {
    add("kid", "kid with a trailing NUL", withHeader({ kid: `${kid}\u0000` }))
    add("kid", "kid with a trailing space", withHeader({ kid: `${kid} ` }))
    if (kid.toUpperCase() !== kid) add("kid", "kid upper-cased", withHeader({ kid: kid.toUpperCase() }))
    add("kid", "kid as a list", withHeader({ kid: [kid] }))
    add("kid", "kid as an object", withHeader({ kid: { toString: kid } }))
  }
  add("kid", "kid missing", withHeader({}, ["kid"]))
  add("kid", "kid null", withHeader({ kid: null }))
  add("kid", "kid a number", withHeader({ kid: 1 }))
  add("kid", "kid unknown", withHeader({ kid: NodeCrypto.randomBytes(16).toString("base64url") }))

  // size
  {
    const target = maxLength + 1024
    const padded = withClaims({ pad: "x".repeat(target) })
    add("size", `oversized: ${padded.length} characters, correctly signed`, padded)
    // base64url grows by 4/3: start a little under the limit and step up.
    let padLength = Math.max(0, Math.floor(((maxLength - withClaims({ pad: "" }).length) * 3) / 4) - 4)
    let overByOne = withClaims({ pad: "x".repeat(padLength) })
    while (overByOne.length <= maxLength) {
      padLength += 1
      overByOne = withClaims({ pad: "x".repeat(padLength) })
    }
    add("size", `oversized: ${overByOne.length} characters (just over the limit)`, overByOne)
  }

  // token-type
  if (ctx.refreshToken !== undefined) add("token-type", "refresh token as access token", ctx.refreshToken)
  if (ctx.mfaToken !== undefined) add("token-type", "MFA challenge token as access token", ctx.mfaToken)
  add("token-type", "opaque random string", NodeCrypto.randomBytes(32).toString("base64url"))
  add("token-type", "payload as typ mfa+jwt under the real key", withHeader({ typ: "mfa+jwt" }))

  // malformed
  add("malformed", "empty string", "")
  add("malformed", "garbage", "garbage")
  add("malformed", "three dots", "...")
  add("malformed", "a.b.c", "a.b.c")
  add("malformed", "four segments", `${ctx.valid}.${s}`)
  add("malformed", "trailing dot", `${ctx.valid}.`)
  add("malformed", "JWE-shaped (five segments)", `${h}..${p}.${s}.${s}`)
  add("malformed", "space inside the token", `${h}.${p} .${s}`)
  add("malformed", "payload not JSON, correctly signed", signed(header, "not json"))
  add("malformed", "payload a JSON list, correctly signed", signed(header, JSON.stringify([payload])))
  add("malformed", "payload not UTF-8", join(h, Buffer.from([0xff, 0xfe, 0xfd]).toString("base64url"), s))
  return out
}

/**
 * Tokens that must verify: the valid token and, given the signing key, the
 * valid token re-signed by the battery. If the second fails, the battery's
 * signing does not match the verifier's and the claim attacks prove nothing.
 *
 * @example
 * ```ts
 * import { JwtAttacks } from "@org/testing"
 *
 * declare const valid: string
 * const mustVerify = JwtAttacks.controls({ valid })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const controls = (ctx: Context): ReadonlyArray<{ readonly name: string; readonly token: string }> => {
  const out = [{ name: "the valid token", token: ctx.valid }]
  const realKey = ctx.signingKey
  if (realKey !== undefined) {
    const [h, p] = ctx.valid.split(".") as [string, string]
    const input = `${h}.${p}`
    const key = realKey.alg === "HS256" ? secretBytes(realKey.key) : privateKeyObject(realKey.key)
    out.push({
      name: "the valid token re-signed by the battery",
      token: `${input}.${signBytes(realKey.alg, key, input).toString("base64url")}`
    })
  }
  return out
}
