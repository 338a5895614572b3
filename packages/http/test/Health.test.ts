import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Health } from "../src/index.ts"
import { capturingLogger, serve, widgetsApp } from "./fixtures/client.ts"

const healthHeaders = (reply: { readonly headers: Headers }) => {
  assert.strictEqual(reply.headers.get("content-type"), "application/health+json")
  assert.strictEqual(reply.headers.get("x-content-type-options"), "nosniff")
  assert.isString(reply.headers.get("x-request-id"))
}

describe("Health", () => {
  it.effect("live passes", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp())
      const reply = yield* app.call("GET", "/health/live")
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(reply.body, { status: "pass" })
      healthHeaders(reply)
    }).pipe(Effect.scoped)
  )

  it.effect("ready passes when every check passes", () =>
    Effect.gen(function* () {
      const checks = Layer.mergeAll(
        Health.check("database", Effect.void),
        Health.check("cache", Effect.succeed(1))
      )
      const app = yield* serve(widgetsApp({ checks }))
      const reply = yield* app.call("GET", "/health/ready")
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(reply.body, {
        status: "pass",
        checks: { database: { status: "pass" }, cache: { status: "pass" } }
      })
      healthHeaders(reply)
    }).pipe(Effect.scoped)
  )

  it.effect("ready is 503 naming the failing check, without its error", () =>
    Effect.gen(function* () {
      const logs = capturingLogger()
      const checks = Layer.mergeAll(
        Health.check("database", Effect.fail(new Error("connect ECONNREFUSED 10.0.0.5:5432 password=x"))),
        Health.check("cache", Effect.void)
      )
      const app = yield* serve(widgetsApp({ checks, logger: logs.layer }))
      const reply = yield* app.call("GET", "/health/ready", { headers: { "x-request-id": "probe-1" } })
      assert.strictEqual(reply.status, 503)
      assert.deepStrictEqual(reply.body, {
        status: "fail",
        checks: { database: { status: "fail", output: "failed" }, cache: { status: "pass" } }
      })
      assert.notInclude(reply.text, "ECONNREFUSED")
      healthHeaders(reply)
      const warning = logs.lines.find((line) => line.level === "Warn")
      assert.strictEqual(warning?.annotations.requestId, "probe-1")
      assert.include(warning?.cause, "ECONNREFUSED")
    }).pipe(Effect.scoped)
  )

  it.effect("ready is 503 when a check dies", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp({ checks: Health.check("queue", Effect.die("boom")) }))
      const reply = yield* app.call("GET", "/health/ready")
      assert.strictEqual(reply.status, 503)
      assert.deepStrictEqual(reply.body.checks.queue, { status: "fail", output: "failed" })
    }).pipe(Effect.scoped)
  )

  it.effect("ready is 503 when a check times out", () =>
    Effect.gen(function* () {
      const checks = Layer.mergeAll(
        Health.check("slow", Effect.never, { timeout: "20 millis" }),
        Health.check("fast", Effect.void)
      )
      const app = yield* serve(widgetsApp({ checks }))
      const reply = yield* app.call("GET", "/health/ready")
      assert.strictEqual(reply.status, 503)
      assert.strictEqual(reply.body.status, "fail")
      assert.strictEqual(reply.body.checks.slow.status, "fail")
      assert.match(reply.body.checks.slow.output, /^timed out after/)
      assert.deepStrictEqual(reply.body.checks.fast, { status: "pass" })
    }).pipe(Effect.scoped)
  )

  it.effect("run bounds each check by the 2 s default timeout", () =>
    Effect.gen(function* () {
      const report = yield* Effect.forkChild(
        Health.run([
          { name: "hung", run: Effect.never, timeout: Health.defaultTimeout },
          { name: "ok", run: Effect.void, timeout: Health.defaultTimeout }
        ])
      )
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(report.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(report), {
        status: "fail",
        checks: { hung: { status: "fail", output: "timed out after 2s" }, ok: { status: "pass" } }
      })
    })
  )

  it.effect("a check replaces an earlier one with the same name", () =>
    Effect.gen(function* () {
      const checks = Health.check("db", Effect.fail("down")).pipe(
        Layer.provideMerge(Health.check("db", Effect.void)),
        Layer.provideMerge(Health.Checks.layer)
      )
      const registered = yield* Effect.flatMap(Health.Checks, (registry) => registry.all).pipe(
        Effect.provide(checks)
      )
      assert.deepStrictEqual(
        registered.map((check) => check.name),
        ["db"]
      )
      const report = yield* Health.run(registered)
      assert.strictEqual(report.status, "fail")
    })
  )

  it.effect("the OpenAPI document lists the 503 health report", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp())
      const reply = yield* app.call("GET", "/openapi.json")
      const responses = reply.body.paths["/health/ready"].get.responses
      assert.property(responses["200"].content, "application/health+json")
      assert.property(responses["503"].content, "application/health+json")
    }).pipe(Effect.scoped)
  )
})
