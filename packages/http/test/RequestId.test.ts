import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, References } from "effect"
import { RequestId } from "../src/index.ts"
import { capturingLogger, serve, widgetsApp } from "./fixtures/client.ts"
import { knownId } from "./fixtures/WidgetsApi.ts"

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("RequestId", () => {
  describe("isToken", () => {
    it.each(["a", "abc-123", "A.b_c-9", "x".repeat(128), "01a2186a-d6ae-71d0-b5e5-5b29a48fd737"])(
      "accepts %s",
      (value) => {
        assert.isTrue(RequestId.isToken(value))
      }
    )

    it.each(["", "x".repeat(129), "has space", "semi;colon", "new\nline", "ünïcode", "a/b", "<script>"])(
      "rejects %j",
      (value) => {
        assert.isFalse(RequestId.isToken(value))
      }
    )
  })

  it.effect("echoes a sane caller id and exposes it to handlers", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp())
      const reply = yield* app.call("GET", "/whoami", { headers: { "x-request-id": "Client.Trace-42_x" } })
      assert.strictEqual(reply.status, 200)
      assert.strictEqual(reply.headers.get("x-request-id"), "Client.Trace-42_x")
      assert.deepStrictEqual(reply.body, { requestId: "Client.Trace-42_x" })
    }).pipe(Effect.scoped)
  )

  it.effect.each([
    ["too long", "x".repeat(129)],
    ["bad characters", "abc def<script>"],
    ["empty", ""]
  ] as const)("replaces a caller id that is %s", ([, given]) =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp())
      const reply = yield* app.call("GET", "/whoami", { headers: { "x-request-id": given } })
      const id = reply.headers.get("x-request-id") ?? ""
      assert.notStrictEqual(id, given)
      assert.match(id, uuidV7)
      assert.strictEqual(reply.body.requestId, id)
    }).pipe(Effect.scoped)
  )

  it.effect("generates distinct ids when none is given", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp())
      const first = yield* app.call("GET", "/whoami")
      const second = yield* app.call("GET", "/whoami")
      assert.match(first.headers.get("x-request-id") ?? "", uuidV7)
      assert.notStrictEqual(first.headers.get("x-request-id"), second.headers.get("x-request-id"))
    }).pipe(Effect.scoped)
  )

  it.effect("is on every status", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp({ bodyLimit: 16 }))
      const replies = [
        yield* app.call("GET", `/widgets/${knownId}`),
        yield* app.call("POST", "/widgets", { body: "{}" }),
        yield* app.call("GET", "/missing"),
        yield* app.call("PATCH", "/widgets"),
        yield* app.call("POST", "/widgets", { body: JSON.stringify({ name: "a".repeat(64), price: 1 }) }),
        yield* app.call("GET", "/boom")
      ]
      assert.deepStrictEqual(
        replies.map((reply) => reply.status),
        [200, 400, 404, 405, 413, 500]
      )
      for (const reply of replies) {
        assert.match(reply.headers.get("x-request-id") ?? "", uuidV7, `status ${reply.status}`)
      }
    }).pipe(Effect.scoped)
  )

  it.effect("annotates every log line of the request", () =>
    Effect.gen(function* () {
      const logs = capturingLogger()
      const app = yield* serve(widgetsApp({ accessLog: true, logger: logs.layer }))
      yield* app.call("GET", "/boom", { headers: { "x-request-id": "req-1" } })
      yield* app.call("GET", "/whoami", { headers: { "x-request-id": "req-2" } })
      const access = logs.lines.filter((line) => line.message === "Sent HTTP response")
      assert.deepStrictEqual(
        access.map((line) => [line.annotations.requestId, line.annotations["http.status"]]),
        [
          ["req-1", 500],
          ["req-2", 200]
        ]
      )
      const failure = logs.lines.find((line) => line.level === "Error")
      assert.strictEqual(failure?.annotations.requestId, "req-1")
    }).pipe(Effect.scoped)
  )

  it.effect(
    "no access line below Info: the logger's work is skipped, warnings still carry the request id",
    () =>
      Effect.gen(function* () {
        const logs = capturingLogger()
        const warnOnly = Layer.merge(logs.layer, Layer.succeed(References.MinimumLogLevel, "Warn"))
        const app = yield* serve(widgetsApp({ accessLog: true, logger: warnOnly }))
        yield* app.call("GET", "/whoami", { headers: { "x-request-id": "req-3" } })
        yield* app.call("GET", "/boom", { headers: { "x-request-id": "req-4" } })
        assert.lengthOf(
          logs.lines.filter((line) => line.message === "Sent HTTP response"),
          0
        )
        const failure = logs.lines.find((line) => line.level === "Error")
        assert.strictEqual(failure?.annotations.requestId, "req-4")
      }).pipe(Effect.scoped)
  )
})
