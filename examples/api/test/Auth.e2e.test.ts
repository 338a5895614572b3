/**
 * Authentication and authorization of the example API over a real HTTP
 * server on 127.0.0.1: the JWT attack battery, server-side refusals
 * (revoked token, deleted user, refresh or MFA token as access token),
 * refresh rotation with reuse detection, logout, password change, the MFA
 * login, fail-closed revocation, and the RBAC matrix of every item and user
 * route.
 *
 * Requests go through the typed client wherever it can express them (with
 * `exchange`/`refused` where a test also checks the response head); raw
 * requests are kept for what it cannot send: forged tokens, a bodiless
 * logout, untrimmed or invisible-character emails.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import type { MfaChallenge, TokenPair } from "@org/accounts/AccountsApi"
import { UserId } from "@org/accounts/AccountsApi"
import { Totp } from "@org/auth"
import {
  CacheStore,
  Captcha,
  IdempotencyStore,
  InvalidationBus,
  RateLimiter,
  RevocationStore
} from "@org/core"
import { HttpApp, Problem } from "@org/http"
import { JwtAttacks } from "@org/testing"
import { Context, Effect, Layer, Result, Schema } from "effect"
import type { Headers } from "effect/http"
import { HttpServer } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Api as Definition } from "../src/client.ts"
import type { ItemId } from "../src/domain/Item.ts"
import { policy } from "../src/domain/Policy.ts"
import {
  type Api,
  AppLayer,
  type AppOptions,
  admin,
  captchaSolved,
  type Exchange,
  exchange,
  makeApi,
  password,
  type Reply,
  refused,
  testKeys,
  wireObject
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

type Client = Api["typed"]

// The client's own decoders, for the calls whose response head a test checks too.
const decode = {
  register: HttpApiClient.decodeResponse(Definition, { group: "auth", endpoint: "register" }),
  login: HttpApiClient.decodeResponse(Definition, { group: "auth", endpoint: "login" }),
  refresh: HttpApiClient.decodeResponse(Definition, { group: "auth", endpoint: "refresh" }),
  mfaVerify: HttpApiClient.decodeResponse(Definition, { group: "auth", endpoint: "mfaVerify" }),
  me: HttpApiClient.decodeResponse(Definition, { group: "session", endpoint: "me" }),
  changePassword: HttpApiClient.decodeResponse(Definition, { group: "session", endpoint: "changePassword" }),
  mfaDisable: HttpApiClient.decodeResponse(Definition, { group: "session", endpoint: "mfaDisable" }),
  listItems: HttpApiClient.decodeResponse(Definition, { group: "items", endpoint: "list" }),
  getItem: HttpApiClient.decodeResponse(Definition, { group: "items", endpoint: "get" }),
  createItem: HttpApiClient.decodeResponse(Definition, { group: "items", endpoint: "create" }),
  updateItem: HttpApiClient.decodeResponse(Definition, { group: "items", endpoint: "update" }),
  deleteItem: HttpApiClient.decodeResponse(Definition, { group: "items", endpoint: "delete" }),
  listUsers: HttpApiClient.decodeResponse(Definition, { group: "users", endpoint: "list" }),
  setRoles: HttpApiClient.decodeResponse(Definition, { group: "users", endpoint: "setRoles" }),
  deleteUser: HttpApiClient.decodeResponse(Definition, { group: "users", endpoint: "delete" })
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

// A raw request refused as unauthenticated.
const assert401 = (reply: Reply, what: string) => {
  assert.strictEqual(reply.status, 401, `${what}: ${reply.status} ${reply.text.slice(0, 200)}`)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json", what)
  assert.match(reply.headers.get("www-authenticate") ?? "", /^Bearer/, what)
}

interface Refusal {
  readonly status: number
  readonly headers: Headers.Headers
  readonly text: string
  readonly problem: { readonly _tag: string }
}

// A typed call refused as unauthenticated: the client decodes `Problem.Unauthorized`, sent as a 401 problem with a Bearer challenge.
const assertUnauthorized = (reply: Refusal, what: string) => {
  assert.strictEqual(
    reply.problem._tag,
    "UnauthorizedProblem",
    `${what}: ${reply.status} ${reply.text.slice(0, 200)}`
  )
  assert.strictEqual(reply.status, 401, what)
  assert.strictEqual(reply.headers["content-type"], "application/problem+json", what)
  assert.match(reply.headers["www-authenticate"] ?? "", /^Bearer/, what)
}

// What the RBAC and fail-closed tables compare: the status, the media type and the typed outcome.
interface Outcome {
  readonly status: number
  readonly text: string
  readonly contentType: string | undefined
  /** The `_tag` of the typed failure, `undefined` when the client decoded a success. */
  readonly failure: string | undefined
}

const outcome = <A, P extends { readonly _tag: string }>(reply: Exchange<A, P>): Outcome => ({
  status: reply.status,
  text: reply.text,
  contentType: reply.headers["content-type"],
  failure: Result.isFailure(reply.result) ? reply.result.failure._tag : undefined
})

const tokensOf = (reply: TokenPair | MfaChallenge): TokenPair =>
  "access_token" in reply ? reply : assert.fail("expected a token pair, got an MFA challenge")

const challengeOf = (reply: TokenPair | MfaChallenge): MfaChallenge =>
  "mfa_token" in reply ? reply : assert.fail("expected an MFA challenge, got a token pair")

// The field pointers of a validation problem, read with the kit's problem schema.
const pointersOf = (problem: unknown): ReadonlyArray<string> =>
  (Schema.decodeUnknownSync(Problem.Body)(problem).errors ?? []).map((error) => error.pointer)

const me = (client: Client) => refused(client.session.me({ responseMode: "response-only" }), decode.me)

const refresh = (client: Client, refresh_token: string) =>
  refused(client.auth.refresh({ payload: { refresh_token }, responseMode: "response-only" }), decode.refresh)

const login = (client: Client, email: string, secret: string) =>
  refused(
    client.auth.login({ payload: { email, password: secret }, headers: {}, responseMode: "response-only" }),
    decode.login
  )

// Enrolls and confirms MFA for a session; returns the TOTP secret and recovery codes.
const enableMfa = (client: Client) =>
  Effect.gen(function* () {
    const enrolled = yield* client.session.mfaEnroll()
    assert.match(enrolled.otpauth_uri, /^otpauth:\/\/totp\/org-example:/)
    const secret = Totp.Secret.make(enrolled.secret)
    // The step the code was made for, not the step after the confirm: hashing the
    // recovery codes can take long enough on a loaded machine to cross a 30 s step.
    const usedStep = Totp.stepAt(Date.now())
    const confirmed = yield* client.session.mfaConfirm({ payload: { code: Totp.codeAt(secret, usedStep) } })
    const recovery = confirmed.recovery_codes
    assert.lengthOf(recovery, 10)
    return { secret, recovery, usedStep }
  })

const newItem = { name: "New", price: 2, quantity: 1, description: null, category: null }

describe("auth over HTTP on loopback", () => {
  it.live(
    "the JWT attack battery: every forged token is a 401 (431 for oversized headers), never 2xx or 5xx",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = yield* api.typedAs(undefined)
        const { privateJwk } = yield* Effect.promise(() => testKeys)
        const mfaUser = yield* api.signUp()
        yield* enableMfa(yield* api.typedAs(mfaUser.access))
        const challenge = challengeOf(
          yield* anon.auth.login({ payload: { email: mfaUser.email, password }, headers: {} })
        )
        assert.isTrue(challenge.mfa_required)
        const ctx: JwtAttacks.Context = {
          valid: api.user.access,
          signingKey: { alg: "ES256", key: privateJwk as never },
          refreshToken: api.user.refresh,
          mfaToken: challenge.mfa_token
        }
        // Forged and oversized tokens go out raw, and so do the controls: the
        // battery can't pass vacuously if its controls, sent the same way, are accepted.
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
        const anon = yield* api.typedAs(undefined)
        const adminSession = yield* api.login(admin.email, admin.password)
        const asAdmin = yield* api.typedAs(adminSession.access)
        // Logout revokes that access token (and its refresh family), though the
        // token, used once, is in the verified-token cache: revocation is checked every time.
        const leaving = yield* api.signUp()
        const asLeaving = yield* api.typedAs(leaving.access)
        yield* asLeaving.session.me()
        const [, loggedOut] = yield* asLeaving.session.logout({
          payload: {},
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(loggedOut.status, 204)
        assertUnauthorized(yield* me(asLeaving), "logged-out token")
        assertUnauthorized(
          yield* refused(
            asLeaving.items.list({ query: {}, responseMode: "response-only" }),
            decode.listItems
          ),
          "logged-out token on items"
        )
        assertUnauthorized(yield* refresh(anon, leaving.refresh), "refresh after logout")
        // A deleted user's tokens stop working at once, also one in the verified-token cache.
        const doomed = yield* api.signUp()
        yield* (yield* api.typedAs(doomed.access)).items.list({ query: {} })
        const [, deleted] = yield* asAdmin.users.delete({
          params: { id: UserId.make(doomed.id) },
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(deleted.status, 204)
        assertUnauthorized(
          yield* refused(
            (yield* api.typedAs(doomed.access)).items.list({ query: {}, responseMode: "response-only" }),
            decode.listItems
          ),
          "deleted user's token"
        )
        assertUnauthorized(yield* refresh(anon, doomed.refresh), "deleted user's refresh token")
        assertUnauthorized(yield* login(anon, doomed.email, password), "deleted user's login")
        // Opaque refresh tokens are not access tokens.
        assertUnauthorized(yield* me(yield* api.typedAs(api.user.refresh)), "refresh token")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "logout with a bearer token and no body at all is a 204, and that token is refused afterwards",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = yield* api.typedAs(undefined)
        const leaving = yield* api.signUp()
        const asLeaving = yield* api.typedAs(leaving.access)
        yield* asLeaving.session.me()
        // A typed client always sends a body (`null` at least): raw, with no body and no content type.
        const reply = yield* api.call("POST", "/api/v1/auth/logout", undefined, leaving.auth)
        assert.strictEqual(reply.status, 204, reply.text)
        assertUnauthorized(yield* me(asLeaving), "token after a logout without a body")
        assertUnauthorized(yield* refresh(anon, leaving.refresh), "its refresh token after that logout")
        // The typed client's form of the same logout: a `null` body.
        const other = yield* api.signUp()
        const asOther = yield* api.typedAs(other.access)
        const [, loggedOut] = yield* asOther.session.logout({
          payload: null,
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(loggedOut.status, 204)
        assertUnauthorized(yield* me(asOther), "token after a logout with a null body")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "refresh rotates the pair; reusing a spent refresh token is a 401 and revokes the whole family",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = yield* api.typedAs(undefined)
        const first = api.user.refresh
        const [rotated, rotatedResponse] = yield* anon.auth.refresh({
          payload: { refresh_token: first },
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(rotatedResponse.status, 200)
        assert.hasAllKeys(yield* wireObject(yield* rotatedResponse.text), [
          "access_token",
          "token_type",
          "expires_in",
          "refresh_token"
        ])
        assert.strictEqual(rotated.token_type, "Bearer")
        assert.strictEqual(rotated.expires_in, 900)
        assert.notStrictEqual(rotated.refresh_token, first)
        const second = rotated.refresh_token
        yield* (yield* api.typedAs(rotated.access_token)).session.me()
        // The thief (or the victim) presents the spent token: refused, and the family dies.
        assertUnauthorized(yield* refresh(anon, first), "spent refresh token")
        assertUnauthorized(yield* refresh(anon, second), "successor after reuse")
        for (const junk of [
          "rt_",
          "x",
          "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          api.user.access.slice(0, 500)
        ]) {
          assertUnauthorized(yield* refresh(anon, junk), `refresh with ${junk.slice(0, 10)}`)
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "login: one uniform 401 for unknown email and wrong password; register refuses weak passwords and duplicates",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = yield* api.typedAs(undefined)
        const unknown = yield* login(anon, "nobody@example.test", "whatever-Passw0rd")
        const wrong = yield* login(anon, api.user.email, "whatever-Passw0rd")
        assertUnauthorized(unknown, "unknown email")
        assertUnauthorized(wrong, "wrong password")
        assert.instanceOf(unknown.problem, Problem.Unauthorized)
        assert.instanceOf(wrong.problem, Problem.Unauthorized)
        assert.isString(unknown.problem.detail)
        assert.strictEqual(unknown.problem.detail, wrong.problem.detail)
        const weak = yield* refused(
          anon.auth.register({
            payload: { email: "weak@example.test", password: "Password2024!" },
            headers: {},
            responseMode: "response-only"
          }),
          decode.register
        )
        assert.strictEqual(weak.status, 400, weak.text)
        assert.instanceOf(weak.problem, Problem.BadRequest)
        assert.strictEqual(weak.problem.errors?.[0]?.pointer, "/password")
        assert.notInclude(weak.text, "Password2024!")
        const duplicate = yield* Effect.flip(
          anon.auth.register({
            payload: { email: api.user.email.toUpperCase(), password: "Another-Long-Passw0rd" },
            headers: {}
          })
        )
        assert.strictEqual(duplicate._tag, "ConflictProblem")
        // The client's Email schema refuses surrounding spaces before sending: raw, to see the server trim.
        const created = yield* api.call(
          "POST",
          "/api/v1/auth/register",
          { email: " New@Example.TEST ", password: "Another-Long-Passw0rd", name: "New" },
          { authorization: "" }
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
        const mine = yield* api.typed.session.me()
        // The contract's item permissions, and whatever else the policy gives
        // the role (a generated entity adds its own).
        assert.deepStrictEqual(
          mine.permissions.filter((permission) => permission.startsWith("items:")),
          ["items:create", "items:delete:own", "items:read", "items:update:own"]
        )
        assert.deepStrictEqual(mine.permissions, [...policy.permissionsOf(["user"])].sort())
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "register refuses an email with invisible characters (a bidirectional override, a zero-width joiner) naming /email",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        // The client's Email schema refuses these before sending: raw.
        for (const email of ["x\u202e@example.com", "ab\u200dc@example.com"]) {
          const reply = yield* api.call(
            "POST",
            "/api/v1/auth/register",
            { email, password: "Another-Long-Passw0rd" },
            { authorization: "" }
          )
          assert.strictEqual(reply.status, 400, `${JSON.stringify(email)}: ${reply.text}`)
          assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
          assert.deepStrictEqual(pointersOf(reply.body), ["/email"], JSON.stringify(email))
        }
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "password change: wrong current 401, weak new 400, success 204 ends every other session and keeps the caller's",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = yield* api.typedAs(undefined)
        const caller = yield* api.signUp()
        // A second session of the same account, opened before the change.
        const elsewhere = yield* api.login(caller.email, password)
        const asCaller = yield* api.typedAs(caller.access)
        const newPassword = "Another-Long-Passw0rd-77"
        const change = (client: Client, current_password: string, new_password: string) =>
          refused(
            client.session.changePassword({
              payload: { current_password, new_password },
              responseMode: "response-only"
            }),
            decode.changePassword
          )
        assertUnauthorized(yield* change(anon, password, newPassword), "password change without a token")
        assertUnauthorized(
          yield* change(asCaller, "Not-The-Passw0rd-42", newPassword),
          "password change with a wrong current password"
        )
        const weak = yield* change(asCaller, password, "Password2024!")
        assert.strictEqual(weak.status, 400, weak.text)
        assert.instanceOf(weak.problem, Problem.BadRequest)
        assert.deepStrictEqual(
          weak.problem.errors?.map((error) => error.pointer),
          ["/new_password"]
        )
        assert.notInclude(weak.text, "Password2024!")
        // The refusals changed nothing: the old password still logs in.
        tokensOf(yield* anon.auth.login({ payload: { email: caller.email, password }, headers: {} }))
        // The kit revokes access tokens by `iat`, which counts whole seconds: tokens issued in the
        // second of the change stay valid (see `Accounts.changePassword`). Let the change land in a
        // later second than the sessions it must end.
        yield* Effect.sleep("1100 millis")
        const [, changed] = yield* asCaller.session.changePassword({
          payload: { current_password: password, new_password: newPassword },
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(changed.status, 204)
        // The old password no longer logs in; the new one does.
        assertUnauthorized(yield* login(anon, caller.email, password), "the old password")
        const fresh = tokensOf(
          yield* anon.auth.login({ payload: { email: caller.email, password: newPassword }, headers: {} })
        )
        // Every access token issued before the change is refused, the caller's too.
        assertUnauthorized(yield* me(asCaller), "the caller's access token from before the change")
        assertUnauthorized(
          yield* me(yield* api.typedAs(elsewhere.access)),
          "another session's access token from before the change"
        )
        // The caller's session is kept: its refresh token still works. Every other session ends.
        const kept = yield* anon.auth.refresh({ payload: { refresh_token: caller.refresh } })
        assertUnauthorized(yield* refresh(anon, elsewhere.refresh), "another session's refresh token")
        // Tokens issued after the change work.
        yield* (yield* api.typedAs(kept.access_token)).session.me()
        yield* (yield* api.typedAs(fresh.access_token)).session.me()
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "MFA: enroll, confirm, login challenge, wrong and replayed codes refused, recovery code works once, disable",
    () =>
      Effect.gen(function* () {
        const api = yield* start()
        const anon = yield* api.typedAs(undefined)
        const user = yield* api.signUp()
        const asUser = yield* api.typedAs(user.access)
        const unconfirmed = yield* Effect.flip(asUser.session.mfaConfirm({ payload: { code: "123456" } }))
        assert.strictEqual(unconfirmed._tag, "ConflictProblem")
        const { secret, recovery, usedStep } = yield* enableMfa(asUser)
        assert.isTrue((yield* asUser.session.me()).mfaEnabled)
        const signIn = () =>
          anon.auth.login({
            payload: { email: user.email, password },
            headers: {},
            responseMode: "decoded-and-response"
          })
        const [firstReply, firstResponse] = yield* signIn()
        assert.strictEqual(firstResponse.status, 200)
        assert.deepStrictEqual(Object.keys(yield* wireObject(yield* firstResponse.text)).sort(), [
          "expires_in",
          "mfa_required",
          "mfa_token"
        ])
        const first = challengeOf(firstReply)
        assert.strictEqual(first.expires_in, 300)
        // The challenge is not an access token.
        assertUnauthorized(yield* me(yield* api.typedAs(first.mfa_token)), "mfa token as access")
        const verify = (mfa_token: string, code: string) =>
          anon.auth.mfaVerify({ payload: { mfa_token, code } })
        const verifyRefused = (mfa_token: string, code: string) =>
          refused(
            anon.auth.mfaVerify({ payload: { mfa_token, code }, responseMode: "response-only" }),
            decode.mfaVerify
          )
        // The code used to confirm has been spent: replay refused.
        assertUnauthorized(
          yield* verifyRefused(first.mfa_token, Totp.codeAt(secret, usedStep)),
          "replayed confirmation code"
        )
        const wrongCode = String(
          (Number(Totp.codeAt(secret, Totp.stepAt(Date.now()))) + 1) % 1_000_000
        ).padStart(6, "0")
        assertUnauthorized(yield* verifyRefused(first.mfa_token, wrongCode), "wrong code")
        // A recovery code works once, and spends the challenge.
        const ok = yield* verify(first.mfa_token, recovery[0]!)
        assert.isString(ok.access_token)
        assertUnauthorized(yield* verifyRefused(first.mfa_token, recovery[1]!), "challenge used twice")
        const second = challengeOf((yield* signIn())[0])
        assertUnauthorized(yield* verifyRefused(second.mfa_token, recovery[0]!), "recovery code used twice")
        yield* verify(second.mfa_token, recovery[1]!)
        // Disabling needs a valid code.
        const fresh = yield* api.typedAs(ok.access_token)
        assertUnauthorized(
          yield* refused(
            fresh.session.mfaDisable({ payload: { code: wrongCode }, responseMode: "response-only" }),
            decode.mfaDisable
          ),
          "disable with wrong code"
        )
        const [, disabled] = yield* fresh.session.mfaDisable({
          payload: { code: recovery[2]! },
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(disabled.status, 204)
        const plain = tokensOf((yield* signIn())[0])
        assert.isString(plain.access_token)
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
          stores: Layer.mergeAll(
            CacheStore.layerMemory,
            InvalidationBus.layerMemory,
            RateLimiter.layerMemory,
            IdempotencyStore.layerMemory,
            failing
          )
        })
        const replies: ReadonlyArray<readonly [string, Outcome]> = [
          [
            "GET /api/v1/items",
            outcome(
              yield* exchange(
                api.typed.items.list({ query: {}, responseMode: "response-only" }),
                decode.listItems
              )
            )
          ],
          [
            "GET /api/v1/auth/me",
            outcome(yield* exchange(api.typed.session.me({ responseMode: "response-only" }), decode.me))
          ],
          [
            "POST /api/v1/items",
            outcome(
              yield* exchange(
                api.typed.items.create({
                  payload: { ...newItem, name: "x", price: 1 },
                  responseMode: "response-only"
                }),
                decode.createItem
              )
            )
          ]
        ]
        for (const [request, reply] of replies) {
          assert.strictEqual(reply.status, 503, `${request}: ${reply.text}`)
          assert.strictEqual(reply.contentType, "application/problem+json")
          assert.strictEqual(reply.failure, "ServiceUnavailableProblem", request)
        }
        // Public routes still work.
        const [, live] = yield* (yield* api.typedAs(undefined)).health.live({
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(live.status, 200)
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
        const anon = yield* api.typedAs(undefined)
        const account = { email: "captcha@example.test", password: "Another-Long-Passw0rd" }
        const refusals = [
          yield* refused(
            anon.auth.register({ payload: account, headers: {}, responseMode: "response-only" }),
            decode.register
          ),
          yield* refused(
            anon.auth.login({ payload: account, headers: {}, responseMode: "response-only" }),
            decode.login
          )
        ]
        for (const refusal of refusals) {
          assert.strictEqual(refusal.status, 400, refusal.text)
          assert.instanceOf(refusal.problem, Problem.BadRequest)
          assert.strictEqual(refusal.problem.errors?.[0]?.pointer, "/x-captcha-token")
        }
        const [, registered] = yield* anon.auth.register({
          payload: account,
          headers: captchaSolved,
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(registered.status, 201)
        const [loggedIn, loggedInResponse] = yield* anon.auth.login({
          payload: account,
          headers: captchaSolved,
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(loggedInResponse.status, 200)
        tokensOf(loggedIn)
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
        const other = yield* api.signUp()
        const adminSession = yield* api.login(admin.email, admin.password)
        const who = {
          anonymous: yield* api.typedAs(undefined),
          user: api.typed,
          other: yield* api.typedAs(other.access),
          admin: yield* api.typedAs(adminSession.access)
        } as const
        type Who = keyof typeof who
        // A fresh item of the owner for every destructive row.
        const freshItem = Effect.map(
          who.user.items.create({ payload: { ...newItem, name: "Owned", price: 1 } }),
          (created) => created.body.id
        )
        const target = yield* api.signUp()
        type Row = readonly [
          string,
          (client: Client, id: typeof ItemId.Type) => Effect.Effect<Outcome, unknown>,
          Record<Who, number>
        ]
        const rows: ReadonlyArray<Row> = [
          [
            "list items",
            (client) =>
              Effect.map(
                exchange(client.items.list({ query: {}, responseMode: "response-only" }), decode.listItems),
                outcome
              ),
            { anonymous: 401, user: 200, other: 200, admin: 200 }
          ],
          [
            "read an item",
            (client, id) =>
              Effect.map(
                exchange(
                  client.items.get({ params: { id }, headers: {}, responseMode: "response-only" }),
                  decode.getItem
                ),
                outcome
              ),
            { anonymous: 401, user: 200, other: 200, admin: 200 }
          ],
          [
            "create an item",
            (client) =>
              Effect.map(
                exchange(
                  client.items.create({ payload: newItem, responseMode: "response-only" }),
                  decode.createItem
                ),
                outcome
              ),
            { anonymous: 401, user: 201, other: 201, admin: 201 }
          ],
          [
            "update the owner's item",
            (client, id) =>
              Effect.map(
                exchange(
                  client.items.update({
                    params: { id },
                    headers: {},
                    payload: { price: 3 },
                    responseMode: "response-only"
                  }),
                  decode.updateItem
                ),
                outcome
              ),
            { anonymous: 401, user: 200, other: 403, admin: 200 }
          ],
          [
            "delete the owner's item",
            (client, id) =>
              Effect.map(
                exchange(
                  client.items.delete({ params: { id }, headers: {}, responseMode: "response-only" }),
                  decode.deleteItem
                ),
                outcome
              ),
            { anonymous: 401, user: 204, other: 403, admin: 204 }
          ],
          [
            "list users",
            (client) =>
              Effect.map(
                exchange(client.users.list({ query: {}, responseMode: "response-only" }), decode.listUsers),
                outcome
              ),
            { anonymous: 401, user: 403, other: 403, admin: 200 }
          ],
          [
            "set roles",
            (client) =>
              Effect.map(
                exchange(
                  client.users.setRoles({
                    params: { id: UserId.make(target.id) },
                    payload: { roles: ["user"] },
                    responseMode: "response-only"
                  }),
                  decode.setRoles
                ),
                outcome
              ),
            { anonymous: 401, user: 403, other: 403, admin: 200 }
          ]
        ]
        // A refusal is the problem the client decodes for its status; anything else decodes as a success.
        const problemFor: Readonly<Record<number, string>> = {
          401: "UnauthorizedProblem",
          403: "ForbiddenProblem"
        }
        const assertOutcome = (reply: Outcome, expected: number, what: string) => {
          assert.strictEqual(reply.status, expected, `${what}: ${reply.text.slice(0, 200)}`)
          if (reply.status >= 400) assert.strictEqual(reply.contentType, "application/problem+json", what)
          assert.strictEqual(reply.failure, problemFor[reply.status], what)
        }
        for (const [name, request, expected] of rows) {
          for (const caller of Object.keys(who) as Array<Who>) {
            const reply = yield* request(who[caller], yield* freshItem)
            assertOutcome(reply, expected[caller], `${name} as ${caller}`)
          }
        }
        // Deleting users: a fresh victim per caller.
        for (const caller of Object.keys(who) as Array<Who>) {
          const victim = yield* api.signUp()
          const reply = outcome(
            yield* exchange(
              who[caller].users.delete({
                params: { id: UserId.make(victim.id) },
                responseMode: "response-only"
              }),
              decode.deleteUser
            )
          )
          const expected = { anonymous: 401, user: 403, other: 403, admin: 204 }[caller]
          assertOutcome(reply, expected, `delete a user as ${caller}`)
        }
        // Nobody's item was changed by someone else: the other user's 403s wrote nothing.
        const item = yield* freshItem
        const forbidden = yield* Effect.flip(
          who.other.items.update({ params: { id: item }, headers: {}, payload: { price: 99 } })
        )
        assert.strictEqual(forbidden._tag, "ForbiddenProblem")
        assert.strictEqual((yield* who.user.items.get({ params: { id: item }, headers: {} })).body.price, 1)
        // A role change takes effect: the promoted user's new token has admin permissions.
        const promoted = yield* who.admin.users.setRoles({
          params: { id: UserId.make(other.id) },
          payload: { roles: ["user", "admin"] }
        })
        assert.deepStrictEqual(promoted.roles, ["user", "admin"])
        const refreshed = yield* who.anonymous.auth.refresh({ payload: { refresh_token: other.refresh } })
        const [list, listResponse] = yield* (yield* api.typedAs(refreshed.access_token)).users.list({
          query: {},
          responseMode: "decoded-and-response"
        })
        assert.strictEqual(listResponse.status, 200)
        assert.isAtLeast(list.total, 3)
        // Never the hash, in any form: checked on the wire, where a decoder would not drop it.
        const text = yield* listResponse.text
        assert.notInclude(text, "passwordHash")
        assert.notInclude(text, "$argon2")
      }).pipe(Effect.scoped),
    180_000
  )
})
