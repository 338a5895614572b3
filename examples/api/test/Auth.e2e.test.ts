/**
 * Authentication and authorization of the example API over a real HTTP
 * server on 127.0.0.1: the JWT attack battery, server-side refusals
 * (revoked token, deleted user, refresh or MFA token as access token),
 * refresh rotation with reuse detection, logout, the MFA login, fail-closed
 * revocation, and the RBAC matrix of every item and user route.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { Totp } from "@org/auth"
import { CacheStore, Captcha, InvalidationBus, RevocationStore } from "@org/core"
import { HttpApp } from "@org/http"
import { JwtAttacks } from "@org/testing"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import {
  type Api,
  AppLayer,
  type AppOptions,
  admin,
  captchaSolved,
  makeApi,
  type Reply,
  testKeys
} from "./client.ts"

const start = (options: AppOptions = {}) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      HttpApp.serve(AppLayer(options)).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
      )
    )
    const base = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
    return yield* makeApi((request) => fetch(request, { signal: AbortSignal.timeout(10_000) }), base)
  })

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

const assert401 = (reply: Reply, what: string) => {
  assert.strictEqual(reply.status, 401, `${what}: ${reply.status} ${reply.text.slice(0, 200)}`)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json", what)
  assert.match(reply.headers.get("www-authenticate") ?? "", /^Bearer/, what)
}

// Enrolls and confirms MFA for a session; returns the TOTP secret and recovery codes.
const enableMfa = (api: Api, auth: Record<string, string>) =>
  Effect.gen(function* () {
    const enrolled = yield* api.call("POST", "/api/v1/auth/mfa/enroll", undefined, auth)
    assert.strictEqual(enrolled.status, 200, enrolled.text)
    assert.match(enrolled.body.otpauth_uri, /^otpauth:\/\/totp\/org-example:/)
    const secret = Totp.Secret.make(enrolled.body.secret)
    const code = Totp.codeAt(secret, Totp.stepAt(Date.now()))
    const confirmed = yield* api.call("POST", "/api/v1/auth/mfa/confirm", { code }, auth)
    assert.strictEqual(confirmed.status, 200, confirmed.text)
    const recovery: ReadonlyArray<string> = confirmed.body.recovery_codes
    assert.lengthOf(recovery, 10)
    return { secret, recovery, usedStep: Totp.stepAt(Date.now()) }
  })

describe("auth over HTTP on loopback", () => {
  it.live(
    "the JWT attack battery: every forged token is a 401 (431 for oversized headers), never 2xx or 5xx",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const { privateJwk } = yield* Effect.promise(() => testKeys)
        const mfaUser = yield* api.signUp()
        yield* enableMfa(api, mfaUser.auth)
        const challenge = yield* api.call("POST", "/api/v1/auth/login", {
          email: mfaUser.email,
          password: "Test-Account-Passw0rd-42"
        })
        assert.isTrue(challenge.body.mfa_required, challenge.text)
        const ctx: JwtAttacks.Context = {
          valid: api.user.access,
          signingKey: { alg: "ES256", key: privateJwk as never },
          refreshToken: api.user.refresh,
          mfaToken: challenge.body.mfa_token
        }
        // The battery can't pass vacuously: its controls are accepted.
        for (const control of JwtAttacks.controls(ctx)) {
          const reply = yield* api.call("GET", "/api/v1/auth/me", undefined, bearer(control.token))
          assert.strictEqual(reply.status, 200, `${control.name}: ${reply.text}`)
        }
        const attacks = JwtAttacks.attacks(ctx)
        assert.isAtLeast(attacks.length, 30)
        for (const attack of attacks) {
          for (const path of ["/api/v1/auth/me", "/api/v1/items"]) {
            const reply = yield* api.call("GET", path, undefined, bearer(attack.token))
            if (attack.category === "size" && reply.status === 431) continue
            assert401(reply, `${attack.name} on ${path}`)
          }
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "refuses a logged-out token, a deleted user's token, a refresh token and an MFA challenge as access tokens",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const adminSession = yield* api.login(admin.email, admin.password)
        // Logout revokes that access token (and its refresh family).
        const leaving = yield* api.signUp()
        assert.strictEqual((yield* api.call("GET", "/api/v1/auth/me", undefined, leaving.auth)).status, 200)
        assert.strictEqual((yield* api.call("POST", "/api/v1/auth/logout", {}, leaving.auth)).status, 204)
        assert401(yield* api.call("GET", "/api/v1/auth/me", undefined, leaving.auth), "logged-out token")
        assert401(
          yield* api.call("GET", "/api/v1/items", undefined, leaving.auth),
          "logged-out token on items"
        )
        assert401(
          yield* api.call(
            "POST",
            "/api/v1/auth/refresh",
            { refresh_token: leaving.refresh },
            { authorization: "" }
          ),
          "refresh after logout"
        )
        // A deleted user's tokens stop working at once.
        const doomed = yield* api.signUp()
        const deleted = yield* api.call("DELETE", `/api/v1/users/${doomed.id}`, undefined, adminSession.auth)
        assert.strictEqual(deleted.status, 204, deleted.text)
        assert401(yield* api.call("GET", "/api/v1/items", undefined, doomed.auth), "deleted user's token")
        assert401(
          yield* api.call(
            "POST",
            "/api/v1/auth/refresh",
            { refresh_token: doomed.refresh },
            { authorization: "" }
          ),
          "deleted user's refresh token"
        )
        const relogin = yield* api.call(
          "POST",
          "/api/v1/auth/login",
          {
            email: doomed.email,
            password: "Test-Account-Passw0rd-42"
          },
          { authorization: "" }
        )
        assert401(relogin, "deleted user's login")
        // Opaque refresh tokens are not access tokens.
        assert401(
          yield* api.call("GET", "/api/v1/auth/me", undefined, bearer(api.user.refresh)),
          "refresh token"
        )
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "refresh rotates the pair; reusing a spent refresh token is a 401 and revokes the whole family",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const first = api.user.refresh
        const rotated = yield* api.call(
          "POST",
          "/api/v1/auth/refresh",
          { refresh_token: first },
          { authorization: "" }
        )
        assert.strictEqual(rotated.status, 200, rotated.text)
        assert.hasAllKeys(rotated.body, ["access_token", "token_type", "expires_in", "refresh_token"])
        assert.strictEqual(rotated.body.token_type, "Bearer")
        assert.strictEqual(rotated.body.expires_in, 900)
        assert.notStrictEqual(rotated.body.refresh_token, first)
        const second = rotated.body.refresh_token as string
        assert.strictEqual(
          (yield* api.call("GET", "/api/v1/auth/me", undefined, bearer(rotated.body.access_token))).status,
          200
        )
        // The thief (or the victim) presents the spent token: refused, and the family dies.
        assert401(
          yield* api.call("POST", "/api/v1/auth/refresh", { refresh_token: first }, { authorization: "" }),
          "spent refresh token"
        )
        assert401(
          yield* api.call("POST", "/api/v1/auth/refresh", { refresh_token: second }, { authorization: "" }),
          "successor after reuse"
        )
        for (const junk of [
          "rt_",
          "x",
          "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          api.user.access.slice(0, 500)
        ]) {
          assert401(
            yield* api.call("POST", "/api/v1/auth/refresh", { refresh_token: junk }, { authorization: "" }),
            `refresh with ${junk.slice(0, 10)}`
          )
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "login: one uniform 401 for unknown email and wrong password; register refuses weak passwords and duplicates",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = { authorization: "" }
        const unknown = yield* api.call(
          "POST",
          "/api/v1/auth/login",
          { email: "nobody@example.test", password: "whatever-Passw0rd" },
          anon
        )
        const wrong = yield* api.call(
          "POST",
          "/api/v1/auth/login",
          { email: api.user.email, password: "whatever-Passw0rd" },
          anon
        )
        assert401(unknown, "unknown email")
        assert401(wrong, "wrong password")
        assert.strictEqual(unknown.body.detail, wrong.body.detail)
        const weak = yield* api.call(
          "POST",
          "/api/v1/auth/register",
          { email: "weak@example.test", password: "Password2024!" },
          anon
        )
        assert.strictEqual(weak.status, 400, weak.text)
        assert.strictEqual(weak.body.errors[0].pointer, "/password")
        assert.notInclude(weak.text, "Password2024!")
        const duplicate = yield* api.call(
          "POST",
          "/api/v1/auth/register",
          { email: api.user.email.toUpperCase(), password: "Another-Long-Passw0rd" },
          anon
        )
        assert.strictEqual(duplicate.status, 409, duplicate.text)
        const created = yield* api.call(
          "POST",
          "/api/v1/auth/register",
          { email: " New@Example.TEST ", password: "Another-Long-Passw0rd", name: "New" },
          anon
        )
        assert.strictEqual(created.status, 201, created.text)
        assert.hasAllKeys(created.body, [
          "id",
          "email",
          "name",
          "roles",
          "mfaEnabled",
          "createdAt",
          "updatedAt"
        ])
        assert.deepInclude(created.body, { email: "new@example.test", roles: ["user"], mfaEnabled: false })
        const me = yield* api.call("GET", "/api/v1/auth/me")
        assert.deepStrictEqual(me.body.permissions, [
          "items:create",
          "items:delete:own",
          "items:read",
          "items:update:own"
        ])
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "MFA: enroll, confirm, login challenge, wrong and replayed codes refused, recovery code works once, disable",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = { authorization: "" }
        const user = yield* api.signUp()
        const unconfirmed = yield* api.call("POST", "/api/v1/auth/mfa/confirm", { code: "123456" }, user.auth)
        assert.strictEqual(unconfirmed.status, 409, unconfirmed.text)
        const { secret, recovery, usedStep } = yield* enableMfa(api, user.auth)
        const me = yield* api.call("GET", "/api/v1/auth/me", undefined, user.auth)
        assert.isTrue(me.body.mfaEnabled)
        const login = () =>
          api.call(
            "POST",
            "/api/v1/auth/login",
            { email: user.email, password: "Test-Account-Passw0rd-42" },
            anon
          )
        const first = yield* login()
        assert.strictEqual(first.status, 200)
        assert.deepStrictEqual(Object.keys(first.body).sort(), ["expires_in", "mfa_required", "mfa_token"])
        assert.strictEqual(first.body.expires_in, 300)
        // The challenge is not an access token.
        assert401(
          yield* api.call("GET", "/api/v1/auth/me", undefined, bearer(first.body.mfa_token)),
          "mfa token as access"
        )
        const verify = (mfa_token: string, code: string) =>
          api.call("POST", "/api/v1/auth/mfa/verify", { mfa_token, code }, anon)
        // The code used to confirm has been spent: replay refused.
        assert401(
          yield* verify(first.body.mfa_token, Totp.codeAt(secret, usedStep)),
          "replayed confirmation code"
        )
        const wrongCode = String(
          (Number(Totp.codeAt(secret, Totp.stepAt(Date.now()))) + 1) % 1_000_000
        ).padStart(6, "0")
        assert401(yield* verify(first.body.mfa_token, wrongCode), "wrong code")
        // A recovery code works once, and spends the challenge.
        const ok = yield* verify(first.body.mfa_token, recovery[0]!)
        assert.strictEqual(ok.status, 200, ok.text)
        assert.isString(ok.body.access_token)
        assert401(yield* verify(first.body.mfa_token, recovery[1]!), "challenge used twice")
        const second = yield* login()
        assert401(yield* verify(second.body.mfa_token, recovery[0]!), "recovery code used twice")
        assert.strictEqual((yield* verify(second.body.mfa_token, recovery[1]!)).status, 200)
        // Disabling needs a valid code.
        const fresh = bearer(ok.body.access_token)
        assert401(
          yield* api.call("POST", "/api/v1/auth/mfa/disable", { code: wrongCode }, fresh),
          "disable with wrong code"
        )
        const disabled = yield* api.call("POST", "/api/v1/auth/mfa/disable", { code: recovery[2]! }, fresh)
        assert.strictEqual(disabled.status, 204, disabled.text)
        const plain = yield* login()
        assert.isString(plain.body.access_token, plain.text)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "fail closed: with no revocation source answering, protected routes are 503 problems, never 200",
    () =>
      Effect.gen(function* () {
        const failing = Layer.succeed(
          RevocationStore.RevocationStore,
          RevocationStore.RevocationStore.of({
            revokeToken: () =>
              Effect.fail(
                new RevocationStore.RevocationUnavailable({ operation: "revokeToken", cause: "down" })
              ),
            revokeSubject: () =>
              Effect.fail(
                new RevocationStore.RevocationUnavailable({ operation: "revokeSubject", cause: "down" })
              ),
            isRevoked: () =>
              Effect.fail(
                new RevocationStore.RevocationUnavailable({ operation: "isRevoked", cause: "down" })
              ),
            entries: Effect.fail(
              new RevocationStore.RevocationUnavailable({ operation: "entries", cause: "down" })
            )
          })
        )
        const api = yield* start({
          stores: Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory, failing)
        })
        for (const [method, path] of [
          ["GET", "/api/v1/items"],
          ["GET", "/api/v1/auth/me"],
          ["POST", "/api/v1/items"]
        ] as const) {
          const reply = yield* api.call(
            method,
            path,
            method === "POST" ? { name: "x", price: 1, quantity: 1 } : undefined
          )
          assert.strictEqual(reply.status, 503, `${method} ${path}: ${reply.text}`)
          assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
        }
        // Public routes still work.
        assert.strictEqual(
          (yield* api.call("GET", "/health/live", undefined, { authorization: "" })).status,
          200
        )
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("CAPTCHA on register and login", () => {
  it.live(
    "a deployment's verifier is consulted: without a solved challenge, 400 naming the header",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const captcha = Captcha.layer((challenge) => {
          seen.push(`${challenge.action}:${challenge.token ?? "-"}`)
          return challenge.token === "solved"
            ? Effect.void
            : Effect.fail(new Captcha.CaptchaFailed({ reason: "not solved" }))
        })
        const api = yield* start({ captcha })
        const anon = { authorization: "" }
        const account = { email: "captcha@example.test", password: "Another-Long-Passw0rd" }
        for (const path of ["/api/v1/auth/register", "/api/v1/auth/login"]) {
          const refused = yield* api.call("POST", path, account, anon)
          assert.strictEqual(refused.status, 400, refused.text)
          assert.strictEqual(refused.body.errors[0].pointer, "/x-captcha-token")
        }
        const registered = yield* api.call("POST", "/api/v1/auth/register", account, {
          ...anon,
          ...captchaSolved
        })
        assert.strictEqual(registered.status, 201, registered.text)
        const loggedIn = yield* api.call("POST", "/api/v1/auth/login", account, { ...anon, ...captchaSolved })
        assert.strictEqual(loggedIn.status, 200, loggedIn.text)
        assert.includeMembers(seen, ["register:-", "login:-", "register:solved", "login:solved"])
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("RBAC matrix over HTTP", () => {
  it.live(
    "every item and user route x {anonymous, user, other user, admin}: the exact status",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const owner = api.user
        const other = yield* api.signUp()
        const adminSession = yield* api.login(admin.email, admin.password)
        const who = {
          anonymous: { authorization: "" },
          user: owner.auth,
          other: other.auth,
          admin: adminSession.auth
        } as const
        type Who = keyof typeof who
        // A fresh item of the owner for every destructive row.
        const freshItem = Effect.map(
          api.call("POST", "/api/v1/items", { name: "Owned", price: 1, quantity: 1 }, owner.auth),
          (reply) => reply.body.id as string
        )
        const target = yield* api.signUp()
        type Row = readonly [string, (id: string) => readonly [string, string, unknown?], Record<Who, number>]
        const rows: ReadonlyArray<Row> = [
          [
            "list items",
            () => ["GET", "/api/v1/items"],
            { anonymous: 401, user: 200, other: 200, admin: 200 }
          ],
          [
            "read an item",
            (id) => ["GET", `/api/v1/items/${id}`],
            { anonymous: 401, user: 200, other: 200, admin: 200 }
          ],
          [
            "create an item",
            () => ["POST", "/api/v1/items", { name: "New", price: 2, quantity: 1 }],
            { anonymous: 401, user: 201, other: 201, admin: 201 }
          ],
          [
            "update the owner's item",
            (id) => ["PATCH", `/api/v1/items/${id}`, { price: 3 }],
            { anonymous: 401, user: 200, other: 403, admin: 200 }
          ],
          [
            "delete the owner's item",
            (id) => ["DELETE", `/api/v1/items/${id}`],
            { anonymous: 401, user: 204, other: 403, admin: 204 }
          ],
          [
            "list users",
            () => ["GET", "/api/v1/users"],
            { anonymous: 401, user: 403, other: 403, admin: 200 }
          ],
          [
            "set roles",
            () => ["PUT", `/api/v1/users/${target.id}/roles`, { roles: ["user"] }],
            { anonymous: 401, user: 403, other: 403, admin: 200 }
          ]
        ]
        for (const [name, request, expected] of rows) {
          for (const caller of Object.keys(who) as Array<Who>) {
            const [method, path, body] = request(yield* freshItem)
            const reply = yield* api.call(method, path, body, who[caller])
            assert.strictEqual(
              reply.status,
              expected[caller],
              `${name} as ${caller}: ${reply.text.slice(0, 200)}`
            )
            if (reply.status >= 400)
              assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
          }
        }
        // Deleting users: a fresh victim per caller.
        for (const caller of Object.keys(who) as Array<Who>) {
          const victim = yield* api.signUp()
          const reply = yield* api.call("DELETE", `/api/v1/users/${victim.id}`, undefined, who[caller])
          const expected = { anonymous: 401, user: 403, other: 403, admin: 204 }[caller]
          assert.strictEqual(
            reply.status,
            expected,
            `delete a user as ${caller}: ${reply.text.slice(0, 200)}`
          )
        }
        // Nobody's item was changed by someone else: the other user's 403s wrote nothing.
        const item = yield* freshItem
        yield* api.call("PATCH", `/api/v1/items/${item}`, { price: 99 }, other.auth)
        assert.strictEqual(
          (yield* api.call("GET", `/api/v1/items/${item}`, undefined, owner.auth)).body.price,
          1
        )
        // A role change takes effect: the promoted user's new token has admin permissions.
        const promoted = yield* api.call(
          "PUT",
          `/api/v1/users/${other.id}/roles`,
          { roles: ["user", "admin"] },
          adminSession.auth
        )
        assert.deepStrictEqual(promoted.body.roles, ["user", "admin"])
        const refreshed = yield* api.call(
          "POST",
          "/api/v1/auth/refresh",
          { refresh_token: other.refresh },
          { authorization: "" }
        )
        assert.strictEqual(refreshed.status, 200, refreshed.text)
        const list = yield* api.call("GET", "/api/v1/users", undefined, bearer(refreshed.body.access_token))
        assert.strictEqual(list.status, 200, list.text)
        assert.isAtLeast(list.body.total, 3)
        for (const user of list.body.items) assert.notProperty(user, "passwordHash")
      }).pipe(Effect.scoped),
    180_000
  )
})
