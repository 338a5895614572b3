import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as fc from "fast-check"
import { Problem } from "../src/index.ts"
import { capturingLogger, type Reply, serve, widgetsApp } from "./fixtures/client.ts"
import { knownId, secret, sqlText } from "./fixtures/WidgetsApi.ts"

const assertProblem = (reply: Reply, status: number, type: string) => {
  assert.strictEqual(reply.status, status)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.strictEqual(reply.body.status, status)
  assert.strictEqual(reply.body.type, type)
  assert.isString(reply.body.title)
  assert.isString(reply.body.instance)
  assert.strictEqual(reply.body.requestId, reply.headers.get("x-request-id"))
  assert.isTrue(Schema.is(Problem.Body)(reply.body), `not a problem body: ${reply.text}`)
}

const pointers = (reply: Reply): Array<string> =>
  reply.body.errors.map((error: Problem.FieldError) => `${error.in}:${error.pointer}`)

describe("Problem", () => {
  describe("request validation (400)", () => {
    it.effect("lists each failing field of a body with wrong types", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("POST", "/widgets", {
          body: JSON.stringify({ name: 3, price: "cheap" })
        })
        assertProblem(reply, 400, Problem.types.validation)
        assert.deepStrictEqual(pointers(reply).sort(), ["body:/name", "body:/price"])
        assert.strictEqual(reply.body.instance, "/widgets")
      }).pipe(Effect.scoped)
    )

    it.effect("rejects malformed JSON", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("POST", "/widgets", { body: '{"name": "gear", "price": ' })
        assertProblem(reply, 400, Problem.types.validation)
        assert.strictEqual(reply.body.detail, "The request body is not valid JSON.")
        assert.deepStrictEqual(pointers(reply), ["body:"])
      }).pipe(Effect.scoped)
    )

    it.effect("rejects unknown fields in a body", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("POST", "/widgets", {
          body: JSON.stringify({ name: "gear", price: 1, isAdmin: true })
        })
        assertProblem(reply, 400, Problem.types.validation)
        assert.deepStrictEqual(pointers(reply), ["body:/isAdmin"])
        assert.strictEqual(reply.body.errors[0].message, "Expected no excess property")
      }).pipe(Effect.scoped)
    )

    it.effect("rejects oversized strings and negative numbers without echoing the input", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const name = "n".repeat(5000)
        const reply = yield* app.call("POST", "/widgets", { body: JSON.stringify({ name, price: -1 }) })
        assertProblem(reply, 400, Problem.types.validation)
        assert.deepStrictEqual(pointers(reply).sort(), ["body:/name", "body:/price"])
        assert.notInclude(reply.text, "nnnnnnnnnn")
        assert.isBelow(reply.text.length, 1000)
        const price = reply.body.errors.find((e: Problem.FieldError) => e.pointer === "/price")
        assert.strictEqual(price.message, "Expected a value greater than or equal to 0")
      }).pipe(Effect.scoped)
    )

    it.effect("does not echo a huge unknown key", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const key = "k".repeat(10_000)
        const reply = yield* app.call("POST", "/widgets", {
          body: JSON.stringify({ name: "a", price: 1, [key]: 1 })
        })
        assertProblem(reply, 400, Problem.types.validation)
        assert.isBelow(reply.text.length, 1000)
      }).pipe(Effect.scoped)
    )

    it.effect("rejects a body that is not an object", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("POST", "/widgets", { body: JSON.stringify(["gear", 1]) })
        assertProblem(reply, 400, Problem.types.validation)
        assert.deepStrictEqual(pointers(reply), ["body:"])
      }).pipe(Effect.scoped)
    )

    it.effect("rejects an invalid UUID path parameter", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("GET", "/widgets/not-a-uuid")
        assertProblem(reply, 400, Problem.types.validation)
        assert.deepStrictEqual(pointers(reply), ["path:/id"])
        assert.strictEqual(reply.body.errors[0].message, "Expected a UUID")
      }).pipe(Effect.scoped)
    )

    it.effect.each([
      ["page=-1", ["query:/page"]],
      ["page=0", ["query:/page"]],
      ["page=1.5", ["query:/page"]],
      ["page=abc", ["query:/page"]],
      ["size=0", ["query:/size"]],
      ["size=101", ["query:/size"]],
      ["page=0&size=2.5", ["query:/page", "query:/size"]]
    ] as const)("rejects the query %s", ([query, expected]) =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("GET", `/widgets?${query}`)
        assertProblem(reply, 400, Problem.types.validation)
        assert.deepStrictEqual([...new Set(pointers(reply))].sort(), [...expected])
      }).pipe(Effect.scoped)
    )

    it.effect("accepts valid input", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const created = yield* app.call("POST", "/widgets", {
          body: JSON.stringify({ name: "gear", price: 0 })
        })
        assert.strictEqual(created.status, 201)
        assert.deepStrictEqual(created.body, { id: knownId, name: "gear", price: 0 })
        const found = yield* app.call("GET", `/widgets/${knownId}`)
        assert.strictEqual(found.status, 200)
        assert.strictEqual(found.body.name, "gear")
        const listed = yield* app.call("GET", "/widgets?page=2&size=10")
        assert.strictEqual(listed.status, 200)
        assert.deepStrictEqual(listed.body, { page: 2, size: 10, items: [] })
      }).pipe(Effect.scoped)
    )
  })

  describe("routing", () => {
    it.effect("answers an unknown route with 404", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("GET", "/nothing/here?x=1")
        assertProblem(reply, 404, Problem.types.notFound)
        assert.strictEqual(reply.body.instance, "/nothing/here")
      }).pipe(Effect.scoped)
    )

    it.effect("answers a wrong method on a known path with 405 and Allow", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("DELETE", "/widgets")
        assertProblem(reply, 405, Problem.types.methodNotAllowed)
        assert.strictEqual(reply.headers.get("allow"), "GET, HEAD, POST")
        const item = yield* app.call("PUT", `/widgets/${knownId}`, { body: "{}" })
        assertProblem(item, 405, Problem.types.methodNotAllowed)
        assert.strictEqual(item.headers.get("allow"), "GET, HEAD")
      }).pipe(Effect.scoped)
    )

    it.effect("answers an unsupported media type with 415", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("POST", "/widgets", {
          body: "name=gear",
          headers: { "content-type": "text/plain" }
        })
        assertProblem(reply, 415, Problem.types.unsupportedMediaType)
        assert.notInclude(reply.text, "text/plain")
      }).pipe(Effect.scoped)
    )
  })

  describe("domain errors", () => {
    it.effect("renders a domain error mapped to a typed problem (409)", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("POST", "/widgets", {
          body: JSON.stringify({ name: "taken", price: 1 })
        })
        assertProblem(reply, 409, Problem.types.conflict)
        assert.strictEqual(reply.body.title, "Conflict")
        assert.strictEqual(reply.body.detail, 'A widget named "taken" already exists.')
        assert.notProperty(reply.body, "_tag")
      }).pipe(Effect.scoped)
    )

    it.effect("renders a typed 404 from a handler", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const id = "1b9e4d1c-3a9b-4f5e-8c3d-2a1b0c9d8e7f"
        const reply = yield* app.call("GET", `/widgets/${id}`)
        assertProblem(reply, 404, Problem.types.notFound)
        assert.strictEqual(reply.body.detail, `Widget ${id} does not exist.`)
        assert.strictEqual(reply.body.instance, `/widgets/${id}`)
      }).pipe(Effect.scoped)
    )

    it.effect("renders an ad hoc ProblemError from a middleware, keeping its headers", () =>
      Effect.gen(function* () {
        const app = yield* serve(
          widgetsApp({
            middlewares: [
              (inner) =>
                Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
                  request.headers["x-greedy"] === undefined
                    ? inner
                    : Effect.fail(
                        Problem.make({ status: 429, detail: "Slow down", headers: { "retry-after": "3" } })
                      )
                )
            ]
          })
        )
        const passed = yield* app.call("GET", "/widgets")
        assert.strictEqual(passed.status, 200)
        const reply = yield* app.call("GET", "/widgets", { headers: { "x-greedy": "1" } })
        assertProblem(reply, 429, Problem.types.tooManyRequests)
        assert.strictEqual(reply.headers.get("retry-after"), "3")
        assert.strictEqual(reply.body.detail, "Slow down")
      }).pipe(Effect.scoped)
    )
  })

  describe("defects (500)", () => {
    it.effect("answers a defect with a generic 500 and logs it with the request id", () =>
      Effect.gen(function* () {
        const logs = capturingLogger()
        const app = yield* serve(widgetsApp({ logger: logs.layer }))
        const reply = yield* app.call("GET", "/boom", { headers: { "x-request-id": "trace-500" } })
        assertProblem(reply, 500, Problem.types.internal)
        assert.strictEqual(reply.body.requestId, "trace-500")
        for (const leak of [
          secret,
          sqlText,
          "SELECT",
          "password",
          "connection failed",
          "stack",
          "at ",
          "Error:"
        ]) {
          assert.notInclude(reply.text, leak)
        }
        assert.notProperty(reply.body, "detail")
        const logged = logs.lines.find((line) => line.level === "Error")
        assert.isDefined(logged)
        assert.strictEqual(logged?.annotations.requestId, "trace-500")
        assert.include(logged?.cause, secret)
      }).pipe(Effect.scoped)
    )

    it.effect("strips details a handler put in a 500 problem", () =>
      Effect.gen(function* () {
        const leaky = HttpRouter.add(
          "GET",
          "/leaky",
          Effect.fail(Problem.make({ status: 500, detail: `query failed: ${sqlText}` }))
        )
        const app = yield* serve(widgetsApp({ routes: [leaky] }))
        const reply = yield* app.call("GET", "/leaky")
        assertProblem(reply, 500, Problem.types.internal)
        assert.notInclude(reply.text, "SELECT")
        assert.deepStrictEqual(Object.keys(reply.body).sort(), [
          "instance",
          "requestId",
          "status",
          "title",
          "type"
        ])
      }).pipe(Effect.scoped)
    )

    it.effect("keeps every member within Problem.limits, as the document states (a long detail is cut)", () =>
      Effect.gen(function* () {
        const wordy = HttpRouter.add(
          "GET",
          "/wordy",
          HttpServerResponse.jsonUnsafe(
            {
              type: "x".repeat(500),
              title: "y".repeat(500),
              detail: "z".repeat(10_000),
              instance: "/".repeat(5000)
            },
            { status: 409, contentType: "application/problem+json" }
          )
        )
        const app = yield* serve(widgetsApp({ routes: [wordy] }))
        const reply = yield* app.call("GET", "/wordy")
        // an overlong type or title falls back to the status's own
        assertProblem(reply, 409, Problem.types.conflict)
        assert.strictEqual(reply.body.title, "Conflict")
        assert.strictEqual(reply.body.detail.length, Problem.limits.detail)
        assert.isTrue(reply.body.detail.endsWith("…"))
        assert.strictEqual(reply.body.instance, "/wordy")
      }).pipe(Effect.scoped)
    )

    it.effect("turns a non-problem error response of a plain route into a problem", () =>
      Effect.gen(function* () {
        const teapot = HttpRouter.add(
          "GET",
          "/teapot",
          HttpServerResponse.text("I am a teapot; internal detail", { status: 418 })
        )
        const app = yield* serve(widgetsApp({ routes: [teapot] }))
        const reply = yield* app.call("GET", "/teapot")
        assertProblem(reply, 418, "about:blank")
        assert.notInclude(reply.text, "internal detail")
      }).pipe(Effect.scoped)
    )
  })

  describe("OpenAPI", () => {
    it.effect("documents the problem responses of every endpoint", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const reply = yield* app.call("GET", "/openapi.json")
        assert.strictEqual(reply.status, 200)
        const operations = Object.values<Record<string, { responses: Record<string, { content?: object }> }>>(
          reply.body.paths
        ).flatMap((path) => Object.values(path))
        assert.isAtLeast(operations.length, 7)
        for (const operation of operations) {
          for (const status of ["400", "404", "405", "413", "415", "500"]) {
            assert.property(operation.responses[status]?.content ?? {}, "application/problem+json", status)
          }
        }
        const create = reply.body.paths["/widgets"].post.responses
        assert.property(create["409"].content, "application/problem+json")
        const badRequest = reply.body.components.schemas.ValidationProblemEncoded
        assert.includeMembers(Object.keys(badRequest.properties), [
          "type",
          "title",
          "status",
          "requestId",
          "errors"
        ])
      }).pipe(Effect.scoped)
    )
  })

  describe("fieldErrors", () => {
    it("escapes JSON Pointer segments and caps lengths", () => {
      const decoded = Schema.decodeUnknownExit(Schema.Struct({ "a/b~c": Schema.Array(Schema.String) }))({
        "a/b~c": ["x", 1]
      })
      assert.isTrue(decoded._tag === "Failure")
      if (decoded._tag !== "Failure") return
      const error = decoded.cause.reasons.find((reason) => reason._tag === "Fail")
      assert.isDefined(error)
      if (error?._tag !== "Fail") return
      const errors = Problem.fieldErrors("body", error.error.issue)
      assert.deepStrictEqual(errors, [{ in: "body", pointer: "/a~1b~0c/1", message: "Expected string" }])
    })
  })

  it.effect("never answers 5xx to random bodies, and every 4xx is a consistent problem", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp())
      const body = fc.oneof(
        fc.jsonValue().map((value) => JSON.stringify(value)),
        fc.record({ name: fc.string(), price: fc.double() }).map((value) => JSON.stringify(value)),
        fc.string()
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(body, async (text) => {
            const reply = await Effect.runPromise(app.call("POST", "/widgets", { body: text }))
            if (reply.status >= 200 && reply.status < 300) return
            assert.isTrue(reply.status >= 400 && reply.status < 500, `status ${reply.status} for ${text}`)
            assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
            assert.strictEqual(reply.body.status, reply.status)
          }),
          { numRuns: 300 }
        )
      )
    }).pipe(Effect.scoped)
  )
})
