/**
 * `Idempotency-Key` on `POST /api/v1/items` against the contract (shared
 * API.md): the same key and body give the first response again, another
 * body is 422, a race creates one item, and keys are per client. Over a
 * real database (PGlite locally, Postgres in CI), so the records are the
 * SQL store's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Reply, serve } from "./client.ts"

const saw = { name: "Saw", price: 12.5, quantity: 3 }

const totalItems = (reply: Reply): number => {
  assert.strictEqual(reply.status, 200, reply.text)
  return reply.body.total
}

describe("Idempotency-Key on POST /api/v1/items", () => {
  it.live(
    "the same key and body return the first 201 again: same id, Location, ETag, one item",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const first = yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": "order-1" })
        assert.strictEqual(first.status, 201, first.text)
        const again = yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": "order-1" })
        assert.strictEqual(again.status, 201, again.text)
        assert.strictEqual(again.text, first.text)
        assert.strictEqual(again.body.id, first.body.id)
        assert.strictEqual(again.headers.get("location"), first.headers.get("location"))
        assert.strictEqual(again.headers.get("etag"), first.headers.get("etag"))
        assert.strictEqual(again.headers.get("idempotent-replayed"), "true")
        assert.strictEqual(totalItems(yield* api.call("GET", "/api/v1/items")), 1)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "the same key with another body is a 422 problem and creates nothing",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        assert.strictEqual(
          (yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": "order-2" })).status,
          201
        )
        const other = yield* api.call(
          "POST",
          "/api/v1/items",
          { ...saw, quantity: 4 },
          { "idempotency-key": "order-2" }
        )
        assert.strictEqual(other.status, 422, other.text)
        assert.strictEqual(other.headers.get("content-type"), "application/problem+json")
        assert.strictEqual(other.body.status, 422)
        assert.strictEqual(other.body.instance, "/api/v1/items")
        assert.isString(other.body.requestId)
        assert.strictEqual(totalItems(yield* api.call("GET", "/api/v1/items")), 1)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "two concurrent requests with the same key create one item and get the same response",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const replies = yield* Effect.all(
          Array.from({ length: 3 }, () =>
            api.call("POST", "/api/v1/items", saw, { "idempotency-key": "race-1" })
          ),
          { concurrency: "unbounded" }
        )
        for (const reply of replies) {
          assert.strictEqual(reply.status, 201, reply.text)
          assert.strictEqual(reply.body.id, replies[0]!.body.id)
          assert.strictEqual(reply.headers.get("location"), replies[0]!.headers.get("location"))
        }
        assert.strictEqual(totalItems(yield* api.call("GET", "/api/v1/items")), 1)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "keys are per client, invalid keys are a 400 naming the header, and no key means no protection",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const other = yield* api.signUp()
        const mine = yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": "shared" })
        const theirs = yield* api.call("POST", "/api/v1/items", saw, {
          "idempotency-key": "shared",
          authorization: other.auth.authorization ?? ""
        })
        assert.strictEqual(mine.status, 201, mine.text)
        assert.strictEqual(theirs.status, 201, theirs.text)
        assert.notStrictEqual(theirs.body.id, mine.body.id)
        assert.strictEqual(theirs.body.ownerId, other.id)

        const invalid = yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": "x".repeat(256) })
        assert.strictEqual(invalid.status, 400, invalid.text)
        assert.deepStrictEqual(invalid.body.errors, [
          { in: "header", pointer: "/idempotency-key", message: "must be 1 to 255 visible ASCII characters" }
        ])

        yield* api.call("POST", "/api/v1/items", saw)
        yield* api.call("POST", "/api/v1/items", saw)
        assert.strictEqual(totalItems(yield* api.call("GET", "/api/v1/items")), 4)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a request refused before the handler (no token) does not use up the key",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const anonymous = yield* api.call("POST", "/api/v1/items", saw, {
          "idempotency-key": "k",
          authorization: ""
        })
        assert.strictEqual(anonymous.status, 401, anonymous.text)
        const signedIn = yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": "k" })
        assert.strictEqual(signedIn.status, 201, signedIn.text)
      }).pipe(Effect.scoped),
    60_000
  )
})
