import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { BodyLimit, HttpApp, Problem } from "../src/index.ts"
import { serve, widgetsApp } from "./fixtures/client.ts"
import { Api, handlers } from "./fixtures/WidgetsApi.ts"

const streamOf = (chunks: ReadonlyArray<string>): ReadableStream<Uint8Array> => {
  const encoder = new TextEncoder()
  let index = 0
  return new ReadableStream({
    pull(controller) {
      if (index < chunks.length) controller.enqueue(encoder.encode(chunks[index++]))
      else controller.close()
    }
  })
}

describe("BodyLimit", () => {
  describe("parse", () => {
    it.each([
      ["1mb", 1_048_576],
      ["1MB", 1_048_576],
      ["512kb", 524_288],
      ["1.5 MiB", 1_572_864],
      ["2g", 2_147_483_648],
      ["100", 100],
      ["100b", 100],
      [" 64 KB ", 65_536],
      ["0", 0]
    ])("%s is %d bytes", (input, bytes) => {
      assert.deepStrictEqual(BodyLimit.parse(input), Option.some(bytes))
    })

    it.each(["", "mb", "-1mb", "1 tb", "1e6", "one mb", "1,5mb"])("%j is not a size", (input) => {
      assert.isTrue(Option.isNone(BodyLimit.parse(input)))
    })
  })

  it.effect("reads BODY_LIMIT from configuration, 1 MiB by default", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* BodyLimit.config(), BodyLimit.defaultMaxBytes)
      const configured = yield* BodyLimit.config().pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BODY_LIMIT: "256kb" })))
      )
      assert.strictEqual(configured, 262_144)
      const invalid = yield* BodyLimit.config().pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BODY_LIMIT: "lots" }))),
        Effect.flip
      )
      assert.include(String(invalid), "BODY_LIMIT")
    })
  )

  it.effect("refuses a declared Content-Length over the limit before reading the body", () =>
    Effect.gen(function* () {
      let reads = 0
      const sink = HttpRouter.add(
        "POST",
        "/sink",
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.map(Effect.orDie(request.text), () => {
            reads++
            return HttpServerResponse.text("read")
          })
        )
      )
      const app = yield* serve(widgetsApp({ bodyLimit: 100, routes: [sink] }))
      const reply = yield* app.call("POST", "/sink", {
        body: "x".repeat(101),
        headers: { "content-length": "101" }
      })
      assert.strictEqual(reply.status, 413)
      assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(reply.body.type, Problem.types.payloadTooLarge)
      assert.strictEqual(reply.body.status, 413)
      assert.strictEqual(reads, 0)
      const ok = yield* app.call("POST", "/sink", {
        body: "x".repeat(100),
        headers: { "content-length": "100" }
      })
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(reads, 1)
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a streamed body without Content-Length once it passes the limit", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp({ bodyLimit: 64 }))
      const body = `{"name":"gear","price":1,"pad":"${"x".repeat(200)}"}`
      const reply = yield* app.call("POST", "/widgets", {
        body: streamOf([body.slice(0, 50), body.slice(50, 120), body.slice(120)]),
        duplex: "half"
      })
      assert.strictEqual(reply.status, 413)
      assert.strictEqual(reply.body.type, Problem.types.payloadTooLarge)
      const small = yield* app.call("POST", "/widgets", {
        body: streamOf(['{"name":"gear",', '"price":1}']),
        duplex: "half"
      })
      assert.strictEqual(small.status, 201)
    }).pipe(Effect.scoped)
  )

  it.effect("defaults to 1 MiB and follows BodyLimit.MaxBytes", () =>
    Effect.gen(function* () {
      const big = JSON.stringify({ name: "gear", price: 1, pad: "x".repeat(BodyLimit.defaultMaxBytes) })
      const byDefault = yield* serve(HttpApp.layer({ api: Api, handlers: handlers(), accessLog: false }))
      const refused = yield* byDefault.call("POST", "/widgets", {
        body: big,
        headers: { "content-length": String(big.length) }
      })
      assert.strictEqual(refused.status, 413)
      const raised = yield* serve(
        HttpApp.layer({ api: Api, handlers: handlers(), accessLog: false }).pipe(
          Layer.provide(Layer.orDie(BodyLimit.layer("2mb")))
        )
      )
      const accepted = yield* raised.call("POST", "/widgets", {
        body: big,
        headers: { "content-length": String(big.length) }
      })
      // Read and decoded: only the unknown `pad` field is refused now.
      assert.strictEqual(accepted.status, 400)
      assert.strictEqual(accepted.body.errors[0].pointer, "/pad")
    }).pipe(Effect.scoped)
  )
})
