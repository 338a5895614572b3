/**
 * The audit group in memory: 401 without a token, 403 without the
 * permission, a page newest first with filters, 400 on a bad query, and
 * every response body valid against the group's own schema.
 */
import { assert, describe, it } from "@effect/vitest"
import { AccessTokens, AuditLog, type DomainEvent, Rbac, RevocationStore } from "@org/core"
import { DateTime, Effect, Layer, Schema } from "effect"
import { HttpApi, HttpApiBuilder } from "effect/http-api"
import { AuditGroup, Authentication, HttpApp } from "../src/index.ts"
import { type Reply, serve } from "./fixtures/client.ts"

const policy = Rbac.make({
  permissions: ["items:read", "audit:read"],
  roles: { user: { permissions: ["items:read"] }, admin: { inherits: ["user"], permissions: ["audit:read"] } }
})

class Api extends HttpApp.api(
  HttpApi.make("audit-test").add(AuditGroup.make({ policy, permission: "audit:read" }))
) {}

const tokens: Record<string, AccessTokens.Claims> = {
  admin: { subject: "u-admin", roles: ["admin"], tokenId: "jti-1", issuedAt: 1_000, expiresAt: 9e15 },
  user: { subject: "u-user", roles: ["user"], tokenId: "jti-2", issuedAt: 1_000, expiresAt: 9e15 }
}
const Tokens = Layer.succeed(
  AccessTokens.AccessTokens,
  AccessTokens.AccessTokens.of({
    issue: () => Effect.die("not used"),
    verify: (token) =>
      token in tokens
        ? Effect.succeed(tokens[token] as AccessTokens.Claims)
        : Effect.fail(new AccessTokens.InvalidToken({ reason: "unknown" }))
  })
)

const epoch = Date.UTC(2026, 0, 1)
const event = (
  at: number,
  seq: number,
  type: string,
  aggregateId: string,
  actorId?: string
): DomainEvent.Envelope => ({
  id: `${(epoch + at)
    .toString(16)
    .padStart(12, "0")
    .replace(/^(.{8})(.{4})$/, "$1-$2")}-7000-8000-${seq.toString(16).padStart(12, "0")}`,
  type,
  aggregateType: "Item",
  aggregateId,
  occurredAt: DateTime.makeUnsafe(epoch + at),
  version: 1,
  integration: false,
  payload: { name: aggregateId, password: "hunter2" },
  metadata: actorId === undefined ? { requestId: `req-${seq}` } : { actorId, requestId: `req-${seq}` }
})

const events = [
  event(10, 1, "ItemCreated", "i-1", "u-1"),
  event(20, 2, "ItemUpdated", "i-1", "u-2"),
  event(30, 3, "ItemCreated", "i-2", "u-1"),
  event(30, 4, "LoginFailed", "u-9"),
  event(40, 5, "ItemDeleted", "i-1", "u-1")
]

const app = Effect.gen(function* () {
  const log = yield* AuditLog.makeMemory
  for (const e of events) yield* log.record(e)
  return HttpApp.layer({
    api: Api,
    accessLog: false,
    handlers: HttpApiBuilder.group(Api, "audit", AuditGroup.handlers).pipe(
      Layer.provide(Authentication.layer({ policy })),
      Layer.provide(
        Layer.mergeAll(Tokens, RevocationStore.layerMemory, Layer.succeed(AuditLog.AuditLog, log))
      )
    )
  })
})

const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })
const decodePage = Schema.decodeUnknownEffect(AuditGroup.PageOfEntries)

const assertProblem = (reply: Reply, status: number) => {
  assert.strictEqual(reply.status, status, reply.text)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.strictEqual(reply.body.status, status)
}

describe("AuditGroup", () => {
  it.effect("401 without a valid token, 403 without the permission", () =>
    Effect.gen(function* () {
      const client = yield* serve(yield* app)
      assertProblem(yield* client.call("GET", "/api/v1/audit"), 401)
      assertProblem(yield* client.call("GET", "/api/v1/audit", as("nope")), 401)
      const forbidden = yield* client.call("GET", "/api/v1/audit", as("user"))
      assertProblem(forbidden, 403)
      assert.include(forbidden.body.detail, "audit:read")
    }).pipe(Effect.scoped)
  )

  it.effect("200: a page newest first, in the contract's JSON, without secrets", () =>
    Effect.gen(function* () {
      const client = yield* serve(yield* app)
      const reply = yield* client.call("GET", "/api/v1/audit", as("admin"))
      assert.strictEqual(reply.status, 200, reply.text)
      assert.strictEqual(reply.headers.get("cache-control"), "no-store")
      yield* decodePage(reply.body)
      assert.deepStrictEqual(Object.keys(reply.body).sort(), ["items", "page", "pages", "size", "total"])
      assert.deepInclude(reply.body, { page: 1, size: 20, total: 5, pages: 1 })
      assert.deepStrictEqual(
        reply.body.items.map((entry: { readonly requestId: string }) => entry.requestId),
        ["req-5", "req-4", "req-3", "req-2", "req-1"]
      )
      const [newest] = reply.body.items
      assert.deepStrictEqual(newest, {
        id: events[4]?.id,
        type: "ItemDeleted",
        aggregateType: "Item",
        aggregateId: "i-1",
        actorId: "u-1",
        requestId: "req-5",
        occurredAt: "2026-01-01T00:00:00.040Z",
        data: { name: "i-1" }
      })
      assert.strictEqual(reply.body.items[1].actorId, null)
      assert.notInclude(reply.text, "hunter2")
    }).pipe(Effect.scoped)
  )

  it.effect("filters AND; pages add up", () =>
    Effect.gen(function* () {
      const client = yield* serve(yield* app)
      const get = (query: string) =>
        Effect.flatMap(client.call("GET", `/api/v1/audit?${query}`, as("admin")), (reply) => {
          assert.strictEqual(reply.status, 200, reply.text)
          return Effect.as(decodePage(reply.body), reply.body)
        })
      const seqs = (body: { readonly items: ReadonlyArray<{ readonly requestId: string }> }) =>
        body.items.map((entry) => entry.requestId)
      assert.deepStrictEqual(seqs(yield* get("aggregateId=i-1")), ["req-5", "req-2", "req-1"])
      assert.deepStrictEqual(seqs(yield* get("aggregateId=i-1&actorId=u-1")), ["req-5", "req-1"])
      assert.deepStrictEqual(seqs(yield* get("type=ItemCreated&actorId=u-1")), ["req-3", "req-1"])
      assert.deepStrictEqual(seqs(yield* get("type=ItemCreated&aggregateId=i-1&actorId=u-2")), [])
      const second = yield* get("page=2&size=2")
      assert.deepInclude(second, { page: 2, size: 2, total: 5, pages: 3 })
      assert.deepStrictEqual(seqs(second), ["req-3", "req-2"])
    }).pipe(Effect.scoped)
  )

  it.effect("400 on a bad page, size or filter", () =>
    Effect.gen(function* () {
      const client = yield* serve(yield* app)
      for (const query of [
        "page=0",
        "page=x",
        "size=101",
        "size=0",
        "size=-1",
        "page=1e3",
        "type=",
        `actorId=${"a".repeat(201)}`
      ]) {
        const reply = yield* client.call("GET", `/api/v1/audit?${query}`, as("admin"))
        assertProblem(reply, 400)
      }
    }).pipe(Effect.scoped)
  )

  it.effect("OpenAPI documents the endpoint, its query and its security", () =>
    Effect.gen(function* () {
      const client = yield* serve(yield* app)
      const spec = (yield* client.call("GET", "/openapi.json")).body
      const list = spec.paths["/api/v1/audit"].get
      assert.strictEqual(list.summary, "List audit entries")
      assert.includeMembers(
        list.parameters.map((p: { readonly name: string }) => p.name),
        ["page", "size", "type", "aggregateId", "actorId"]
      )
      for (const status of ["200", "400", "401", "403"]) assert.property(list.responses, status)
      assert.deepStrictEqual(list.security, [{ bearer: [] }])
    }).pipe(Effect.scoped)
  )

  it.effect("the prefix is configurable", () =>
    Effect.gen(function* () {
      const group = AuditGroup.make({ policy, permission: "audit:read", prefix: "/v2" })
      const paths = Object.values(group.endpoints).map((endpoint) => endpoint.path)
      assert.deepStrictEqual(paths, ["/v2/audit"])
    })
  )
})
