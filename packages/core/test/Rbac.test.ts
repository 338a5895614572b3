import { assert, describe, it } from "@effect/vitest"
import { Captcha, Principal, Rbac } from "@org/core"
import { Effect, Exit, Schema } from "effect"
import * as fc from "fast-check"

const policy = Rbac.make({
  permissions: ["docs:read", "docs:write:own", "docs:write:any", "users:manage"],
  roles: {
    reader: { permissions: ["docs:read"] },
    writer: { inherits: ["reader"], permissions: ["docs:write:own"] },
    editor: { inherits: ["writer"], permissions: ["docs:write:any"] },
    admin: { inherits: ["editor"], permissions: ["users:manage"] },
    auditor: { inherits: ["reader"] }
  }
})

const principal = (subject: string, roles: ReadonlyArray<string>): Principal.Principal => ({
  subject,
  roles,
  permissions: policy.permissionsOf(roles),
  tokenId: "t",
  issuedAt: 0,
  expiresAt: 1
})

const run = <A, E>(effect: Effect.Effect<A, E, Principal.CurrentPrincipal>, who: Principal.Principal) =>
  Effect.runSyncExit(Effect.provideService(effect, Principal.CurrentPrincipal, who))

describe("Rbac", () => {
  it("resolves inheritance transitively, and unknown roles grant nothing", () => {
    assert.deepStrictEqual([...policy.permissionsOf(["admin"])].sort(), [
      "docs:read",
      "docs:write:any",
      "docs:write:own",
      "users:manage"
    ])
    assert.deepStrictEqual([...policy.permissionsOf(["auditor"])], ["docs:read"])
    assert.deepStrictEqual([...policy.permissionsOf(["root", "__proto__", "constructor"])], [])
    assert.isFalse(policy.isRole("toString"))
  })

  it("the permissions of a set of roles are the union of each role's (property)", () => {
    fc.assert(
      fc.property(fc.subarray([...policy.roles]), (roles) => {
        const union = new Set(roles.flatMap((role) => [...policy.permissionsOf([role])]))
        assert.deepStrictEqual([...policy.permissionsOf(roles)].sort(), [...union].sort())
      })
    )
  })

  it("the remembered sets never mix up two lists: names that would join to the same text", () => {
    // Each role list is remembered by its JSON: a list and a lookalike single name must not share it.
    assert.deepStrictEqual([...policy.permissionsOf(["reader", "admin"])].length, 4)
    assert.deepStrictEqual([...policy.permissionsOf(["reader\u0000admin"])], [])
    assert.deepStrictEqual([...policy.permissionsOf(["reader,admin"])], [])
    assert.deepStrictEqual([...policy.permissionsOf(['reader","admin'])], [])
    // And in the other order of first use.
    const fresh = Rbac.make({
      permissions: ["a:x", "b:y"],
      roles: { a: { permissions: ["a:x"] }, b: { permissions: ["b:y"] } }
    })
    assert.deepStrictEqual([...fresh.permissionsOf(["a\u0000b"])], [])
    assert.deepStrictEqual([...fresh.permissionsOf(["a", "b"])].sort(), ["a:x", "b:y"])
    assert.strictEqual(fresh.permissionsOf(["a", "b"]), fresh.permissionsOf(["a", "b"]), "made once")
  })

  it("refuses a role that inherits itself", () => {
    assert.throws(
      () =>
        Rbac.make({
          permissions: ["a"],
          roles: {
            x: { inherits: ["y"] },
            y: { inherits: ["z"] },
            z: { inherits: ["x"], permissions: ["a"] }
          }
        }),
      /inherits itself/
    )
  })

  it("require: passes with the permission, fails with Forbidden naming it otherwise", () => {
    assert.isTrue(Exit.isSuccess(run(policy.require("docs:read"), principal("u", ["reader"]))))
    const refused = Effect.runSync(
      Effect.flip(
        Effect.provideService(
          policy.require("users:manage"),
          Principal.CurrentPrincipal,
          principal("u", ["editor"])
        )
      )
    )
    assert.strictEqual(refused._tag, "Forbidden")
    assert.strictEqual(refused.permission, "users:manage")
  })

  it("requireOwnerOr: the owner with :own, anyone with :any, nobody else", () => {
    const perms = { own: "docs:write:own", any: "docs:write:any" } as const
    const cases: ReadonlyArray<readonly [Principal.Principal, boolean]> = [
      [principal("alice", ["writer"]), true],
      [principal("bob", ["writer"]), false],
      [principal("bob", ["reader"]), false],
      [principal("alice", ["reader"]), false],
      [principal("carol", ["editor"]), true]
    ]
    for (const [who, allowed] of cases) {
      assert.strictEqual(
        Exit.isSuccess(run(policy.requireOwnerOr("alice", perms), who)),
        allowed,
        who.subject
      )
      assert.strictEqual(policy.canActOn(who, "alice", perms), allowed)
    }
  })

  it("exposes the roles and permissions as schemas", () => {
    assert.strictEqual(Schema.decodeUnknownSync(policy.Role)("editor"), "editor")
    assert.throws(() => Schema.decodeUnknownSync(policy.Permission)("docs:delete"))
  })

  it("a permission the policy does not declare does not compile", () => {
    // @ts-expect-error: "docs:delete" is not a permission of the policy
    const typo = () => policy.require("docs:delete")
    // @ts-expect-error: a role's permissions are checked too
    const badRole = () => Rbac.make({ permissions: ["a"], roles: { r: { permissions: ["b"] } } })
    assert.isFunction(typo)
    assert.isFunction(badRole)
  })
})

describe("Captcha", () => {
  it("layerNoop accepts; a custom verifier refuses with CaptchaFailed", () => {
    const check = (token: string | undefined) =>
      Effect.flatMap(Captcha.CaptchaVerifier, (v) =>
        v.verify({ token, remoteAddress: undefined, action: "login" })
      )
    assert.isTrue(Exit.isSuccess(Effect.runSyncExit(Effect.provide(check(undefined), Captcha.layerNoop))))
    const strict = Captcha.layer((c) =>
      c.token === "ok" ? Effect.void : Effect.fail(new Captcha.CaptchaFailed({ reason: "missing or wrong" }))
    )
    assert.isTrue(Exit.isSuccess(Effect.runSyncExit(Effect.provide(check("ok"), strict))))
    assert.isTrue(Exit.isFailure(Effect.runSyncExit(Effect.provide(check(undefined), strict))))
  })
})
