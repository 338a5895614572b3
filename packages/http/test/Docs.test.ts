import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpApi } from "effect/http-api"
import { Docs, Health, HttpApp, Problem, SecurityHeaders } from "../src/index.ts"
import { serve } from "./fixtures/client.ts"

class Api extends HttpApp.api(HttpApi.make("docs").add(Health.Group)) {}

const App = HttpApp.layer({
  api: Api,
  handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)),
  routes: [Docs.layer(Api)],
  securityHeaders: Docs.securityHeaders()
})

describe("Docs", () => {
  it("lists every type of Problem.types once, with its status, slug and title", () => {
    assert.deepStrictEqual(
      Docs.problemTypes.map((t) => t.uri).sort(),
      Object.values(Problem.types).slice().sort()
    )
    const validation = Docs.problemTypes.find((t) => t.uri === Problem.types.validation)
    assert.deepStrictEqual(validation, {
      slug: "validation",
      uri: Problem.types.validation,
      status: 400,
      title: "Bad Request"
    })
    assert.strictEqual(Docs.problemTypes.find((t) => t.uri === Problem.types.notFound)?.slug, "not-found")
    assert.strictEqual(Docs.problemTypes.find((t) => t.uri === Problem.types.serviceUnavailable)?.status, 503)
  })

  it.effect("GET /docs serves Scalar inline, loading nothing from another origin", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      const reply = yield* client.call("GET", "/docs")
      assert.strictEqual(reply.status, 200)
      assert.match(reply.headers.get("content-type") ?? "", /^text\/html/)
      assert.strictEqual(
        reply.headers.get("content-security-policy"),
        SecurityHeaders.docsContentSecurityPolicy
      )
      assert.strictEqual(reply.headers.get("permissions-policy"), SecurityHeaders.docsPermissionsPolicy)
      assert.notMatch(reply.text, /<script[^>]+src=/, "no external script")
      assert.notMatch(reply.text, /<link[^>]+href="https?:/, "no external style sheet")
      assert.include(reply.text, '"withDefaultFonts":false')
      assert.include(reply.text, "/health/live")
    }).pipe(Effect.scoped)
  )

  it.effect("GET /docs/problems is static HTML with an anchor per type and a script-free policy", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      const reply = yield* client.call("GET", "/docs/problems")
      assert.strictEqual(reply.status, 200)
      assert.notInclude(reply.text, "<script")
      for (const type of Docs.problemTypes) {
        assert.include(reply.text, `<section id="${type.slug}">`)
        assert.include(reply.text, `<strong>${type.status}</strong>`)
      }
      assert.include(reply.text, 'id="method-not-allowed"')
      assert.strictEqual(reply.headers.get("content-security-policy"), Docs.problemsContentSecurityPolicy)
    }).pipe(Effect.scoped)
  )

  it.effect("the API keeps the strict headers", () =>
    Effect.gen(function* () {
      const client = yield* serve(App)
      const reply = yield* client.call("GET", "/health/live")
      assert.strictEqual(
        reply.headers.get("content-security-policy"),
        SecurityHeaders.apiContentSecurityPolicy
      )
      assert.strictEqual(reply.headers.get("permissions-policy"), SecurityHeaders.apiPermissionsPolicy)
      const near = yield* client.call("GET", "/docsx")
      assert.strictEqual(
        near.headers.get("content-security-policy"),
        SecurityHeaders.apiContentSecurityPolicy
      )
    }).pipe(Effect.scoped)
  )
})
