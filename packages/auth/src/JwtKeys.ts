/**
 * The keys behind JWT access tokens: one key signs, every key whose tokens
 * may still be alive verifies, and each key is pinned to exactly one
 * algorithm (so a token cannot pick how it is checked).
 *
 * Keys come from configuration (`JWT_PRIVATE_KEY`, `JWT_PUBLIC_KEY`: PEM,
 * JWK or a JWKS for rotation) or, outside production, from a file of
 * generated keys under the data directory. `fromConfig` holds the production
 * rules; `jwks` is the public document served at `/.well-known/jwks.json`.
 *
 * Every refusal is an `InvalidKey` whose message is one line naming where
 * the key came from, meant to be printed before the process exits.
 *
 * @since 0.1.0
 */

import { Buffer } from "node:buffer"
import * as NodeCrypto from "node:crypto"
import * as NodePath from "node:path"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Jose from "jose"

/**
 * The signing algorithms supported. HS256 is refused in production by
 * `fromConfig`.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "ES256" | "RS256" | "HS256"

/**
 * Every supported algorithm, for validating configuration.
 *
 * @since 0.1.0
 * @category models
 */
export const algorithms: ReadonlyArray<Algorithm> = ["ES256", "RS256", "HS256"]

/**
 * Whether a value names a supported algorithm (exact spelling).
 *
 * @since 0.1.0
 * @category guards
 */
export const isAlgorithm = (u: unknown): u is Algorithm => u === "ES256" || u === "RS256" || u === "HS256"

/**
 * A key was refused. `source` names where it came from (an environment
 * variable or a file), `problem` what is wrong; neither ever holds key
 * material.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidKey extends Schema.TaggedError<InvalidKey>()("InvalidKey", {
  source: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `${this.source}: ${this.problem}`
  }
}

/**
 * A public key as published in the JWKS: only public members, always with
 * `kid`, `alg` and `use`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicJwk {
  readonly kty: "EC" | "RSA"
  readonly kid: string
  readonly alg: "ES256" | "RS256"
  readonly use: "sig"
  readonly crv?: string
  readonly x?: string
  readonly y?: string
  readonly n?: string
  readonly e?: string
}

/**
 * A key that verifies tokens whose header names its `kid`, with its `alg`
 * only. `publicJwk` is absent for HS256 (a secret is never published).
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyKey {
  readonly kid: string
  readonly alg: Algorithm
  readonly key: Jose.CryptoKey
  /** RFC 7638 thumbprint of the key: two entries with the same one are the same key. */
  readonly thumbprint: string
  readonly publicJwk: PublicJwk | undefined
}

/**
 * The key that signs new tokens (a private key, or the HS256 secret).
 *
 * @since 0.1.0
 * @category models
 */
export interface SigningKey {
  readonly kid: string
  readonly alg: Algorithm
  readonly key: Jose.CryptoKey
}

/**
 * A signing key with the key that verifies its tokens.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyPair {
  readonly signer: SigningKey
  readonly verifier: VerifyKey
}

/**
 * The key set: `signer` signs, `verifiers` (which include the signer's own
 * verifying key) are looked up by exact `kid`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeySet {
  readonly signer: SigningKey
  readonly verifiers: ReadonlyMap<string, VerifyKey>
}

/**
 * The name of the file of development keys inside the data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const fileName = "jwt-keys.json"

const minSecretBytes = 32
const minRsaBits = 2048
const maxKidLength = 256

const fail = (source: string, problem: string) => Effect.fail(new InvalidKey({ source, problem }))

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// Operators often paste PEM into a single-line variable with `\n` escapes.
const unescapePem = (text: string) => (text.includes("\n") ? text : text.replaceAll("\\n", "\n")).trim()

const parseJson = (text: string, source: string) =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: () => new InvalidKey({ source, problem: "is not valid JSON" })
  })

const kidOf = (jwk: Record<string, unknown>, thumbprint: string, source: string) => {
  const kid = jwk.kid
  if (kid === undefined) return Effect.succeed(thumbprint)
  if (typeof kid !== "string" || kid.length === 0 || kid.length > maxKidLength) {
    return fail(source, `"kid" must be a non-empty string of at most ${maxKidLength} characters`)
  }
  return Effect.succeed(kid)
}

const thumbprintOf = (jwk: Jose.JWK) => Effect.promise(() => Jose.calculateJwkThumbprint(jwk, "sha256"))

// What an EC or RSA key object is good for, or why it is refused.
const asymmetricAlg = (key: NodeCrypto.KeyObject, source: string) => {
  const details = key.asymmetricKeyDetails
  switch (key.asymmetricKeyType) {
    case "ec":
      return details?.namedCurve === "prime256v1"
        ? Effect.succeed("ES256" as const)
        : fail(source, `EC key on curve ${details?.namedCurve ?? "unknown"}; ES256 needs P-256`)
    case "rsa": {
      const bits = details?.modulusLength ?? 0
      return bits >= minRsaBits
        ? Effect.succeed("RS256" as const)
        : fail(source, `RSA key of ${bits} bits; at least ${minRsaBits} are required`)
    }
    default:
      return fail(
        source,
        `unsupported key type ${key.asymmetricKeyType ?? "unknown"}; use an EC P-256 (ES256) or RSA (RS256) key`
      )
  }
}

// Only the public members, rebuilt field by field so nothing private can leak.
const publicMembers = (key: NodeCrypto.KeyObject): Jose.JWK => {
  const jwk = (key.type === "public" ? key : NodeCrypto.createPublicKey(key)).export({ format: "jwk" })
  return jwk.kty === "EC"
    ? { kty: "EC", crv: jwk.crv ?? "", x: jwk.x ?? "", y: jwk.y ?? "" }
    : { kty: "RSA", n: jwk.n ?? "", e: jwk.e ?? "" }
}

const toPublicJwk = (jwk: Jose.JWK, kid: string, alg: "ES256" | "RS256"): PublicJwk =>
  jwk.kty === "EC"
    ? { kty: "EC", kid, alg, use: "sig", crv: jwk.crv ?? "", x: jwk.x ?? "", y: jwk.y ?? "" }
    : { kty: "RSA", kid, alg, use: "sig", n: jwk.n ?? "", e: jwk.e ?? "" }

const checkDeclared = (jwk: Record<string, unknown>, alg: Algorithm, source: string) => {
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    return fail(source, `declares "alg": ${JSON.stringify(jwk.alg)} but is a ${alg} key`)
  }
  if (jwk.use !== undefined && jwk.use !== "sig")
    return fail(source, `declares "use": ${JSON.stringify(jwk.use)}`)
  return Effect.void
}

const secretPair = Effect.fnUntraced(function* (
  secret: Uint8Array,
  declared: Record<string, unknown>,
  source: string
) {
  if (secret.byteLength < minSecretBytes) {
    return yield* fail(
      source,
      `HS256 secret of ${secret.byteLength} bytes; at least ${minSecretBytes} are required`
    )
  }
  const thumbprint = yield* thumbprintOf({ kty: "oct", k: Buffer.from(secret).toString("base64url") })
  const kid = yield* kidOf(declared, thumbprint, source)
  const key = yield* Effect.promise(() =>
    NodeCrypto.webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify"
    ])
  )
  return {
    signer: { kid, alg: "HS256", key },
    verifier: { kid, alg: "HS256", key, thumbprint, publicJwk: undefined }
  } satisfies KeyPair
})

const asymmetricPair = Effect.fnUntraced(function* (
  privateKey: NodeCrypto.KeyObject,
  declared: Record<string, unknown>,
  expected: Algorithm,
  source: string
) {
  const alg = yield* asymmetricAlg(privateKey, source)
  yield* checkDeclared(declared, alg, source)
  if (alg !== expected) return yield* fail(source, `is a ${alg} key but the algorithm is ${expected}`)
  const publicJwk = publicMembers(privateKey)
  const thumbprint = yield* thumbprintOf(publicJwk)
  const kid = yield* kidOf(declared, thumbprint, source)
  const signKey = yield* Effect.promise(() => Jose.importJWK(privateKey.export({ format: "jwk" }), alg))
  const verifyKey = yield* Effect.promise(() => Jose.importJWK(publicJwk, alg))
  if (signKey instanceof Uint8Array || verifyKey instanceof Uint8Array) {
    return yield* Effect.die(new Error("jose imported an asymmetric JWK as raw bytes"))
  }
  return {
    signer: { kid, alg, key: signKey },
    verifier: { kid, alg, key: verifyKey, thumbprint, publicJwk: toPublicJwk(publicJwk, kid, alg) }
  } satisfies KeyPair
})

const readPrivateKey = (input: string | Record<string, unknown>, source: string) =>
  Effect.try({
    try: () =>
      typeof input === "string"
        ? NodeCrypto.createPrivateKey(input)
        : NodeCrypto.createPrivateKey({ key: input as NodeCrypto.JsonWebKey, format: "jwk" }),
    catch: () =>
      new InvalidKey({
        source,
        problem:
          typeof input === "string" ? "is not a PEM (PKCS#8) private key" : "is not a usable private JWK"
      })
  })

/**
 * Reads the signing key. For ES256/RS256 the input is a PEM private key or
 * a private JWK (as JSON text or an object); for HS256 a string is the raw
 * secret (at least 32 bytes of UTF-8) and an object an `oct` JWK. The `kid`
 * is the JWK's own or else its RFC 7638 thumbprint.
 *
 * @example
 * ```ts
 * import { JwtKeys } from "@org/auth"
 *
 * const pair = JwtKeys.fromPrivateKey(process.env.JWT_PRIVATE_KEY ?? "", {
 *   alg: "ES256",
 *   source: "JWT_PRIVATE_KEY"
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPrivateKey = Effect.fnUntraced(function* (
  input: string | Redacted.Redacted<string> | Jose.JWK,
  options: { readonly alg: Algorithm; readonly source?: string | undefined }
): Effect.fn.Return<KeyPair, InvalidKey> {
  const source = options.source ?? "private key"
  const raw = Redacted.isRedacted(input) ? Redacted.value(input) : input
  if (options.alg === "HS256") {
    if (typeof raw === "string") return yield* secretPair(new TextEncoder().encode(raw), {}, source)
    if (raw.kty !== "oct" || typeof raw.k !== "string")
      return yield* fail(source, "an HS256 JWK must be kty oct")
    yield* checkDeclared(raw, "HS256", source)
    return yield* secretPair(Buffer.from(raw.k, "base64url"), raw, source)
  }
  let declared: Record<string, unknown> = {}
  let keyInput: string | Record<string, unknown>
  if (typeof raw === "string") {
    const text = unescapePem(raw)
    if (text.startsWith("{")) {
      const parsed = yield* parseJson(text, source)
      if (!isRecord(parsed)) return yield* fail(source, "is not a JWK object")
      declared = parsed
      keyInput = parsed
    } else {
      keyInput = text
    }
  } else {
    declared = raw
    keyInput = raw
  }
  if (typeof keyInput !== "string" && typeof keyInput.d !== "string") {
    return yield* fail(source, "is a public JWK; a private key is required")
  }
  const privateKey = yield* readPrivateKey(keyInput, source)
  return yield* asymmetricPair(privateKey, declared, options.alg, source)
})

const publicFromJwk = Effect.fnUntraced(function* (jwk: unknown, source: string) {
  if (!isRecord(jwk)) return yield* fail(source, "holds an entry that is not a JWK object")
  if (jwk.kty === "oct") return yield* fail(source, "holds a symmetric (oct) key; secrets are never public")
  if (jwk.d !== undefined || jwk.p !== undefined) {
    return yield* fail(source, "holds a private JWK; give only public keys here")
  }
  const key = yield* Effect.try({
    try: () => NodeCrypto.createPublicKey({ key: jwk as NodeCrypto.JsonWebKey, format: "jwk" }),
    catch: () => new InvalidKey({ source, problem: "holds an entry that is not a usable public JWK" })
  })
  return yield* publicVerifyKey(key, jwk, source)
})

const publicVerifyKey = Effect.fnUntraced(function* (
  key: NodeCrypto.KeyObject,
  declared: Record<string, unknown>,
  source: string
) {
  const alg = yield* asymmetricAlg(key, source)
  yield* checkDeclared(declared, alg, source)
  const jwk = publicMembers(key)
  const thumbprint = yield* thumbprintOf(jwk)
  const kid = yield* kidOf(declared, thumbprint, source)
  const imported = yield* Effect.promise(() => Jose.importJWK(jwk, alg))
  if (imported instanceof Uint8Array) {
    return yield* Effect.die(new Error("jose imported a public JWK as raw bytes"))
  }
  return { kid, alg, key: imported, thumbprint, publicJwk: toPublicJwk(jwk, kid, alg) } satisfies VerifyKey
})

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g

/**
 * The most verification keys `fromPublicKeys` takes: the JWKS endpoint
 * documents this bound.
 *
 * @since 0.3.0
 * @category constants
 */
export const maxPublicKeys = 99

/**
 * Reads verification-only public keys: one or more PEM blocks (SPKI,
 * PKCS#1 or a certificate), a public JWK, or a JWKS `{"keys":[...]}` with the
 * current and older keys. Each key's algorithm follows from its type (EC
 * P-256: ES256, RSA: RS256) and a declared `alg` must agree with it.
 *
 * @example
 * ```ts
 * import { JwtKeys } from "@org/auth"
 *
 * const keys = JwtKeys.fromPublicKeys('{"keys":[]}', { source: "JWT_PUBLIC_KEY" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPublicKeys = Effect.fnUntraced(function* (
  input: string,
  options?: { readonly source?: string | undefined }
): Effect.fn.Return<ReadonlyArray<VerifyKey>, InvalidKey> {
  const source = options?.source ?? "public key"
  const text = unescapePem(input)
  if (text.startsWith("{")) {
    const parsed = yield* parseJson(text, source)
    if (isRecord(parsed) && Array.isArray(parsed.keys)) {
      if (parsed.keys.length === 0) return yield* fail(source, "is a JWKS without keys")
      if (parsed.keys.length > maxPublicKeys) {
        return yield* fail(source, `lists ${parsed.keys.length} keys; at most ${maxPublicKeys} are served`)
      }
      return yield* Effect.forEach(parsed.keys, (jwk) => publicFromJwk(jwk, source))
    }
    return [yield* publicFromJwk(parsed, source)]
  }
  const blocks = [...text.matchAll(pemBlock)]
  if (blocks.length === 0) return yield* fail(source, "is neither PEM nor a JWK nor a JWKS")
  return yield* Effect.forEach(blocks, ([block, label]) =>
    label?.includes("PRIVATE")
      ? fail(source, "holds a private key; give only public keys here")
      : Effect.try({
          try: () => NodeCrypto.createPublicKey(block),
          catch: () =>
            new InvalidKey({ source, problem: `holds a ${label} block that is not a usable public key` })
        }).pipe(Effect.flatMap((key) => publicVerifyKey(key, {}, source)))
  )
})

/**
 * Builds a key set from the signing pair and extra verifying keys (older
 * keys kept for rotation). A `kid` used by two different keys is refused;
 * the same key listed twice is kept once.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JwtKeys } from "@org/auth"
 *
 * const keySet = Effect.gen(function* () {
 *   const signer = yield* JwtKeys.fromPrivateKey(yield* JwtKeys.generate("ES256"), { alg: "ES256" })
 *   return yield* JwtKeys.make({ signer })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly signer: KeyPair
  readonly verifiers?: Iterable<VerifyKey> | undefined
  readonly source?: string | undefined
}): Effect.Effect<KeySet, InvalidKey> => {
  const source = options.source ?? "keys"
  const verifiers = new Map<string, VerifyKey>([[options.signer.verifier.kid, options.signer.verifier]])
  for (const key of options.verifiers ?? []) {
    const known = verifiers.get(key.kid)
    if (known === undefined) verifiers.set(key.kid, key)
    else if (known.thumbprint !== key.thumbprint || known.alg !== key.alg) {
      return fail(source, `two different keys share the kid ${JSON.stringify(key.kid)}`)
    }
  }
  return Effect.succeed({ signer: options.signer.signer, verifiers })
}

/**
 * The public JWKS document of a key set (signer first): public members,
 * `kid`, `alg` and `use` only. HS256 secrets are never listed, so an HS256
 * key set publishes `{"keys":[]}`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JwtKeys } from "@org/auth"
 *
 * const document = Effect.map(JwtKeys.loadOrGenerate({ dir: ".data", alg: "ES256" }), JwtKeys.jwks)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const jwks = (keySet: KeySet): { readonly keys: ReadonlyArray<PublicJwk> } => {
  const keys: Array<PublicJwk> = []
  for (const key of keySet.verifiers.values()) if (key.publicJwk !== undefined) keys.push(key.publicJwk)
  return { keys }
}

/**
 * Generates a new private JWK for `alg`, with its `kid` (thumbprint) and
 * `alg`: the form kept in the development key file.
 *
 * @example
 * ```ts
 * import { JwtKeys } from "@org/auth"
 *
 * const jwk = JwtKeys.generate("ES256")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = Effect.fnUntraced(function* (alg: Algorithm): Effect.fn.Return<Jose.JWK> {
  if (alg === "HS256") {
    const k = Buffer.from(yield* Effect.sync(() => SecureRandom.randomBytesUnsafe(minSecretBytes))).toString(
      "base64url"
    )
    return { kty: "oct", k, alg, kid: yield* thumbprintOf({ kty: "oct", k }) }
  }
  const pair = yield* Effect.promise(() => Jose.generateKeyPair(alg, { extractable: true }))
  const jwk = yield* Effect.promise(() => Jose.exportJWK(pair.privateKey))
  const publicJwk = yield* Effect.promise(() => Jose.exportJWK(pair.publicKey))
  return { ...jwk, alg, kid: yield* thumbprintOf(publicJwk) }
})

const storedAlg = (jwk: Record<string, unknown>) => (isAlgorithm(jwk.alg) ? jwk.alg : undefined)

const readStored = Effect.fnUntraced(function* (fs: FileSystem.FileSystem, path: string) {
  if (!(yield* fs.exists(path))) return []
  const parsed = yield* parseJson(yield* fs.readFileString(path), path)
  if (
    !Array.isArray(parsed) ||
    !parsed.every(isRecord) ||
    !parsed.every((jwk) => storedAlg(jwk) !== undefined)
  ) {
    return yield* fail(path, "must be a JSON list of private JWKs, each with an alg (fix or delete the file)")
  }
  return parsed as Array<Jose.JWK>
})

const writeStored = Effect.fnUntraced(function* (
  fs: FileSystem.FileSystem,
  dir: string,
  path: string,
  keys: ReadonlyArray<Jose.JWK>
) {
  yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 })
  const suffix = yield* Effect.sync(() => Buffer.from(SecureRandom.randomBytesUnsafe(6)).toString("hex"))
  const temporary = `${path}.${suffix}.tmp`
  // Written aside, then renamed: a crash never leaves a half-written key file.
  yield* fs.writeFileString(temporary, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: "wx" })
  yield* fs.rename(temporary, path)
})

const fromStored = Effect.fnUntraced(function* (
  stored: ReadonlyArray<Jose.JWK>,
  alg: Algorithm,
  path: string
): Effect.fn.Return<KeySet, InvalidKey> {
  const pairs = yield* Effect.forEach(stored, (jwk) =>
    fromPrivateKey(jwk, { alg: storedAlg(jwk) ?? alg, source: path })
  )
  const signer = pairs.find((pair) => pair.signer.alg === alg)
  if (signer === undefined) return yield* fail(path, `holds no ${alg} key`)
  return yield* make({ signer, verifiers: pairs.map((pair) => pair.verifier), source: path })
})

/**
 * Development keys: reads `jwt-keys.json` in `dir` (private JWKs, newest
 * first) or creates it (directory mode 0700, file 0600) with one new key.
 * The newest key of `alg` signs and every key in the file verifies; if the
 * file has no key of `alg` (the algorithm was changed) one is generated and
 * prepended. Never use this in production: `fromConfig` refuses to.
 *
 * @example
 * ```ts
 * import { JwtKeys } from "@org/auth"
 *
 * const keySet = JwtKeys.loadOrGenerate({ dir: ".data", alg: "ES256" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadOrGenerate = Effect.fnUntraced(function* (options: {
  readonly dir: string
  readonly alg: Algorithm
}): Effect.fn.Return<KeySet, InvalidKey | PlatformError.PlatformError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const path = NodePath.join(options.dir, fileName)
  let stored = yield* readStored(fs, path)
  if (!stored.some((jwk) => storedAlg(jwk) === options.alg)) {
    stored = [yield* generate(options.alg), ...stored]
    yield* writeStored(fs, options.dir, path, stored)
  }
  return yield* fromStored(stored, options.alg, path)
})

/**
 * Rotates the development keys: a new key of `alg` is prepended to the key
 * file and signs from now on; older keys keep verifying the tokens they
 * signed. `keep` bounds how many keys the file retains (all by default);
 * tokens of a key dropped here stop verifying at once.
 *
 * @example
 * ```ts
 * import { JwtKeys } from "@org/auth"
 *
 * const keySet = JwtKeys.rotate({ dir: ".data", alg: "ES256", keep: 3 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const rotate = Effect.fnUntraced(function* (options: {
  readonly dir: string
  readonly alg: Algorithm
  readonly keep?: number | undefined
}): Effect.fn.Return<KeySet, InvalidKey | PlatformError.PlatformError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const path = NodePath.join(options.dir, fileName)
  const stored = [yield* generate(options.alg), ...(yield* readStored(fs, path))].slice(
    0,
    Math.max(1, options.keep ?? Number.POSITIVE_INFINITY)
  )
  yield* writeStored(fs, options.dir, path, stored)
  return yield* fromStored(stored, options.alg, path)
})

/**
 * The key settings of an application, as read from its environment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly env: "development" | "test" | "production"
  readonly algorithm: Algorithm
  /** `JWT_PRIVATE_KEY`: PEM or private JWK; for HS256 the raw secret. */
  readonly privateKey?: string | Redacted.Redacted<string> | undefined
  /** `JWT_PUBLIC_KEY`: PEM, public JWK or JWKS; must include the signing key's public half. */
  readonly publicKey?: string | undefined
  /** `DATA_DIR`: where development keys are kept. */
  readonly dataDir: string
}

const present = (value: string | Redacted.Redacted<string> | undefined) => {
  const text = Redacted.isRedacted(value) ? Redacted.value(value) : value
  return text === undefined || text.trim() === "" ? undefined : text
}

/**
 * The key set an application should use, with the production rules:
 * production refuses HS256 and refuses to start without `JWT_PRIVATE_KEY`
 * (keys are never generated there). Elsewhere, without a configured key,
 * development keys are loaded from (or generated into) `dataDir`. A
 * `JWT_PUBLIC_KEY` adds older verifying keys and must contain the public
 * half of `JWT_PRIVATE_KEY` (a mismatched pair is refused).
 *
 * @example
 * ```ts
 * import { JwtKeys } from "@org/auth"
 *
 * const keySet = JwtKeys.fromConfig({
 *   env: "production",
 *   algorithm: "ES256",
 *   privateKey: process.env.JWT_PRIVATE_KEY,
 *   publicKey: process.env.JWT_PUBLIC_KEY,
 *   dataDir: ".data"
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig = Effect.fnUntraced(function* (
  config: Config
): Effect.fn.Return<KeySet, InvalidKey | PlatformError.PlatformError, FileSystem.FileSystem> {
  const production = config.env === "production"
  if (production && config.algorithm === "HS256") {
    return yield* fail("JWT_ALGORITHM", "HS256 is not allowed in production; use ES256 or RS256")
  }
  const privateKey = present(config.privateKey)
  const publicKey = present(config.publicKey)
  if (privateKey === undefined) {
    if (production) {
      return yield* fail(
        "JWT_PRIVATE_KEY",
        "is required in production (keys are generated only in development)"
      )
    }
    if (publicKey !== undefined) return yield* fail("JWT_PUBLIC_KEY", "is set but JWT_PRIVATE_KEY is not")
    return yield* loadOrGenerate({ dir: config.dataDir, alg: config.algorithm })
  }
  const signer = yield* fromPrivateKey(privateKey, { alg: config.algorithm, source: "JWT_PRIVATE_KEY" })
  if (publicKey === undefined) return yield* make({ signer })
  if (config.algorithm === "HS256") return yield* fail("JWT_PUBLIC_KEY", "is not used with HS256; unset it")
  const verifiers = yield* fromPublicKeys(publicKey, { source: "JWT_PUBLIC_KEY" })
  if (!verifiers.some((key) => key.thumbprint === signer.verifier.thumbprint)) {
    return yield* fail("JWT_PUBLIC_KEY", "does not contain the public key of JWT_PRIVATE_KEY")
  }
  return yield* make({ signer, verifiers, source: "JWT_PUBLIC_KEY" })
})
