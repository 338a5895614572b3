/**
 * The MFA use cases under TestClock, around TOTP step boundaries: the
 * one-step window, replayed codes, expired challenges, recovery codes used
 * twice, and the lockout after repeated wrong codes. The database is the
 * test database (PGlite locally, Postgres in CI).
 */
import { assert, describe, it } from "@effect/vitest"
import { Accounts, AccountsServer } from "@org/accounts"
import { Argon2, Totp } from "@org/auth"
import { Principal, RevocationStore } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { Clock, Effect, Layer, Logger } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import { config, keys, password, policy } from "./fixtures/app.ts"

const migrations = {
  "1_users": AccountsServer.migrations.users,
  "2_refresh_tokens": AccountsServer.migrations.refreshTokens
}

// The SQL stores on the test database: what production runs.
const TestLayer = Layer.unwrap(
  Effect.gen(function* () {
    const { keySet, mfaKey } = yield* Effect.promise(() => keys)
    return AccountsServer.layer({
      config: { ...config, admin: undefined },
      secrets: { keys: keySet, mfaKey },
      policy,
      defaultRoles: ["member"],
      adminRoles: ["owner"],
      passwords: Argon2.layerTest()
    }).pipe(
      Layer.provide(RevocationStore.layerMemory),
      Layer.provideMerge(Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)),
      Layer.provide(Logger.layer([]))
    )
  })
)

// 2026-01-01T00:00:00Z is a multiple of 30 s: step boundaries fall on round times.
const start = Date.UTC(2026, 0, 1)
const period = 30_000

const setup = Effect.gen(function* () {
  yield* TestClock.setTime(start + 5_000)
  const accounts = yield* Accounts.Accounts
  const email = `mfa-${Math.random().toString(36).slice(2)}@example.test`
  const user = yield* accounts.register({
    email,
    password,
    name: undefined,
    captchaToken: undefined,
    remoteAddress: undefined
  })
  const asUser = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provideService(effect, Principal.CurrentPrincipal, {
      subject: user.id,
      roles: ["member"],
      permissions: new Set<string>(),
      tokenId: "t",
      issuedAt: 0,
      expiresAt: Number.MAX_SAFE_INTEGER
    })
  const enrolled = yield* asUser(accounts.mfaEnroll)
  const secret = Totp.Secret.make(enrolled.secret)
  const stepNow = Effect.map(Clock.currentTimeMillis, (now) => Math.floor(now / period))
  const { recovery_codes } = yield* asUser(accounts.mfaConfirm(Totp.codeAt(secret, yield* stepNow)))
  const login = Effect.flatMap(
    accounts.login({ email, password, captchaToken: undefined, remoteAddress: undefined }),
    (result) =>
      "mfa_token" in result ? Effect.succeed(result.mfa_token) : Effect.die("expected an MFA challenge")
  )
  const verify = (mfaToken: string, code: string) =>
    accounts.mfaVerify({ mfaToken, code }).pipe(
      Effect.map(() => "ok" as const),
      Effect.catchTag("InvalidCredentials", () => Effect.succeed("refused" as const))
    )
  return { accounts, secret, recovery: recovery_codes, login, verify, stepNow, asUser }
})

const at = (millis: number) => TestClock.setTime(millis)

describe("MFA under TestClock", () => {
  it.effect(
    "the one-step window: a code is accepted one step early or late, never two",
    () =>
      Effect.gen(function* () {
        const { secret, login, verify } = yield* setup
        // Last millisecond of step N: codes of N+1 are in the window, N+2 is not.
        const n = Math.floor(start / period) + 3
        yield* at((n + 1) * period - 1)
        const challenge = yield* login
        assert.strictEqual(yield* verify(challenge, Totp.codeAt(secret, n + 2)), "refused")
        assert.strictEqual(yield* verify(challenge, Totp.codeAt(secret, n + 1)), "ok")
        // First millisecond of step N+3: N+1's code is two steps old now, and spent anyway.
        yield* at((n + 3) * period)
        const second = yield* login
        assert.strictEqual(yield* verify(second, Totp.codeAt(secret, n + 1)), "refused")
        assert.strictEqual(yield* verify(second, Totp.codeAt(secret, n + 2)), "ok")
      }).pipe(Effect.provide(TestLayer)),
    60_000
  )

  it.effect(
    "a code is usable once, and no earlier code after a later one was used",
    () =>
      Effect.gen(function* () {
        const { secret, login, verify, stepNow } = yield* setup
        yield* TestClock.adjust(period * 4)
        const step = yield* stepNow
        assert.strictEqual(yield* verify(yield* login, Totp.codeAt(secret, step)), "ok")
        assert.strictEqual(yield* verify(yield* login, Totp.codeAt(secret, step)), "refused")
        assert.strictEqual(yield* verify(yield* login, Totp.codeAt(secret, step - 1)), "refused")
      }).pipe(Effect.provide(TestLayer)),
    60_000
  )

  it.effect(
    "a challenge expires after 5 minutes (plus the verifier's skew), and is single-use",
    () =>
      Effect.gen(function* () {
        const { secret, login, verify, stepNow } = yield* setup
        yield* TestClock.adjust(period * 2)
        const challenge = yield* login
        yield* TestClock.adjust("5 minutes")
        yield* TestClock.adjust("31 seconds")
        assert.strictEqual(yield* verify(challenge, Totp.codeAt(secret, yield* stepNow)), "refused")
        const fresh = yield* login
        yield* TestClock.adjust("4 minutes")
        assert.strictEqual(yield* verify(fresh, Totp.codeAt(secret, yield* stepNow)), "ok")
        yield* TestClock.adjust(period)
        assert.strictEqual(yield* verify(fresh, Totp.codeAt(secret, yield* stepNow)), "refused")
      }).pipe(Effect.provide(TestLayer)),
    60_000
  )

  it.effect(
    "recovery codes: each works once, in any case or spacing; a used one is refused",
    () =>
      Effect.gen(function* () {
        const { recovery, login, verify } = yield* setup
        const [first, second] = recovery as [string, string]
        assert.strictEqual(yield* verify(yield* login, ` ${first.toUpperCase()} `), "ok")
        assert.strictEqual(yield* verify(yield* login, first), "refused")
        assert.strictEqual(yield* verify(yield* login, second), "ok")
      }).pipe(Effect.provide(TestLayer)),
    60_000
  )

  it.effect(
    "five wrong codes lock the second factor for five minutes, even for the right code",
    () =>
      Effect.gen(function* () {
        const { secret, login, verify, stepNow } = yield* setup
        yield* TestClock.adjust(period * 2)
        const challenge = yield* login
        const right = Totp.codeAt(secret, yield* stepNow)
        const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0")
        for (let i = 0; i < 5; i++) assert.strictEqual(yield* verify(challenge, wrong), "refused")
        assert.strictEqual(yield* verify(challenge, right), "refused")
        yield* TestClock.adjust("5 minutes")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* verify(yield* login, Totp.codeAt(secret, yield* stepNow)), "ok")
      }).pipe(Effect.provide(TestLayer)),
    60_000
  )

  it.effect(
    "the TOTP secret is stored sealed, bound to its account",
    () =>
      Effect.gen(function* () {
        const { secret } = yield* setup
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{
          readonly mfa_secret: string
        }>`SELECT mfa_secret FROM users WHERE mfa_secret IS NOT NULL`
        assert.isAbove(rows.length, 0)
        for (const row of rows) assert.notInclude(row.mfa_secret, secret)
        assert.match(rows[0]!.mfa_secret, /^v1\./)
      }).pipe(Effect.provide(TestLayer)),
    60_000
  )
})
