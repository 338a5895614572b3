/**
 * The authentication middleware's own decisions, in memory: 401 for missing,
 * malformed, oversized, unknown and revoked tokens (with a Bearer challenge),
 * 403 for a missing permission, 503 when revocation cannot be checked, and
 * the principal handed to the handler. Tokens come from a registry of issued
 * tokens (the JWT implementation has its own tests in @org/auth).
 */
import { assert, describe, it } from "@effect/vitest"
import { AccessTokens, Principal, Rbac, RevocationStore } from "@org/core"
import { Effect, Layer, Schema } from "effect"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Authentication, HttpApp } from "../src/index.ts"
import { type Reply, serve } from "./fixtures/client.ts"

const policy = Rbac.make({
  permissions: ["notes:read", "notes:write"],
  roles: {
    reader: { permissions: ["notes:read"] },
    writer: { inherits: ["reader"], permissions: ["notes:write"] }
  }
})

class NotesGroup extends HttpApiGroup.make("notes")
  .add(
    HttpApiEndpoint.get("read", "/notes", {
      success: Schema.Struct({ subject: Schema.String })
    }).annotateMerge(Authentication.requires(policy, "notes:read")),
    HttpApiEndpoint.post("write", "/notes", {
      payload: Schema.Struct({ text: Schema.String }),
      success: Schema.Struct({ ok: Schema.Boolean })
    }).annotateMerge(Authentication.requires(policy, "notes:write")),
    HttpApiEndpoint.get("me", "/me", { success: Schema.Struct({ permissions: Schema.Array(Schema.String) }) })
  )
  .middleware(Authentication.Authentication) {}

class Api extends HttpApp.api(HttpApi.make("auth-test").add(NotesGroup)) {}

const issued = new Map<string, AccessTokens.Claims>()
const issue = (subject: string, roles: ReadonlyArray<string>) => {
  const token = `t${issued.size}.${subject}`
  issued.set(token, { subject, roles, tokenId: `jti-${issued.size}`, issuedAt: 1_000, expiresAt: 9e15 })
  return token
}
const Tokens = Layer.succeed(
  AccessTokens.AccessTokens,
  AccessTokens.AccessTokens.of({
    issue: () => Effect.die("not used"),
    verify: (token) => {
      const claims = issued.get(token)
      return claims === undefined
        ? Effect.fail(new AccessTokens.InvalidToken({ reason: "unknown" }))
        : Effect.succeed(claims)
    }
  })
)

const Handlers = HttpApiBuilder.group(Api, "notes", (handlers) =>
  handlers
    .handle("read", () => Effect.map(Principal.CurrentPrincipal, (p) => ({ subject: p.subject })))
    .handle("write", () => Effect.succeed({ ok: true }))
    .handle("me", () =>
      Effect.map(Principal.CurrentPrincipal, (p) => ({ permissions: [...p.permissions].sort() }))
    )
)

const app = (revocations: Layer.Layer<RevocationStore.RevocationStore>) =>
  HttpApp.layer({
    api: Api,
    handlers: Handlers.pipe(
      Layer.provide(Authentication.layer({ policy })),
      Layer.provide(Layer.merge(Tokens, revocations))
    )
  })

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

const assertUnauthorized = (reply: Reply) => {
  assert.strictEqual(reply.status, 401, reply.text)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.match(reply.headers.get("www-authenticate") ?? "", /^Bearer/)
  assert.strictEqual(reply.body.status, 401)
}

describe("Authentication", () => {
  it.effect("serves a valid token with the permission and hands over the principal", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(RevocationStore.layerMemory))
      const reply = yield* client.call("GET", "/notes", bearer(issue("u-reader", ["reader"])))
      assert.strictEqual(reply.status, 200, reply.text)
      assert.deepStrictEqual(reply.body, { subject: "u-reader" })
      assert.strictEqual(reply.headers.get("cache-control"), "no-store")
      const me = yield* client.call("GET", "/me", bearer(issue("u-writer", ["writer"])))
      assert.deepStrictEqual(me.body, { permissions: ["notes:read", "notes:write"] })
    }).pipe(Effect.scoped)
  )

  it.effect("401 with a Bearer challenge for missing, malformed, oversized and unknown tokens", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(RevocationStore.layerMemory))
      const valid = issue("u1", ["reader"])
      const cases: ReadonlyArray<Record<string, string>> = [
        {},
        { authorization: "" },
        { authorization: "Bearer" },
        { authorization: "Bearer " },
        { authorization: `Basic ${btoa("u1:pw")}` },
        { authorization: `Token ${valid}` },
        { authorization: "Bearer nope" },
        { authorization: `Bearer ${valid}x` },
        { authorization: `Bearer ${"a".repeat(8193)}` }
      ]
      for (const headers of cases) assertUnauthorized(yield* client.call("GET", "/notes", { headers }))
      // The oversized token never reached the verifier.
      assert.isFalse([...issued.keys()].some((t) => t.length > 8192))
    }).pipe(Effect.scoped)
  )

  it.effect("401 before the payload is read: a bad body does not turn an anonymous call into a 400", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(RevocationStore.layerMemory))
      assertUnauthorized(yield* client.call("POST", "/notes", { body: "{not json" }))
    }).pipe(Effect.scoped)
  )

  it.effect("403 for a valid token without the permission; 200 once the role has it", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(RevocationStore.layerMemory))
      const reader = yield* client.call("POST", "/notes", {
        body: JSON.stringify({ text: "x" }),
        headers: { authorization: `Bearer ${issue("u2", ["reader"])}` }
      })
      assert.strictEqual(reader.status, 403, reader.text)
      assert.strictEqual(reader.body.status, 403)
      assert.include(reader.body.detail, "notes:write")
      const unknownRole = yield* client.call("GET", "/notes", bearer(issue("u3", ["superuser"])))
      assert.strictEqual(unknownRole.status, 403)
      const writer = yield* client.call("POST", "/notes", {
        body: JSON.stringify({ text: "x" }),
        headers: { authorization: `Bearer ${issue("u4", ["writer"])}` }
      })
      assert.strictEqual(writer.status, 200, writer.text)
    }).pipe(Effect.scoped)
  )

  it.effect("401 for a revoked token and for a revoked subject's older tokens", () =>
    Effect.gen(function* () {
      const store = yield* RevocationStore.makeMemory
      const client = yield* serve(app(Layer.succeed(RevocationStore.RevocationStore, store)))
      const token = issue("u5", ["reader"])
      assert.strictEqual((yield* client.call("GET", "/notes", bearer(token))).status, 200)
      yield* store.revokeToken(issued.get(token)!.tokenId, 9e15)
      assertUnauthorized(yield* client.call("GET", "/notes", bearer(token)))
      const other = issue("u6", ["reader"])
      yield* store.revokeSubject("u6", 1_000, 9e15)
      assertUnauthorized(yield* client.call("GET", "/notes", bearer(other)))
    }).pipe(Effect.scoped)
  )

  it.effect("503, never 200, when no revocation source answers", () =>
    Effect.gen(function* () {
      const failing = Layer.succeed(
        RevocationStore.RevocationStore,
        RevocationStore.RevocationStore.of({
          revokeToken: () => Effect.void,
          revokeSubject: () => Effect.void,
          isRevoked: () =>
            Effect.fail(new RevocationStore.RevocationUnavailable({ operation: "isRevoked", cause: "down" })),
          entries: Effect.succeed([])
        })
      )
      const client = yield* serve(app(failing))
      const reply = yield* client.call("GET", "/notes", bearer(issue("u7", ["reader"])))
      assert.strictEqual(reply.status, 503, reply.text)
      assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
      assert.notInclude(reply.text, "down")
    }).pipe(Effect.scoped)
  )

  it.effect("documents the bearer scheme and the 401/403/503 problems in OpenAPI", () =>
    Effect.gen(function* () {
      const client = yield* serve(app(RevocationStore.layerMemory))
      const spec = (yield* client.call("GET", "/openapi.json")).body
      const read = spec.paths["/notes"].get
      assert.deepStrictEqual(Object.keys(spec.components.securitySchemes), ["bearer"])
      for (const status of ["401", "403", "503"]) assert.property(read.responses, status)
    }).pipe(Effect.scoped)
  )
})
