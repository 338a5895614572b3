/**
 * The consumer's own test with its own vitest: the app with the memory
 * repository swapped in for the SQL one (no database at all), served in
 * memory and driven through the typed client derived from the definition.
 */
import { assert, describe, it } from "@effect/vitest"
import { AccountsConfig } from "@org/accounts"
import { Argon2 } from "@org/auth"
import { HttpApp } from "@org/http"
import { Effect, Layer, Logger } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Api } from "../src/Api.ts"
import { app, Tasks } from "../src/App.ts"

const config = AccountsConfig.make({ issuer: "consumer", audience: "consumer-api", env: "test" })
const password = "Consumer-Test-Passw0rd-7"

const App = Layer.unwrap(
  Effect.map(AccountsConfig.ephemeralSecrets, (secrets) =>
    app({ config, secrets, tasks: Tasks.layerMemory, passwords: Argon2.layerTest() }).pipe(
      Layer.provideMerge(Logger.layer([]))
    )
  )
)

const serve = Effect.gen(function* () {
  const { handler } = yield* Effect.acquireRelease(
    Effect.sync(() => HttpApp.toWebHandler(App)),
    ({ dispose }) => Effect.promise(dispose)
  )
  return (token?: string) =>
    HttpApiClient.make(Api, {
      baseUrl: "http://localhost",
      ...(token === undefined
        ? {}
        : { transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token)) })
    }).pipe(Effect.provide(HttpApp.clientLayer(handler)))
})

describe("the consumer app with the memory repository", () => {
  it.live("a member signs up, logs in, creates and lists tasks; anonymous callers get 401", () =>
    Effect.gen(function* () {
      const client = yield* serve
      const anonymous = yield* client()
      const user = yield* anonymous.auth.register({
        payload: { email: "ada@example.test", password },
        headers: {}
      })
      assert.deepStrictEqual(user.roles, ["member"])
      const login = yield* anonymous.auth.login({
        payload: { email: "ada@example.test", password },
        headers: {}
      })
      if (!("access_token" in login)) return assert.fail("unexpected MFA challenge")
      const member = yield* client(login.access_token)
      const created = yield* member.tasks.create({
        payload: { title: "Write the consumer check", done: false }
      })
      assert.strictEqual(created.headers.location, `/api/v1/tasks/${created.body.id}`)
      assert.strictEqual(created.body.version, 1)
      const page = yield* member.tasks.list({ query: {} })
      assert.deepStrictEqual(
        page.items.map((task) => [task.title, task.done]),
        [["Write the consumer check", false]]
      )
      const denied = yield* Effect.flip(anonymous.tasks.list({ query: {} }))
      assert.strictEqual(denied._tag, "UnauthorizedProblem")
    }).pipe(Effect.scoped)
  )
})
