/**
 * The laws of a `RefreshTokens` service, shared by the memory and the SQL
 * implementation: one successful rotation per token, reuse revokes the family,
 * expiry by token lifetime and family age, revocation by family, by token
 * (only for its own user) and by user, opaque tokens, unknown tokens refused,
 * exactly one winner among concurrent rotations, bounded purges, and a
 * model-based property over random command sequences.
 *
 * Each law builds its service with `fresh(options)` (an empty store) and
 * moves time with the fixture's `advance`; both implementations take time
 * from the `Clock`, so `TestClock.adjust` works for both. A law fails as a
 * defect whose message names the broken rule.
 *
 * Kept in `test/` of `@org/auth` rather than in `@org/testing`, which must
 * not depend on `@org/auth`.
 */
import { RefreshTokens } from "@org/auth"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Base64Url from "effect/encoding/Base64Url"
import * as Result from "effect/Result"
import * as fc from "fast-check"

type Service = RefreshTokens.RefreshTokens["Service"]

/** An empty service and a way to let time pass. */
export interface Fixture {
  readonly tokens: Service
  readonly advance: (millis: number) => Effect.Effect<void>
}

/** Builds an empty service with the given lifetimes. */
export type Fresh<R> = (options: RefreshTokens.Options) => Effect.Effect<Fixture, never, R>

type Law = <R>(fresh: Fresh<R>) => Effect.Effect<void, unknown, R>

/** Lifetimes used by every law: short, and a family cap that bites after two refreshes. */
export const ttl = 1_000
export const familyMaxAge = 2_500
const options: RefreshTokens.Options = { ttl, familyMaxAge }

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`RefreshTokens law broken: ${message}`))

// "ok" or the rejection reason: what the HTTP layer would turn into 200 or 401.
const verdict = (effect: Effect.Effect<unknown, RefreshTokens.RefreshRejected>) =>
  Effect.match(effect, { onSuccess: () => "ok", onFailure: (error) => error.reason })

const expectVerdict = (
  effect: Effect.Effect<unknown, RefreshTokens.RefreshRejected>,
  expected: string,
  what: string
) =>
  Effect.flatMap(verdict(effect), (actual) =>
    expect(actual === expected, `${what}: expected "${expected}", got "${actual}"`)
  )

const neverIssued = (): string =>
  `${RefreshTokens.prefix}${Base64Url.encode(globalThis.crypto.getRandomValues(new Uint8Array(32)))}`

/** Every example-based law, by name. */
export const laws: Record<string, Law> = {
  "issue then rotate: a new token for the same user and family, and the chain goes on": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const t0 = yield* Clock.currentTimeMillis
      const session = yield* tokens.issue("alice")
      yield* expect(
        session.expiresAt === t0 + ttl,
        `issued token expires at ${session.expiresAt - t0}, not ttl`
      )
      const first = yield* tokens.rotate(session.token)
      yield* expect(first.userId === "alice", `rotate returned user ${first.userId}`)
      yield* expect(first.familyId === session.familyId, "rotate moved the token to another family")
      yield* expect(first.token !== session.token, "rotate returned the presented token")
      yield* expect(first.expiresAt === t0 + ttl, `successor expires at ${first.expiresAt - t0}, not ttl`)
      const second = yield* tokens.rotate(first.token)
      yield* expect(second.familyId === session.familyId, "the second rotation left the family")
      yield* expect(
        new Set([session.token, first.token, second.token]).size === 3,
        "a rotation repeated a token"
      )
    }),

  "a spent token is a reuse: it fails 'reused', and its whole family is revoked": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const victim = yield* tokens.issue("alice")
      const other = yield* tokens.issue("alice")
      const successor = yield* tokens.rotate(victim.token)
      yield* expectVerdict(tokens.rotate(victim.token), "reused", "presenting a spent token")
      yield* expectVerdict(tokens.rotate(successor.token), "revoked", "the successor after a reuse")
      yield* expectVerdict(tokens.rotate(victim.token), "revoked", "the spent token presented again")
      yield* expectVerdict(tokens.rotate(other.token), "ok", "another session of the same user")
      yield* expect(
        !(yield* tokens.revokeFamily(victim.familyId, "logout")),
        "revokeFamily says a family revoked for reuse was still live"
      )
    }),

  "a token expires at its ttl, a spent expired token is not a reuse, and no successor outlives its family": (
    fresh
  ) =>
    Effect.gen(function* () {
      const { tokens, advance } = yield* fresh(options)
      const t0 = yield* Clock.currentTimeMillis
      const idle = yield* tokens.issue("alice")
      const busy = yield* tokens.issue("bob")
      yield* advance(ttl - 1)
      const next = yield* tokens.rotate(busy.token)
      yield* expect(next.expiresAt === t0 + 2 * ttl - 1, `successor expires at ${next.expiresAt - t0}`)
      yield* advance(1)
      yield* expectVerdict(tokens.rotate(idle.token), "expired", "a token at its expiry instant")
      yield* expectVerdict(tokens.rotate(busy.token), "expired", "a spent token after its expiry")
      const last = yield* tokens.rotate(next.token)
      yield* expect(
        last.expiresAt === t0 + 2 * ttl,
        `successor expires at ${last.expiresAt - t0}, expected now + ttl`
      )
      yield* advance(ttl - 1)
      const capped = yield* tokens.rotate(last.token)
      yield* expect(
        capped.expiresAt === t0 + familyMaxAge,
        `a successor expires at ${capped.expiresAt - t0}, after its family (${familyMaxAge})`
      )
      yield* advance(familyMaxAge - (2 * ttl - 1))
      yield* expectVerdict(tokens.rotate(capped.token), "expired", "a token at its family's maximum age")
    }),

  "a revoked family refuses its tokens; revokeFamily is true once, and only for a live family": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const session = yield* tokens.issue("alice")
      const other = yield* tokens.issue("alice")
      yield* expect(
        yield* tokens.revokeFamily(session.familyId, "logout"),
        "revoking a live family said false"
      )
      yield* expect(!(yield* tokens.revokeFamily(session.familyId, "logout")), "a family was revoked twice")
      yield* expectVerdict(tokens.rotate(session.token), "revoked", "a token of a revoked family")
      yield* expectVerdict(tokens.rotate(other.token), "ok", "a token of another family")
      yield* expect(
        !(yield* tokens.revokeFamily("0190f3c2-0000-4000-8000-000000000000", "logout")),
        "an unknown family id was revoked"
      )
      yield* expect(
        !(yield* tokens.revokeFamily("not-a-uuid", "logout")),
        "a malformed family id was revoked"
      )
    }),

  "revokeByToken ends the session only for the token's own user": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const alice = yield* tokens.issue("alice")
      yield* expect(
        !(yield* tokens.revokeByToken(alice.token, "mallory", "logout")),
        "another user revoked alice's session"
      )
      const next = yield* tokens.rotate(alice.token)
      yield* expect(
        yield* tokens.revokeByToken(next.token, "alice", "logout"),
        "alice could not revoke her own session"
      )
      yield* expectVerdict(tokens.rotate(next.token), "revoked", "a token after logout")
      const again = yield* tokens.issue("alice")
      const current = yield* tokens.rotate(again.token)
      yield* expect(
        yield* tokens.revokeByToken(again.token, "alice", "logout"),
        "logout with a spent token of a live session did not revoke it"
      )
      yield* expectVerdict(tokens.rotate(current.token), "revoked", "the current token after that logout")
      yield* expect(
        !(yield* tokens.revokeByToken("garbage", "alice", "logout")),
        "a malformed token revoked something"
      )
      yield* expect(
        !(yield* tokens.revokeByToken(neverIssued(), "alice", "logout")),
        "an unknown token revoked something"
      )
    }),

  "revokeUser revokes every live session of that user and only those": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const a1 = yield* tokens.issue("alice")
      const a2 = yield* tokens.issue("alice")
      const b = yield* tokens.issue("bob")
      const count = yield* tokens.revokeUser("alice", "password-changed")
      yield* expect(count === 2, `revokeUser reported ${count} sessions, expected 2`)
      yield* expectVerdict(tokens.rotate(a1.token), "revoked", "alice's first session")
      yield* expectVerdict(tokens.rotate(a2.token), "revoked", "alice's second session")
      yield* expectVerdict(tokens.rotate(b.token), "ok", "bob's session")
      const again = yield* tokens.revokeUser("alice", "password-changed")
      yield* expect(again === 0, `a second revokeUser reported ${again}`)
      yield* expectVerdict(
        Effect.flatMap(tokens.issue("alice"), (s) => tokens.rotate(s.token)),
        "ok",
        "a session opened after revokeUser"
      )
    }),

  "revokeUser with except keeps that one session and revokes the user's others": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const kept = yield* tokens.issue("alice")
      const other = yield* tokens.issue("alice")
      const b = yield* tokens.issue("bob")
      const count = yield* tokens.revokeUser("alice", "password-changed", { except: kept.familyId })
      yield* expect(count === 1, `revokeUser with except reported ${count} sessions, expected 1`)
      yield* expectVerdict(tokens.rotate(other.token), "revoked", "alice's other session")
      yield* expectVerdict(tokens.rotate(kept.token), "ok", "alice's kept session")
      yield* expectVerdict(tokens.rotate(b.token), "ok", "bob's session")
      const all = yield* tokens.revokeUser("alice", "password-changed", { except: "not-a-family-id" })
      yield* expect(all === 1, `a malformed except kept a session (${all} revoked, expected 1)`)
    }),

  "tokens are opaque: prefixed base64url of 32 bytes, all distinct, free of user and family ids": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const seen = new Set<string>()
      for (let i = 0; i < 20; i++) {
        const userId = `user-${i}-0190f3c2`
        const session = yield* tokens.issue(userId)
        const next = yield* tokens.rotate(session.token)
        for (const [token, familyId] of [
          [session.token, session.familyId],
          [next.token, next.familyId]
        ] as const) {
          yield* expect(/^rt_[A-Za-z0-9_-]{43}$/.test(token), `token ${token} has the wrong shape`)
          const bytes = Base64Url.decode(token.slice(3))
          yield* expect(Result.isSuccess(bytes) && bytes.success.length === 32, "a token is not 32 bytes")
          yield* expect(!token.includes(userId) && !token.includes(familyId), "a token contains an id")
          seen.add(token)
        }
      }
      yield* expect(seen.size === 40, `only ${seen.size} of 40 tokens are distinct`)
    }),

  "unknown, malformed and oversized tokens fail 'unknown' and change nothing": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      const session = yield* tokens.issue("alice")
      const flipped = `${session.token.slice(0, -1)}${session.token.endsWith("A") ? "B" : "A"}`
      const attempts = [
        "",
        "rt_",
        neverIssued(),
        flipped,
        `${session.token}x`,
        session.token.slice(0, -1),
        ` ${session.token}`,
        `RT_${session.token.slice(3)}`,
        session.token.slice(3),
        "x".repeat(100_000)
      ]
      for (const [i, token] of attempts.entries()) {
        yield* expectVerdict(tokens.rotate(token), "unknown", `attempt #${i}`)
      }
      yield* expectVerdict(tokens.rotate(session.token), "ok", "the real token after the attempts")
    }),

  "concurrent rotations of one token: exactly one succeeds, and the others revoke the family": (fresh) =>
    Effect.gen(function* () {
      const { tokens } = yield* fresh(options)
      for (let round = 0; round < 5; round++) {
        const session = yield* tokens.issue(`racer-${round}`)
        const results = yield* Effect.all(
          Array.from({ length: 8 }, () => Effect.result(tokens.rotate(session.token))),
          { concurrency: "unbounded" }
        )
        const winners = results.filter(Result.isSuccess)
        yield* expect(winners.length === 1, `round ${round}: ${winners.length} of 8 rotations succeeded`)
        const losers = results.filter(Result.isFailure).map((r) => r.failure.reason)
        yield* expect(
          losers.every((reason) => reason === "reused" || reason === "revoked"),
          `round ${round}: losers failed with ${losers.join(", ")}`
        )
        yield* expectVerdict(
          tokens.rotate(winners[0]!.success.token),
          "revoked",
          `round ${round}: the winner's successor after the race`
        )
      }
    }),

  "purgeExpired deletes only expired rows, at most `limit` per table per call": (fresh) =>
    Effect.gen(function* () {
      const { tokens, advance } = yield* fresh(options)
      const a = yield* tokens.issue("alice")
      yield* tokens.issue("bob")
      yield* tokens.issue("carol")
      yield* tokens.rotate(a.token)
      yield* advance(ttl)
      const live = yield* tokens.issue("dave")
      const counts: Array<number> = []
      for (let i = 0; i < 3; i++) counts.push(yield* tokens.purgeExpired(2))
      yield* expect(
        counts.join() === "2,2,0",
        `purging 4 expired tokens by 2 deleted ${counts.join()} (families are not expired yet)`
      )
      const next = yield* tokens.rotate(live.token)
      yield* advance(familyMaxAge + ttl)
      let total = 0
      for (let i = 0; i < 20; i++) {
        const n = yield* tokens.purgeExpired(1)
        yield* expect(n <= 2, `purgeExpired(1) deleted ${n} rows`)
        if (n === 0) break
        total += n
      }
      // dave's two tokens and the four families.
      yield* expect(total === 6, `the purge of everything deleted ${total} rows, expected 6`)
      yield* expectVerdict(tokens.rotate(next.token), "unknown", "a purged token")
      yield* expect(!(yield* tokens.revokeFamily(live.familyId, "logout")), "a purged family was revoked")
    })
}

// ---------------------------------------------------------------------------
// The model-based law.

/** A token the scenario has seen: the n-th issued or rotated (modulo count). */
type TokenRef = { readonly _tag: "Seen"; readonly n: number } | { readonly _tag: "Never" }

/** One step of a generated scenario. */
export type Command =
  | { readonly _tag: "Issue"; readonly user: number }
  | { readonly _tag: "Rotate"; readonly token: TokenRef }
  | { readonly _tag: "RotateLatest"; readonly family: number }
  | { readonly _tag: "RevokeFamily"; readonly family: number }
  | { readonly _tag: "RevokeByToken"; readonly token: TokenRef; readonly user: number }
  | { readonly _tag: "RevokeUser"; readonly user: number }
  | { readonly _tag: "Purge" }
  | { readonly _tag: "Advance"; readonly millis: number }

const users = ["u0", "u1", "u2"] as const
const user = fc.nat(users.length - 1)
const tokenRef: fc.Arbitrary<TokenRef> = fc.oneof(
  { weight: 9, arbitrary: fc.nat(40).map((n) => ({ _tag: "Seen" as const, n })) },
  { weight: 1, arbitrary: fc.constant({ _tag: "Never" as const }) }
)

/** Arbitrary command, weighted towards issuing and rotating. */
export const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: user.map((user) => ({ _tag: "Issue" as const, user })) },
  { weight: 3, arbitrary: tokenRef.map((token) => ({ _tag: "Rotate" as const, token })) },
  { weight: 5, arbitrary: fc.nat(10).map((family) => ({ _tag: "RotateLatest" as const, family })) },
  { weight: 1, arbitrary: fc.nat(10).map((family) => ({ _tag: "RevokeFamily" as const, family })) },
  {
    weight: 1,
    arbitrary: fc.record({ token: tokenRef, user }).map((c) => ({ _tag: "RevokeByToken" as const, ...c }))
  },
  { weight: 1, arbitrary: user.map((user) => ({ _tag: "RevokeUser" as const, user })) },
  { weight: 1, arbitrary: fc.constant({ _tag: "Purge" as const }) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.integer({ min: 1, max: ttl + 200 }), fc.constantFrom(ttl, familyMaxAge))
      .map((millis) => ({ _tag: "Advance" as const, millis }))
  }
)

interface ModelFamily {
  readonly user: string
  readonly expiresAt: number
  revoked: boolean
  purged: boolean
  latest: number
}

interface ModelToken {
  readonly family: number
  readonly expiresAt: number
  spent: boolean
  purged: boolean
}

// The reference: the simplest statement of the rules, with times relative to
// the scenario's start.
class Model {
  now = 0
  readonly families: Array<ModelFamily> = []
  readonly tokens: Array<ModelToken> = []

  private live(family: ModelFamily) {
    return !family.revoked && !family.purged && family.expiresAt > this.now
  }

  private revoke(family: ModelFamily | undefined) {
    if (family === undefined || !this.live(family)) return false
    family.revoked = true
    return true
  }

  issue(user: string) {
    const expiresAt = Math.min(this.now + ttl, this.now + familyMaxAge)
    const family = this.families.push({
      user,
      expiresAt: this.now + familyMaxAge,
      revoked: false,
      purged: false,
      latest: this.tokens.length
    })
    this.tokens.push({ family: family - 1, expiresAt, spent: false, purged: false })
    return { family: family - 1, expiresAt }
  }

  rotate(n: number | undefined) {
    const token = n === undefined ? undefined : this.tokens[n]
    if (token === undefined || token.purged) return { reason: "unknown" }
    const family = this.families[token.family]!
    if (family.revoked) return { reason: "revoked" }
    if (token.expiresAt <= this.now || family.expiresAt <= this.now) return { reason: "expired" }
    if (token.spent) {
      family.revoked = true
      return { reason: "reused" }
    }
    token.spent = true
    const expiresAt = Math.min(this.now + ttl, family.expiresAt)
    family.latest = this.tokens.length
    this.tokens.push({ family: token.family, expiresAt, spent: false, purged: false })
    return { family: token.family, user: family.user, expiresAt }
  }

  revokeFamily(n: number) {
    return this.revoke(this.families[n])
  }

  revokeByToken(n: number | undefined, user: string) {
    const token = n === undefined ? undefined : this.tokens[n]
    if (token === undefined || token.purged) return false
    const family = this.families[token.family]!
    return family.user === user && this.revoke(family)
  }

  revokeUser(user: string) {
    return this.families.filter((family) => family.user === user && this.revoke(family)).length
  }

  purge() {
    let count = 0
    for (const token of this.tokens) {
      if (!token.purged && token.expiresAt <= this.now) {
        token.purged = true
        count++
      }
    }
    for (const [n, family] of this.families.entries()) {
      const empty = this.tokens.every((token) => token.family !== n || token.purged)
      if (!family.purged && family.expiresAt <= this.now && empty) {
        family.purged = true
        count++
      }
    }
    return count
  }
}

const runScenario = (fixture: Fixture, commands: ReadonlyArray<Command>) =>
  Effect.gen(function* () {
    const { tokens, advance } = fixture
    const model = new Model()
    const start = yield* Clock.currentTimeMillis
    // Real tokens and family ids, in the model's numbering.
    const seen: Array<string> = []
    const familyIds: Array<string> = []
    const familyNumber = new Map<string, number>()
    const pick = (ref: TokenRef) =>
      ref._tag === "Never" || seen.length === 0
        ? { token: `${RefreshTokens.prefix}${"A".repeat(43)}`, n: undefined }
        : { token: seen[ref.n % seen.length]!, n: ref.n % seen.length }
    const rotate = (token: string, n: number | undefined) =>
      Effect.gen(function* () {
        const expected = model.rotate(n)
        const result = yield* Effect.result(tokens.rotate(token))
        if (Result.isFailure(result)) return { expected, actual: { reason: result.failure.reason } }
        seen.push(result.success.token)
        return {
          expected,
          actual: {
            family: familyNumber.get(result.success.familyId),
            user: result.success.userId,
            expiresAt: result.success.expiresAt - start
          }
        }
      })

    for (const [step, c] of commands.entries()) {
      let expected: unknown
      let actual: unknown
      switch (c._tag) {
        case "Issue": {
          const issued = yield* tokens.issue(users[c.user]!)
          expected = model.issue(users[c.user]!)
          familyNumber.set(issued.familyId, familyIds.length)
          actual = { family: familyIds.push(issued.familyId) - 1, expiresAt: issued.expiresAt - start }
          seen.push(issued.token)
          break
        }
        case "Rotate": {
          const { token, n } = pick(c.token)
          ;({ expected, actual } = yield* rotate(token, n))
          break
        }
        case "RotateLatest": {
          if (familyIds.length === 0) continue
          const n = model.families[c.family % familyIds.length]!.latest
          ;({ expected, actual } = yield* rotate(seen[n]!, n))
          break
        }
        case "RevokeFamily": {
          if (familyIds.length === 0) continue
          const n = c.family % familyIds.length
          expected = model.revokeFamily(n)
          actual = yield* tokens.revokeFamily(familyIds[n]!, "admin")
          break
        }
        case "RevokeByToken": {
          const { token, n } = pick(c.token)
          expected = model.revokeByToken(n, users[c.user]!)
          actual = yield* tokens.revokeByToken(token, users[c.user]!, "logout")
          break
        }
        case "RevokeUser": {
          expected = model.revokeUser(users[c.user]!)
          actual = yield* tokens.revokeUser(users[c.user]!, "user-deleted")
          break
        }
        case "Purge": {
          expected = model.purge()
          actual = yield* tokens.purgeExpired(10_000)
          break
        }
        case "Advance": {
          yield* advance(c.millis)
          model.now += c.millis
          continue
        }
      }
      const e = JSON.stringify(expected)
      const a = JSON.stringify(actual)
      if (e !== a) {
        return yield* Effect.die(
          new Error(
            `Step ${step} (${JSON.stringify(c)}) differs from the model:\n  expected ${e}\n  actual   ${a}`
          )
        )
      }
    }
  })

/**
 * The model-based law: for `numRuns` random scenarios, each on a service from
 * `fresh` (an empty store), the implementation and the model agree at every
 * step. Needs `TestClock` (as in `it.effect`).
 */
export const model = <R>(
  fresh: Fresh<R>,
  runOptions?: { readonly numRuns?: number; readonly maxCommands?: number; readonly seed?: number }
): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const run = (commands: ReadonlyArray<Command>) =>
      Effect.runPromiseWith(context)(
        Effect.flatMap(fresh(options), (fixture) => runScenario(fixture, commands))
      )
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: runOptions?.maxCommands ?? 40 }), run),
        {
          numRuns: runOptions?.numRuns ?? 100,
          ...(runOptions?.seed === undefined ? {} : { seed: runOptions.seed })
        }
      )
    )
  })
