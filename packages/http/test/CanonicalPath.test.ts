import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { CanonicalPath, Problem } from "../src/index.ts"
import { serve, widgetsApp } from "./fixtures/client.ts"
import { knownId } from "./fixtures/WidgetsApi.ts"

describe("CanonicalPath.problem", () => {
  const canonical = [
    "/",
    "/widgets",
    `/widgets/${knownId}`,
    "/widgets?page=1&q=a;b//c/../",
    "/caf%C3%A9/a%20b/%3Bnot-a-semicolon",
    "/.well-known/jwks.json",
    "/a/..b/c.",
    "http://example.com/widgets",
    "http://example.com",
    "*"
  ]
  for (const url of canonical) {
    it(`${url} is canonical`, () => {
      assert.isUndefined(CanonicalPath.problem(url))
      assert.isTrue(CanonicalPath.isCanonical(url))
    })
  }

  const refused: ReadonlyArray<readonly [string, string]> = [
    ["/api/v1/items;foo=bar", "semicolon"],
    [`/api/v1/items/${knownId};x`, "semicolon"],
    ["/api/v1//items", "empty segment"],
    ["//api/v1/items", "empty segment"],
    ["/api/v1/items/", "end with a slash"],
    ["/api/v1/./items", "'.' or '..'"],
    ["/api/v1/x/../items", "'.' or '..'"],
    ["/api/v1/items/..", "'.' or '..'"],
    ["/api/v1/%2e%2e/items", "needs no encoding"],
    ["/api/v1/%69tems", "needs no encoding"],
    ["/api/v1/items%2F1", "needs no encoding"],
    ["/api/v1/items%5c1", "needs no encoding"],
    ["/api/v1/items%7E", "needs no encoding"],
    ["/api/v1/items\\1", "backslash"],
    ["/api/v1/items%zz", "malformed"],
    ["/api/v1/items%4", "malformed"],
    ["http://example.com/a//b", "empty segment"],
    ["api/v1/items", "start with a slash"]
  ]
  for (const [url, why] of refused) {
    it(`${url} is refused: ${why}`, () => {
      assert.include(CanonicalPath.problem(url), why)
      assert.isFalse(CanonicalPath.isCanonical(url))
    })
  }
})

describe("CanonicalPath.middleware", () => {
  const ok = Effect.succeed(HttpServerResponse.text("routed"))

  // Called directly, with a raw target a WHATWG `Request` would have normalised.
  const call = (url: string) =>
    CanonicalPath.middleware(ok).pipe(
      Effect.provideService(
        HttpServerRequest.HttpServerRequest,
        HttpServerRequest.fromWeb(new Request("http://localhost/")).modify({ url })
      ),
      Effect.scoped,
      Effect.exit
    )

  it.effect("called directly: a canonical path goes on, a dot segment fails with NotFound", () =>
    Effect.gen(function* () {
      const passed = yield* call("/widgets?x=1")
      assert.isTrue(Exit.isSuccess(passed) && passed.value.status === 200)
      const refused = yield* call("/x/../widgets")
      assert.isTrue(Exit.isFailure(refused))
      const error = yield* Effect.flip(
        CanonicalPath.middleware(ok).pipe(
          Effect.provideService(
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request("http://localhost/")).modify({ url: "/x/./widgets" })
          ),
          Effect.scoped
        )
      )
      assert.instanceOf(error, Problem.NotFound)
    })
  )

  it.effect(
    "without it, Effect's router serves the aliases; with it (the default), each is a 404 problem",
    () =>
      Effect.gen(function* () {
        const aliases = ["/widgets;foo=bar", "//widgets", "/widgets/", "/%77idgets", `/widgets/${knownId};x`]
        const plain = yield* serve(widgetsApp({ canonicalPaths: false }))
        for (const path of aliases) {
          assert.strictEqual((yield* plain.call("GET", path)).status, 200, path)
        }
        const strict = yield* serve(widgetsApp())
        for (const path of aliases) {
          const reply = yield* strict.call("GET", path, { headers: { "x-request-id": "canon-1" } })
          assert.strictEqual(reply.status, 404, path)
          assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
          assert.strictEqual(reply.body.type, Problem.types.notFound)
          assert.strictEqual(reply.body.status, 404)
          assert.isString(reply.body.detail)
          assert.strictEqual(reply.body.requestId, "canon-1")
          assert.strictEqual(reply.headers.get("x-content-type-options"), "nosniff")
        }
        assert.strictEqual((yield* strict.call("GET", "/widgets")).status, 200)
        // letter case too: the router is case-sensitive
        for (const path of ["/WIDGETS", "/Widgets", `/Widgets/${knownId}`]) {
          const reply = yield* strict.call("GET", path)
          assert.strictEqual(reply.status, 404, path)
          assert.strictEqual(reply.headers.get("content-type"), "application/problem+json", path)
        }
        assert.strictEqual((yield* strict.call("GET", `/widgets/${knownId}`)).status, 200)
        assert.strictEqual((yield* strict.call("GET", "/widgets?page=2")).body.page, 2)
      }).pipe(Effect.scoped)
  )
})
