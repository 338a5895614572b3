/**
 * The laws of an `Outbox`: an append in a rolled-back transaction leaves
 * nothing; committed events are all claimable, in id order; a leased event
 * is not claimable by another claimer until its lease ends; settling with a
 * wrong or taken-over lease is refused; retry keeps `completed` and waits
 * `after`; dead letters are listed and replayed; `stats` counts what is
 * pending and parked and names the oldest pending occurrence; and a model-based property
 * (fast-check) over random sequences of appends, claims and settlements.
 *
 * Each law is an effect over a fresh fixture (an empty outbox and its unit
 * of work) that fails, as a defect with a message, when the implementation
 * breaks it. Time moves through the fixture's `advance` (`TestClock.adjust`
 * for an outbox on the `Clock`, a real sleep for one on the database's).
 *
 * @since 0.3.0
 */
import { DomainEvent, Outbox, UnitOfWork } from "@org/core"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"

/**
 * An empty outbox, the unit of work its `append` joins, and a way to let
 * time pass.
 *
 * @since 0.3.0
 * @category models
 */
export interface Fixture {
  readonly outbox: Outbox.Outbox["Service"]
  readonly unitOfWork: UnitOfWork.UnitOfWork["Service"]
  readonly advance: (millis: number) => Effect.Effect<void>
}

/**
 * Fresh fixtures from a layer that provides the `Outbox` and its
 * `UnitOfWork`: the layer is built anew for every fixture, so it must start
 * empty (a memory layer, or a SQL one over a freshly migrated table).
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Outbox, UnitOfWork } from "@org/core"
 * import { OutboxLaws } from "@org/testing"
 * import { Layer } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = OutboxLaws.fromLayer(Layer.merge(Outbox.layerMemory, UnitOfWork.layerMemory), TestClock.adjust)
 * for (const [name, law] of Object.entries(OutboxLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const fromLayer = <E, R>(
  layer: Layer.Layer<Outbox.Outbox | UnitOfWork.UnitOfWork, E, R>,
  advance: (millis: number) => Effect.Effect<void>
): Effect.Effect<Fixture, never, R | Scope.Scope> =>
  // Built in the law's scope: a SQL outbox keeps its listener and notifier for the whole law.
  Effect.map(Effect.orDie(Layer.build(Layer.fresh(layer))), (context) => ({
    outbox: Context.get(context, Outbox.Outbox),
    unitOfWork: Context.get(context, UnitOfWork.UnitOfWork),
    advance
  }))

/**
 * A law: an effect over fresh fixtures.
 *
 * @since 0.3.0
 * @category models
 */
export type Law = <R>(fresh: Effect.Effect<Fixture, never, R>) => Effect.Effect<void, unknown, R>

/**
 * Options of the model-based law.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  readonly runs?: number | undefined
  readonly seed?: number | undefined
}

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`Outbox law broken: ${message}`))

/**
 * A test event of aggregate `aggregateId`.
 *
 * @example
 * ```ts
 * import { OutboxLaws } from "@org/testing"
 *
 * const event = OutboxLaws.envelope("item-1", { n: 1 })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const envelope = (
  aggregateId: string,
  payload: DomainEvent.Envelope["payload"] = {}
): Effect.Effect<DomainEvent.Envelope> =>
  Effect.map(DomainEvent.nextId, (id) => ({
    id,
    type: "OutboxLawTested",
    aggregateType: "Law",
    aggregateId,
    occurredAt: DateTime.makeUnsafe(1_700_000_000_000),
    version: 1,
    integration: false,
    payload,
    metadata: { requestId: "req-1" }
  }))

const envelopes = (n: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) => envelope(`a-${i}`, { i, text: "é✓" })
  )

const sortedIds = (events: ReadonlyArray<DomainEvent.Envelope>) => events.map((event) => event.id).sort()

const long = "1 hour"

// JSON with sorted keys: a store may keep the payload as jsonb, which reorders keys.
const canonical = (event: DomainEvent.Envelope): string =>
  JSON.stringify({ ...event, occurredAt: DateTime.formatIso(event.occurredAt) }, (_, value: unknown) =>
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value
  )

const stateOf = (outbox: Outbox.Outbox["Service"], id: string) =>
  Effect.map(outbox.get(id), Option.getOrUndefined)

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Outbox, UnitOfWork } from "@org/core"
 * import { OutboxLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.gen(function* () {
 *   const outbox = yield* Outbox.makeMemory
 *   const unitOfWork = yield* UnitOfWork.UnitOfWork
 *   return { outbox, unitOfWork, advance: TestClock.adjust }
 * }).pipe(Effect.provide(UnitOfWork.layerMemory))
 * for (const [name, law] of Object.entries(OutboxLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.3.0
 * @category laws
 */
export const laws: Record<string, Law> = {
  "an append in a rolled-back transaction leaves nothing": (fresh) =>
    Effect.gen(function* () {
      const { outbox, unitOfWork } = yield* fresh
      const events = yield* envelopes(3)
      yield* unitOfWork
        .transaction(Effect.andThen(outbox.append(events), Effect.fail("rollback")))
        .pipe(Effect.ignore)
      // A savepoint rolled back inside a committed transaction leaves nothing either.
      const kept = yield* envelope("kept")
      yield* unitOfWork.transaction(
        Effect.andThen(
          outbox.append([kept]),
          unitOfWork
            .transaction(Effect.andThen(outbox.append(events), Effect.fail("inner")))
            .pipe(Effect.ignore)
        )
      )
      const claimed = yield* outbox.claim({ limit: 100, lease: long })
      yield* expect(
        claimed.length === 1 && claimed[0]?.event.id === kept.id,
        `after rollbacks ${claimed.length} events were claimable, expected only the committed one`
      )
      for (const event of events) {
        yield* expect(Option.isNone(yield* outbox.get(event.id)), `rolled-back event ${event.id} is stored`)
      }
    }),

  "committed events are all claimable, in id order, exactly as appended": (fresh) =>
    Effect.gen(function* () {
      const { outbox, unitOfWork } = yield* fresh
      const first = yield* envelopes(5)
      const second = yield* envelopes(4)
      yield* unitOfWork.transaction(outbox.append(first))
      yield* unitOfWork.transaction(outbox.append(second))
      const all = [...first, ...second]
      const claimed = [
        ...(yield* outbox.claim({ limit: 6, lease: long })),
        ...(yield* outbox.claim({ limit: 6, lease: long }))
      ]
      const ids = claimed.map((c) => c.event.id)
      yield* expect(
        JSON.stringify(ids) === JSON.stringify(sortedIds(all)),
        `claimed ${ids.length} of ${all.length} events, or not in id order`
      )
      for (const c of claimed) {
        const original = all.find((event) => event.id === c.event.id)
        yield* expect(
          original !== undefined && canonical(original) === canonical(c.event),
          `event ${c.event.id} came back different from what was appended`
        )
        yield* expect(
          c.attempts === 1 && c.completed.length === 0,
          `a first claim had attempts ${c.attempts}`
        )
      }
      yield* expect(
        (yield* outbox.claim({ limit: 10, lease: long })).length === 0,
        "a leased event was claimed twice"
      )
    }),

  "a leased event is not claimable by another claimer until its lease ends": (fresh) =>
    Effect.gen(function* () {
      const { advance, outbox, unitOfWork } = yield* fresh
      yield* unitOfWork.transaction(outbox.append(yield* envelopes(2)))
      const first = yield* outbox.claim({ limit: 10, lease: 300 })
      yield* expect(first.length === 2, `claimed ${first.length} of 2`)
      const during = yield* outbox.claim({ limit: 10, lease: 300 })
      yield* expect(during.length === 0, `${during.length} leased events were claimed again during the lease`)
      yield* advance(500)
      const after = yield* outbox.claim({ limit: 10, lease: long })
      yield* expect(after.length === 2, `after the lease ended ${after.length} of 2 events came back`)
      yield* expect(
        after.every((c) => c.attempts === 2) && after.every((c) => !first.some((f) => f.lease === c.lease)),
        "a reclaimed event kept its old lease or did not count the attempt"
      )
    }),

  "settling with a wrong or taken-over lease is refused": (fresh) =>
    Effect.gen(function* () {
      const { advance, outbox, unitOfWork } = yield* fresh
      const event = yield* envelope("x")
      yield* unitOfWork.transaction(outbox.append([event]))
      const [old] = yield* outbox.claim({ limit: 1, lease: 300 })
      yield* expect(old !== undefined, "nothing to claim")
      const settle = { completed: [], error: "e" }
      yield* expect(!(yield* outbox.complete(event.id, "wrong")), "complete with a wrong lease succeeded")
      yield* expect(
        !(yield* outbox.retry(event.id, "wrong", { ...settle, after: 0 })),
        "retry with a wrong lease"
      )
      yield* expect(!(yield* outbox.deadLetter(event.id, "wrong", settle)), "deadLetter with a wrong lease")
      yield* advance(500)
      const [taken] = yield* outbox.claim({ limit: 1, lease: long })
      yield* expect(taken !== undefined, "the expired lease was not taken over")
      const lease = old?.lease ?? ""
      yield* expect(!(yield* outbox.complete(event.id, lease)), "the taken-over lease could complete")
      yield* expect(
        !(yield* outbox.retry(event.id, lease, { ...settle, after: 0 })),
        "the taken-over lease retried"
      )
      yield* expect(
        !(yield* outbox.deadLetter(event.id, lease, settle)),
        "the taken-over lease dead-lettered"
      )
      yield* expect(yield* outbox.complete(event.id, taken?.lease ?? ""), "the new owner could not complete")
      yield* expect(!(yield* outbox.complete(event.id, taken?.lease ?? "")), "an event was completed twice")
      yield* expect(
        (yield* stateOf(outbox, event.id))?.state === "delivered",
        "a completed event is not delivered"
      )
    }),

  "retry keeps the consumers that succeeded and waits `after`": (fresh) =>
    Effect.gen(function* () {
      const { advance, outbox, unitOfWork } = yield* fresh
      const event = yield* envelope("x")
      yield* unitOfWork.transaction(outbox.append([event]))
      const [one] = yield* outbox.claim({ limit: 1, lease: long })
      yield* expect(
        yield* outbox.retry(event.id, one?.lease ?? "", {
          after: 400,
          completed: ["audit"],
          error: "relay: down"
        }),
        "retry of the owner was refused"
      )
      yield* expect(
        (yield* outbox.claim({ limit: 1, lease: long })).length === 0,
        "a retried event came back early"
      )
      yield* advance(700)
      const [two] = yield* outbox.claim({ limit: 1, lease: long })
      yield* expect(two !== undefined, "a retried event did not come back after `after`")
      yield* expect(
        two?.attempts === 2 && JSON.stringify(two.completed) === JSON.stringify(["audit"]),
        `the retried event came back with attempts ${two?.attempts} and completed ${JSON.stringify(two?.completed)}`
      )
      yield* outbox.retry(event.id, two?.lease ?? "", { after: 0, completed: ["audit", "mail"], error: "x" })
      const [three] = yield* outbox.claim({ limit: 1, lease: long })
      yield* expect(
        JSON.stringify([...(three?.completed ?? [])].sort()) === JSON.stringify(["audit", "mail"]),
        `completed lists were not merged: ${JSON.stringify(three?.completed)}`
      )
    }),

  "dead letters are listed, oldest first, and replayed as pending": (fresh) =>
    Effect.gen(function* () {
      const { advance, outbox, unitOfWork } = yield* fresh
      const events = yield* envelopes(3)
      yield* unitOfWork.transaction(outbox.append(events))
      const claimed = yield* outbox.claim({ limit: 3, lease: long })
      const [a, b, c] = claimed
      yield* outbox.deadLetter(a?.event.id ?? "", a?.lease ?? "", { completed: ["audit"], error: "boom 1" })
      yield* advance(20)
      yield* outbox.deadLetter(b?.event.id ?? "", b?.lease ?? "", { completed: [], error: "boom 2" })
      yield* outbox.complete(c?.event.id ?? "", c?.lease ?? "")
      const dead = yield* outbox.deadLetters()
      yield* expect(
        dead.length === 2 && dead[0]?.event.id === a?.event.id && dead[1]?.event.id === b?.event.id,
        `listed ${dead.length} dead letters, expected 2 oldest first`
      )
      yield* expect(
        dead[0]?.error === "boom 1" && dead[0].attempts === 1 && dead[0].completed.includes("audit"),
        "a dead letter lost its error, attempts or completed consumers"
      )
      yield* expect((yield* outbox.deadLetters({ limit: 1 })).length === 1, "deadLetters ignored its limit")
      yield* expect(
        (yield* outbox.claim({ limit: 10, lease: long })).length === 0,
        "a dead letter was claimable"
      )
      const replayed = yield* outbox.replay([a?.event.id ?? "", c?.event.id ?? "", "not-an-id"])
      yield* expect(replayed === 1, `replay said ${replayed}, expected 1 (only dead events replay)`)
      const [again] = yield* outbox.claim({ limit: 10, lease: long })
      yield* expect(
        again?.event.id === a?.event.id &&
          again?.attempts === 1 &&
          again?.completed.includes("audit") === true,
        "a replayed event did not come back with attempts reset and completed kept"
      )
      yield* expect((yield* outbox.deadLetters()).length === 1, "a replayed event is still listed as dead")
    }),

  "stats count pending (committed) and dead events and name the oldest pending occurrence": (fresh) =>
    Effect.gen(function* () {
      const { outbox, unitOfWork } = yield* fresh
      const none = yield* outbox.stats
      yield* expect(
        none.pending === 0 && none.dead === 0 && Option.isNone(none.oldestPending),
        `an empty outbox has stats ${JSON.stringify(none)}`
      )
      const at = (millis: number) => (event: DomainEvent.Envelope) => ({
        ...event,
        occurredAt: DateTime.makeUnsafe(millis)
      })
      const newer = at(1_700_000_050_000)(yield* envelope("newer"))
      const older = at(1_700_000_010_000)(yield* envelope("older"))
      const dead = at(1_700_000_000_000)(yield* envelope("dead"))
      const delivered = at(1_600_000_000_000)(yield* envelope("delivered"))
      yield* unitOfWork.transaction(outbox.append([dead, delivered]))
      const claimed = yield* outbox.claim({ limit: 2, lease: long })
      for (const c of claimed) {
        if (c.event.id === dead.id)
          yield* outbox.deadLetter(c.event.id, c.lease, { completed: [], error: "x" })
        else yield* outbox.complete(c.event.id, c.lease)
      }
      // Appended after: later ids, older occurrences; one is retried (still pending), one rolled back.
      yield* unitOfWork.transaction(outbox.append([newer, older]))
      const [retried] = yield* outbox.claim({ limit: 1, lease: long })
      yield* outbox.retry(retried?.event.id ?? "", retried?.lease ?? "", {
        after: 3_600_000,
        completed: [],
        error: "x"
      })
      yield* unitOfWork
        .transaction(
          Effect.andThen(outbox.append([at(1_500_000_000_000)(yield* envelope("gone"))]), Effect.fail("no"))
        )
        .pipe(Effect.ignore)
      const stats = yield* outbox.stats
      yield* expect(
        stats.pending === 2 && stats.dead === 1,
        `stats counted ${stats.pending} pending and ${stats.dead} dead, expected 2 and 1`
      )
      yield* expect(
        Option.isSome(stats.oldestPending) &&
          DateTime.toEpochMillis(stats.oldestPending.value) === 1_700_000_010_000,
        `the oldest pending occurrence is ${JSON.stringify(stats.oldestPending)}, expected the older event's`
      )
    })
}

type Command =
  | { readonly _tag: "Append"; readonly n: number; readonly commit: boolean }
  | { readonly _tag: "Claim"; readonly limit: number }
  | { readonly _tag: "Settle"; readonly pick: number; readonly how: "complete" | "retry" | "dead" | "stale" }
  | { readonly _tag: "Replay"; readonly pick: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    _tag: fc.constant("Append" as const),
    n: fc.integer({ min: 0, max: 3 }),
    commit: fc.boolean()
  }),
  fc.record({ _tag: fc.constant("Claim" as const), limit: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    _tag: fc.constant("Settle" as const),
    pick: fc.nat(),
    how: fc.constantFrom("complete" as const, "retry" as const, "dead" as const, "stale" as const)
  }),
  fc.record({ _tag: fc.constant("Replay" as const), pick: fc.nat() })
)

interface ModelRow {
  state: "pending" | "delivered" | "dead"
  attempts: number
  completed: Set<string>
  lease: string | undefined
}

const runSequence = (fixture: Fixture, commands: ReadonlyArray<Command>) =>
  Effect.gen(function* () {
    const { outbox, unitOfWork } = fixture
    const model = new Map<string, ModelRow>()
    const stale: Array<{ readonly id: string; readonly lease: string }> = []
    for (const cmd of commands) {
      switch (cmd._tag) {
        case "Append": {
          const events = yield* envelopes(cmd.n)
          yield* unitOfWork
            .transaction(
              Effect.andThen(outbox.append(events), cmd.commit ? Effect.void : Effect.fail("rollback"))
            )
            .pipe(Effect.ignore)
          if (cmd.commit) {
            for (const e of events)
              model.set(e.id, { state: "pending", attempts: 0, completed: new Set(), lease: undefined })
          }
          break
        }
        case "Claim": {
          const due = [...model.entries()]
            .filter(([, row]) => row.state === "pending" && row.lease === undefined)
            .map(([id]) => id)
            .sort()
            .slice(0, cmd.limit)
          const claimed = yield* outbox.claim({ limit: cmd.limit, lease: long })
          const ids = claimed.map((c) => c.event.id)
          yield* expect(
            JSON.stringify(ids) === JSON.stringify(due),
            `claim returned ${ids} instead of ${due}`
          )
          for (const c of claimed) {
            const row = model.get(c.event.id)!
            row.attempts++
            row.lease = c.lease
            yield* expect(c.attempts === row.attempts, `attempts ${c.attempts}, model ${row.attempts}`)
            yield* expect(
              JSON.stringify([...c.completed].sort()) === JSON.stringify([...row.completed].sort()),
              "completed differs from the model"
            )
          }
          break
        }
        case "Settle": {
          const leased = [...model.entries()]
            .filter(([, row]) => row.lease !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1))
          if (cmd.how === "stale") {
            const old = stale[cmd.pick % Math.max(1, stale.length)]
            if (old === undefined) break
            const ok = yield* outbox.complete(old.id, old.lease)
            const row = model.get(old.id)
            yield* expect(
              ok === (row?.lease === old.lease && row.state === "pending"),
              "a stale lease settled"
            )
            if (ok && row !== undefined) {
              row.state = "delivered"
              row.lease = undefined
            }
            break
          }
          const picked = leased[cmd.pick % Math.max(1, leased.length)]
          if (picked === undefined) break
          const [id, row] = picked
          const lease = row.lease ?? ""
          const name = `c${cmd.pick % 3}`
          const ok =
            cmd.how === "complete"
              ? yield* outbox.complete(id, lease)
              : cmd.how === "retry"
                ? yield* outbox.retry(id, lease, { after: 0, completed: [name], error: "e" })
                : yield* outbox.deadLetter(id, lease, { completed: [name], error: "e" })
          yield* expect(ok, `${cmd.how} with the current lease was refused`)
          stale.push({ id, lease })
          row.lease = undefined
          if (cmd.how === "complete") row.state = "delivered"
          else row.completed.add(name)
          if (cmd.how === "dead") row.state = "dead"
          break
        }
        case "Replay": {
          const dead = [...model.entries()]
            .filter(([, row]) => row.state === "dead")
            .sort(([a], [b]) => (a < b ? -1 : 1))
          const picked = dead[cmd.pick % Math.max(1, dead.length)]
          if (picked === undefined) {
            yield* expect((yield* outbox.replay([])) === 0, "an empty replay replayed something")
            break
          }
          const n = yield* outbox.replay([picked[0]])
          yield* expect(n === 1, `replay of a dead event said ${n}`)
          picked[1].state = "pending"
          picked[1].attempts = 0
          break
        }
      }
    }
    for (const [id, row] of model) {
      const stored = yield* stateOf(outbox, id)
      yield* expect(
        stored !== undefined &&
          stored.state === row.state &&
          stored.attempts === row.attempts &&
          JSON.stringify([...stored.completed].sort()) === JSON.stringify([...row.completed].sort()),
        `event ${id} is ${JSON.stringify(stored)}, the model says ${row.state}/${row.attempts}`
      )
    }
    const dead = yield* outbox.deadLetters({ limit: 1_000 })
    yield* expect(
      JSON.stringify(sortedIds(dead.map((d) => d.event))) ===
        JSON.stringify(
          [...model.entries()]
            .filter(([, r]) => r.state === "dead")
            .map(([id]) => id)
            .sort()
        ),
      "deadLetters differs from the model"
    )
  })

/**
 * The model-based law alone: `runs` random sequences of appends (committed
 * or rolled back), claims, settlements (with the current lease or a stale
 * one) and replays, each on an outbox from `fresh` (which must start empty),
 * compared with a small model. Leases are long and retries immediate, so no
 * time passes. It is also in `laws`.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Outbox, UnitOfWork } from "@org/core"
 * import { OutboxLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.gen(function* () {
 *   const outbox = yield* Outbox.makeMemory
 *   const unitOfWork = yield* UnitOfWork.UnitOfWork
 *   return { outbox, unitOfWork, advance: TestClock.adjust }
 * }).pipe(Effect.provide(UnitOfWork.layerMemory))
 * it.effect("agrees with the model", () => OutboxLaws.modelBased(fresh, { runs: 200 }))
 * ```
 *
 * @since 0.3.0
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
      fc.assert(fc.asyncProperty(fc.array(command, { minLength: 3, maxLength: 30 }), run), {
        numRuns: options?.runs ?? 100,
        ...(options?.seed === undefined ? {} : { seed: options.seed })
      })
    )
  })
