import * as NodeCrypto from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { JwtAttacks } from "@org/testing"

// A valid-looking ES256 token signed here, standing in for a service's.
const ec = NodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const input = `${encode({ alg: "ES256", kid: "k1", typ: "at+jwt" })}.${encode({
  iss: "i",
  aud: "a",
  sub: "u",
  jti: "j",
  iat: 1_700_000_000,
  nbf: 1_700_000_000,
  exp: 1_700_000_900,
  roles: ["user"]
})}`
const valid = `${input}.${NodeCrypto.sign("sha256", Buffer.from(input), { key: ec.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`
const verifies = (token: string) => {
  const [h, p, s] = token.split(".")
  return NodeCrypto.verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key: ec.publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(s ?? "", "base64url")
  )
}

describe("JwtAttacks", () => {
  it("names are unique, every token differs from the valid one, and every category is covered", () => {
    const battery = JwtAttacks.attacks({
      valid,
      signingKey: { alg: "ES256", key: ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
      refreshToken: "opaque-refresh",
      mfaToken: "mfa.token.here"
    })
    assert.strictEqual(new Set(battery.map((attack) => attack.name)).size, battery.length)
    for (const attack of battery) assert.notStrictEqual(attack.token, valid, attack.name)
    assert.deepStrictEqual([...new Set(battery.map((attack) => attack.category))].sort(), [
      "alg",
      "claims",
      "header",
      "kid",
      "malformed",
      "signature",
      "size",
      "token-type"
    ])
    assert.isTrue(battery.some((attack) => attack.token === "opaque-refresh"))
    assert.isTrue(battery.some((attack) => attack.token === "mfa.token.here"))
    for (const attack of battery.filter((a) => a.category === "size"))
      assert.isAbove(attack.token.length, 8192)
  })

  it("claim attacks are really signed with the given key, and the re-signed control verifies", () => {
    const ctx = { valid, signingKey: { alg: "ES256" as const, key: ec.privateKey.export({ format: "jwk" }) } }
    const expired = JwtAttacks.attacks(ctx).find((attack) => attack.name === "expired an hour ago")
    assert.isDefined(expired)
    assert.isTrue(verifies(expired?.token ?? ""))
    const controls = JwtAttacks.controls(ctx)
    assert.lengthOf(controls, 2)
    for (const control of controls) assert.isTrue(verifies(control.token), control.name)
  })

  it("without the signing key, forged tokens never carry a valid signature and key confusion uses the JWK", () => {
    const battery = JwtAttacks.attacks({ valid, publicJwk: ec.publicKey.export({ format: "jwk" }) })
    // Signature and malformed attacks may keep the real signature bytes on purpose
    // (padding, trailing segments); forged claims and headers must not carry one.
    const forged = battery.filter((a) => ["alg", "claims", "header", "kid", "size"].includes(a.category))
    assert.isAtLeast(forged.length, 60)
    for (const attack of forged) assert.isFalse(verifies(attack.token), attack.name)
    assert.isTrue(battery.some((attack) => attack.name === "key confusion: HS256 keyed with the SPKI PEM"))
    assert.lengthOf(JwtAttacks.controls({ valid }), 1)
  })
})
