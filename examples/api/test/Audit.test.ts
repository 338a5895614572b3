/**
 * `GET /api/v1/audit` against the contract (shared API.md): every event of
 * a committed write appears once, newest first, with its actor and request
 * id, filterable by `type`, `aggregateId` and `actorId`; admins only. The
 * events go through the real outbox and dispatcher (PGlite locally,
 * Postgres in CI).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { type Api, admin, type Reply, serve } from "./client.ts"

const saw = { name: "Saw", price: 12.5, quantity: 3 }

// The dispatcher delivers after the commit: ask until `done` says so (5 s at most).
const until = (api: Api, path: string, headers: Record<string, string>, done: (reply: Reply) => boolean) =>
  api.call("GET", path, undefined, headers).pipe(
    Effect.filterOrFail(done, () => new Error(`not yet: ${path}`)),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }),
    Effect.orDie
  )

describe("GET /api/v1/audit", () => {
  it.live(
    "an item's create, update and delete appear once each, newest first, with actor and request id",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const created = yield* api.call("POST", "/api/v1/items", saw, { "x-request-id": "req-create-1" })
        assert.strictEqual(created.status, 201, created.text)
        const id: string = created.body.id
        const updated = yield* api.call(
          "PATCH",
          `/api/v1/items/${id}`,
          { quantity: 4 },
          { "x-request-id": "req-update-1" }
        )
        assert.strictEqual(updated.status, 200, updated.text)
        assert.strictEqual((yield* api.call("DELETE", `/api/v1/items/${id}`)).status, 204)

        const boss = yield* api.login(admin.email, admin.password)
        const log = yield* until(
          api,
          `/api/v1/audit?aggregateId=${id}`,
          boss.auth,
          (r) => r.body?.total === 3
        )
        assert.strictEqual(log.status, 200, log.text)
        assert.deepStrictEqual(
          log.body.items.map((entry: { type: string }) => entry.type),
          ["ItemDeleted", "ItemUpdated", "ItemCreated"]
        )
        for (const entry of log.body.items) {
          assert.strictEqual(entry.aggregateType, "Item")
          assert.strictEqual(entry.aggregateId, id)
          assert.strictEqual(entry.actorId, api.user.id)
        }
        assert.strictEqual(log.body.items[2].requestId, "req-create-1")
        assert.strictEqual(log.body.items[1].requestId, "req-update-1")
        assert.strictEqual(log.body.items[2].data.name, "Saw")
        assert.deepStrictEqual(log.body.items[1].data.changed, ["quantity"])

        // filters AND: by type, and by actor
        const byType = yield* api.call(
          "GET",
          `/api/v1/audit?aggregateId=${id}&type=ItemUpdated`,
          undefined,
          boss.auth
        )
        assert.strictEqual(byType.body.total, 1, byType.text)
        const byActor = yield* api.call(
          "GET",
          `/api/v1/audit?actorId=${api.user.id}&type=ItemCreated`,
          undefined,
          boss.auth
        )
        assert.strictEqual(byActor.body.total, 1, byActor.text)
        // nothing is delivered twice: a later look finds the same three
        yield* Effect.sleep("300 millis")
        const again = yield* api.call("GET", `/api/v1/audit?aggregateId=${id}`, undefined, boss.auth)
        assert.strictEqual(again.body.total, 3)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a failed write leaves no event: a stale If-Match is 412 and the log has only the create",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const created = yield* api.call("POST", "/api/v1/items", saw)
        const id: string = created.body.id
        const stale = yield* api.call("PATCH", `/api/v1/items/${id}`, { quantity: 9 }, { "if-match": '"7"' })
        assert.strictEqual(stale.status, 412, stale.text)
        const boss = yield* api.login(admin.email, admin.password)
        const log = yield* until(api, `/api/v1/audit?aggregateId=${id}`, boss.auth, (r) => r.body?.total >= 1)
        yield* Effect.sleep("300 millis")
        const settled = yield* api.call("GET", `/api/v1/audit?aggregateId=${id}`, undefined, boss.auth)
        assert.deepStrictEqual(
          settled.body.items.map((entry: { type: string }) => entry.type),
          ["ItemCreated"],
          log.text
        )
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "account events are audited too (registered, login failed), without the password",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const wrong = "Not-The-Password-123456"
        const refused = yield* api.call(
          "POST",
          "/api/v1/auth/login",
          { email: api.user.email, password: wrong },
          {
            authorization: "",
            "x-captcha-token": "solved"
          }
        )
        assert.strictEqual(refused.status, 401, refused.text)
        const boss = yield* api.login(admin.email, admin.password)
        const log = yield* until(
          api,
          `/api/v1/audit?aggregateId=${api.user.id}`,
          boss.auth,
          (r) => r.body?.items?.some((entry: { type: string }) => entry.type === "LoginFailed") === true
        )
        const types = log.body.items.map((entry: { type: string }) => entry.type)
        assert.includeMembers(types, ["UserRegistered", "LoginSucceeded", "LoginFailed"])
        const failed = log.body.items.find((entry: { type: string }) => entry.type === "LoginFailed")
        assert.strictEqual(failed.data.reason, "wrong-password")
        assert.notInclude(log.text, wrong)
        assert.notInclude(log.text, api.user.refresh)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("is for admins: 401 without a token, 403 for a user, 400 for a bad page", () =>
    Effect.gen(function* () {
      const api = yield* serve()
      const anonymous = yield* api.call("GET", "/api/v1/audit", undefined, { authorization: "" })
      assert.strictEqual(anonymous.status, 401, anonymous.text)
      const user = yield* api.call("GET", "/api/v1/audit")
      assert.strictEqual(user.status, 403, user.text)
      assert.strictEqual(user.headers.get("content-type"), "application/problem+json")
      const boss = yield* api.login(admin.email, admin.password)
      const bad = yield* api.call("GET", "/api/v1/audit?page=0", undefined, boss.auth)
      assert.strictEqual(bad.status, 400, bad.text)
    }).pipe(Effect.scoped)
  )
})
