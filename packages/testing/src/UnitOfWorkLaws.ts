/**
 * The laws of a `UnitOfWork` together with the repositories it covers:
 * commit keeps every write, failure, defect and interruption undo every
 * write in every repository, a nested transaction is a savepoint, and
 * after-commit hooks run once, only after the outermost commit.
 *
 * Each law is an effect that fails (as a defect with a message) when the
 * implementation breaks it; run each in its own test.
 *
 * @since 0.1.0
 */
import { type Repository, UnitOfWork } from "@org/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { Widget, WidgetId } from "./Widget.ts"

type Widgets = Repository.ForEntity<typeof Widget>

/**
 * Two empty repositories covered by the same unit of work.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fixture {
  readonly left: Widgets
  readonly right: Widgets
}

const widget = (sku: string) =>
  ({ name: `widget ${sku}`, sku, price: 1, quantity: 1, active: true, note: null }) as const

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`UnitOfWork law broken: ${message}`))

const exists = (repository: Widgets, id: typeof WidgetId.Type) =>
  Effect.match(repository.findById(id), { onFailure: () => false, onSuccess: () => true })

class Boom {
  readonly _tag = "Boom"
}

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RepositoryMemory, UnitOfWork } from "@org/core"
 * import { UnitOfWorkLaws, Widget } from "@org/testing"
 * import { Effect, Layer } from "effect"
 * import { SecureRandom } from "effect/crypto"
 *
 * const fresh = Effect.all({ left: RepositoryMemory.make(Widget.Widget), right: RepositoryMemory.make(Widget.Widget) })
 * const Services = Layer.mergeAll(UnitOfWork.layerMemory, SecureRandom.layerWebCrypto)
 *
 * for (const [name, law] of Object.entries(UnitOfWorkLaws.laws)) {
 *   it.effect(name, () => law(fresh).pipe(Effect.provide(Services)))
 * }
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const laws = {
  "commit keeps every write in every repository and runs after-commit hooks once, after the commit": <R>(
    fresh: Effect.Effect<Fixture, never, R>
  ) =>
    Effect.gen(function* () {
      const { left, right } = yield* fresh
      const kept = yield* left.create(widget("K"))
      const hooks: Array<string> = []
      const [a, b] = yield* UnitOfWork.transaction(
        Effect.gen(function* () {
          const a = yield* left.create(widget("A"))
          const b = yield* right.create(widget("B"))
          yield* left.update(kept.id, { quantity: 7 })
          yield* UnitOfWork.afterCommit(Effect.sync(() => hooks.push("committed")))
          yield* expect(hooks.length === 0, "an after-commit hook ran before the commit")
          return [a, b] as const
        })
      )
      yield* expect(hooks.length === 1, `after-commit hooks ran ${hooks.length} times, expected once`)
      yield* expect(yield* exists(left, a.id), "a committed create is missing")
      yield* expect(yield* exists(right, b.id), "a committed create in the second repository is missing")
      yield* expect((yield* left.findById(kept.id)).quantity === 7, "a committed update is missing")
    }),

  "a failure rolls back creates, updates and deletes in every repository; hooks never run": <R>(
    fresh: Effect.Effect<Fixture, never, R>
  ) =>
    Effect.gen(function* () {
      const { left, right } = yield* fresh
      const updated = yield* left.create(widget("U"))
      const deleted = yield* right.create(widget("D"))
      const hooks: Array<string> = []
      let created: typeof WidgetId.Type | undefined
      const exit = yield* Effect.exit(
        UnitOfWork.transaction(
          Effect.gen(function* () {
            created = (yield* left.create(widget("C"))).id
            yield* left.update(updated.id, { name: "changed" })
            yield* right.delete(deleted.id)
            yield* UnitOfWork.afterCommit(Effect.sync(() => hooks.push("committed")))
            return yield* Effect.fail(new Boom())
          })
        )
      )
      yield* expect(Exit.isFailure(exit), "the transaction did not fail")
      const createdId = created
      yield* expect(
        createdId !== undefined && !(yield* exists(left, createdId)),
        "a create survived rollback"
      )
      yield* expect((yield* left.findById(updated.id)).name === "widget U", "an update survived rollback")
      yield* expect((yield* left.findById(updated.id)).version === 1, "a version bump survived rollback")
      yield* expect(yield* exists(right, deleted.id), "a delete survived rollback")
      yield* expect((yield* left.count()) + (yield* right.count()) === 2, "the counts changed")
      yield* expect(hooks.length === 0, "an after-commit hook ran on rollback")
    }),

  "a defect rolls back": <R>(fresh: Effect.Effect<Fixture, never, R>) =>
    Effect.gen(function* () {
      const { left } = yield* fresh
      const exit = yield* Effect.exit(
        UnitOfWork.transaction(Effect.andThen(left.create(widget("X")), Effect.die("bug")))
      )
      yield* expect(Exit.isFailure(exit), "the transaction did not fail")
      yield* expect((yield* left.count()) === 0, "a write survived a defect")
    }),

  "interruption rolls back": <R>(fresh: Effect.Effect<Fixture, never, R>) =>
    Effect.gen(function* () {
      const { left, right } = yield* fresh
      const written = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        UnitOfWork.transaction(
          Effect.gen(function* () {
            yield* left.create(widget("I"))
            yield* right.create(widget("J"))
            yield* Deferred.succeed(written, undefined)
            return yield* Effect.never
          })
        )
      )
      yield* Deferred.await(written)
      yield* Fiber.interrupt(fiber)
      yield* expect((yield* left.count()) + (yield* right.count()) === 0, "a write survived interruption")
    }),

  "a nested transaction is a savepoint: its failure, if handled, undoes only its own writes": <R>(
    fresh: Effect.Effect<Fixture, never, R>
  ) =>
    Effect.gen(function* () {
      const { left, right } = yield* fresh
      const hooks: Array<string> = []
      const outer = yield* UnitOfWork.transaction(
        Effect.gen(function* () {
          const outer = yield* left.create(widget("O"))
          yield* UnitOfWork.afterCommit(Effect.sync(() => hooks.push("outer")))
          yield* Effect.exit(
            UnitOfWork.transaction(
              Effect.gen(function* () {
                yield* right.create(widget("N"))
                yield* left.update(outer.id, { quantity: 99 })
                yield* UnitOfWork.afterCommit(Effect.sync(() => hooks.push("inner")))
                return yield* Effect.fail(new Boom())
              })
            )
          )
          yield* UnitOfWork.transaction(
            UnitOfWork.afterCommit(Effect.sync(() => hooks.push("inner released")))
          )
          return outer
        })
      )
      yield* expect(yield* exists(left, outer.id), "the outer write was lost")
      yield* expect((yield* left.findById(outer.id)).quantity === 1, "the failed savepoint's update survived")
      yield* expect((yield* right.count()) === 0, "the failed savepoint's create survived")
      yield* expect(
        hooks.join(",") === "outer,inner released",
        `hooks ran as [${hooks.join(",")}], expected [outer,inner released]`
      )
    }),

  "an outer failure undoes committed savepoints too": <R>(fresh: Effect.Effect<Fixture, never, R>) =>
    Effect.gen(function* () {
      const { left, right } = yield* fresh
      const exit = yield* Effect.exit(
        UnitOfWork.transaction(
          Effect.gen(function* () {
            yield* UnitOfWork.transaction(Effect.andThen(left.create(widget("S")), right.create(widget("T"))))
            return yield* Effect.fail(new Boom())
          })
        )
      )
      yield* expect(Exit.isFailure(exit), "the transaction did not fail")
      yield* expect(
        (yield* left.count()) + (yield* right.count()) === 0,
        "a released savepoint survived the rollback"
      )
    }),

  "outside a transaction, afterCommit runs at once": <R>(fresh: Effect.Effect<Fixture, never, R>) =>
    Effect.gen(function* () {
      yield* fresh
      const hooks: Array<string> = []
      yield* UnitOfWork.afterCommit(Effect.sync(() => hooks.push("now")))
      yield* expect(hooks.length === 1, "afterCommit outside a transaction did not run at once")
    })
}
