/**
 * Test helpers: the example app over a fresh test database (embedded PGlite,
 * or a fresh database on the Postgres at DATABASE_URL), served in memory,
 * with test-strength password hashing and freshly generated signing keys.
 *
 * Two ways to call it: the typed client (`typed`, derived from the API
 * definition, as a team's client would be), and raw requests (`call`) for
 * what a typed client cannot send (malformed JSON, forged tokens, odd
 * headers). `serve()` registers one user and signs every call in as that
 * user unless the call passes its own `authorization` header (`""` for none).
 * `exchange` and `refused` show a typed call's response head next to its
 * typed outcome, for the assertions on headers a typed client hides.
 */
import { AccountsConfig } from "@org/accounts"
import { Argon2, JwtKeys, SecretBox } from "@org/auth"
import type { AuditLog, Captcha, RevocationStore } from "@org/core"
import { type Cors, type Health, HttpApp, RateLimit } from "@org/http"
import { Migrations, SqlTest } from "@org/sql"
import { Duration, Effect, Layer, Logger, Redacted, Result, Schema } from "effect"
import type { Headers, HttpClientError, HttpClientResponse } from "effect/http"
import type { SqlClient } from "effect/sql"
import { makeClient } from "../src/client.ts"
import * as App from "../src/server/App.ts"
import * as Events from "../src/server/Events.ts"
import { migrations } from "../src/server/Migrations.ts"
import * as Stores from "../src/server/Stores.ts"

/** What a test looks at in a response. */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect JSON bodies field by field.
  readonly body: any
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The seeded admin of every test app. */
export const admin = { email: "admin@example.test", password: "Adm1n-Test-Passw0rd-Long" } as const

/** A password every test account may use (it passes the policy). */
export const password = "Test-Account-Passw0rd-42"

/** The configuration of test apps. */
export const testConfig = AccountsConfig.make({
  ...App.accountsDefaults,
  env: "test",
  dataDir: ".data-test-unused",
  admin: { email: admin.email, password: Redacted.make(admin.password) }
})

/** Signing keys generated once per test file (with the private JWK, for forging tests). */
export const testKeys = Effect.runPromise(
  Effect.gen(function* () {
    const privateJwk = yield* JwtKeys.generate("ES256")
    const signer = yield* JwtKeys.fromPrivateKey(privateJwk, { alg: "ES256", source: "test" })
    return { keySet: yield* JwtKeys.make({ signer }), privateJwk }
  })
)

/** The MFA key of test apps. */
export const testMfaKey = Effect.runPromise(Effect.flatMap(SecretBox.generateKey, SecretBox.keyFromBase64))

/** Options of a test app. */
export interface AppOptions {
  readonly bodyLimit?: number
  /** A CAPTCHA verifier for register and login (none by default). */
  readonly captcha?: Layer.Layer<Captcha.CaptchaVerifier>
  /** The revocation store, cache and rate-limit state; in-memory by default. */
  readonly stores?: Layer.Layer<
    RevocationStore.RevocationStore | Layer.Success<typeof Stores.layerMemory>,
    unknown,
    SqlClient.SqlClient | Health.Checks
  >
  /** The rate-limit policies; so generous by default that no other test meets them. */
  readonly rateLimits?: RateLimit.Options
  /** Router-level middlewares of the app (`App.make`'s). */
  readonly middlewares?: ReadonlyArray<HttpApp.Middleware>
  /** CORS (none by default). */
  readonly cors?: Cors.Options
  /** Where events go besides the bus's subscribers (the audit log only by default). */
  readonly destinations?: Layer.Layer<Events.Destinations, never, AuditLog.AuditLog>
}

/** Limits no functional test reaches; the rate-limit tests set their own. */
export const generousLimits: RateLimit.Options = {
  policies: {
    default: { limit: 100_000, window: Duration.minutes(1) },
    auth: { limit: 100_000, window: Duration.minutes(1), onUnavailable: "refuse" }
  }
}

/** The app on a migrated test database, with logging silenced. */
export const AppLayer = (options: AppOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const keys = (yield* Effect.promise(() => testKeys)).keySet
      const mfaKey = yield* Effect.promise(() => testMfaKey)
      const Database = Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)
      const services = App.services({
        config: testConfig,
        secrets: { keys, mfaKey },
        passwords: Argon2.layerTest(),
        captcha: options.captcha,
        rateLimits: RateLimit.layer(options.rateLimits ?? generousLimits),
        // no relay in tests, whatever NATS_URL says (the relay has its own tests)
        destinations: options.destinations ?? Events.auditOnly
      }).pipe(Layer.provide(options.stores ?? Stores.layerMemory))
      return App.make({
        ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
        services,
        middlewares: options.middlewares,
        cors: options.cors
      }).pipe(Layer.provide(Database), Layer.provideMerge(Logger.layer([])))
    })
  )

/** A signed-in account. */
export interface Session {
  readonly id: string
  readonly email: string
  readonly access: string
  readonly refresh: string
  readonly auth: Record<string, string>
}

/** The calls a test makes. */
export interface Api {
  readonly call: (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>
  ) => Effect.Effect<Reply>
  /** Registers (with `password`) and logs in a new account. */
  readonly signUp: (email?: string) => Effect.Effect<Session>
  /** Logs in an existing account; fails the test unless it gets tokens. */
  readonly login: (email: string, password: string) => Effect.Effect<Session>
  /** The account `call` and `typed` use by default. */
  readonly user: Session
  /** The typed client, signed in as `user`. */
  readonly typed: Effect.Success<ReturnType<typeof typedClient>>
  /** A typed client signed in with `token` (none when undefined). */
  readonly typedAs: (token: string | undefined) => ReturnType<typeof typedClient>
}

let counter = 0

/** The CAPTCHA token the client's own sign-ups and logins send (ignored unless a test adds a verifier). */
export const captchaSolved = { "x-captcha-token": "solved" }

/**
 * The typed client over a request handler (in memory or `fetch`), signed in
 * with `token` when given.
 */
export const typedClient = (
  send: (request: Request) => Promise<Response>,
  token?: string,
  base = "http://localhost"
) => makeClient(base, { token }).pipe(Effect.provide(HttpApp.clientLayer(send)))

/** Makes the calls of a test over a request handler. */
export const makeApi = (send: (request: Request) => Promise<Response>, base = "http://localhost") =>
  Effect.gen(function* () {
    const raw = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      Effect.promise(async (): Promise<Reply> => {
        const init: RequestInit = { method, headers: { ...headers } }
        if (body !== undefined) {
          init.body = typeof body === "string" ? body : JSON.stringify(body)
          init.headers = { "content-type": "application/json", ...headers }
        }
        const response = await send(new Request(`${base}${path}`, init))
        const text = await response.text()
        return { status: response.status, headers: response.headers, text, body: parse(text) }
      })
    const login = (email: string, secret: string) =>
      Effect.gen(function* () {
        const reply = yield* raw("POST", "/api/v1/auth/login", { email, password: secret }, captchaSolved)
        if (reply.status !== 200 || typeof reply.body?.access_token !== "string") {
          return yield* Effect.die(new Error(`login of ${email} failed: ${reply.status} ${reply.text}`))
        }
        const me = yield* raw("GET", "/api/v1/auth/me", undefined, {
          authorization: `Bearer ${reply.body.access_token}`
        })
        return {
          id: me.body.id as string,
          email,
          access: reply.body.access_token as string,
          refresh: reply.body.refresh_token as string,
          auth: { authorization: `Bearer ${reply.body.access_token}` }
        }
      })
    const signUp = (email = `user${++counter}-${Date.now()}@example.test`) =>
      Effect.gen(function* () {
        const reply = yield* raw("POST", "/api/v1/auth/register", { email, password }, captchaSolved)
        if (reply.status !== 201)
          return yield* Effect.die(new Error(`register failed: ${reply.status} ${reply.text}`))
        return yield* login(email, password)
      })
    const user = yield* signUp()
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const { authorization, ...rest } = headers
      const auth = authorization === undefined ? user.auth : authorization === "" ? {} : { authorization }
      return raw(method, path, body, { ...auth, ...rest })
    }
    const typedAs = (token: string | undefined) => typedClient(send, token, base)
    return { call, signUp, login, user, typed: yield* typedAs(user.access), typedAs } satisfies Api
  })

/** A typed call's response: status, head and body text, and the client's decoding of it. */
export interface Exchange<A, P> {
  readonly status: number
  readonly headers: Headers.Headers
  readonly text: string
  readonly result: Result.Result<A, P>
}

/**
 * Sends a typed call made with `responseMode: "response-only"` and decodes
 * the response as the client would (with the endpoint's
 * `HttpApiClient.decodeResponse(Api, { group, endpoint })`), so a test sees
 * the typed outcome (value or problem) and the response head it came in: a
 * typed failure carries no headers.
 */
export const exchange = <E, R, A, P, R2>(
  sent: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
  decode: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, P, R2>
): Effect.Effect<Exchange<A, P>, E | HttpClientError.HttpClientError, R | R2> =>
  Effect.gen(function* () {
    const response = yield* sent
    const result = yield* Effect.result(decode(response))
    return { status: response.status, headers: response.headers, text: yield* response.text, result }
  })

/** `exchange` for a call that must be refused: the test fails if the client decodes a success. */
export const refused = <E, R, A, P, R2>(
  sent: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
  decode: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, P, R2>
) =>
  Effect.flatMap(exchange(sent, decode), (reply) =>
    Result.isFailure(reply.result)
      ? Effect.succeed({ ...reply, problem: reply.result.failure })
      : Effect.die(new Error(`expected a problem, got ${reply.status} ${reply.text.slice(0, 200)}`))
  )

/** A JSON object body as it was sent: for keys a decoder drops and wire formats it hides. */
export const wireObject = Schema.decodeUnknownEffect(
  Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown))
)

/** Serves the app in memory for the scope. */
export const serve = (options: AppOptions = {}) =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.sync(() => HttpApp.toWebHandler(AppLayer(options))),
      ({ dispose }) => Effect.promise(dispose)
    ),
    ({ handler }) => makeApi(handler)
  )
