import * as NodeCrypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Jwt, JwtKeys } from "@org/auth"
import { Effect, Layer, Redacted } from "effect"
import * as FileSystem from "effect/FileSystem"
import * as Jose from "jose"

const nodeFileSystem = NodeFileSystem.layer

// Any file system access fails the test: production must never generate keys.
const noFileSystem = Layer.succeed(FileSystem.FileSystem)(
  FileSystem.makeNoop({
    exists: () => Effect.die("production touched the file system"),
    readFileString: () => Effect.die("production touched the file system"),
    writeFileString: () => Effect.die("production touched the file system"),
    makeDirectory: () => Effect.die("production touched the file system")
  })
)

const tempDirs: Array<string> = []
const tempDir = Effect.promise(async () => {
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "org-auth-jwtkeys-"))
  tempDirs.push(dir)
  return dir
})
afterAll(() => Promise.all(tempDirs.map((dir) => Fs.rm(dir, { recursive: true, force: true }))))

const pkcs8 = (key: NodeCrypto.KeyObject) => key.export({ type: "pkcs8", format: "pem" }).toString()
const spki = (key: NodeCrypto.KeyObject) => key.export({ type: "spki", format: "pem" }).toString()
const ec = NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const ec2 = NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const rsa = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 })

const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"]

const problemOf = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, JwtKeys.InvalidKey)
    const invalid = error as JwtKeys.InvalidKey
    // One line, naming its source, for the app to print before exiting.
    assert.notInclude(invalid.message, "\n")
    assert.isTrue(invalid.message.startsWith(`${invalid.source}: `))
    return invalid
  })

describe("JwtKeys", () => {
  it.effect("reads PEM and JWK private keys; kid is the JWK's own or its RFC 7638 thumbprint", () =>
    Effect.gen(function* () {
      const fromPem = yield* JwtKeys.fromPrivateKey(pkcs8(ec.privateKey), { alg: "ES256" })
      const thumbprint = yield* Effect.promise(() =>
        Jose.calculateJwkThumbprint(ec.publicKey.export({ format: "jwk" }) as Jose.JWK)
      )
      assert.strictEqual(fromPem.signer.kid, thumbprint)
      assert.strictEqual(fromPem.verifier.kid, thumbprint)
      assert.strictEqual(fromPem.verifier.thumbprint, thumbprint)
      const jwk = { ...ec.privateKey.export({ format: "jwk" }), kid: "2025-01" }
      const fromJwkText = yield* JwtKeys.fromPrivateKey(JSON.stringify(jwk), { alg: "ES256" })
      assert.strictEqual(fromJwkText.signer.kid, "2025-01")
      assert.strictEqual(fromJwkText.verifier.thumbprint, thumbprint)
      const escaped = pkcs8(rsa.privateKey).replaceAll("\n", "\\n")
      const fromEscaped = yield* JwtKeys.fromPrivateKey(Redacted.make(escaped), { alg: "RS256" })
      assert.strictEqual(fromEscaped.signer.alg, "RS256")
      const hs = yield* JwtKeys.fromPrivateKey("x".repeat(32), { alg: "HS256" })
      assert.strictEqual(hs.verifier.publicJwk, undefined)
    })
  )

  it.effect("refuses weak, mismatched and unsupported keys with a one-line message", () =>
    Effect.gen(function* () {
      const weakRsa = pkcs8(NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey)
      assert.include(
        (yield* problemOf(JwtKeys.fromPrivateKey(weakRsa, { alg: "RS256" }))).problem,
        "1024 bits"
      )
      const p384 = pkcs8(NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey)
      assert.include((yield* problemOf(JwtKeys.fromPrivateKey(p384, { alg: "ES256" }))).problem, "P-256")
      const ed = pkcs8(NodeCrypto.generateKeyPairSync("ed25519").privateKey)
      assert.include((yield* problemOf(JwtKeys.fromPrivateKey(ed, { alg: "ES256" }))).problem, "unsupported")
      const short = yield* problemOf(
        JwtKeys.fromPrivateKey("x".repeat(31), { alg: "HS256", source: "JWT_PRIVATE_KEY" })
      )
      assert.strictEqual(short.source, "JWT_PRIVATE_KEY")
      assert.include(short.problem, "31 bytes")
      assert.notInclude(short.message, "xxxx")
      assert.include(
        (yield* problemOf(JwtKeys.fromPrivateKey(pkcs8(rsa.privateKey), { alg: "ES256" }))).problem,
        "RS256 key"
      )
      const lying = JSON.stringify({ ...ec.privateKey.export({ format: "jwk" }), alg: "RS256" })
      assert.include((yield* problemOf(JwtKeys.fromPrivateKey(lying, { alg: "ES256" }))).problem, '"alg"')
      const publicOnly = JSON.stringify(ec.publicKey.export({ format: "jwk" }))
      assert.include(
        (yield* problemOf(JwtKeys.fromPrivateKey(publicOnly, { alg: "ES256" }))).problem,
        "public"
      )
      yield* problemOf(JwtKeys.fromPrivateKey("not a key", { alg: "ES256" }))
      yield* problemOf(JwtKeys.fromPrivateKey("{not json", { alg: "ES256" }))
      yield* problemOf(JwtKeys.fromPrivateKey(spki(ec.publicKey), { alg: "ES256" }))
    })
  )

  it.effect("reads public keys as PEM blocks, a JWK or a JWKS; refuses private or secret material", () =>
    Effect.gen(function* () {
      const two = yield* JwtKeys.fromPublicKeys(`${spki(ec.publicKey)}\n${spki(rsa.publicKey)}`)
      assert.deepStrictEqual(
        two.map((key) => key.alg),
        ["ES256", "RS256"]
      )
      const jwks = JSON.stringify({
        keys: [
          { ...ec.publicKey.export({ format: "jwk" }), kid: "new", alg: "ES256", use: "sig" },
          { ...rsa.publicKey.export({ format: "jwk" }), kid: "old" }
        ]
      })
      const fromJwks = yield* JwtKeys.fromPublicKeys(jwks)
      assert.deepStrictEqual(
        fromJwks.map((key) => [key.kid, key.alg]),
        [
          ["new", "ES256"],
          ["old", "RS256"]
        ]
      )
      const one = yield* JwtKeys.fromPublicKeys(JSON.stringify(ec.publicKey.export({ format: "jwk" })))
      assert.strictEqual(one[0]?.kid, two[0]?.kid)
      yield* problemOf(JwtKeys.fromPublicKeys(pkcs8(ec.privateKey)))
      yield* problemOf(
        JwtKeys.fromPublicKeys(JSON.stringify({ keys: [ec.privateKey.export({ format: "jwk" })] }))
      )
      yield* problemOf(JwtKeys.fromPublicKeys(JSON.stringify({ kty: "oct", k: "c2VjcmV0" })))
      yield* problemOf(
        JwtKeys.fromPublicKeys(JSON.stringify({ ...ec.publicKey.export({ format: "jwk" }), alg: "HS256" }))
      )
      yield* problemOf(JwtKeys.fromPublicKeys(JSON.stringify({ keys: [] })))
      yield* problemOf(JwtKeys.fromPublicKeys("garbage"))
    })
  )

  it.effect("the JWKS holds only public members with kid, alg and use; never an HS secret", () =>
    Effect.gen(function* () {
      const es = yield* JwtKeys.fromPrivateKey(pkcs8(ec.privateKey), { alg: "ES256" })
      const rs = yield* JwtKeys.fromPrivateKey(pkcs8(rsa.privateKey), { alg: "RS256" })
      const keySet = yield* JwtKeys.make({ signer: es, verifiers: [rs.verifier] })
      const document = JSON.parse(JSON.stringify(JwtKeys.jwks(keySet)))
      assert.deepStrictEqual(
        document.keys.map((key: Record<string, unknown>) => [key.kid, key.alg, key.use, key.kty]),
        [
          [es.signer.kid, "ES256", "sig", "EC"],
          [rs.signer.kid, "RS256", "sig", "RSA"]
        ]
      )
      for (const key of document.keys) {
        for (const member of privateMembers) assert.notProperty(key, member)
        // Each published key really is the verifier's public key.
        const imported = yield* Effect.promise(() => Jose.importJWK(key, key.alg))
        assert.notInstanceOf(imported, Uint8Array)
      }
      const hs = yield* JwtKeys.fromPrivateKey("s".repeat(40), { alg: "HS256" })
      const hsDocument = JSON.stringify(JwtKeys.jwks(yield* JwtKeys.make({ signer: hs })))
      assert.strictEqual(hsDocument, '{"keys":[]}')
    })
  )

  it.effect("a kid shared by two different keys is refused; the same key twice is kept once", () =>
    Effect.gen(function* () {
      const a = yield* JwtKeys.fromPrivateKey(
        JSON.stringify({ ...ec.privateKey.export({ format: "jwk" }), kid: "k" }),
        {
          alg: "ES256"
        }
      )
      const b = yield* JwtKeys.fromPrivateKey(
        JSON.stringify({ ...ec2.privateKey.export({ format: "jwk" }), kid: "k" }),
        {
          alg: "ES256"
        }
      )
      assert.include((yield* problemOf(JwtKeys.make({ signer: a, verifiers: [b.verifier] }))).problem, "kid")
      const same = yield* JwtKeys.make({ signer: a, verifiers: [a.verifier, a.verifier] })
      assert.strictEqual(same.verifiers.size, 1)
    })
  )

  describe("fromConfig", () => {
    it.effect("production refuses HS256 and missing keys, and never touches the file system", () =>
      Effect.gen(function* () {
        const hs = yield* problemOf(
          JwtKeys.fromConfig({
            env: "production",
            algorithm: "HS256",
            privateKey: "s".repeat(64),
            dataDir: "/nope"
          })
        )
        assert.strictEqual(hs.source, "JWT_ALGORITHM")
        const missing = yield* problemOf(
          JwtKeys.fromConfig({ env: "production", algorithm: "ES256", dataDir: "/nope" })
        )
        assert.strictEqual(missing.source, "JWT_PRIVATE_KEY")
        const blank = yield* problemOf(
          JwtKeys.fromConfig({ env: "production", algorithm: "ES256", privateKey: "  ", dataDir: "/nope" })
        )
        assert.strictEqual(blank.source, "JWT_PRIVATE_KEY")
        const keySet = yield* JwtKeys.fromConfig({
          env: "production",
          algorithm: "ES256",
          privateKey: Redacted.make(pkcs8(ec.privateKey)),
          publicKey: `${spki(ec2.publicKey)}${spki(ec.publicKey)}`,
          dataDir: "/nope"
        })
        assert.strictEqual(keySet.verifiers.size, 2)
        assert.isTrue(keySet.verifiers.has(keySet.signer.kid))
      }).pipe(Effect.provide(noFileSystem))
    )

    it.effect("JWT_PUBLIC_KEY must contain the signing key and is refused alone or with HS256", () =>
      Effect.gen(function* () {
        const mismatch = yield* problemOf(
          JwtKeys.fromConfig({
            env: "production",
            algorithm: "ES256",
            privateKey: pkcs8(ec.privateKey),
            publicKey: spki(ec2.publicKey),
            dataDir: "/nope"
          })
        )
        assert.strictEqual(mismatch.source, "JWT_PUBLIC_KEY")
        const alone = yield* problemOf(
          JwtKeys.fromConfig({
            env: "development",
            algorithm: "ES256",
            publicKey: spki(ec.publicKey),
            dataDir: "/x"
          })
        )
        assert.strictEqual(alone.source, "JWT_PUBLIC_KEY")
        const withHs = yield* problemOf(
          JwtKeys.fromConfig({
            env: "test",
            algorithm: "HS256",
            privateKey: "s".repeat(32),
            publicKey: spki(ec.publicKey),
            dataDir: "/x"
          })
        )
        assert.strictEqual(withHs.source, "JWT_PUBLIC_KEY")
        const wrongAlg = yield* problemOf(
          JwtKeys.fromConfig({
            env: "production",
            algorithm: "ES256",
            privateKey: pkcs8(rsa.privateKey),
            dataDir: "/x"
          })
        )
        assert.strictEqual(wrongAlg.source, "JWT_PRIVATE_KEY")
      }).pipe(Effect.provide(noFileSystem))
    )

    it.effect(
      "outside production, HS256 with a configured secret works and no key configured means dev keys",
      () =>
        Effect.gen(function* () {
          const hs = yield* JwtKeys.fromConfig({
            env: "development",
            algorithm: "HS256",
            privateKey: "s".repeat(32),
            dataDir: "/unused"
          })
          assert.strictEqual(hs.signer.alg, "HS256")
          const dir = Path.join(yield* tempDir, "data")
          const dev = yield* JwtKeys.fromConfig({ env: "test", algorithm: "ES256", dataDir: dir }).pipe(
            Effect.provide(nodeFileSystem)
          )
          const again = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" }).pipe(
            Effect.provide(nodeFileSystem)
          )
          assert.strictEqual(again.signer.kid, dev.signer.kid)
        }).pipe(Effect.provide(noFileSystem))
    )
  })

  describe("development keys", () => {
    it.effect("are generated once, kept with mode 0600 in a 0700 directory, and loaded again", () =>
      Effect.gen(function* () {
        const dir = Path.join(yield* tempDir, "nested", "data")
        const first = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" })
        const file = Path.join(dir, JwtKeys.fileName)
        const stat = yield* Effect.promise(() => Fs.stat(file))
        assert.strictEqual(stat.mode & 0o777, 0o600)
        assert.strictEqual((yield* Effect.promise(() => Fs.stat(dir))).mode & 0o077, 0)
        const stored = JSON.parse(yield* Effect.promise(() => Fs.readFile(file, "utf8")))
        assert.lengthOf(stored, 1)
        assert.strictEqual(stored[0].kid, first.signer.kid)
        assert.strictEqual(stored[0].alg, "ES256")
        assert.isString(stored[0].d)
        const second = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" })
        assert.strictEqual(second.signer.kid, first.signer.kid)
        assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(dir)), [JwtKeys.fileName])
        // A token signed before the restart verifies after it.
        const before = yield* Jwt.make({ keys: first, issuer: "i", audience: "a" })
        const after = yield* Jwt.make({ keys: second, issuer: "i", audience: "a" })
        const { token } = yield* before.sign({ typ: "at+jwt", subject: "u", ttl: "1 minute" })
        assert.strictEqual((yield* after.verify(token, { typ: "at+jwt" })).subject, "u")
      }).pipe(Effect.provide(nodeFileSystem))
    )

    it.effect("rotate prepends a new signer; older keys keep verifying until dropped by keep", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const first = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" })
        const codecOf = (keys: JwtKeys.KeySet) => Jwt.make({ keys, issuer: "i", audience: "a" })
        const old = yield* (yield* codecOf(first)).sign({ typ: "at+jwt", subject: "u", ttl: "1 minute" })
        const rotated = yield* JwtKeys.rotate({ dir, alg: "ES256" })
        assert.notStrictEqual(rotated.signer.kid, first.signer.kid)
        assert.deepStrictEqual([...rotated.verifiers.keys()], [rotated.signer.kid, first.signer.kid])
        const reloaded = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" })
        assert.strictEqual(reloaded.signer.kid, rotated.signer.kid)
        assert.strictEqual(
          (yield* (yield* codecOf(reloaded)).verify(old.token, { typ: "at+jwt" })).subject,
          "u"
        )
        const pruned = yield* JwtKeys.rotate({ dir, alg: "ES256", keep: 1 })
        assert.strictEqual(pruned.verifiers.size, 1)
        const refused = yield* Effect.flip((yield* codecOf(pruned)).verify(old.token, { typ: "at+jwt" }))
        assert.strictEqual(refused.reason, "kid-unknown")
      }).pipe(Effect.provide(nodeFileSystem))
    )

    it.effect("switching the algorithm adds a key of the new one and keeps the old verifying", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const es = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" })
        const hs = yield* JwtKeys.loadOrGenerate({ dir, alg: "HS256" })
        assert.strictEqual(hs.signer.alg, "HS256")
        assert.strictEqual(hs.verifiers.get(es.signer.kid)?.alg, "ES256")
        const esAgain = yield* JwtKeys.loadOrGenerate({ dir, alg: "ES256" })
        assert.strictEqual(esAgain.signer.kid, es.signer.kid)
      }).pipe(Effect.provide(nodeFileSystem))
    )

    it.effect("a damaged key file is reported, never overwritten", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = Path.join(dir, JwtKeys.fileName)
        yield* Effect.promise(() => Fs.writeFile(file, '{"not":"a list"}'))
        const damaged = yield* problemOf(JwtKeys.loadOrGenerate({ dir, alg: "ES256" }))
        assert.strictEqual(damaged.source, file)
        assert.strictEqual(yield* Effect.promise(() => Fs.readFile(file, "utf8")), '{"not":"a list"}')
      }).pipe(Effect.provide(nodeFileSystem))
    )
  })
})
