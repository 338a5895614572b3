/**
 * The security events of the account use cases, on the SQL stores of the
 * test database with the memory bus (its async side released by the SQL
 * unit of work's commit): every action raises exactly its event, with the
 * right aggregate and actor; refused steps are on record although the
 * request fails; a vetoed write raises nothing and writes nothing; no
 * payload ever holds a password, token, TOTP secret, code or recovery code.
 * Plus the memory composition, and a bus without a unit of work.
 */

import { createHash } from "node:crypto"
import { assert, describe, it, layer } from "@effect/vitest"
import { Accounts, AccountsEvents, AccountsServer, Users } from "@org/accounts"
import { Argon2, Totp } from "@org/auth"
import { type DomainEvent, EventBus, Principal, RevocationStore, UnitOfWork } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { Cause, Clock, Context, Effect, Exit, Layer, Logger, Option, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { config, keys, password, policy, services } from "./fixtures/app.ts"

class Recorded extends Context.Service<Recorded, { readonly events: Array<EventBus.AnyEvent> }>()(
  "test/AccountsEvents/Recorded"
) {}

const definitions: ReadonlyArray<DomainEvent.AnyDefinition> = AccountsEvents.all

// An audit log as a team would write it: one async subscription per type.
const Recorder = Layer.effectDiscard(
  Effect.gen(function* () {
    const bus = yield* EventBus.EventBus
    const recorded = yield* Recorded
    for (const definition of definitions) {
      yield* bus.subscribe(
        definition,
        (event) =>
          Effect.sync(() => {
            recorded.events.push(event)
          }),
        { name: `audit-${definition.type}`, mode: "async" }
      )
    }
  })
)

// A sync rule that refuses some registrations: the write must roll back.
const Veto = EventBus.subscriber(AccountsEvents.UserRegistered, { name: "veto", mode: "sync" }, (event) =>
  event.payload.email.startsWith("veto") ? Effect.fail("no vetoed emails") : Effect.void
)

const bus = <R>(unitOfWork: Layer.Layer<UnitOfWork.UnitOfWork, never, R>) =>
  Layer.mergeAll(Recorder, Veto).pipe(
    Layer.provideMerge(EventBus.layerMemory.pipe(Layer.provideMerge(unitOfWork))),
    Layer.provideMerge(Layer.sync(Recorded, () => ({ events: [] })))
  )

const migrations = {
  "1_users": AccountsServer.migrations.users,
  "2_refresh_tokens": AccountsServer.migrations.refreshTokens
}

const SqlLayer = Layer.unwrap(
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
      Layer.provideMerge(bus(UnitOfWork.layerSql)),
      Layer.provideMerge(Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)),
      Layer.provide(Logger.layer([]))
    )
  })
)

const period = 30_000
let counter = 0
const freshEmail = (prefix = "user") =>
  `${prefix}-${++counter}-${Math.random().toString(36).slice(2)}@example.test`

const principal = (subject: string, sessionId?: string): Principal.Principal => ({
  subject,
  roles: ["member"],
  permissions: new Set<string>(),
  tokenId: `token-${++counter}`,
  issuedAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
  ...(sessionId === undefined ? {} : { sessionId })
})

const actingAs =
  (value: Principal.Principal) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provideService(effect, Principal.CurrentPrincipal, value)

/** Runs `effect`, waits for the async side, and returns what it raised (and its exit). */
const raised = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const recorded = yield* Recorded
    recorded.events.length = 0
    const exit = yield* Effect.exit(effect)
    yield* EventBus.awaitIdle
    return { exit, events: [...recorded.events] }
  })

const only = (events: ReadonlyArray<EventBus.AnyEvent>, type: string) => {
  assert.deepStrictEqual(
    events.map((event) => event.type),
    [type]
  )
  return events[0]!
}

const tokensOf = (result: Accounts.LoginResult) =>
  "access_token" in result ? Effect.succeed(result) : Effect.die("expected tokens")
const challengeOf = (result: Accounts.LoginResult) =>
  "mfa_token" in result ? Effect.succeed(result.mfa_token) : Effect.die("expected an MFA challenge")

/**
 * Every action once, checking its events; returns every event raised and
 * every secret the flow used.
 */
const flow = (userPassword: string) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.UTC(2026, 0, 1) + 5_000)
    const accounts = yield* Accounts.Accounts
    const all: Array<EventBus.AnyEvent> = []
    const secrets: Array<string> = [userPassword]
    const step = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.tap(raised(effect), ({ events }) => Effect.sync(() => all.push(...events)))
    const ok = <A, E>(exit: Exit.Exit<A, E>) =>
      Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.die(Cause.pretty(exit.cause))
    const refused = <A, E>(exit: Exit.Exit<A, E>) =>
      Effect.sync(() =>
        assert.isTrue(Exit.isFailure(exit) && Cause.hasFails(exit.cause), "expected a failure")
      )
    const email = freshEmail()
    const credentials = { email, password: userPassword, captchaToken: undefined, remoteAddress: undefined }

    // register
    const registered = yield* step(accounts.register({ ...credentials, name: undefined }))
    const user = yield* ok(registered.exit)
    const userRegistered = only(registered.events, "UserRegistered")
    assert.strictEqual(userRegistered.aggregateType, "User")
    assert.strictEqual(userRegistered.aggregateId, user.id)
    assert.strictEqual(userRegistered.metadata.actorId, user.id)
    assert.isTrue(userRegistered.integration)
    assert.deepStrictEqual(userRegistered.payload, { email, roles: ["member"] })
    const asUser = (sessionId?: string) => actingAs(principal(user.id, sessionId))

    // a wrong password: LoginFailed, no LoginSucceeded, no actor
    const wrong = yield* step(accounts.login({ ...credentials, password: `${userPassword}x` }))
    yield* refused(wrong.exit)
    const wrongPassword = only(wrong.events, "LoginFailed")
    assert.strictEqual(wrongPassword.aggregateId, user.id)
    assert.deepStrictEqual(wrongPassword.payload, { reason: "wrong-password", method: "password" })
    assert.isUndefined(wrongPassword.metadata.actorId)

    // an unknown email: the aggregate is `unknown`, the email only as a hash prefix
    const stranger = `Nobody-${counter}@Example.test`
    const unknown = yield* step(accounts.login({ ...credentials, email: stranger }))
    yield* refused(unknown.exit)
    const unknownEmail = only(unknown.events, "LoginFailed")
    assert.strictEqual(unknownEmail.aggregateId, AccountsEvents.unknownUser)
    assert.deepStrictEqual(unknownEmail.payload, {
      reason: "unknown-email",
      method: "password",
      emailHash: createHash("sha256").update(stranger.toLowerCase()).digest("hex").slice(0, 16)
    })
    assert.notInclude(JSON.stringify(unknownEmail).toLowerCase(), "nobody")

    // a login
    const loggedIn = yield* step(Effect.flatMap(accounts.login(credentials), tokensOf))
    const first = yield* ok(loggedIn.exit)
    secrets.push(first.access_token, first.refresh_token)
    const succeeded = only(loggedIn.events, "LoginSucceeded")
    assert.strictEqual(succeeded.aggregateId, user.id)
    assert.strictEqual(succeeded.metadata.actorId, user.id)
    assert.strictEqual(succeeded.payload.method, "password")
    const firstSession: string = succeeded.payload.sessionId

    // a refresh raises nothing; presenting the spent token again is a reuse
    const rotated = yield* step(accounts.refresh(first.refresh_token))
    const second = yield* ok(rotated.exit)
    secrets.push(second.access_token, second.refresh_token)
    assert.deepStrictEqual(rotated.events, [])
    const reuse = yield* step(accounts.refresh(first.refresh_token))
    yield* refused(reuse.exit)
    const reused = only(reuse.events, "RefreshReuseDetected")
    assert.strictEqual(reused.aggregateId, user.id)
    assert.deepStrictEqual(reused.payload, { sessionId: firstSession })
    assert.isUndefined(reused.metadata.actorId)

    // a password change, from a new session
    const again = yield* tokensOf(yield* accounts.login(credentials))
    secrets.push(again.access_token, again.refresh_token)
    const session = (yield* accounts.refresh(again.refresh_token)).refresh_token
    secrets.push(session)
    const newPassword = `${userPassword}-Changed-7`
    secrets.push(newPassword)
    const changed = yield* step(
      asUser()(accounts.changePassword({ currentPassword: userPassword, newPassword }))
    )
    yield* ok(changed.exit)
    const passwordChanged = only(changed.events, "PasswordChanged")
    assert.strictEqual(passwordChanged.aggregateId, user.id)
    assert.strictEqual(passwordChanged.metadata.actorId, user.id)
    assert.strictEqual(passwordChanged.payload.source, "user")
    assert.isAtLeast(passwordChanged.payload.sessionsEnded, 1)
    const current = { ...credentials, password: newPassword }

    // MFA: enrolling raises nothing, confirming raises MfaEnabled
    const enrolled = yield* step(asUser()(accounts.mfaEnroll))
    const { secret: totpSecret } = yield* ok(enrolled.exit)
    assert.deepStrictEqual(enrolled.events, [])
    secrets.push(totpSecret)
    const secret = Totp.Secret.make(totpSecret)
    const stepNow = Effect.map(Clock.currentTimeMillis, (now) => Math.floor(now / period))
    const confirmCode = Totp.codeAt(secret, yield* stepNow)
    secrets.push(confirmCode)
    const confirmed = yield* step(asUser()(accounts.mfaConfirm(confirmCode)))
    const { recovery_codes } = yield* ok(confirmed.exit)
    secrets.push(...recovery_codes)
    const mfaEnabled = only(confirmed.events, "MfaEnabled")
    assert.deepStrictEqual(mfaEnabled.payload, { recoveryCodes: recovery_codes.length })
    assert.strictEqual(mfaEnabled.metadata.actorId, user.id)

    // the password step of an MFA login raises nothing; a wrong code is on record
    yield* TestClock.adjust(period * 2)
    const challenged = yield* step(Effect.flatMap(accounts.login(current), challengeOf))
    const mfaToken = yield* ok(challenged.exit)
    secrets.push(mfaToken)
    assert.deepStrictEqual(challenged.events, [])
    const right = Totp.codeAt(secret, yield* stepNow)
    const wrongCode = String((Number(right) + 1) % 1_000_000).padStart(6, "0")
    const badCode = yield* step(accounts.mfaVerify({ mfaToken, code: wrongCode }))
    yield* refused(badCode.exit)
    assert.deepStrictEqual(only(badCode.events, "LoginFailed").payload, {
      reason: "wrong-second-factor",
      method: "mfa"
    })
    secrets.push(right)
    const verified = yield* step(accounts.mfaVerify({ mfaToken, code: right }))
    const mfaTokens = yield* ok(verified.exit)
    secrets.push(mfaTokens.access_token, mfaTokens.refresh_token)
    const mfaLogin = only(verified.events, "LoginSucceeded")
    assert.strictEqual(mfaLogin.payload.method, "mfa")
    assert.strictEqual(mfaLogin.metadata.actorId, user.id)
    const spent = yield* step(accounts.mfaVerify({ mfaToken, code: right }))
    yield* refused(spent.exit)
    const spentChallenge = only(spent.events, "LoginFailed")
    assert.strictEqual(spentChallenge.aggregateId, user.id)
    assert.strictEqual(spentChallenge.payload.reason, "challenge-spent")
    const forged = yield* step(accounts.mfaVerify({ mfaToken: `${mfaToken}x`, code: right }))
    yield* refused(forged.exit)
    const forgedChallenge = only(forged.events, "LoginFailed")
    assert.strictEqual(forgedChallenge.aggregateId, AccountsEvents.unknownUser)
    assert.strictEqual(forgedChallenge.payload.reason, "invalid-challenge")

    // a recovery code as the second factor, then to turn MFA off
    const [firstCode, secondCode] = recovery_codes as [string, string]
    const recovered = yield* step(
      Effect.flatMap(Effect.flatMap(accounts.login(current), challengeOf), (token) =>
        accounts.mfaVerify({ mfaToken: token, code: firstCode })
      )
    )
    yield* ok(recovered.exit)
    assert.strictEqual(only(recovered.events, "LoginSucceeded").payload.method, "recovery-code")
    const disabled = yield* step(asUser()(accounts.mfaDisable(secondCode)))
    yield* ok(disabled.exit)
    const mfaDisabled = only(disabled.events, "MfaDisabled")
    assert.deepStrictEqual(mfaDisabled.payload, { method: "recovery-code" })
    assert.strictEqual(mfaDisabled.metadata.actorId, user.id)

    // logout
    const loggedOut = yield* step(asUser(firstSession)(accounts.logout(undefined)))
    yield* ok(loggedOut.exit)
    const logout = only(loggedOut.events, "LoggedOut")
    assert.deepStrictEqual(logout.payload, { sessionId: firstSession })
    assert.strictEqual(logout.metadata.actorId, user.id)

    // an admin changes the roles (the admin is the actor, the user the aggregate), then deletes
    const admin = yield* accounts.register({ ...credentials, email: freshEmail("admin"), name: undefined })
    const asAdmin = actingAs(principal(admin.id))
    const promoted = yield* step(asAdmin(accounts.setRoles(user.id, ["member", "owner"])))
    yield* ok(promoted.exit)
    const rolesChanged = only(promoted.events, "RolesChanged")
    assert.strictEqual(rolesChanged.aggregateId, user.id)
    assert.strictEqual(rolesChanged.metadata.actorId, admin.id)
    assert.isTrue(rolesChanged.integration)
    assert.deepStrictEqual(rolesChanged.payload, { before: ["member"], after: ["member", "owner"] })
    const unchanged = yield* step(asAdmin(accounts.setRoles(user.id, ["owner", "member"])))
    yield* ok(unchanged.exit)
    assert.deepStrictEqual(unchanged.events, [], "setting the same roles changes nothing")
    const deleted = yield* step(asAdmin(accounts.deleteUser(user.id)))
    yield* ok(deleted.exit)
    const userDeleted = only(deleted.events, "UserDeleted")
    assert.strictEqual(userDeleted.aggregateId, user.id)
    assert.strictEqual(userDeleted.metadata.actorId, admin.id)
    assert.deepStrictEqual(userDeleted.payload, {})
    assert.notInclude(JSON.stringify(userDeleted), email)

    return { events: all, secrets }
  })

layer(SqlLayer, { timeout: 120_000 })("AccountsEvents on the SQL stores", (it) => {
  it.effect(
    "every action raises exactly its event, with the user as aggregate and the right actor",
    () =>
      Effect.gen(function* () {
        const { events } = yield* flow(password)
        assert.includeMembers(
          [...new Set(events.map((event) => event.type))],
          AccountsEvents.all.map((definition) => definition.type)
        )
      }),
    60_000
  )

  it.effect(
    "no payload ever holds a password, token, TOTP secret, code or recovery code used in the flow",
    () =>
      Effect.gen(function* () {
        for (let i = 0; i < 2; i++) {
          const userPassword = `Pw-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}!`
          const { events, secrets } = yield* flow(userPassword)
          for (const event of events) {
            const definition = definitions.find((candidate) => candidate.is(event))!
            const json = JSON.stringify(yield* definition.toEnvelope(event))
            for (const secret of secrets) {
              assert.notInclude(json, secret, `${event.type} leaks a secret`)
              // a refresh token without its prefix, a code without spacing
              assert.notInclude(json, secret.slice(-16), `${event.type} leaks part of a secret`)
            }
          }
        }
      }),
    60_000
  )

  it.effect("a vetoed registration raises nothing and creates nothing", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts.Accounts
      const users = yield* Users.Users
      const email = freshEmail("veto")
      const { exit, events } = yield* raised(
        accounts.register({
          email,
          password,
          name: undefined,
          captchaToken: undefined,
          remoteAddress: undefined
        })
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), "a veto is a defect")
      assert.deepStrictEqual(events, [])
      assert.isTrue(Option.isNone(yield* users.findByEmail(email)), "the write rolled back")
    })
  )

  it.effect("a taken email raises nothing", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts.Accounts
      const input = {
        email: freshEmail(),
        password,
        name: undefined,
        captchaToken: undefined,
        remoteAddress: undefined
      }
      yield* accounts.register(input)
      const { exit, events } = yield* raised(accounts.register(input))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(events, [])
    })
  )
})

describe("AccountsEvents with the memory stores", () => {
  it.effect("the seed and a registration raise their events through the memory unit of work", () =>
    Effect.gen(function* () {
      const recorded = yield* Recorded
      yield* EventBus.awaitIdle
      // Built with the fixture's configured admin: the seed ran with no actor.
      const seeded = recorded.events.find((event) => event.type === "UserRegistered")
      assert.isDefined(seeded)
      assert.deepStrictEqual(seeded!.payload.roles, ["owner"])
      assert.isUndefined(seeded!.metadata.actorId)
      const accounts = yield* Accounts.Accounts
      const { events } = yield* raised(
        accounts.register({
          email: freshEmail(),
          password,
          name: undefined,
          captchaToken: undefined,
          remoteAddress: undefined
        })
      )
      only(events, "UserRegistered")
    }).pipe(Effect.provide(services().pipe(Layer.provideMerge(bus(UnitOfWork.layerMemory)))))
  )

  it.effect(
    "two seeds of one admin at once (instances starting together) both succeed, with one account",
    () =>
      Effect.gen(function* () {
        const accounts = yield* Accounts.Accounts
        const users = yield* Users.Users
        const email = freshEmail()
        const admin = Redacted.make("Second-Admin-Passw0rd-77")
        yield* Effect.all([accounts.seedAdmin(email, admin), accounts.seedAdmin(email, admin)], {
          concurrency: "unbounded"
        })
        const account = yield* users.findByEmail(email)
        assert.isTrue(Option.isSome(account))
        assert.deepStrictEqual(Option.getOrThrow(account).roles, ["owner"])
        const recorded = yield* Recorded
        yield* EventBus.awaitIdle
        const registered = recorded.events.filter(
          (event) => event.type === "UserRegistered" && event.aggregateId === Option.getOrThrow(account).id
        )
        assert.strictEqual(registered.length, 1)
      }).pipe(Effect.provide(services().pipe(Layer.provideMerge(bus(UnitOfWork.layerMemory)))))
  )

  it.effect("a bus without a unit of work is refused when the layer is built", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.scoped(
          Layer.build(
            services().pipe(Layer.provide(EventBus.layerMemory.pipe(Layer.provide(UnitOfWork.layerMemory))))
          )
        )
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.include(Cause.pretty(Exit.isFailure(exit) ? exit.cause : Cause.empty), "UnitOfWork")
    })
  )
})
