/**
 * The laws of an `EventBus` together with the unit of work it publishes in:
 * sync handlers join the publisher's transaction and can veto it, async
 * handlers run only after the commit (never on rollback) and receive the
 * event as it was raised, and a failing or hanging async handler holds up
 * neither the publisher nor the other handlers.
 *
 * A law takes the bus under test as a layer that also provides `EventBus.Idle`
 * (so it waits for delivery, not for time) and the `UnitOfWork`, plus an
 * effect that makes an empty widget repository covered by that unit of work.
 * Each law builds its own subscribers on a fresh build of the layer. A broken
 * law fails as a defect with a message; run each in its own test.
 *
 * @since 0.3.0
 */
import { DomainEvent, EventBus, type Repository, UnitOfWork } from "@org/core"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { Widget } from "./Widget.ts"

type Widgets = Repository.ForEntity<typeof Widget>

/**
 * The event the laws publish: a DateTime and an optional field, so an async
 * handler sees whether the payload survived the wire.
 *
 * @since 0.3.0
 * @category fixtures
 */
export const WidgetTouched = DomainEvent.define("EventBusLaws.WidgetTouched", {
  aggregateType: "Widget",
  payload: Schema.Struct({
    sku: Schema.String,
    at: Schema.DateTimeUtcFromString,
    note: Schema.optionalKey(Schema.String)
  })
})

/**
 * What a law needs: the bus (with `Idle` and `UnitOfWork`) and a fresh
 * repository covered by the same unit of work.
 *
 * @since 0.3.0
 * @category models
 */
export interface Subject<R> {
  readonly bus: Layer.Layer<EventBus.EventBus | EventBus.Idle | UnitOfWork.UnitOfWork, never, R>
  readonly fresh: Effect.Effect<Widgets, never, R>
}

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`EventBus law broken: ${message}`))

const widget = (sku: string) =>
  ({ name: `widget ${sku}`, sku, price: 1, quantity: 1, active: true, note: null }) as const

const touched = (sku: string) =>
  Effect.flatMap(DateTime.now, (at) => WidgetTouched.make(`widget-${sku}`, { sku, at, note: `note ${sku}` }))

class Boom {
  readonly _tag = "Boom"
}

type Provided = EventBus.EventBus | EventBus.Idle | UnitOfWork.UnitOfWork

/** Runs `program` with `subscribers` built on a fresh build of the bus. */
const withSubscribers = <A, E, R, RS>(
  subject: Subject<R>,
  subscribers: Layer.Layer<never, never, RS>,
  program: Effect.Effect<A, E, Provided>
) => Effect.provide(program, Layer.provideMerge(subscribers, subject.bus))

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { EventBus, RepositoryMemory, UnitOfWork } from "@org/core"
 * import { EventBusLaws, Widget } from "@org/testing"
 * import { Effect, Layer } from "effect"
 * import { SecureRandom } from "effect/crypto"
 *
 * const subject = {
 *   bus: EventBus.layerMemory.pipe(Layer.provideMerge(UnitOfWork.layerMemory)),
 *   fresh: RepositoryMemory.make(Widget.Widget)
 * }
 *
 * for (const [name, law] of Object.entries(EventBusLaws.laws)) {
 *   it.effect(name, () => law(subject).pipe(Effect.provide(SecureRandom.layerWebCrypto)))
 * }
 * ```
 *
 * @since 0.3.0
 * @category laws
 */
export const laws = {
  "a sync handler joins the publisher's transaction: its writes commit with the publisher's": <R>(
    subject: Subject<R>
  ) =>
    Effect.gen(function* () {
      const widgets = yield* subject.fresh
      const handler = EventBus.subscriber(
        WidgetTouched,
        { name: "laws.sync-writer", mode: "sync" },
        (event) => Effect.asVoid(widgets.create(widget(`${event.payload.sku}-h`)))
      )
      yield* withSubscribers(
        subject,
        handler,
        UnitOfWork.transaction(
          Effect.gen(function* () {
            yield* widgets.create(widget("A"))
            yield* EventBus.publish([yield* touched("A")])
            yield* expect(
              (yield* widgets.count()) === 2,
              "the sync handler did not run in the publisher's fiber"
            )
          })
        )
      )
      yield* expect((yield* widgets.count()) === 2, "the sync handler's write or the publisher's was lost")
    }),

  "a failing sync handler vetoes: publish fails with EventVetoed, everything rolls back, no async handler runs":
    <R>(subject: Subject<R>) =>
      Effect.gen(function* () {
        const widgets = yield* subject.fresh
        const delivered: Array<string> = []
        const subscribers = Layer.mergeAll(
          EventBus.subscriber(WidgetTouched, { name: "laws.sync-writer", mode: "sync" }, (event) =>
            Effect.asVoid(widgets.create(widget(`${event.payload.sku}-h`)))
          ),
          EventBus.subscriber(WidgetTouched, { name: "laws.sync-veto", mode: "sync" }, () =>
            Effect.fail(new Boom())
          ),
          EventBus.subscriber(WidgetTouched, { name: "laws.async", mode: "async" }, (event) =>
            Effect.sync(() => {
              delivered.push(event.id)
            })
          )
        )
        const exit = yield* withSubscribers(
          subject,
          subscribers,
          Effect.gen(function* () {
            const exit = yield* Effect.exit(
              UnitOfWork.transaction(
                Effect.gen(function* () {
                  yield* widgets.create(widget("V"))
                  yield* EventBus.publish([yield* touched("V")])
                })
              )
            )
            yield* EventBus.awaitIdle
            return exit
          })
        )
        yield* expect(Exit.isFailure(exit), "publish did not fail")
        const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
        yield* expect(
          error !== undefined &&
            error._tag === "Fail" &&
            error.error instanceof EventBus.EventVetoed &&
            error.error.handler === "laws.sync-veto" &&
            error.error.type === WidgetTouched.type,
          "the failure is not an EventVetoed naming the handler and the event type"
        )
        yield* expect((yield* widgets.count()) === 0, "a write survived the veto")
        yield* expect(delivered.length === 0, "an async handler ran for a vetoed event")
      }),

  "async handlers run only after the commit, never on rollback, and get the event as raised": <R>(
    subject: Subject<R>
  ) =>
    Effect.gen(function* () {
      yield* subject.fresh
      const delivered: Array<DomainEvent.EventOf<typeof WidgetTouched>> = []
      const subscriber = EventBus.subscriber(WidgetTouched, { name: "laws.async", mode: "async" }, (event) =>
        Effect.sync(() => {
          delivered.push(event)
        })
      )
      const [committed, rolledBack] = yield* withSubscribers(
        subject,
        subscriber,
        Effect.gen(function* () {
          const committed = yield* UnitOfWork.transaction(
            Effect.gen(function* () {
              const event = yield* touched("C")
              yield* EventBus.publish([event])
              yield* EventBus.awaitIdle
              yield* expect(delivered.length === 0, "an async handler ran before the commit")
              return event
            })
          )
          yield* EventBus.awaitIdle
          const rolledBack = yield* touched("R")
          yield* Effect.exit(
            UnitOfWork.transaction(Effect.andThen(EventBus.publish([rolledBack]), Effect.fail(new Boom())))
          )
          yield* EventBus.awaitIdle
          return [committed, rolledBack] as const
        })
      )
      yield* expect(delivered.length === 1, `async handlers ran ${delivered.length} times, expected once`)
      const got = delivered[0]!
      yield* expect(got.id === committed.id, "the async handler got another event")
      yield* expect(
        !delivered.some((event) => event.id === rolledBack.id),
        "an event of a rolled-back transaction was delivered"
      )
      yield* expect(
        Schema.is(WidgetTouched.schema)(got) &&
          DateTime.Equivalence(got.payload.at, committed.payload.at) &&
          got.payload.note === committed.payload.note &&
          got.aggregateId === committed.aggregateId,
        "the delivered event differs from the raised one"
      )
    }),

  "a failing and a hanging async handler hold up neither the publisher nor another handler": <R>(
    subject: Subject<R>
  ) =>
    Effect.gen(function* () {
      yield* subject.fresh
      const both = yield* Deferred.make<void>()
      const seen: Array<string> = []
      const subscribers = Layer.mergeAll(
        EventBus.subscriber(WidgetTouched, { name: "laws.throws", mode: "async" }, () =>
          Effect.sync(() => {
            throw new Error("handler bug")
          })
        ),
        EventBus.subscriber(WidgetTouched, { name: "laws.fails", mode: "async" }, () =>
          Effect.fail(new Boom())
        ),
        EventBus.subscriber(WidgetTouched, { name: "laws.hangs", mode: "async" }, () => Effect.never),
        EventBus.subscriber(WidgetTouched, { name: "laws.healthy", mode: "async" }, (event) =>
          Effect.suspend(() => {
            seen.push(event.payload.sku)
            return seen.length === 2 ? Deferred.succeed(both, undefined) : Effect.void
          })
        )
      )
      yield* withSubscribers(
        subject,
        subscribers,
        Effect.gen(function* () {
          yield* UnitOfWork.transaction(EventBus.publish([yield* touched("1")]))
          yield* UnitOfWork.transaction(EventBus.publish([yield* touched("2")]))
          yield* Deferred.await(both)
        })
      )
      yield* expect(seen.join(",") === "1,2", `the healthy handler saw [${seen.join(",")}], expected [1,2]`)
    })
}
