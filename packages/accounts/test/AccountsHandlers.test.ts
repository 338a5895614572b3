/**
 * The accounts API as a team gets it from the kit: its own policy (`member`,
 * `owner`), its own prefix (`/v2`), every store in memory, served in memory
 * and called through the typed client derived from the definition. Raw
 * requests only for what a typed client cannot send (no body at all,
 * forged tokens).
 */
import { assert, describe, it } from "@effect/vitest"
import { AccountsApi, AccountsHandlers } from "@org/accounts"
import { Rbac } from "@org/core"
import { Health, HttpApp } from "@org/http"
import { JwtAttacks } from "@org/testing"
import { Effect, Layer } from "effect"
import { HttpApi, HttpApiBuilder } from "effect/http-api"
import { definition, keys, owner, password, serve } from "./fixtures/app.ts"

let counter = 0
const freshEmail = () => `member${++counter}@example.test`

const tagOf = (error: unknown) =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

const signUp = (app: Effect.Success<ReturnType<typeof serve>>, email = freshEmail()) =>
  Effect.gen(function* () {
    const anonymous = yield* app.client()
    const user = yield* anonymous.auth.register({ payload: { email, password }, headers: {} })
    const tokens = yield* anonymous.auth.login({ payload: { email, password }, headers: {} })
    assert.isTrue("access_token" in tokens)
    if (!("access_token" in tokens)) return yield* Effect.die("no tokens")
    return { user, email, tokens, client: yield* app.client(tokens.access_token) }
  })

describe("AccountsApi + AccountsHandlers for a team's own policy and prefix", () => {
  it.live("registers with the default role, logs in, and shows the policy's permissions", () =>
    Effect.gen(function* () {
      const app = yield* serve()
      const { user, email, client } = yield* signUp(app)
      assert.deepStrictEqual(user.roles, ["member"])
      assert.strictEqual(user.email, email)
      const me = yield* client.session.me()
      assert.deepStrictEqual(me.roles, ["member"])
      assert.deepStrictEqual(me.permissions, ["notes:read"])
      // Routes live under the prefix, not the default one.
      assert.strictEqual((yield* app.raw("POST", "/api/v1/auth/login")).status, 404)
      const openapi = (yield* app.raw("GET", "/openapi.json")).json as { paths: Record<string, unknown> }
      assert.includeMembers(Object.keys(openapi.paths), ["/v2/auth/password", "/v2/users", "/v2/auth/logout"])
    }).pipe(Effect.scoped)
  )

  it.live("refuses emails with bidirectional, zero-width or control characters", () =>
    Effect.gen(function* () {
      const app = yield* serve()
      for (const email of [
        "x\u202e@example.com",
        "a\u200db@example.com",
        "a\u0007@example.com",
        "a@exa\u2066mple.com"
      ]) {
        const reply = yield* app.raw("POST", "/v2/auth/register", {
          body: JSON.stringify({ email, password }),
          headers: { "content-type": "application/json" }
        })
        assert.strictEqual(reply.status, 400, JSON.stringify(email))
        assert.include(reply.text, '"pointer":"/email"')
      }
    }).pipe(Effect.scoped)
  )

  it.live("logout with no body at all is 204 and ends that token and its session", () =>
    Effect.gen(function* () {
      const app = yield* serve()
      const { tokens } = yield* signUp(app)
      const reply = yield* app.raw("POST", "/v2/auth/logout", {
        headers: { authorization: `Bearer ${tokens.access_token}` }
      })
      assert.strictEqual(reply.status, 204, reply.text)
      const after = yield* app.raw("GET", "/v2/auth/me", {
        headers: { authorization: `Bearer ${tokens.access_token}` }
      })
      assert.strictEqual(after.status, 401)
      const refreshed = yield* Effect.flip(
        (yield* app.client()).auth.refresh({ payload: { refresh_token: tokens.refresh_token } })
      )
      assert.strictEqual(tagOf(refreshed), "UnauthorizedProblem")
    }).pipe(Effect.scoped)
  )

  it.live(
    "changes the password: checks the current one and the policy, keeps this session, ends the others",
    () =>
      Effect.gen(function* () {
        const app = yield* serve()
        const anonymous = yield* app.client()
        const { email, tokens, client } = yield* signUp(app)
        const other = yield* anonymous.auth.login({ payload: { email, password }, headers: {} })
        if (!("refresh_token" in other)) return yield* Effect.die("no tokens")

        const wrong = yield* Effect.flip(
          client.session.changePassword({
            payload: { current_password: "not-it", new_password: "Brand-New-Passw0rd-77" }
          })
        )
        assert.strictEqual(tagOf(wrong), "UnauthorizedProblem")
        const weak = yield* app.raw("POST", "/v2/auth/password", {
          body: JSON.stringify({ current_password: password, new_password: "password1234" }),
          headers: { "content-type": "application/json", authorization: `Bearer ${tokens.access_token}` }
        })
        assert.strictEqual(weak.status, 400)
        assert.include(weak.text, '"pointer":"/new_password"')
        const anonymousChange = yield* Effect.flip(
          anonymous.session.changePassword({
            payload: { current_password: password, new_password: "Brand-New-Passw0rd-77" }
          })
        )
        assert.strictEqual(tagOf(anonymousChange), "UnauthorizedProblem")

        // Revocations are by second: let the change land in a later one than the logins.
        yield* Effect.sleep("1100 millis")
        yield* client.session.changePassword({
          payload: { current_password: password, new_password: "Brand-New-Passw0rd-77" }
        })
        const oldLogin = yield* Effect.flip(
          anonymous.auth.login({ payload: { email, password }, headers: {} })
        )
        assert.strictEqual(tagOf(oldLogin), "UnauthorizedProblem")
        const newLogin = yield* anonymous.auth.login({
          payload: { email, password: "Brand-New-Passw0rd-77" },
          headers: {}
        })
        assert.isTrue("access_token" in newLogin)
        // Access tokens issued before the change are refused, this one included.
        assert.strictEqual(tagOf(yield* Effect.flip(client.session.me())), "UnauthorizedProblem")
        // This session's refresh token still works; the other session's does not.
        const kept = yield* anonymous.auth.refresh({ payload: { refresh_token: tokens.refresh_token } })
        const renewed = yield* app.client(kept.access_token)
        assert.strictEqual((yield* renewed.session.me()).email, email)
        const ended = yield* Effect.flip(
          anonymous.auth.refresh({ payload: { refresh_token: other.refresh_token } })
        )
        assert.strictEqual(tagOf(ended), "UnauthorizedProblem")
      }).pipe(Effect.scoped)
  )

  it.live("users group: the configured permissions decide, with the team's roles on the wire", () =>
    Effect.gen(function* () {
      const app = yield* serve()
      const member = yield* signUp(app)
      const anonymous = yield* app.client()
      const ownerTokens = yield* anonymous.auth.login({ payload: owner, headers: {} })
      if (!("access_token" in ownerTokens)) return yield* Effect.die("no tokens")
      const admin = yield* app.client(ownerTokens.access_token)

      assert.strictEqual(
        tagOf(yield* Effect.flip(anonymous.users.list({ query: {} }))),
        "UnauthorizedProblem"
      )
      assert.strictEqual(
        tagOf(yield* Effect.flip(member.client.users.list({ query: {} }))),
        "ForbiddenProblem"
      )
      const page = yield* admin.users.list({ query: { size: 100 } })
      assert.includeMembers(
        page.items.map((user) => user.email),
        [owner.email, member.email]
      )
      assert.deepStrictEqual(page.items.find((user) => user.email === owner.email)?.roles, ["owner"])

      const promoted = yield* admin.users.setRoles({
        params: { id: member.user.id },
        payload: { roles: ["owner"] }
      })
      assert.deepStrictEqual(promoted.roles, ["owner"])
      const unknownRole = yield* app.raw("PUT", `/v2/users/${member.user.id}/roles`, {
        body: JSON.stringify({ roles: ["admin"] }),
        headers: { "content-type": "application/json", authorization: `Bearer ${ownerTokens.access_token}` }
      })
      assert.strictEqual(unknownRole.status, 400)

      yield* admin.users.delete({ params: { id: member.user.id } })
      const gone = yield* Effect.flip(admin.users.delete({ params: { id: member.user.id } }))
      assert.strictEqual(tagOf(gone), "NotFoundProblem")
    }).pipe(Effect.scoped)
  )

  it.live(
    "the JWT attack battery: every forged token is refused, the controls are accepted",
    () =>
      Effect.gen(function* () {
        const app = yield* serve()
        const { tokens } = yield* signUp(app)
        const { privateJwk } = yield* Effect.promise(() => keys)
        const ctx: JwtAttacks.Context = {
          valid: tokens.access_token,
          signingKey: { alg: "ES256", key: privateJwk as never },
          refreshToken: tokens.refresh_token
        }
        const me = (token: string) =>
          app.raw("GET", "/v2/auth/me", { headers: { authorization: `Bearer ${token}` } })
        for (const control of JwtAttacks.controls(ctx)) {
          assert.strictEqual((yield* me(control.token)).status, 200, control.name)
        }
        const attacks = JwtAttacks.attacks(ctx)
        assert.isAtLeast(attacks.length, 30)
        for (const attack of attacks) {
          const reply = yield* me(attack.token)
          if (attack.category === "size" && reply.status === 431) continue
          assert.strictEqual(reply.status, 401, attack.name)
          assert.strictEqual(reply.headers.get("www-authenticate")?.startsWith("Bearer"), true, attack.name)
        }
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("mounting only some groups", () => {
  const otherPolicy = Rbac.make({ permissions: ["all"], roles: { root: { permissions: ["all"] } } })
  const other = AccountsApi.make({ policy: otherPolicy, permissions: { read: "all", manage: "all" } })
  class Partial extends HttpApp.api(HttpApi.make("partial").add(Health.Group).add(definition.auth)) {}

  it("a group's handlers fit only an API that holds that very group (checked by the compiler)", () => {
    // @ts-expect-error: the API has no "users" group
    const missing = () => HttpApiBuilder.group(Partial, "users", AccountsHandlers.users(definition))
    // @ts-expect-error: an "auth" group of another definition (another policy) is another type
    const mismatched = () => HttpApiBuilder.group(Partial, "auth", AccountsHandlers.auth(other))
    assert.isFunction(missing)
    assert.isFunction(mismatched)
    assert.isTrue(Layer.isLayer(HttpApiBuilder.group(Partial, "auth", AccountsHandlers.auth(definition))))
  })

  it("the definition follows the policy and defaults the prefix", () => {
    assert.strictEqual(other.prefix, "/api/v1")
    assert.deepStrictEqual(definition.policy.roles, ["member", "owner"])
    assert.deepStrictEqual(otherPolicy.roles, ["root"])
  })
})
