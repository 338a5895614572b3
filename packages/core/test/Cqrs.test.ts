import { assert, describe, it } from "@effect/vitest"
import {
  CacheStore,
  Cqrs,
  DomainEvent,
  EventBus,
  InvalidationBus,
  Principal,
  Rbac,
  UnitOfWork
} from "@org/core"
import { Context, Effect, Exit, Layer, Logger, Option, References, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { TestClock } from "effect/testing"

class NameTaken extends Schema.TaggedError<NameTaken>()("NameTaken", { name: Schema.String }) {}

const CreateItem = Cqrs.command("CreateItem", {
  payload: { name: Schema.String.check(Schema.isMinLength(1)) },
  success: Schema.String,
  error: NameTaken
})
const DeleteItem = Cqrs.command("DeleteItem", { payload: { id: Schema.String }, success: Schema.Void })
const CountItems = Cqrs.query("CountItems", { payload: { prefix: Schema.String }, success: Schema.Number })

const ItemCreated = DomainEvent.define("ItemCreated", {
  aggregateType: "Item",
  payload: Schema.Struct({ name: Schema.String })
})

const Bus = EventBus.layerMemory.pipe(Layer.provideMerge(UnitOfWork.layerMemory))
const Services = Layer.mergeAll(
  Bus,
  CacheStore.layerMemory,
  InvalidationBus.layerMemory,
  SecureRandom.layerWebCrypto
)

const principal = (permissions: ReadonlyArray<string>): Principal.Principal => ({
  subject: "user-1",
  roles: [],
  permissions: new Set(permissions),
  tokenId: "t",
  issuedAt: 0,
  expiresAt: 1
})

describe("Cqrs", () => {
  it.effect("middleware run in list order, first = outermost", () =>
    Effect.gen(function* () {
      const trail: Array<string> = []
      const step = (name: string) =>
        Cqrs.middleware(name, (effect) =>
          Effect.sync(() => trail.push(`${name}>`)).pipe(
            Effect.andThen(effect),
            Effect.tap(() => Effect.sync(() => trail.push(`<${name}`)))
          )
        )
      const bus = yield* Cqrs.makeCommandBus({
        handlers: [
          Cqrs.handler(CreateItem, ({ name }) =>
            Effect.sync(() => {
              trail.push("handler")
              return name
            })
          )
        ],
        middleware: [step("a"), step("b"), step("c")]
      })
      const result = yield* bus.dispatch(CreateItem.make({ name: "pen" }))
      assert.strictEqual(result, "pen")
      assert.deepStrictEqual(trail, ["a>", "b>", "c>", "handler", "<c", "<b", "<a"])
    }).pipe(Effect.scoped)
  )

  it.effect("a handler sees the caller's services first, then the ones the bus was built with", () =>
    Effect.gen(function* () {
      const Tenant = Context.Service<string>("test/Tenant")
      const Region = Context.Service<string>("test/Region")
      const bus = yield* Cqrs.makeCommandBus({
        handlers: [
          Cqrs.handler(CreateItem, ({ name }) =>
            Effect.map(Effect.all([Tenant, Region]), ([tenant, region]) => `${name}@${tenant}/${region}`)
          )
        ]
      }).pipe(Effect.provideService(Tenant, "built"), Effect.provideService(Region, "built-region"))
      // The caller lacks both: the bus's own fill in.
      assert.strictEqual(yield* bus.dispatch(CreateItem.make({ name: "a" })), "a@built/built-region")
      // The caller has one: it wins, the other still comes from the bus.
      const caller = yield* bus
        .dispatch(CreateItem.make({ name: "b" }))
        .pipe(Effect.provideService(Tenant, "caller"))
      assert.strictEqual(caller, "b@caller/built-region")
      // Nothing leaks out of a dispatch into the caller.
      assert.isTrue(Option.isNone(yield* Effect.serviceOption(Tenant)))
    }).pipe(Effect.scoped)
  )

  it.effect(
    "validation: a request that fails its schema is a ValidationError; the handler does not run",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const bus = yield* Cqrs.makeCommandBus({
          handlers: [
            Cqrs.handler(CreateItem, ({ name }) =>
              Effect.sync(() => {
                calls++
                return name
              })
            )
          ],
          middleware: [Cqrs.logging, Cqrs.tracing, Cqrs.metrics, Cqrs.validation]
        })
        const error = yield* Effect.flip(bus.dispatch(CreateItem.make({ name: "" })))
        assert.instanceOf(error, Cqrs.ValidationError)
        assert.strictEqual(error._tag === "ValidationError" && error.tag, "CreateItem")
        assert.strictEqual(calls, 0)
        assert.strictEqual(yield* bus.dispatch(CreateItem.make({ name: "ok" })), "ok")
        // A handler's own typed error goes through.
        const taken = yield* Cqrs.makeCommandBus({
          handlers: [Cqrs.handler(CreateItem, ({ name }) => Effect.fail(new NameTaken({ name })))]
        })
        const failure = yield* Effect.flip(taken.dispatch(CreateItem.make({ name: "x" })))
        assert.instanceOf(failure, NameTaken)
      }).pipe(Effect.scoped)
  )

  it.effect(
    "logging: a debug line per success only when debug is on; a warning with the error tag on failure",
    () =>
      Effect.gen(function* () {
        const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
        const capture = Logger.make<unknown, void>(({ logLevel, message, fiber }) => {
          lines.push({
            level: logLevel,
            message: Array.isArray(message) ? message[0] : message,
            annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
          })
        })
        const bus = yield* Cqrs.makeCommandBus({
          handlers: [
            Cqrs.handler(CreateItem, ({ name }) =>
              name === "taken" ? Effect.fail(new NameTaken({ name })) : Effect.succeed(name)
            )
          ],
          middleware: [Cqrs.logging]
        })
        const run = (name: string, level: "Debug" | "Info") =>
          bus
            .dispatch(CreateItem.make({ name }))
            .pipe(
              Effect.exit,
              Effect.provide(Logger.layer([capture])),
              Effect.provideService(References.MinimumLogLevel, level)
            )
        yield* run("ok", "Info")
        assert.lengthOf(lines, 0, "below debug a success logs nothing")
        yield* run("ok", "Debug")
        assert.lengthOf(lines, 1)
        assert.strictEqual(lines[0]!.level, "Debug")
        assert.strictEqual(lines[0]!.message, "Command CreateItem handled")
        assert.include(lines[0]!.annotations, { request: "CreateItem", kind: "Command" })
        assert.isNumber(lines[0]!.annotations.durationMillis)
        for (const level of ["Info", "Debug"] as const) {
          lines.length = 0
          const exit = yield* run("taken", level)
          assert.isTrue(Exit.isFailure(exit))
          assert.lengthOf(lines, 1, level)
          assert.strictEqual(lines[0]!.level, "Warn")
          assert.strictEqual(lines[0]!.message, "Command CreateItem failed")
          assert.include(lines[0]!.annotations, {
            request: "CreateItem",
            kind: "Command",
            error: "NameTaken"
          })
        }
      }).pipe(Effect.scoped)
  )

  it.effect("authorization: Forbidden without the principal or permission, allowed with it", () =>
    Effect.gen(function* () {
      const bus = yield* Cqrs.makeCommandBus({
        handlers: [Cqrs.handler(DeleteItem, () => Effect.void)],
        middleware: [
          Cqrs.authorization((info, principal) =>
            Option.isSome(principal) && principal.value.permissions.has(`items:${info.tag}`)
              ? Effect.void
              : Effect.fail(new Rbac.Forbidden({ permission: `items:${info.tag}` }))
          )
        ]
      })
      const request = DeleteItem.make({ id: "1" })
      const anonymous = yield* Effect.flip(bus.dispatch(request))
      assert.instanceOf(anonymous, Rbac.Forbidden)
      const lacking = yield* Effect.flip(
        Effect.provideService(bus.dispatch(request), Principal.CurrentPrincipal, principal(["items:read"]))
      )
      assert.strictEqual(lacking._tag === "Forbidden" && lacking.permission, "items:DeleteItem")
      yield* Effect.provideService(
        bus.dispatch(request),
        Principal.CurrentPrincipal,
        principal(["items:DeleteItem"])
      )
    }).pipe(Effect.scoped)
  )

  it.effect("dispatching a request the bus has no handler for does not compile", () =>
    Effect.gen(function* () {
      const bus = yield* Cqrs.makeCommandBus({ handlers: [Cqrs.handler(DeleteItem, () => Effect.void)] })
      // @ts-expect-error CreateItem has no handler on this bus
      const exit = yield* Effect.exit(bus.dispatch(CreateItem.make({ name: "pen" })))
      assert.isTrue(Exit.hasDies(exit))
    }).pipe(Effect.scoped)
  )

  it.effect("a command's events reach async handlers only after its transaction commits", () =>
    Effect.gen(function* () {
      const delivered: Array<string> = []
      const bus = yield* Cqrs.makeCommandBus({
        handlers: [
          Cqrs.handler(CreateItem, ({ name }) =>
            Effect.andThen(
              EventBus.emit(ItemCreated, name, { name }),
              name === "fails" ? Effect.fail(new NameTaken({ name })) : Effect.succeed(name)
            )
          )
        ],
        middleware: [Cqrs.transaction]
      })
      const run = Effect.gen(function* () {
        yield* Effect.flip(bus.dispatch(CreateItem.make({ name: "fails" })))
        yield* bus.dispatch(CreateItem.make({ name: "works" }))
        yield* EventBus.awaitIdle
      })
      yield* run.pipe(
        Effect.provide(
          EventBus.subscriber(ItemCreated, { name: "record", mode: "async" }, (event) =>
            Effect.sync(() => delivered.push(event.payload.name))
          )
        )
      )
      assert.deepStrictEqual(delivered, ["works"])
    }).pipe(Effect.scoped, Effect.provide(Services))
  )

  it.effect("query cache: hit, TTL expiry, invalidation by a committed event", () =>
    Effect.gen(function* () {
      let loads = 0
      const queries = yield* Cqrs.makeQueryBus({
        handlers: [
          Cqrs.cached(CountItems, { ttl: "1 minute", invalidatedBy: [ItemCreated] }, ({ prefix }) =>
            Effect.sync(() => ++loads * 10 + prefix.length)
          )
        ]
      })
      const count = (prefix: string) => queries.dispatch(CountItems.make({ prefix }))
      assert.strictEqual(yield* count("ab"), 12)
      assert.strictEqual(yield* count("ab"), 12)
      assert.strictEqual(loads, 1)
      assert.strictEqual(yield* count("abc"), 23)
      yield* TestClock.adjust("61 seconds")
      assert.strictEqual(yield* count("ab"), 32)
      // Rolled back: the cache stays.
      yield* Effect.exit(
        UnitOfWork.transaction(
          Effect.andThen(EventBus.emit(ItemCreated, "i", { name: "x" }), Effect.fail("rollback"))
        )
      )
      assert.strictEqual(yield* count("ab"), 32)
      yield* UnitOfWork.transaction(EventBus.emit(ItemCreated, "i", { name: "x" }))
      assert.strictEqual(yield* count("ab"), 42)
      assert.strictEqual(loads, 4)
    }).pipe(Effect.scoped, Effect.provide(Services))
  )
})
