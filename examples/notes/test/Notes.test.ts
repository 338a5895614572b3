/**
 * The smallest team service works end to end: register, log in, write and
 * read notes through the typed client derived from the definition, admins
 * only on the users routes. On the test database (PGlite, or Postgres at
 * DATABASE_URL), served in memory.
 */
import { assert, describe, it } from "@effect/vitest"
import { AccountsConfig } from "@org/accounts"
import { HttpApp } from "@org/http"
import { Migrations, SqlTest } from "@org/sql"
import { Effect, Layer, Logger, Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Api } from "../src/api/Api.ts"
import { app, migrations } from "../src/server/App.ts"

const admin = { email: "root@example.test", password: "Notes-Admin-Passw0rd-1" }
const password = "Notes-Writer-Passw0rd-2"

const config = AccountsConfig.make({
  issuer: "notes",
  audience: "notes-api",
  env: "test",
  admin: { email: admin.email, password: Redacted.make(admin.password) }
})

const App = Layer.unwrap(
  Effect.map(AccountsConfig.ephemeralSecrets, (secrets) =>
    app({ config, secrets }).pipe(
      Layer.provide(Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)),
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

const tokenOf = (reply: { readonly access_token: string } | { readonly mfa_required: true }) =>
  "access_token" in reply ? Effect.succeed(reply.access_token) : Effect.die("unexpected MFA challenge")

describe("the notes service (accounts + one CRUD group from the kit)", () => {
  it.live(
    "a writer signs up, writes and reads notes; only the admin manages users",
    () =>
      Effect.gen(function* () {
        const client = yield* serve
        const anonymous = yield* client()
        const user = yield* anonymous.auth.register({
          payload: { email: "ada@example.test", password },
          headers: {}
        })
        assert.deepStrictEqual(user.roles, ["writer"])
        const token = yield* Effect.flatMap(
          anonymous.auth.login({ payload: { email: "ada@example.test", password }, headers: {} }),
          tokenOf
        )
        const writer = yield* client(token)
        const created = yield* writer.notes.create({ payload: { title: "First", body: "Hello" } })
        assert.strictEqual(created.headers.location, `/api/v1/notes/${created.body.id}`)
        const read = yield* writer.notes.get({ params: { id: created.body.id }, headers: {} })
        assert.strictEqual(read.body.body, "Hello")
        const page = yield* writer.notes.list({ query: {} })
        assert.deepStrictEqual(
          page.items.map((n) => n.title),
          ["First"]
        )
        const forbidden = yield* Effect.flip(writer.users.list({ query: {} }))
        assert.strictEqual(forbidden._tag, "ForbiddenProblem")
        const unauthenticated = yield* Effect.flip(anonymous.notes.list({ query: {} }))
        assert.strictEqual(unauthenticated._tag, "UnauthorizedProblem")

        const root = yield* client(
          yield* Effect.flatMap(anonymous.auth.login({ payload: admin, headers: {} }), tokenOf)
        )
        const users = yield* root.users.list({ query: {} })
        assert.sameMembers(
          users.items.map((u) => u.email),
          [admin.email, "ada@example.test"]
        )
      }).pipe(Effect.scoped),
    60_000
  )
})
