import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { Redaction, TelemetryLogger } from "@org/telemetry"
import { Effect, Redacted } from "effect"
import { TestConsole } from "effect/testing"
import * as fc from "fast-check"

const logLines = <A, E>(effect: Effect.Effect<A, E>, format: TelemetryLogger.Format = "json") =>
  Effect.gen(function* () {
    yield* effect
    return (yield* TestConsole.logLines).map((line) =>
      typeof line === "string" ? line : inspect(line, { depth: 20 })
    )
  }).pipe(Effect.provide(TelemetryLogger.layer({ format })), Effect.provide(TestConsole.layer))

const strings = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : value !== null && typeof value === "object"
      ? Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)])
      : []

describe("TelemetryLogger", () => {
  it.effect(
    "one JSON object per line with time, level, message, trace_id, span_id, request_id and fields",
    () =>
      Effect.gen(function* () {
        const [line, ...rest] = yield* logLines(
          Effect.gen(function* () {
            const span = yield* Effect.currentSpan
            yield* Effect.logWarning("hello").pipe(
              Effect.annotateLogs({ requestId: "req-9", userId: 7, level: "x" })
            )
            return span
          }).pipe(Effect.withSpan("op"))
        )
        assert.lengthOf(rest, 0)
        assert.notInclude(line!, "\n")
        const json = JSON.parse(line!)
        assert.strictEqual(json.level, "WARN")
        assert.strictEqual(json.message, "hello")
        assert.match(json.trace_id, /^[0-9a-f]{32}$/)
        assert.match(json.span_id, /^[0-9a-f]{16}$/)
        assert.strictEqual(json.request_id, "req-9")
        assert.strictEqual(json.userId, 7)
        assert.strictEqual(json["field.level"], "x")
        assert.isFalse(Number.isNaN(Date.parse(json.time)))
      })
  )

  for (const format of ["json", "pretty"] as const) {
    it.effect(`${format}: secrets by name and Redacted values never show`, () =>
      Effect.gen(function* () {
        const lines = yield* logLines(
          Effect.log({ password: "p", nested: { token: "t" }, r: Redacted.make("x"), user: "ann" }).pipe(
            Effect.annotateLogs({ Authorization: "Bearer sentinel-1", mfa_code: "123456", status_code: 200 })
          ),
          format
        )
        const text = lines.join("\n")
        assert.include(text, "ann")
        assert.include(text, "200")
        for (const secret of ["sentinel-1", "123456", "'p'", '"p"', "'t'", '"t"', "'x'", '"x"'])
          assert.notInclude(text, secret)
        if (format === "json") {
          const leaves = strings(JSON.parse(lines[0]!))
          for (const secret of ["p", "t", "x"]) assert.notInclude(leaves, secret)
        }
      })
    )
  }
})

describe("Redaction", () => {
  it("field names", () => {
    for (const key of [
      "password",
      "PASSWORD",
      "newPassword",
      "passcode",
      "access_token",
      "refreshTokens",
      "client-secret",
      "Authorization",
      "set-cookie",
      "otp",
      "code",
      "mfaCode",
      "totp_code",
      "http.request.header.authorization"
    ])
      assert.isTrue(Redaction.isSensitiveKey(key), key)
    for (const key of [
      "user",
      "status_code",
      "http.response.status_code",
      "country_code",
      "requestId",
      "tokenizer_name_x"
    ])
      assert.isFalse(Redaction.isSensitiveKey(key), key)
  })

  it("no planted secret survives, at any depth", () => {
    const secret = "s3cr3t-value"
    const tree: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.integer(),
        fc.constant(Redacted.make(secret)),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom("a", "b", "password", "token", "otp", "user"), tie("node"), {
          maxKeys: 3
        })
      )
    })).node
    fc.assert(
      fc.property(tree, fc.string(), (value, plain) => {
        const out = Redaction.redact({ token: secret, deep: value, plain: plain.replace(secret, "") })
        assert.notInclude(JSON.stringify(out), secret)
      })
    )
  })
})
