/**
 * The laws of the accounts store (`Users`), shared by `Users.layerMemory` and
 * `UsersSql.layer`: what `create`, the finders and `list` return, unique live
 * emails, soft and idempotent deletion that hides an account from every
 * method, ids compared exactly (any other string finds nothing), the MFA
 * state machine (pending secret, replay-proof TOTP steps, failure counting
 * and locking, disabling), single-use recovery codes, one winner among
 * concurrent uses of one email, step or code, and a model-based property
 * over random command sequences.
 *
 * Every law runs on an empty store under `TestClock` (as in `it.effect`):
 * both stores take time from the `Clock`, so timestamps are exact. A law
 * fails as a defect whose message names the broken rule.
 *
 * `register` adds all of them as vitest tests for one store to an `it` of
 * `layer(...)`; `suite` does so for a store that needs no shared services.
 */
import { describe, it, type Vitest } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import * as Users from "../../src/Users.ts"

/** A law: an effect over an empty store, run under `TestClock`. */
export type Law = Effect.Effect<void, unknown, Users.Users>

/** Runs an effect on an empty store of the implementation under test. */
export type Fresh<R> = <A, E>(effect: Effect.Effect<A, E, Users.Users>) => Effect.Effect<A, E, R>

const fail = (message: string) => Effect.die(new Error(`Users law broken: ${message}`))

const expect = (condition: boolean, message: string) => (condition ? Effect.void : fail(message))

const expectSame = (actual: unknown, expected: unknown, what: string) => {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  return a === e ? Effect.void : fail(`${what}:\n  expected ${e}\n  actual   ${a}`)
}

/** An account as plain, comparable data (times in epoch milliseconds). */
export const view = (account: Users.Account) => ({
  id: account.id,
  email: account.email,
  name: account.name,
  roles: [...account.roles],
  mfaEnabled: account.mfaEnabled,
  createdAt: DateTime.toEpochMillis(account.createdAt),
  updatedAt: DateTime.toEpochMillis(account.updatedAt),
  passwordHash: account.passwordHash,
  mfaSecret: account.mfaSecret,
  mfaLastStep: account.mfaLastStep,
  mfaFailures: account.mfaFailures,
  mfaLockedUntil: account.mfaLockedUntil
})

type View = ReturnType<typeof view>

const viewOption = (account: Option.Option<Users.Account>): View | null =>
  Option.match(account, { onNone: () => null, onSome: view })

const byAge = (a: View, b: View) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const input = (email: string, overrides: Partial<Users.NewAccount> = {}): Users.NewAccount => ({
  email,
  name: null,
  passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${email}`,
  roles: ["user"],
  ...overrides
})

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** A canonical UUIDv7 that no store ever generates (its time is in 1970 and its random bits are zero). */
const neverCreated = "00000000-0001-7000-8000-000000000000"

const stored = (users: Users.Users["Service"], id: string) => Effect.map(users.findById(id), viewOption)

/** Runs a call that must neither fail nor die, naming it if it does. */
const call = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isSuccess(exit)
      ? Effect.succeed(exit.value)
      : fail(`${what} did not complete: ${Cause.pretty(exit.cause)}`)
  )

/** Every example-based law, by name. */
export const laws: Record<string, Law> = {
  "create stores the account as given, with MFA off and both timestamps now; findById and findByEmail return it":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const t0 = yield* Clock.currentTimeMillis
      const roles = ["user", "admin"]
      const ada = yield* users.create(input("ada@example.com", { name: "Ada", roles }))
      roles.push("mutated after create")
      yield* expect(uuidV7.test(ada.id), `id ${ada.id} is not a canonical UUIDv7`)
      yield* expectSame(
        view(ada),
        {
          id: ada.id,
          email: "ada@example.com",
          name: "Ada",
          roles: ["user", "admin"],
          mfaEnabled: false,
          createdAt: t0,
          updatedAt: t0,
          passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$ada@example.com",
          mfaSecret: null,
          mfaLastStep: null,
          mfaFailures: 0,
          mfaLockedUntil: null
        },
        "the created account"
      )
      yield* expectSame(yield* stored(users, ada.id), view(ada), "findById after create")
      yield* expectSame(
        viewOption(yield* users.findByEmail("ada@example.com")),
        view(ada),
        "findByEmail after create"
      )
      yield* TestClock.adjust(7)
      const bob = yield* users.create(input("bob@example.com", { roles: [] }))
      yield* expect(bob.id !== ada.id, "two accounts got one id")
      yield* expectSame(
        [bob.name, bob.roles, DateTime.toEpochMillis(bob.createdAt)],
        [null, [], t0 + 7],
        "the second account's name, roles and createdAt"
      )
      yield* expectSame(yield* stored(users, bob.id), view(bob), "findById of the second account")
      yield* expectSame(
        yield* stored(users, ada.id),
        view(ada),
        "the first account after the second was created"
      )
      yield* expect(
        Option.isNone(yield* users.findByEmail("nobody@example.com")),
        "findByEmail found an unknown email"
      )
      // The Email schema normalises before the store; the store itself compares exactly.
      yield* expect(
        Option.isNone(yield* users.findByEmail("ADA@example.com")),
        "findByEmail ignored case (the store compares emails exactly)"
      )
    }),

  "an email used by a live account fails EmailTaken and changes nothing; once that account is deleted it is free":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const first = yield* users.create(input("ada@example.com", { name: "Ada" }))
      const error = yield* Effect.flip(users.create(input("ada@example.com", { name: "Impostor" })))
      yield* expect(error._tag === "EmailTaken", `a duplicate create failed with ${error._tag}`)
      yield* expectSame(
        viewOption(yield* users.findByEmail("ada@example.com")),
        view(first),
        "the owner of the email after a refused create"
      )
      yield* expect(
        (yield* users.list({ page: 1, size: 10 })).total === 1,
        "a refused create added an account"
      )
      yield* expect(yield* users.delete(first.id), "deleting the owner said false")
      const second = yield* users.create(input("ada@example.com", { name: "Second" }))
      yield* expect(second.id !== first.id, "the new account reused the deleted account's id")
      yield* expectSame(
        viewOption(yield* users.findByEmail("ada@example.com")),
        view(second),
        "findByEmail after the email was reused"
      )
      yield* expect(Option.isNone(yield* users.findById(first.id)), "the deleted owner came back")
      const again = yield* Effect.flip(users.create(input("ada@example.com")))
      yield* expect(again._tag === "EmailTaken", "the reused email was not taken again")
      yield* expect((yield* users.list({ page: 1, size: 10 })).total === 1, "list counted a deleted account")
    }),

  "delete is soft and idempotent, and a deleted account is invisible to every method": Effect.gen(
    function* () {
      const users = yield* Users.Users
      const victim = yield* users.create(input("ada@example.com"))
      yield* users.setPendingMfa(victim.id, "sealed")
      yield* users.replaceRecoveryCodes(victim.id, ["r1", "r2"])
      const bystander = yield* users.create(input("bob@example.com"))
      yield* users.setPendingMfa(bystander.id, "sealed-bob")
      yield* users.replaceRecoveryCodes(bystander.id, ["r1"])
      const before = yield* stored(users, bystander.id)
      yield* TestClock.adjust(1)
      yield* expect(yield* users.delete(victim.id), "deleting a live account said false")
      yield* expect(!(yield* users.delete(victim.id)), "a second delete said true")
      const invisible = Effect.gen(function* () {
        yield* expect(Option.isNone(yield* users.findById(victim.id)), "findById found a deleted account")
        yield* expect(
          Option.isNone(yield* users.findByEmail("ada@example.com")),
          "findByEmail found a deleted account"
        )
        const page = yield* users.list({ page: 1, size: 10 })
        yield* expectSame(
          [page.total, page.items.map((account) => account.id)],
          [1, [bystander.id]],
          "list (total and ids) with one deleted and one live account"
        )
      })
      yield* invisible
      yield* expect(
        !(yield* users.useTotpStep(victim.id, 1, { enable: true })),
        "useTotpStep passed on a deleted account"
      )
      yield* expect(
        !(yield* users.useRecoveryCode(victim.id, "r1")),
        "useRecoveryCode passed on a deleted account"
      )
      yield* expect(
        Option.isNone(yield* users.setRoles(victim.id, ["admin"])),
        "setRoles changed a deleted account"
      )
      yield* users.setPasswordHash(victim.id, "new-hash")
      yield* users.setPendingMfa(victim.id, "sealed-2")
      yield* users.recordMfaFailure(victim.id, 1, 1_000_000)
      yield* users.replaceRecoveryCodes(victim.id, ["r3"])
      yield* users.disableMfa(victim.id)
      yield* expect(
        !(yield* users.useRecoveryCode(victim.id, "r3")),
        "a deleted account got new recovery codes"
      )
      yield* expect(!(yield* users.delete(victim.id)), "delete after writes to a deleted account said true")
      yield* invisible
      yield* expectSame(yield* stored(users, bystander.id), before, "the other account after the delete")
      yield* expect(
        yield* users.useRecoveryCode(bystander.id, "r1"),
        "the other account lost its recovery code"
      )
      yield* expect(!(yield* users.delete(neverCreated)), "deleting an unknown id said true")
    }
  ),

  "ids compare exactly: an unknown id, a non-uuid or another spelling of a live id finds and changes nothing":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com"))
      yield* users.setPendingMfa(ada.id, "sealed")
      yield* users.replaceRecoveryCodes(ada.id, ["r1"])
      const before = yield* stored(users, ada.id)
      const ids = [
        neverCreated,
        "not-a-uuid",
        "",
        // another spelling only if the id has a letter (an all-digit uuid upper-cases to itself)
        ...(ada.id.toUpperCase() === ada.id ? [] : [ada.id.toUpperCase()]),
        `{${ada.id}}`,
        ada.id.replaceAll("-", ""),
        ` ${ada.id}`,
        `${ada.id}'; DELETE FROM users; --`
      ]
      for (const id of ids) {
        const what = (method: string) => `${method}(${JSON.stringify(id)})`
        yield* expect(
          Option.isNone(yield* call(what("findById"), users.findById(id))),
          `${what("findById")} found`
        )
        yield* expect(
          Option.isNone(yield* call(what("setRoles"), users.setRoles(id, ["admin"]))),
          `${what("setRoles")} changed an account`
        )
        yield* expect(
          !(yield* call(what("useTotpStep"), users.useTotpStep(id, 1, { enable: true }))),
          `${what("useTotpStep")} passed`
        )
        yield* expect(
          !(yield* call(what("useRecoveryCode"), users.useRecoveryCode(id, "r1"))),
          `${what("useRecoveryCode")} passed`
        )
        yield* call(what("setPasswordHash"), users.setPasswordHash(id, "new-hash"))
        yield* call(what("setPendingMfa"), users.setPendingMfa(id, "other"))
        yield* call(what("recordMfaFailure"), users.recordMfaFailure(id, 1, 1_000_000))
        yield* call(what("replaceRecoveryCodes"), users.replaceRecoveryCodes(id, ["r2"]))
        yield* call(what("disableMfa"), users.disableMfa(id))
        yield* expect(!(yield* call(what("delete"), users.delete(id))), `${what("delete")} said true`)
      }
      yield* expectSame(yield* stored(users, ada.id), before, "the live account after calls with other ids")
      yield* expect(yield* users.useRecoveryCode(ada.id, "r1"), "the live account's recovery code was lost")
    }),

  "list is oldest first (ties by id, whatever the ids say about age), paginates and counts only live accounts":
    Effect.gen(function* () {
      const users = yield* Users.Users
      yield* TestClock.setTime(10_000)
      const created: Array<Users.Account> = []
      created.push(yield* users.create(input("a@example.com")))
      created.push(yield* users.create(input("b@example.com")))
      yield* TestClock.adjust(1)
      created.push(yield* users.create(input("c@example.com")))
      created.push(yield* users.create(input("d@example.com")))
      // An account created "earlier" by a clock that went back: its id is the newest.
      yield* TestClock.setTime(9_000)
      created.push(yield* users.create(input("e@example.com")))
      yield* TestClock.setTime(10_001)
      created.push(yield* users.create(input("f@example.com")))
      yield* expect(yield* users.delete(created[2]!.id), "delete said false")
      const live = created.filter((_, i) => i !== 2).map(view)
      const expected = [...live].sort(byAge)
      yield* expect(expected[0]!.email === "e@example.com", "the fixture is wrong: e is not the oldest")
      for (const size of [1, 2, 3, 5, 6, 50]) {
        const seen: Array<View> = []
        const pages = Math.ceil(expected.length / size) + 1
        for (let page = 1; page <= pages; page++) {
          const result = yield* users.list({ page, size })
          yield* expect(
            result.total === expected.length,
            `page ${page} of size ${size}: total ${result.total}`
          )
          yield* expect(
            result.items.length === Math.max(0, Math.min(size, expected.length - (page - 1) * size)),
            `page ${page} of size ${size} has ${result.items.length} items`
          )
          seen.push(...result.items.map(view))
        }
        yield* expectSame(seen, expected, `the pages of size ${size}, concatenated`)
      }
    }),

  "setRoles replaces the roles, sets updatedAt to now and returns the stored account": Effect.gen(
    function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com", { roles: ["user"] }))
      const bob = yield* users.create(input("bob@example.com"))
      yield* TestClock.adjust(5)
      const t1 = yield* Clock.currentTimeMillis
      const roles = ["user", "admin"]
      const updated = yield* users.setRoles(ada.id, roles)
      roles.push("mutated after setRoles")
      const expected = { ...view(ada), roles: ["user", "admin"], updatedAt: t1 }
      yield* expectSame(viewOption(updated), expected, "what setRoles returned")
      yield* expectSame(yield* stored(users, ada.id), expected, "the account after setRoles")
      yield* TestClock.adjust(5)
      const emptied = yield* users.setRoles(ada.id, [])
      yield* expectSame(
        viewOption(emptied),
        { ...expected, roles: [], updatedAt: t1 + 5 },
        "what setRoles returned for no roles"
      )
      yield* expectSame(yield* stored(users, bob.id), view(bob), "another account after setRoles")
    }
  ),

  "setPasswordHash replaces the hash and sets updatedAt to now, and nothing else": Effect.gen(function* () {
    const users = yield* Users.Users
    const ada = yield* users.create(input("ada@example.com"))
    const bob = yield* users.create(input("bob@example.com"))
    yield* TestClock.adjust(3)
    yield* users.setPasswordHash(ada.id, "$argon2id$new")
    yield* expectSame(
      yield* stored(users, ada.id),
      { ...view(ada), updatedAt: DateTime.toEpochMillis(ada.createdAt) + 3, passwordHash: "$argon2id$new" },
      "the account after setPasswordHash"
    )
    yield* expectSame(yield* stored(users, bob.id), view(bob), "another account after setPasswordHash")
  }),

  "setPendingMfa stores a pending secret: MFA is off and the last step forgotten until a code confirms it":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com"))
      yield* TestClock.adjust(1)
      yield* users.setPendingMfa(ada.id, "sealed-1")
      const t1 = yield* Clock.currentTimeMillis
      yield* expectSame(
        yield* stored(users, ada.id),
        { ...view(ada), updatedAt: t1, mfaSecret: "sealed-1" },
        "the account after setPendingMfa"
      )
      yield* expect(yield* users.useTotpStep(ada.id, 100, { enable: true }), "the first code was refused")
      yield* TestClock.adjust(1)
      yield* users.setPendingMfa(ada.id, "sealed-2")
      yield* expectSame(
        yield* stored(users, ada.id),
        { ...view(ada), mfaEnabled: false, updatedAt: t1 + 1, mfaSecret: "sealed-2", mfaLastStep: null },
        "the account after a second setPendingMfa (MFA was on)"
      )
      yield* expect(
        yield* users.useTotpStep(ada.id, 50, { enable: false }),
        "a step older than the previous secret's last step was refused for the new secret"
      )
    }),

  "useTotpStep: false without a secret; true only for a newer step; clears failures and the lock; enable turns MFA on":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com"))
      yield* expect(
        !(yield* users.useTotpStep(ada.id, 1, { enable: true })),
        "a step passed without a secret"
      )
      yield* expectSame(yield* stored(users, ada.id), view(ada), "the account after a refused step")
      yield* users.setPendingMfa(ada.id, "sealed")
      const lock = (yield* Clock.currentTimeMillis) + 60_000
      yield* users.recordMfaFailure(ada.id, 2, lock)
      yield* users.recordMfaFailure(ada.id, 2, lock)
      yield* TestClock.adjust(1)
      const t1 = yield* Clock.currentTimeMillis
      yield* expect(yield* users.useTotpStep(ada.id, 10, { enable: false }), "the first step was refused")
      const afterFirst = {
        ...view(ada),
        updatedAt: t1,
        mfaSecret: "sealed",
        mfaLastStep: 10,
        mfaFailures: 0,
        mfaLockedUntil: null
      }
      yield* expectSame(yield* stored(users, ada.id), afterFirst, "the account after a step without enable")
      yield* TestClock.adjust(1)
      yield* expect(!(yield* users.useTotpStep(ada.id, 10, { enable: true })), "the same step passed twice")
      yield* expect(!(yield* users.useTotpStep(ada.id, 9, { enable: true })), "an older step passed")
      yield* expectSame(yield* stored(users, ada.id), afterFirst, "the account after refused steps")
      for (let i = 0; i < 3; i++) yield* users.recordMfaFailure(ada.id, 3, lock)
      const t2 = yield* Clock.currentTimeMillis
      yield* expect(yield* users.useTotpStep(ada.id, 11, { enable: true }), "a newer step was refused")
      const enabled = { ...afterFirst, mfaEnabled: true, updatedAt: t2, mfaLastStep: 11 }
      yield* expectSame(yield* stored(users, ada.id), enabled, "the account after a step with enable")
      yield* expect(
        yield* users.useTotpStep(ada.id, 1_000, { enable: false }),
        "a much newer step was refused"
      )
      yield* expectSame(
        yield* stored(users, ada.id),
        { ...enabled, mfaLastStep: 1_000 },
        "enable: false turned MFA off"
      )
    }),

  "recordMfaFailure counts; at maxFailures it locks until lockUntil, below it keeps an earlier lock; updatedAt stays":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com"))
      yield* users.setPendingMfa(ada.id, "sealed")
      const base = (yield* stored(users, ada.id))!
      const now = yield* Clock.currentTimeMillis
      const [lock1, lock2, lock3] = [now + 60_000, now + 120_000, now + 30_000]
      const steps: Array<readonly [max: number, until: number, failures: number, locked: number | null]> = [
        [3, lock1, 1, null],
        [3, lock1, 2, null],
        [3, lock1, 3, lock1],
        [10, lock2, 4, lock1],
        [5, lock2, 5, lock2],
        [5, lock3, 6, lock3]
      ]
      for (const [max, until, failures, locked] of steps) {
        yield* TestClock.adjust(1)
        yield* users.recordMfaFailure(ada.id, max, until)
        yield* expectSame(
          yield* stored(users, ada.id),
          { ...base, mfaFailures: failures, mfaLockedUntil: locked },
          `the account after failure #${failures} (max ${max})`
        )
      }
    }),

  "disableMfa forgets the secret, the last step, the failures, the lock and the recovery codes": Effect.gen(
    function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com"))
      yield* users.setPendingMfa(ada.id, "sealed")
      yield* expect(yield* users.useTotpStep(ada.id, 7, { enable: true }), "the confirming step was refused")
      yield* users.replaceRecoveryCodes(ada.id, ["r1", "r2"])
      yield* expect(yield* users.useRecoveryCode(ada.id, "r1"), "a fresh recovery code was refused")
      yield* users.recordMfaFailure(ada.id, 1, 5_000_000)
      yield* TestClock.adjust(2)
      yield* users.disableMfa(ada.id)
      yield* expectSame(
        yield* stored(users, ada.id),
        { ...view(ada), updatedAt: DateTime.toEpochMillis(ada.createdAt) + 2 },
        "the account after disableMfa"
      )
      yield* expect(!(yield* users.useRecoveryCode(ada.id, "r2")), "a recovery code survived disableMfa")
      yield* expect(
        !(yield* users.useTotpStep(ada.id, 8, { enable: true })),
        "a step passed after disableMfa"
      )
      yield* users.replaceRecoveryCodes(ada.id, ["r1"])
      yield* expect(yield* users.useRecoveryCode(ada.id, "r1"), "a code of a new set was refused")
    }
  ),

  "replaceRecoveryCodes replaces the set; useRecoveryCode passes once per code, for its own account only":
    Effect.gen(function* () {
      const users = yield* Users.Users
      const ada = yield* users.create(input("ada@example.com"))
      const bob = yield* users.create(input("bob@example.com"))
      const use = (id: string, code: string, expected: boolean, what: string) =>
        Effect.flatMap(users.useRecoveryCode(id, code), (used) =>
          expect(used === expected, `${what}: useRecoveryCode(${code}) said ${used}`)
        )
      yield* use(ada.id, "a", false, "before any codes")
      yield* users.replaceRecoveryCodes(ada.id, ["a", "b", "c"])
      yield* use(bob.id, "a", false, "another account's code")
      yield* use(ada.id, "a", true, "a fresh code")
      yield* use(ada.id, "a", false, "a used code")
      yield* use(ada.id, "zzz", false, "an unknown code")
      yield* use(ada.id, "A", false, "a code in another case")
      yield* users.replaceRecoveryCodes(ada.id, ["c", "d"])
      yield* use(ada.id, "b", false, "a code of the replaced set")
      yield* use(ada.id, "a", false, "a used code of the replaced set")
      yield* use(ada.id, "c", true, "a code in both sets")
      yield* use(ada.id, "d", true, "a code of the new set")
      yield* users.replaceRecoveryCodes(ada.id, ["a", "a"])
      yield* use(ada.id, "a", true, "a once-used code given again in a new set (twice)")
      yield* use(ada.id, "a", false, "a code listed twice, used once")
      yield* users.replaceRecoveryCodes(ada.id, ["x"])
      yield* users.replaceRecoveryCodes(ada.id, [])
      yield* use(ada.id, "x", false, "after replacing with no codes")
      yield* expectSame(yield* stored(users, ada.id), view(ada), "the account after recovery code changes")
    }),

  "concurrent creates with one email: exactly one succeeds, the others fail EmailTaken": Effect.gen(
    function* () {
      const users = yield* Users.Users
      const results = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) =>
          Effect.result(users.create(input("race@example.com", { name: `racer ${i}` })))
        ),
        { concurrency: "unbounded" }
      )
      const winners = results.filter(Result.isSuccess).map((result) => result.success)
      const losers = results.filter(Result.isFailure).map((result) => result.failure._tag)
      yield* expect(winners.length === 1, `${winners.length} of 8 concurrent creates succeeded`)
      yield* expect(
        losers.every((tag) => tag === "EmailTaken"),
        `the losers failed with ${losers.join(", ")}`
      )
      yield* expectSame(
        viewOption(yield* users.findByEmail("race@example.com")),
        view(winners[0]!),
        "the owner of the email after the race"
      )
      yield* expect(
        (yield* users.list({ page: 1, size: 10 })).total === 1,
        "a race left more than one account"
      )
    }
  ),

  "concurrent uses of one TOTP step or one recovery code: exactly one passes": Effect.gen(function* () {
    const users = yield* Users.Users
    const ada = yield* users.create(input("ada@example.com"))
    yield* users.setPendingMfa(ada.id, "sealed")
    yield* users.replaceRecoveryCodes(ada.id, ["r1", "r2"])
    for (let round = 1; round <= 3; round++) {
      const steps = yield* Effect.all(
        Array.from({ length: 8 }, () => users.useTotpStep(ada.id, round, { enable: true })),
        { concurrency: "unbounded" }
      )
      yield* expect(
        steps.filter(Boolean).length === 1,
        `round ${round}: ${steps.filter(Boolean).length} of 8 uses of one step passed`
      )
    }
    const codes = yield* Effect.all(
      Array.from({ length: 8 }, () => users.useRecoveryCode(ada.id, "r1")),
      { concurrency: "unbounded" }
    )
    yield* expect(
      codes.filter(Boolean).length === 1,
      `${codes.filter(Boolean).length} of 8 uses of one recovery code passed`
    )
    yield* expect(yield* users.useRecoveryCode(ada.id, "r2"), "the other recovery code was spent by the race")
  })
}

// ---------------------------------------------------------------------------
// The model-based law.

const emails = ["ada@example.com", "bob@example.com", "Ada@example.com", "e\u0301@example.com"] as const
const hashes = ["$argon2id$1", "$argon2id$2", "$argon2id$3"] as const
const secrets = ["sealed-1", "sealed-2"] as const
const codes = ["c1", "c2", "c3", "c4"] as const
const roleNames = ["user", "admin", "auditor"] as const

/** Which account a command targets. */
export type Target =
  /** The n-th created account (modulo how many there are; deleted ones included). */
  | { readonly _tag: "Created"; readonly n: number }
  /** The n-th created account's id, upper-cased: another spelling of the same uuid. */
  | { readonly _tag: "Respelled"; readonly n: number }
  /** An id that is no account's. */
  | { readonly _tag: "Foreign"; readonly id: string }
  /** The account of the previous command with a target (or the last created), so that changes pile up on one account. */
  | { readonly _tag: "Again" }

/** One step of a generated scenario. */
export type Command =
  | {
      readonly _tag: "Create"
      readonly email: number
      readonly name: string | null
      readonly roles: ReadonlyArray<string>
      readonly hash: number
    }
  | { readonly _tag: "Delete"; readonly target: Target }
  | { readonly _tag: "SetRoles"; readonly target: Target; readonly roles: ReadonlyArray<string> }
  | { readonly _tag: "SetPasswordHash"; readonly target: Target; readonly hash: number }
  | { readonly _tag: "SetPendingMfa"; readonly target: Target; readonly secret: number }
  | { readonly _tag: "UseTotpStep"; readonly target: Target; readonly step: number; readonly enable: boolean }
  /** A replay: the target's last accepted step (0 if none), or the one before it. */
  | {
      readonly _tag: "ReplayTotpStep"
      readonly target: Target
      readonly back: number
      readonly enable: boolean
    }
  | {
      readonly _tag: "RecordMfaFailure"
      readonly target: Target
      readonly max: number
      readonly lockFor: number
    }
  | { readonly _tag: "DisableMfa"; readonly target: Target }
  | { readonly _tag: "ReplaceRecoveryCodes"; readonly target: Target; readonly codes: ReadonlyArray<number> }
  | { readonly _tag: "UseRecoveryCode"; readonly target: Target; readonly code: number }
  | { readonly _tag: "FindById"; readonly target: Target }
  | { readonly _tag: "FindByEmail"; readonly email: number }
  | { readonly _tag: "List"; readonly page: number; readonly size: number }
  | { readonly _tag: "Tick"; readonly millis: number }

const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 4, arbitrary: fc.nat(20).map((n) => ({ _tag: "Created" as const, n })) },
  { weight: 10, arbitrary: fc.constant({ _tag: "Again" as const }) },
  { weight: 1, arbitrary: fc.nat(20).map((n) => ({ _tag: "Respelled" as const, n })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(neverCreated, "not-a-uuid").map((id) => ({ _tag: "Foreign" as const, id }))
  }
)
const roles = fc.subarray([...roleNames])

const create: fc.Arbitrary<Command> = fc
  .record({
    email: fc.nat(emails.length - 1),
    name: fc.option(fc.constantFrom("Ada", "Bob", "Zoë"), { nil: null }),
    roles,
    hash: fc.nat(hashes.length - 1)
  })
  .map((c) => ({ _tag: "Create" as const, ...c }))

/** Arbitrary command, weighted towards writes so that state builds up. */
export const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: create },
  { weight: 1, arbitrary: target.map((target) => ({ _tag: "Delete" as const, target })) },
  { weight: 2, arbitrary: fc.record({ target, roles }).map((c) => ({ _tag: "SetRoles" as const, ...c })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ target, hash: fc.nat(hashes.length - 1) })
      .map((c) => ({ _tag: "SetPasswordHash" as const, ...c }))
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ target, secret: fc.nat(secrets.length - 1) })
      .map((c) => ({ _tag: "SetPendingMfa" as const, ...c }))
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ target, step: fc.integer({ min: 0, max: 4 }), enable: fc.boolean() })
      .map((c) => ({ _tag: "UseTotpStep" as const, ...c }))
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ target, back: fc.integer({ min: 0, max: 1 }), enable: fc.boolean() })
      .map((c) => ({ _tag: "ReplayTotpStep" as const, ...c }))
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ target, max: fc.integer({ min: 1, max: 4 }), lockFor: fc.integer({ min: 0, max: 1_000 }) })
      .map((c) => ({ _tag: "RecordMfaFailure" as const, ...c }))
  },
  { weight: 1, arbitrary: target.map((target) => ({ _tag: "DisableMfa" as const, target })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ target, codes: fc.array(fc.nat(codes.length - 1), { maxLength: 4 }) })
      .map((c) => ({ _tag: "ReplaceRecoveryCodes" as const, ...c }))
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ target, code: fc.nat(codes.length - 1) })
      .map((c) => ({ _tag: "UseRecoveryCode" as const, ...c }))
  },
  { weight: 1, arbitrary: target.map((target) => ({ _tag: "FindById" as const, target })) },
  {
    weight: 1,
    arbitrary: fc.nat(emails.length - 1).map((email) => ({ _tag: "FindByEmail" as const, email }))
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ page: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 4 }) })
      .map((c) => ({ _tag: "List" as const, ...c }))
  },
  {
    // Mostly forward; sometimes back, so that creation order and age disagree.
    weight: 2,
    arbitrary: fc.integer({ min: -3, max: 5 }).map((millis) => ({ _tag: "Tick" as const, millis }))
  }
)

/**
 * Arbitrary scenario of at most `maxCommands` (at least 6) commands: one to
 * three creates, so that the rest has accounts to work on, then anything.
 */
export const scenario = (maxCommands: number): fc.Arbitrary<ReadonlyArray<Command>> =>
  fc
    .tuple(
      fc.array(create, { minLength: 1, maxLength: 3 }),
      fc.array(command, { minLength: 2, maxLength: Math.max(3, maxCommands - 3), size: "max" })
    )
    .map(([creates, rest]) => [...creates, ...rest])

interface ModelAccount {
  readonly n: number
  readonly id: string
  readonly email: string
  name: string | null
  roles: ReadonlyArray<string>
  mfaEnabled: boolean
  readonly createdAt: number
  updatedAt: number
  passwordHash: string
  mfaSecret: string | null
  mfaLastStep: number | null
  mfaFailures: number
  mfaLockedUntil: number | null
  deleted: boolean
  /** Recovery code -> used. */
  codes: Map<string, boolean>
}

/** An account as the scenario compares it: ids replaced by creation order, times relative to the start. */
type Seen = Omit<View, "id"> & { readonly n: number | string }

// The reference: the simplest statement of the rules. `at` is the Clock's time of the call.
class Model {
  readonly accounts: Array<ModelAccount> = []

  private live(n: number | undefined): ModelAccount | undefined {
    const account = n === undefined ? undefined : this.accounts[n]
    return account === undefined || account.deleted ? undefined : account
  }

  seen(account: ModelAccount, start: number): Seen {
    return {
      n: account.n,
      email: account.email,
      name: account.name,
      roles: [...account.roles],
      mfaEnabled: account.mfaEnabled,
      createdAt: account.createdAt - start,
      updatedAt: account.updatedAt - start,
      passwordHash: account.passwordHash,
      mfaSecret: account.mfaSecret,
      mfaLastStep: account.mfaLastStep,
      mfaFailures: account.mfaFailures,
      mfaLockedUntil: account.mfaLockedUntil === null ? null : account.mfaLockedUntil - start
    }
  }

  emailTaken(email: string): boolean {
    return this.accounts.some((account) => !account.deleted && account.email === email)
  }

  create(id: string, input: Users.NewAccount, at: number): ModelAccount {
    const account: ModelAccount = {
      n: this.accounts.length,
      id,
      email: input.email,
      name: input.name,
      roles: [...input.roles],
      mfaEnabled: false,
      createdAt: at,
      updatedAt: at,
      passwordHash: input.passwordHash,
      mfaSecret: null,
      mfaLastStep: null,
      mfaFailures: 0,
      mfaLockedUntil: null,
      deleted: false,
      codes: new Map()
    }
    this.accounts.push(account)
    return account
  }

  find(n: number | undefined): ModelAccount | undefined {
    return this.live(n)
  }

  findByEmail(email: string): ModelAccount | undefined {
    return this.accounts.find((account) => !account.deleted && account.email === email)
  }

  list(page: number, size: number) {
    const all = this.accounts
      .filter((account) => !account.deleted)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return { items: all.slice((page - 1) * size, page * size), total: all.length }
  }

  delete(n: number | undefined, at: number): boolean {
    const account = this.live(n)
    if (account === undefined) return false
    account.deleted = true
    account.updatedAt = at
    return true
  }

  setRoles(n: number | undefined, roles: ReadonlyArray<string>, at: number): ModelAccount | undefined {
    const account = this.live(n)
    if (account === undefined) return undefined
    account.roles = [...roles]
    account.updatedAt = at
    return account
  }

  setPasswordHash(n: number | undefined, hash: string, at: number): void {
    const account = this.live(n)
    if (account === undefined) return
    account.passwordHash = hash
    account.updatedAt = at
  }

  setPendingMfa(n: number | undefined, secret: string, at: number): void {
    const account = this.live(n)
    if (account === undefined) return
    account.mfaSecret = secret
    account.mfaEnabled = false
    account.mfaLastStep = null
    account.updatedAt = at
  }

  useTotpStep(n: number | undefined, step: number, enable: boolean, at: number): boolean {
    const account = this.live(n)
    if (account === undefined || account.mfaSecret === null) return false
    if (account.mfaLastStep !== null && account.mfaLastStep >= step) return false
    account.mfaLastStep = step
    account.mfaFailures = 0
    account.mfaLockedUntil = null
    account.mfaEnabled = account.mfaEnabled || enable
    account.updatedAt = at
    return true
  }

  recordMfaFailure(n: number | undefined, max: number, lockUntil: number): void {
    const account = this.live(n)
    if (account === undefined) return
    account.mfaFailures += 1
    if (account.mfaFailures >= max) account.mfaLockedUntil = lockUntil
  }

  disableMfa(n: number | undefined, at: number): void {
    const account = this.live(n)
    if (account === undefined) return
    account.mfaEnabled = false
    account.mfaSecret = null
    account.mfaLastStep = null
    account.mfaFailures = 0
    account.mfaLockedUntil = null
    account.updatedAt = at
    account.codes = new Map()
  }

  replaceRecoveryCodes(n: number | undefined, hashes: ReadonlyArray<string>): void {
    const account = this.live(n)
    if (account === undefined) return
    account.codes = new Map(hashes.map((hash) => [hash, false]))
  }

  useRecoveryCode(n: number | undefined, hash: string): boolean {
    const account = this.live(n)
    if (account === undefined || account.codes.get(hash) !== false) return false
    account.codes.set(hash, true)
    return true
  }
}

const runScenario = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function* () {
    const users = yield* Users.Users
    const model = new Model()
    const start = yield* Clock.currentTimeMillis
    const ids: Array<string> = []
    const seen = (account: Users.Account): Seen => {
      const { id, ...rest } = view(account)
      const n = ids.indexOf(id)
      return {
        n: n === -1 ? `unknown id ${id}` : n,
        ...rest,
        createdAt: rest.createdAt - start,
        updatedAt: rest.updatedAt - start,
        mfaLockedUntil: rest.mfaLockedUntil === null ? null : rest.mfaLockedUntil - start
      }
    }
    const seenModel = (account: ModelAccount | undefined) =>
      account === undefined ? null : model.seen(account, start)
    // The id to pass and the model's account number it names (undefined: none).
    let previous: { readonly id: string; readonly n: number | undefined } | undefined
    const pick = (t: Target): { readonly id: string; readonly n: number | undefined } => {
      if (t._tag === "Again") return previous ?? pick({ _tag: "Created", n: 0 })
      if (t._tag === "Foreign" || ids.length === 0)
        return { id: t._tag === "Foreign" ? t.id : neverCreated, n: undefined }
      const n = t.n % ids.length
      if (t._tag === "Created") return { id: ids[n]!, n }
      // an all-digit uuid upper-cases to itself, and then it does name the account
      const upper = ids[n]!.toUpperCase()
      return { id: upper, n: upper === ids[n] ? n : undefined }
    }
    const resolve = (t: Target) => {
      previous = pick(t)
      return previous
    }
    const history: Array<string> = []
    const mismatch = (what: string, expected: unknown, actual: unknown) =>
      fail(
        `${what} differs from the model:\n  expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}\n` +
          `after:\n    ${history.join("\n    ")}`
      )
    const compare = (what: string, expected: unknown, actual: unknown) =>
      JSON.stringify(expected) === JSON.stringify(actual) ? Effect.void : mismatch(what, expected, actual)

    for (const [step, c] of commands.entries()) {
      const at = yield* Clock.currentTimeMillis
      history.push(`#${step} ${JSON.stringify(c)}`)
      const what = `step ${step} (${c._tag})`
      let expected: unknown
      let actual: unknown
      // The account a write targeted, to compare after the write.
      let written: { readonly id: string; readonly n: number | undefined } | undefined
      switch (c._tag) {
        case "Create": {
          const account: Users.NewAccount = {
            email: emails[c.email]!,
            name: c.name,
            passwordHash: hashes[c.hash]!,
            roles: c.roles
          }
          const taken = model.emailTaken(account.email)
          const result = yield* Effect.result(users.create(account))
          if (Result.isSuccess(result)) {
            if (taken) return yield* mismatch(what, "EmailTaken", view(result.success))
            ids.push(result.success.id)
            previous = { id: result.success.id, n: ids.length - 1 }
            expected = model.seen(model.create(result.success.id, account, at), start)
            actual = seen(result.success)
          } else {
            expected = taken ? "EmailTaken" : "created"
            actual = result.failure._tag
          }
          break
        }
        case "Delete": {
          const { id, n } = resolve(c.target)
          expected = model.delete(n, at)
          actual = yield* users.delete(id)
          written = { id, n }
          break
        }
        case "SetRoles": {
          const { id, n } = resolve(c.target)
          expected = seenModel(model.setRoles(n, c.roles, at))
          actual = Option.match(yield* users.setRoles(id, c.roles), { onNone: () => null, onSome: seen })
          written = { id, n }
          break
        }
        case "SetPasswordHash": {
          const { id, n } = resolve(c.target)
          model.setPasswordHash(n, hashes[c.hash]!, at)
          yield* users.setPasswordHash(id, hashes[c.hash]!)
          written = { id, n }
          break
        }
        case "SetPendingMfa": {
          const { id, n } = resolve(c.target)
          model.setPendingMfa(n, secrets[c.secret]!, at)
          yield* users.setPendingMfa(id, secrets[c.secret]!)
          written = { id, n }
          break
        }
        case "UseTotpStep": {
          const { id, n } = resolve(c.target)
          expected = model.useTotpStep(n, c.step, c.enable, at)
          actual = yield* users.useTotpStep(id, c.step, { enable: c.enable })
          written = { id, n }
          break
        }
        case "ReplayTotpStep": {
          const { id, n } = resolve(c.target)
          const step = (model.find(n)?.mfaLastStep ?? 0) - c.back
          expected = model.useTotpStep(n, step, c.enable, at)
          actual = yield* users.useTotpStep(id, step, { enable: c.enable })
          written = { id, n }
          break
        }
        case "RecordMfaFailure": {
          const { id, n } = resolve(c.target)
          model.recordMfaFailure(n, c.max, at + c.lockFor)
          yield* users.recordMfaFailure(id, c.max, at + c.lockFor)
          written = { id, n }
          break
        }
        case "DisableMfa": {
          const { id, n } = resolve(c.target)
          model.disableMfa(n, at)
          yield* users.disableMfa(id)
          written = { id, n }
          break
        }
        case "ReplaceRecoveryCodes": {
          const { id, n } = resolve(c.target)
          const hashes = c.codes.map((i) => codes[i]!)
          model.replaceRecoveryCodes(n, hashes)
          yield* users.replaceRecoveryCodes(id, hashes)
          written = { id, n }
          break
        }
        case "UseRecoveryCode": {
          const { id, n } = resolve(c.target)
          expected = model.useRecoveryCode(n, codes[c.code]!)
          actual = yield* users.useRecoveryCode(id, codes[c.code]!)
          break
        }
        case "FindById": {
          const { id, n } = resolve(c.target)
          expected = seenModel(model.find(n))
          actual = Option.match(yield* users.findById(id), { onNone: () => null, onSome: seen })
          break
        }
        case "FindByEmail": {
          expected = seenModel(model.findByEmail(emails[c.email]!))
          actual = Option.match(yield* users.findByEmail(emails[c.email]!), {
            onNone: () => null,
            onSome: seen
          })
          break
        }
        case "List": {
          const page = model.list(c.page, c.size)
          expected = { items: page.items.map((account) => model.seen(account, start)), total: page.total }
          const result = yield* users.list({ page: c.page, size: c.size })
          actual = { items: result.items.map(seen), total: result.total }
          break
        }
        case "Tick": {
          yield* TestClock.setTime(Math.max(start, at + c.millis))
          continue
        }
      }
      yield* compare(what, expected, actual)
      if (written !== undefined && written.n !== undefined) {
        yield* compare(
          `${what}: the account afterwards`,
          seenModel(model.find(written.n)),
          Option.match(yield* users.findById(written.id), { onNone: () => null, onSome: seen })
        )
      }
    }

    // The whole visible state at the end.
    for (const [n, id] of ids.entries()) {
      yield* compare(
        `findById of account ${n} at the end`,
        seenModel(model.find(n)),
        Option.match(yield* users.findById(id), { onNone: () => null, onSome: seen })
      )
    }
    for (const email of emails) {
      yield* compare(
        `findByEmail(${email}) at the end`,
        seenModel(model.findByEmail(email)),
        Option.match(yield* users.findByEmail(email), { onNone: () => null, onSome: seen })
      )
    }
    const all = model.list(1, 1_000)
    const listed = yield* users.list({ page: 1, size: 1_000 })
    yield* compare(
      "list at the end",
      { items: all.items.map((account) => model.seen(account, start)), total: all.total },
      { items: listed.items.map(seen), total: listed.total }
    )
  })

/** Options of the model-based law. */
export interface ModelOptions {
  /** Random scenarios to run (default 100). */
  readonly runs?: number
  /** Longest scenario (default 25 commands). */
  readonly maxCommands?: number
  readonly seed?: number
}

/**
 * The model-based law: `runs` random scenarios, each on an empty store from
 * `fresh`, agree with the model at every step and in the final visible
 * state. Needs `TestClock` (as in `it.effect`).
 */
export const modelBased = <R>(fresh: Fresh<R>, options: ModelOptions = {}): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const run = (commands: ReadonlyArray<Command>) =>
      Effect.runPromiseWith(context)(fresh(runScenario(commands)))
    yield* Effect.promise(() =>
      fc.assert(fc.asyncProperty(scenario(options.maxCommands ?? 25), run), {
        numRuns: options.runs ?? 100,
        ...(options.seed === undefined ? {} : { seed: options.seed })
      })
    )
  })

/** How `register` and `suite` get an empty store. */
export interface Options<R> extends ModelOptions {
  /** Empties the store before every law and every scenario (`Effect.void` when each build starts empty). */
  readonly reset: Effect.Effect<void, never, R>
  /** Per-test timeout in milliseconds (default 60 000). */
  readonly timeout?: number
}

/**
 * Registers every law, and the model-based law, as tests of `it` (from
 * `layer(...)` of `@effect/vitest`, whose layer provides `R`), each on a
 * fresh build of `store` after `reset`.
 */
export const register = <R>(
  it: Vitest.MethodsNonLive<R>,
  store: Layer.Layer<Users.Users, never, R>,
  options: Options<R>
): void => {
  // `local`: never reuse a store memoized by an earlier build.
  const fresh: Fresh<R> = (effect) =>
    Effect.andThen(options.reset, Effect.provide(effect, store, { local: true }))
  const timeout = options.timeout ?? 60_000
  for (const [law, effect] of Object.entries(laws)) {
    it.effect(law, () => fresh(effect), timeout)
  }
  it.effect(
    "agrees with a model over random sequences of creates, deletes, role, password, MFA and recovery code changes",
    () => modelBased(fresh, options),
    timeout
  )
}

/**
 * Registers the laws under `name` for a store that needs nothing but
 * itself (each build is a new, empty store).
 *
 * @example
 * ```ts
 * import * as Users from "../src/Users.ts"
 * import * as UsersLaws from "./laws/UsersLaws.ts"
 *
 * UsersLaws.suite("Users.layerMemory", Users.layerMemory, { runs: 500 })
 * ```
 */
export const suite = (name: string, store: Layer.Layer<Users.Users>, options: ModelOptions = {}): void => {
  describe(name, () => register(it, store, { ...options, reset: Effect.void }))
}
