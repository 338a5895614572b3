/**
 * The laws of a `RevocationStore`: a revoked token is refused until its
 * `until` and not after; a subject cut-off covers exactly that subject's
 * tokens issued at or before it, until its `until`; a later call keeps the
 * greatest cut-off and `until`; `entries` lists exactly the live entries;
 * and a model-based law runs random command sequences against a small model.
 *
 * Each law is an effect that fails (as a defect with a message) when the
 * implementation breaks it. Time moves through the fixture's `advance`
 * (`TestClock.adjust` for stores that keep time with the `Clock`, a real
 * sleep for one that expires entries on a server's clock), so the windows
 * here are a few hundred milliseconds.
 *
 * Left open: whether a subject revoked again after its entry expired keeps
 * the expired, higher cut-off (the memory store does; the SQL and Redis
 * stores start from the new one). No revocation shaped like a real one can
 * tell the difference (its `until` is at least a token lifetime after its
 * cut-off), and the model law only issues such revocations.
 *
 * @since 0.1.0
 */
import type { RevocationStore } from "@org/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"

/**
 * An empty store (or an unused namespace of a shared one) and a way to let
 * time pass.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fixture {
  readonly store: RevocationStore.RevocationStore["Service"]
  readonly advance: (millis: number) => Effect.Effect<void>
  /**
   * How far (ms) the store's notion of "now" may be from the `Clock` read
   * around a call: 0 for a store on the `Clock` under `TestClock`, a few tens
   * of milliseconds for a server's clock. Model answers that would change
   * within this margin are not checked.
   */
  readonly slackMillis: number
}

/**
 * Options of the model-based law (the other laws ignore them).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Random sequences to run (default 100); keep it small with real time. */
  readonly runs?: number
  readonly seed?: number
}

/**
 * A law: an effect over fresh fixtures.
 *
 * @since 0.1.0
 * @category models
 */
export type Law = <R>(
  fresh: Effect.Effect<Fixture, never, R>,
  options?: Options
) => Effect.Effect<void, unknown, R>

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`RevocationStore law broken: ${message}`))

const ref = (tokenId: string, subject: string, issuedAt: number): RevocationStore.TokenRef => ({
  tokenId,
  subject,
  issuedAt
})

const entryKey = (entry: RevocationStore.Entry): string =>
  entry._tag === "Token"
    ? JSON.stringify(["Token", entry.tokenId, entry.until])
    : JSON.stringify(["Subject", entry.subject, entry.cutoff, entry.until])

const sameEntries = (
  actual: ReadonlyArray<RevocationStore.Entry>,
  expected: ReadonlyArray<RevocationStore.Entry>
): boolean => {
  const a = actual.map(entryKey).sort()
  const e = expected.map(entryKey).sort()
  return a.length === e.length && a.every((key, i) => key === e[i])
}

const describeEntries = (entries: ReadonlyArray<RevocationStore.Entry>): string =>
  `[${entries.map(entryKey).sort().join(", ")}]`

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

interface Model {
  readonly tokens: Map<string, number>
  readonly subjects: Map<string, { readonly cutoff: number; readonly until: number }>
}

const modelRevoked = (model: Model, r: RevocationStore.TokenRef, at: number): boolean => {
  const until = model.tokens.get(r.tokenId)
  if (until !== undefined && until > at) return true
  const subject = model.subjects.get(r.subject)
  return subject !== undefined && subject.until > at && r.issuedAt <= subject.cutoff
}

const modelEntries = (model: Model, at: number): Array<RevocationStore.Entry> => {
  const out: Array<RevocationStore.Entry> = []
  for (const [tokenId, until] of model.tokens) if (until > at) out.push({ _tag: "Token", tokenId, until })
  for (const [subject, { cutoff, until }] of model.subjects) {
    if (until > at) out.push({ _tag: "Subject", subject, cutoff, until })
  }
  return out
}

// Ids overlap across kinds ("u1", "a") and include characters that are
// special to SQL LIKE, Redis glob patterns and JSON.
const tokenIds = ["a", "b", "é ✓*?[", "u1", "never-revoked"] as const
const subjects = ["u1", "u2", "a", "never-revoked"] as const

/** The longest token lifetime the model law pretends to have (ms). */
const lifetime = 300

type Command =
  | { readonly _tag: "RevokeToken"; readonly token: number; readonly ttl: number }
  | {
      readonly _tag: "RevokeSubject"
      readonly subject: number
      readonly back: number
      readonly extra: number
    }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "Check"; readonly token: number; readonly subject: number; readonly age: number }
  | {
      readonly _tag: "CheckAtCutoff"
      readonly token: number
      readonly subject: number
      readonly delta: number
    }
  | {
      readonly _tag: "AdvanceToExpiry"
      readonly kind: "token" | "subject"
      readonly index: number
      readonly delta: number
    }
  | { readonly _tag: "Entries" }

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({ token: fc.nat(tokenIds.length - 2), ttl: fc.integer({ min: -50, max: 600 }) })
      .map((c) => ({ _tag: "RevokeToken" as const, ...c }))
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        subject: fc.nat(subjects.length - 2),
        back: fc.integer({ min: 0, max: lifetime }),
        extra: fc.integer({ min: 0, max: 300 })
      })
      .map((c) => ({ _tag: "RevokeSubject" as const, ...c }))
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 1, max: 350 }).map((millis) => ({ _tag: "Advance" as const, millis }))
  },
  {
    weight: 6,
    arbitrary: fc
      .record({
        token: fc.nat(tokenIds.length - 1),
        subject: fc.nat(subjects.length - 1),
        age: fc.integer({ min: -100, max: 2 * lifetime })
      })
      .map((c) => ({ _tag: "Check" as const, ...c }))
  },
  {
    // Boundaries are where off-by-one bugs live: probe exactly around a cut-off...
    weight: 3,
    arbitrary: fc
      .record({
        token: fc.nat(tokenIds.length - 1),
        subject: fc.nat(subjects.length - 2),
        delta: fc.integer({ min: -1, max: 1 })
      })
      .map((c) => ({ _tag: "CheckAtCutoff" as const, ...c }))
  },
  {
    // ...and move the clock to exactly around an expiry.
    weight: 1,
    arbitrary: fc
      .record({
        kind: fc.constantFrom("token" as const, "subject" as const),
        index: fc.nat(tokenIds.length - 2),
        delta: fc.integer({ min: -1, max: 1 })
      })
      .map((c) => ({ _tag: "AdvanceToExpiry" as const, ...c }))
  },
  { weight: 1, arbitrary: fc.constant({ _tag: "Entries" as const }) }
)

const check = (fixture: Fixture, model: Model, step: number, r: RevocationStore.TokenRef, now: number) =>
  Effect.gen(function* () {
    const actual = yield* fixture.store.isRevoked(r)
    const after = yield* Clock.currentTimeMillis
    const early = modelRevoked(model, r, now - fixture.slackMillis)
    const late = modelRevoked(model, r, after + fixture.slackMillis)
    // Near an expiry the store may answer either way; elsewhere it must agree.
    if (early === late && actual !== early) {
      return yield* Effect.die(
        new Error(
          `RevocationStore law broken: step ${step}: isRevoked(${JSON.stringify(r)}) at ${now} is ${actual}, ` +
            `the model says ${early} (entries ${describeEntries(modelEntries(model, now))})`
        )
      )
    }
  })

const runSequence = (fixture: Fixture, commands: ReadonlyArray<Command>) =>
  Effect.gen(function* () {
    const { store, advance, slackMillis: slack } = fixture
    const model: Model = { tokens: new Map(), subjects: new Map() }
    for (const [step, c] of commands.entries()) {
      const now = yield* Clock.currentTimeMillis
      switch (c._tag) {
        case "RevokeToken": {
          const id = tokenIds[c.token]!
          const until = now + c.ttl
          yield* store.revokeToken(id, until)
          model.tokens.set(id, Math.max(until, model.tokens.get(id) ?? Number.NEGATIVE_INFINITY))
          break
        }
        case "RevokeSubject": {
          // Shaped like a real revocation: a cut-off in the recent past, and an
          // `until` at least a lifetime (plus the clock slack) after it.
          const subject = subjects[c.subject]!
          const cutoff = now - c.back
          const until = cutoff + lifetime + slack + c.extra
          yield* store.revokeSubject(subject, cutoff, until)
          const previous = model.subjects.get(subject)
          model.subjects.set(
            subject,
            previous !== undefined && previous.until > now
              ? { cutoff: Math.max(cutoff, previous.cutoff), until: Math.max(until, previous.until) }
              : { cutoff, until }
          )
          break
        }
        case "Advance": {
          yield* advance(c.millis)
          break
        }
        case "Check": {
          yield* check(fixture, model, step, ref(tokenIds[c.token]!, subjects[c.subject]!, now - c.age), now)
          break
        }
        case "CheckAtCutoff": {
          const subject = subjects[c.subject]!
          const cutoff = model.subjects.get(subject)?.cutoff ?? now
          yield* check(fixture, model, step, ref(tokenIds[c.token]!, subject, cutoff + c.delta), now)
          break
        }
        case "AdvanceToExpiry": {
          const until =
            c.kind === "token"
              ? model.tokens.get(tokenIds[c.index]!)
              : model.subjects.get(subjects[Math.min(c.index, subjects.length - 2)]!)?.until
          const wait = until === undefined ? 0 : until + c.delta - now
          if (wait > 0 && wait <= 600) yield* advance(wait)
          break
        }
        case "Entries": {
          const actual = yield* store.entries
          const after = yield* Clock.currentTimeMillis
          const early = modelEntries(model, now - slack)
          const late = modelEntries(model, after + slack)
          if (sameEntries(early, late) && !sameEntries(actual, early)) {
            return yield* Effect.die(
              new Error(
                `RevocationStore law broken: step ${step}: entries at ${now} are ${describeEntries(actual)}, ` +
                  `the model says ${describeEntries(early)}`
              )
            )
          }
          break
        }
      }
    }
  })

// ---------------------------------------------------------------------------
// The laws
// ---------------------------------------------------------------------------

/**
 * The model-based law alone: `runs` random sequences of revocations, checks,
 * listings and time steps, each on a store from `fresh` (which must start
 * empty), compared with a small model at every step. It is also in `laws`.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RevocationStore } from "@org/core"
 * import { RevocationStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(RevocationStore.makeMemory, (store) => ({
 *   store,
 *   advance: TestClock.adjust,
 *   slackMillis: 0
 * }))
 * it.effect("agrees with the model", () => RevocationStoreLaws.modelBased(fresh, { runs: 500 }))
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const modelBased = <R>(
  fresh: Effect.Effect<Fixture, never, R>,
  options?: Options
): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const run = (commands: ReadonlyArray<Command>) =>
      Effect.runPromiseWith(context)(Effect.flatMap(fresh, (fixture) => runSequence(fixture, commands)))
    yield* Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40, size: "medium" }), run), {
        numRuns: options?.runs ?? 100,
        ...(options?.seed === undefined ? {} : { seed: options.seed })
      })
    )
  })

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RevocationStore } from "@org/core"
 * import { RevocationStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(RevocationStore.makeMemory, (store) => ({
 *   store,
 *   advance: TestClock.adjust,
 *   slackMillis: 0
 * }))
 * for (const [name, law] of Object.entries(RevocationStoreLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const laws: Record<string, Law> = {
  "an empty store refuses nothing and lists nothing": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const now = yield* Clock.currentTimeMillis
      yield* expect(!(yield* store.isRevoked(ref("t", "u", now))), "an empty store refused a token")
      yield* expect((yield* store.entries).length === 0, "an empty store listed entries")
    }),

  "a revoked token is refused until its until, then served; other tokens are not touched": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const now = yield* Clock.currentTimeMillis
      yield* store.revokeToken("t1", now + 300)
      yield* expect(yield* store.isRevoked(ref("t1", "u1", now)), "a revoked token was served")
      yield* expect(
        yield* store.isRevoked(ref("t1", "someone-else", now - 1_000_000)),
        "a revoked token was served under another subject or issue time"
      )
      yield* expect(
        !(yield* store.isRevoked(ref("t2", "u1", now))),
        "revoking t1 refused t2 of the same subject"
      )
      yield* expect(
        !(yield* store.isRevoked(ref("u1", "t1", now))),
        "a token id was taken for a subject (or the other way round)"
      )
      yield* advance(400)
      const later = yield* Clock.currentTimeMillis
      yield* expect(
        !(yield* store.isRevoked(ref("t1", "u1", later))),
        "a token was still refused after its until"
      )
    }),

  "a later until extends a token's revocation, an earlier one does not shorten it": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const start = yield* Clock.currentTimeMillis
      yield* store.revokeToken("t", start + 200)
      yield* store.revokeToken("t", start + 600)
      yield* advance(300)
      const mid = yield* Clock.currentTimeMillis
      yield* expect(
        yield* store.isRevoked(ref("t", "u", 0)),
        "a re-revocation with a later until did not extend it"
      )
      yield* store.revokeToken("t", mid + 50)
      yield* advance(200)
      yield* expect(
        yield* store.isRevoked(ref("t", "u", 0)),
        "a re-revocation with an earlier until shortened it"
      )
      yield* advance(250)
      yield* expect(!(yield* store.isRevoked(ref("t", "u", 0))), "the extended revocation outlived its until")
    }),

  "a subject cut-off refuses that subject's tokens issued at or before it, and only those": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const cutoff = yield* Clock.currentTimeMillis
      yield* store.revokeSubject("u1", cutoff, cutoff + 300)
      yield* expect(
        yield* store.isRevoked(ref("t1", "u1", cutoff - 100)),
        "a token issued before the cut-off was served"
      )
      yield* expect(
        yield* store.isRevoked(ref("t2", "u1", cutoff)),
        "a token issued at the cut-off was served"
      )
      yield* expect(
        !(yield* store.isRevoked(ref("t3", "u1", cutoff + 1))),
        "a token issued after the cut-off was refused"
      )
      yield* expect(
        !(yield* store.isRevoked(ref("t1", "u2", cutoff - 100))),
        "a cut-off of u1 refused a token of u2"
      )
      yield* expect(
        !(yield* store.isRevoked(ref("u1", "u3", cutoff - 100))),
        "a subject cut-off was taken for a token id"
      )
      yield* advance(400)
      yield* expect(
        !(yield* store.isRevoked(ref("t1", "u1", cutoff - 100))),
        "a subject cut-off still applied after its until"
      )
    }),

  "a subject keeps the greatest cut-off and the greatest until": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const start = yield* Clock.currentTimeMillis
      const cutoff = start - 1_000
      yield* store.revokeSubject("u", cutoff, start + 600)
      yield* store.revokeSubject("u", cutoff - 500, start + 200)
      yield* expect(yield* store.isRevoked(ref("t", "u", cutoff)), "a lower cut-off replaced a higher one")
      yield* advance(300)
      yield* expect(yield* store.isRevoked(ref("t", "u", cutoff)), "an earlier until shortened the entry")
      yield* store.revokeSubject("u", cutoff + 50, start + 400)
      yield* expect(yield* store.isRevoked(ref("t", "u", cutoff + 50)), "a higher cut-off was not taken")
      yield* expect(
        !(yield* store.isRevoked(ref("t", "u", cutoff + 51))),
        "the cut-off went past what was given"
      )
      yield* advance(200)
      yield* expect(yield* store.isRevoked(ref("t", "u", cutoff + 50)), "the greatest until was not kept")
      yield* advance(200)
      yield* expect(!(yield* store.isRevoked(ref("t", "u", cutoff))), "the entry outlived its greatest until")
    }),

  "a token is refused when its id or its subject is revoked": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const now = yield* Clock.currentTimeMillis
      yield* store.revokeToken("jti-1", now + 60_000)
      yield* store.revokeSubject("u9", now - 100, now + 60_000)
      yield* expect(yield* store.isRevoked(ref("jti-1", "u8", now)), "the token entry did not apply")
      yield* expect(yield* store.isRevoked(ref("jti-2", "u9", now - 200)), "the subject entry did not apply")
      yield* expect(
        yield* store.isRevoked(ref("jti-1", "u9", now - 200)),
        "both entries together did not apply"
      )
      yield* expect(
        !(yield* store.isRevoked(ref("jti-2", "u9", now))),
        "a token covered by neither was refused"
      )
    }),

  "entries lists exactly the live entries": (fresh) =>
    Effect.gen(function* () {
      const { store, advance } = yield* fresh
      const now = yield* Clock.currentTimeMillis
      yield* store.revokeToken("short", now + 200)
      yield* store.revokeToken("long", now + 600)
      yield* store.revokeToken("long", now + 100)
      yield* store.revokeSubject("u-short", now - 10, now + 200)
      yield* store.revokeSubject("u-long", now - 20, now + 600)
      yield* store.revokeSubject("u-long", now - 30, now + 100)
      const expected: Array<RevocationStore.Entry> = [
        { _tag: "Token", tokenId: "short", until: now + 200 },
        { _tag: "Token", tokenId: "long", until: now + 600 },
        { _tag: "Subject", subject: "u-short", cutoff: now - 10, until: now + 200 },
        { _tag: "Subject", subject: "u-long", cutoff: now - 20, until: now + 600 }
      ]
      const all = yield* store.entries
      yield* expect(
        sameEntries(all, expected),
        `entries are ${describeEntries(all)}, expected ${describeEntries(expected)}`
      )
      yield* advance(300)
      const live = yield* store.entries
      const expectedLive = expected.filter((entry) => entry.until === now + 600)
      yield* expect(
        sameEntries(live, expectedLive),
        `after expiry entries are ${describeEntries(live)}, expected ${describeEntries(expectedLive)}`
      )
    }),

  "any string is an id, and ids of one kind never match the other": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const now = yield* Clock.currentTimeMillis
      const odd = ["", "%", "_", "*", "a b", "é ✓ 😀", "x".repeat(512), "'; DROP TABLE x; --"]
      for (const id of odd) yield* store.revokeToken(id, now + 60_000)
      for (const id of odd) {
        yield* expect(
          yield* store.isRevoked(ref(id, "s", now)),
          `token id ${JSON.stringify(id)} did not round-trip`
        )
        yield* expect(
          !(yield* store.isRevoked(ref(`${id}x`, id, now))),
          `a token id ${JSON.stringify(id)} matched more than itself or a subject`
        )
      }
    }),

  "agrees with a model over random sequences of revocations, checks and time": (fresh, options) =>
    modelBased(fresh, options)
}
