/**
 * The law suite itself: generic over entities (Gizmo, shaped unlike Widget,
 * runs through it), derived data valid and varied, and able to fail: a
 * repository that breaks one rule is caught at the step that breaks it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Decimal, Entity, Repository, RepositoryMemory, Specification } from "@org/core"
import { Gizmo as GizmoFixture, RepositoryLaws, Widget } from "@org/testing"
import { Effect, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as fc from "fast-check"

const { Gizmo } = GizmoFixture

const Random = SecureRandom.layerWebCrypto

// What a `numeric(12, 1)` column would do to a price: keep one decimal.
const oneDecimal = (price: number) => Math.round(price * 10) / 10

const roundingPrices = (
  inner: Repository.ForEntity<typeof Widget.Widget>
): Repository.ForEntity<typeof Widget.Widget> => ({
  ...inner,
  create: (input) => inner.create({ ...input, price: oneDecimal(input.price) }),
  update: (id, patch, options) =>
    inner.update(
      id,
      patch.price === undefined ? patch : { ...patch, price: oneDecimal(patch.price) },
      options
    )
})

// What a repository that treats NULLs as equal in a unique field does (the
// in-memory repository did, until these laws ran on an entity with one).
const nullsCollide = (inner: Repository.ForEntity<typeof Gizmo>): Repository.ForEntity<typeof Gizmo> => ({
  ...inner,
  create: (input) =>
    input.code !== null
      ? inner.create(input)
      : Effect.flatMap(Effect.orDie(inner.count(Specification.field("code").isNull())), (nulls) =>
          nulls > 0
            ? Effect.fail(new Repository.Conflict({ entity: "Gizmo", reason: "duplicate", fields: ["code"] }))
            : inner.create(input)
        )
})

describe("RepositoryLaws", () => {
  it.effect("run on an entity of another shape: the memory repository obeys them (200 scenarios)", () =>
    RepositoryLaws.check(Gizmo, RepositoryMemory.make(Gizmo), { numRuns: 200 }).pipe(Effect.provide(Random))
  )

  it("derives valid, varied data from the entity's schemas", () => {
    const { input, patch } = RepositoryLaws.arbitraries(Gizmo, { seed: 7 })
    const inputs = fc.sample(input, 1_000)
    const isRecord = Schema.is(Schema.toType(Gizmo.create))
    for (const value of inputs) assert.isTrue(isRecord(value), JSON.stringify(value))
    const codes = inputs.map((value) => value.code)
    // Nulls and repeated values (unique collisions) are both common.
    assert.isAbove(codes.filter((code) => code === null).length, 10)
    assert.isAbove(codes.length - new Set(codes).size, 100)
    // Text reaches past the BMP and outside ASCII; decimals reach their edges.
    assert.isTrue(codes.some((code) => typeof code === "string" && /\p{Extended_Pictographic}/u.test(code)))
    assert.isTrue(inputs.some((value) => Math.abs(value.balance) === 999_999.999))
    assert.isTrue(inputs.some((value) => Decimal.fractionDigits(value.balance) === 3))
    assert.isTrue(inputs.some((value) => value.count > 2_147_483_647 || value.count < -2_147_483_648))
    for (const value of fc.sample(patch, 100)) assert.isTrue(Schema.is(Schema.toType(Gizmo.update))(value))
  })

  it("refuses a field no generator can serve, naming it; a given arbitrary serves it", () => {
    const Odd = Entity.make("Odd", {
      table: "odds",
      id: Entity.Uuid.pipe(Schema.brand("OddId")),
      fields: { code: Schema.String.check(Schema.makeFilter((s: string) => s.startsWith("ZZZ-"))) }
    })
    assert.throws(() => RepositoryLaws.arbitraries(Odd), /Odd\.code: no generator finds valid values/)
    const { input } = RepositoryLaws.arbitraries(Odd, {
      arbitraries: { code: fc.nat().map((n) => `ZZZ-${n}`) }
    })
    assert.match(fc.sample(input, 1)[0]!.code, /^ZZZ-\d+$/)
  })

  it.effect("catch a store that keeps one decimal of a 2-decimal price, at the write that loses it", () =>
    Effect.gen(function* () {
      const report = yield* RepositoryLaws.run(
        Widget.Widget,
        Effect.map(RepositoryMemory.make(Widget.Widget), roundingPrices),
        { numRuns: 200 }
      )
      assert.isTrue(report.failed, "the laws must fail on a repository that rounds prices")
      const message = String(report.errorInstance)
      const [, step] = /Step (\d+) \((Create|Update)\) differs from the model/.exec(message) ?? []
      assert.isDefined(step, message)
      // The reported step writes a price with a second decimal, which the
      // model keeps and the repository rounds away (or, near 10^10, rounds
      // out of range and refuses).
      const write = report.counterexample![0][Number(step)]
      const price =
        write?._tag === "Create"
          ? write.input.price
          : write?._tag === "Update"
            ? write.patch.price
            : undefined
      assert.isDefined(price, message)
      assert.isFalse(Decimal.fits({ precision: 12, scale: 1 }, price!), String(price))
    }).pipe(Effect.provide(Random))
  )

  it.effect("catch a repository where two nulls collide in a unique field", () =>
    Effect.gen(function* () {
      const report = yield* RepositoryLaws.run(
        Gizmo,
        Effect.map(RepositoryMemory.make(Gizmo), nullsCollide),
        {
          numRuns: 200
        }
      )
      assert.isTrue(report.failed)
      const message = String(report.errorInstance)
      assert.match(message, /Step \d+ \(Create\) differs from the model/)
      assert.include(/actual {3}(.*)/.exec(message)?.[1], '"reason":"duplicate","fields":["code"]')
      assert.include(/expected (.*)/.exec(message)?.[1], '"code":null')
    }).pipe(Effect.provide(Random))
  )

  it.effect("check dies with fast-check's report, which names the seed to replay", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        RepositoryLaws.check(
          Widget.Widget,
          Effect.map(RepositoryMemory.make(Widget.Widget), roundingPrices),
          {
            numRuns: 200,
            seed: 42
          }
        )
      )
      assert.strictEqual(exit._tag, "Failure")
      assert.match(String(exit), /seed: 42/)
    }).pipe(Effect.provide(Random))
  )
})
