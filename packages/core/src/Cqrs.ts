/**
 * Commands and queries: requests defined once as Schemas, dispatched through
 * a bus built from a typed list of handlers and an explicit middleware
 * pipeline.
 *
 * Why `command(tag, { payload, success, error })` rather than a Schema class:
 * Effect 4's Schema has no `TaggedRequest`, and the request, its codec, its
 * result and error codecs and its constructor are one table here (as with
 * `DomainEvent.define`): the request is a plain tagged struct (cheap to
 * build, JSON-friendly to encode for cache keys), the definition carries the
 * success and error schemas the bus types its result with.
 *
 * Why a bus built from a handler list rather than one global registry:
 * `dispatch` accepts only the requests of the handlers the bus was built
 * with, so dispatching a command nobody handles does not compile (no
 * `NoHandler` error at run time). Put the bus in a service of your own
 * (`Context.Service<Commands, Cqrs.CommandBus<typeof handlers>>`).
 *
 * Middleware run in list order, first = outermost. Built-ins: `logging`
 * (with the request id of `DomainEvent.CurrentMetadata`), `tracing` (a span
 * `CommandBus.dispatch <tag>`), `metrics`, `validation` (re-decodes the
 * request with its schema: `ValidationError`), `transaction`
 * (`UnitOfWork.transaction`, for commands: events a handler publishes are
 * appended to the outbox in it, or held until it commits) and
 * `authorization` (a check of the request and the `CurrentPrincipal`:
 * `Rbac.Forbidden`).
 *
 * A query handler may cache its results (`cached`): in a `TieredCache` per
 * query, keyed by the query's encoded form as stable JSON, with a TTL, and
 * invalidated by the event types it names. The invalidation is a sync
 * subscription that registers `UnitOfWork.afterCommit`: it runs on the
 * instance that committed, right after the commit (invalidating before the
 * commit would let a concurrent read cache the old state again), and the
 * tiered cache clears L2 and tells every other instance to drop its L1, so
 * no other instance needs the event. An async (outbox) subscription would
 * survive a crash between commit and invalidation but leave a stale window of
 * the dispatcher's latency on every write; the TTL bounds the crash case.
 *
 * @since 0.3.0
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { CacheStore } from "./CacheStore.ts"
import * as DomainEvent from "./DomainEvent.ts"
import * as EventBus from "./EventBus.ts"
import type { InvalidationBus } from "./InvalidationBus.ts"
import { CurrentPrincipal, type Principal } from "./Principal.ts"
import type { Forbidden } from "./Rbac.ts"
import * as TieredCache from "./TieredCache.ts"
import * as UnitOfWork from "./UnitOfWork.ts"

/**
 * `Command`: changes state. `Query`: reads it.
 *
 * @since 0.3.0
 * @category models
 */
export type Kind = "Command" | "Query"

/**
 * A command or query type: its tag, payload fields, and the schemas of its
 * result and its error.
 *
 * @since 0.3.0
 * @category models
 */
export interface Definition<
  K extends Kind,
  Tag extends string,
  Fields extends Schema.Struct.Fields,
  Success extends Schema.Codec<unknown, unknown, never, never>,
  Error extends Schema.Codec<unknown, unknown, never, never>
> {
  readonly kind: K
  readonly tag: Tag
  /** The request (`{ _tag, ...payload }`) as a codec. */
  readonly schema: Schema.TaggedStruct<Tag, Fields>
  readonly success: Success
  readonly error: Error
  /** Builds a request (unchecked: the `validation` middleware checks it). */
  readonly make: (payload: Schema.Struct<Fields>["Type"]) => Schema.TaggedStruct<Tag, Fields>["Type"]
}

/**
 * Any definition.
 *
 * @since 0.3.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: a definition's `make` takes its own payload type, so no single payload type accepts every definition
export type Any = Definition<Kind, any, any, any, any>

/**
 * The request value of a definition.
 *
 * @since 0.3.0
 * @category models
 */
export type RequestOf<D> =
  D extends Definition<infer _K, infer Tag, infer Fields, infer _S, infer _E>
    ? Schema.TaggedStruct<Tag, Fields>["Type"]
    : never

/**
 * The result of a definition.
 *
 * @since 0.3.0
 * @category models
 */
export type SuccessOf<D> =
  D extends Definition<infer _K, infer _T, infer _F, infer S, infer _E> ? S["Type"] : never

/**
 * The error of a definition.
 *
 * @since 0.3.0
 * @category models
 */
export type ErrorOf<D> =
  D extends Definition<infer _K, infer _T, infer _F, infer _S, infer E> ? E["Type"] : never

const define =
  <K extends Kind>(kind: K) =>
  <
    const Tag extends string,
    const Fields extends Schema.Struct.Fields,
    Success extends Schema.Codec<unknown, unknown, never, never>,
    Error extends Schema.Codec<unknown, unknown, never, never> = Schema.Never
  >(
    tag: Tag,
    options: { readonly payload: Fields; readonly success: Success; readonly error?: Error | undefined }
  ): Definition<K, Tag, Fields, Success, Error> => ({
    kind,
    tag,
    schema: Schema.TaggedStruct(tag, options.payload),
    success: options.success,
    error: (options.error ?? Schema.Never) as Error,
    make: (payload) => ({ ...payload, _tag: tag }) as Schema.TaggedStruct<Tag, Fields>["Type"]
  })

/**
 * Defines a command type.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Cqrs } from "@org/core"
 *
 * class NameTaken extends Schema.TaggedError<NameTaken>()("NameTaken", { name: Schema.String }) {}
 *
 * const CreateItem = Cqrs.command("CreateItem", {
 *   payload: { name: Schema.String.check(Schema.isMinLength(1)) },
 *   success: Schema.String,
 *   error: NameTaken
 * })
 * const request = CreateItem.make({ name: "pen" }) // { _tag: "CreateItem", name: "pen" }
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const command = define("Command")

/**
 * Defines a query type.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Cqrs } from "@org/core"
 *
 * const GetItem = Cqrs.query("GetItem", {
 *   payload: { id: Schema.String },
 *   success: Schema.Option(Schema.Struct({ id: Schema.String, name: Schema.String }))
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const query = define("Query")

/**
 * The request failed its schema (`validation` middleware).
 *
 * @since 0.3.0
 * @category errors
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  tag: Schema.String,
  message: Schema.String
}) {}

/**
 * Caching of a query's results.
 *
 * @since 0.3.0
 * @category models
 */
export interface CacheOptions {
  readonly ttl: Duration.Input
  /** Event types whose commit drops every cached result of the query. */
  readonly invalidatedBy?: ReadonlyArray<EventBus.AnyDefinition> | undefined
}

/**
 * The handler of one request type. `R` is what it needs when the bus is built.
 *
 * @since 0.3.0
 * @category models
 */
export interface Handler<D extends Any, R> {
  readonly definition: D
  readonly handle: (
    request: RequestOf<D>
  ) => Effect.Effect<SuccessOf<D>, ErrorOf<D> | EventBus.EventVetoed, R>
  readonly cache?: CacheOptions | undefined
  /** Phantom: the handler's requirements. */
  readonly "~requirements"?: R
}

/**
 * Any handler.
 *
 * @since 0.3.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: a handler's `handle` takes its own request type (see `Any`)
export type AnyHandler = Handler<any, any>

/**
 * Handles requests of `definition`. Besides the definition's error, a
 * handler may fail with `EventBus.EventVetoed` (a sync event handler refused
 * the events it published).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Cqrs } from "@org/core"
 *
 * const Ping = Cqrs.query("Ping", { payload: {}, success: Schema.String })
 * const ping = Cqrs.handler(Ping, () => Effect.succeed("pong"))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const handler = <D extends Any, R = never>(
  definition: D,
  handle: (request: RequestOf<D>) => Effect.Effect<SuccessOf<D>, ErrorOf<D> | EventBus.EventVetoed, R>
): Handler<D, R> => ({ definition, handle })

/**
 * Handles a query and caches its results (see the module doc). The bus then
 * needs a `CacheStore`, an `InvalidationBus`, the `EventBus` and a
 * `UnitOfWork`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Cqrs, DomainEvent } from "@org/core"
 *
 * const ItemRenamed = DomainEvent.define("ItemRenamed", {
 *   aggregateType: "Item",
 *   payload: Schema.Struct({ name: Schema.String })
 * })
 * const CountItems = Cqrs.query("CountItems", { payload: {}, success: Schema.Number })
 * const countItems = Cqrs.cached(CountItems, { ttl: "1 minute", invalidatedBy: [ItemRenamed] }, () =>
 *   Effect.succeed(42)
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
// biome-ignore lint/suspicious/noExplicitAny: a definition's `make` takes its own payload, so only `any` accepts every query
export const cached = <D extends Definition<"Query", any, any, any, any>, R = never>(
  definition: D,
  options: CacheOptions,
  handle: (request: RequestOf<D>) => Effect.Effect<SuccessOf<D>, ErrorOf<D>, R>
): Handler<D, R | CacheStore | InvalidationBus | EventBus.EventBus | UnitOfWork.UnitOfWork> => ({
  definition,
  handle,
  cache: options
})

/**
 * What a middleware knows of the request it wraps.
 *
 * @since 0.3.0
 * @category models
 */
export interface Info {
  readonly kind: Kind
  readonly tag: string
  readonly request: { readonly _tag: string }
  readonly definition: Any
}

/**
 * One step of the pipeline: wraps the rest of it. `E` is what it adds to
 * the errors, `R` what it needs when the bus is built.
 *
 * @since 0.3.0
 * @category models
 */
export interface Middleware<E = never, R = never> {
  readonly name: string
  readonly wrap: <A, E1, R1>(effect: Effect.Effect<A, E1, R1>, info: Info) => Effect.Effect<A, E1 | E, R1 | R>
  /** Phantom: the middleware's errors and requirements. */
  readonly "~types"?: { readonly error: E; readonly requirements: R }
}

/**
 * Makes a middleware.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cqrs } from "@org/core"
 *
 * const audit = Cqrs.middleware("audit", (effect, info) =>
 *   Effect.tap(effect, () => Effect.logInfo(`${info.kind} ${info.tag} done`))
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const middleware = <E = never, R = never>(
  name: string,
  wrap: <A, E1, R1>(effect: Effect.Effect<A, E1, R1>, info: Info) => Effect.Effect<A, E1 | E, R1 | R>
): Middleware<E, R> => ({ name, wrap })

const requestId = Effect.map(DomainEvent.CurrentMetadata, (metadata) => metadata.requestId ?? "")

/**
 * Logs each request with its request id: debug on success, warning on
 * failure (with the error's tag), both with the duration.
 *
 * @since 0.3.0
 * @category middleware
 */
export const logging: Middleware = middleware("logging", (effect, info) =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const start = clock.currentTimeMillisUnsafe()
    const annotations = (id: string) => ({ requestId: id, request: info.tag, kind: info.kind })
    const done = (exit: Exit.Exit<unknown, unknown>) =>
      Effect.flatMap(requestId, (id) =>
        (Exit.isSuccess(exit)
          ? Effect.logDebug(`${info.kind} ${info.tag} handled`)
          : Effect.logWarning(`${info.kind} ${info.tag} failed`).pipe(
              Effect.annotateLogs("error", failureTag(exit.cause))
            )
        ).pipe(
          Effect.annotateLogs({ ...annotations(id), durationMillis: clock.currentTimeMillisUnsafe() - start })
        )
      )
    // Below debug (the usual production level) a success logs nothing, so the
    // request pays for the line only when it fails.
    return LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), "Debug")
      ? Effect.onError(effect, (cause) => done(Exit.failCause(cause)))
      : Effect.onExit(effect, done)
  })
)

const failureTag = (cause: Cause.Cause<unknown>): string => {
  const reason = cause.reasons[0]
  if (reason === undefined) return "unknown"
  if (reason._tag === "Fail") {
    const error = reason.error
    return typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "failure"
  }
  return reason._tag === "Die" ? "defect" : "interrupted"
}

/**
 * A span per request: `CommandBus.dispatch <tag>` / `QueryBus.dispatch <tag>`.
 *
 * @since 0.3.0
 * @category middleware
 */
export const tracing: Middleware = middleware("tracing", (effect, info) =>
  Effect.flatMap(requestId, (id) =>
    Effect.withSpan(effect, `${info.kind}Bus.dispatch ${info.tag}`, {
      attributes: { "cqrs.kind": info.kind, "cqrs.request": info.tag, "request.id": id },
      // It would point at the bus, not the caller: not worth an Error per request.
      captureStackTrace: false
    })
  )
)

/**
 * Counts requests (`cqrs_requests_total`, by kind, request and outcome) and
 * times them (`cqrs_request_duration`, by kind and request).
 *
 * @since 0.3.0
 * @category middleware
 */
export const metrics: Middleware = middleware("metrics", (effect, info) => {
  const series = seriesOf(info.kind, info.tag)
  return Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.onExit(effect, (exit) =>
      Effect.flatMap(Clock.currentTimeMillis, (end) =>
        Effect.andThen(
          Metric.update(series.requests(Exit.isSuccess(exit) ? "success" : failureTag(exit.cause)), 1),
          Metric.update(series.duration, Duration.millis(end - start))
        )
      )
    )
  )
})

const requests = Metric.counter("cqrs_requests_total", { description: "Commands and queries dispatched" })
const duration = Metric.timer("cqrs_request_duration", { description: "Time to handle a command or query" })

interface Series {
  readonly duration: typeof duration
  readonly requests: (outcome: string) => typeof requests
}

// The metrics of one request type, with their attributes, made once: a metric
// with attributes builds its key from them, which is not worth doing per request.
const series = new Map<string, Series>()
const seriesOf = (kind: Kind, tag: string): Series => {
  const key = `${kind} ${tag}`
  let found = series.get(key)
  if (found === undefined) {
    const attributes = { kind, request: tag }
    const byOutcome = new Map<string, typeof requests>()
    found = {
      duration: Metric.withAttributes(duration, attributes),
      requests: (outcome) => {
        let counter = byOutcome.get(outcome)
        if (counter === undefined) {
          counter = Metric.withAttributes(requests, { ...attributes, outcome })
          byOutcome.set(outcome, counter)
        }
        return counter
      }
    }
    series.set(key, found)
  }
  return found
}

/**
 * Re-decodes the request with its schema (its checks included); a request
 * that does not conform fails with `ValidationError` before the handler runs.
 *
 * @since 0.3.0
 * @category middleware
 */
export const validation: Middleware<ValidationError> = middleware<ValidationError>(
  "validation",
  (effect, info) =>
    Effect.andThen(
      Schema.decodeUnknownEffect(Schema.toType(info.definition.schema))(info.request).pipe(
        Effect.mapError((error) => new ValidationError({ tag: info.tag, message: error.message }))
      ),
      effect
    )
)

/**
 * Runs the rest of the pipeline in a `UnitOfWork` transaction: a failure
 * rolls back the handler's writes and drops the events it published.
 *
 * @since 0.3.0
 * @category middleware
 */
export const transaction: Middleware<never, UnitOfWork.UnitOfWork> = middleware<never, UnitOfWork.UnitOfWork>(
  "transaction",
  (effect) => UnitOfWork.transaction(effect)
)

/**
 * Asks `check` whether the current principal (none outside a request) may
 * send the request; `check` fails with `Rbac.Forbidden` to refuse.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Cqrs, Rbac } from "@org/core"
 *
 * const mustHold = (permission: string) =>
 *   Cqrs.authorization((_info, principal) =>
 *     Option.isSome(principal) && principal.value.permissions.has(permission)
 *       ? Effect.void
 *       : Effect.fail(new Rbac.Forbidden({ permission }))
 *   )
 * ```
 *
 * @since 0.3.0
 * @category middleware
 */
export const authorization = <R = never>(
  check: (info: Info, principal: Option.Option<Principal>) => Effect.Effect<void, Forbidden, R>
): Middleware<Forbidden, R> =>
  middleware<Forbidden, R>("authorization", (effect, info) =>
    Effect.andThen(
      Effect.flatMap(Effect.serviceOption(CurrentPrincipal), (principal) => check(info, principal)),
      effect
    )
  )

/**
 * A bus over the handlers `H`, whose middleware add the errors `E`.
 * `dispatch` accepts only the requests of `H`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Bus<H extends AnyHandler, E> {
  readonly dispatch: <Q extends RequestOf<H["definition"]>>(
    request: Q
  ) => Effect.Effect<
    SuccessOf<Extract<H["definition"], { readonly tag: Q["_tag"] }>>,
    ErrorOf<Extract<H["definition"], { readonly tag: Q["_tag"] }>> | E | EventBus.EventVetoed
  >
}

/**
 * A command bus over the handlers of `Handlers` (a tuple or array type).
 *
 * @since 0.3.0
 * @category models
 */
export type CommandBus<Handlers extends ReadonlyArray<AnyHandler>, E = never> = Bus<Handlers[number], E>

/**
 * A query bus over the handlers of `Handlers`.
 *
 * @since 0.3.0
 * @category models
 */
export type QueryBus<Handlers extends ReadonlyArray<AnyHandler>, E = never> = Bus<Handlers[number], E>

type RequirementsOf<H> = H extends Handler<infer _D, infer R> ? R : never
type MiddlewareError<M> = M extends Middleware<infer E, infer _R> ? E : never
type MiddlewareRequirements<M> = M extends Middleware<infer _E, infer R> ? R : never

/** Stable JSON: object keys sorted, so equal requests give equal keys. */
const stableJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>
    return `{${Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`)
      .join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

interface Entry {
  readonly definition: Any
  // biome-ignore lint/suspicious/noExplicitAny: typed `dispatch` routes by `_tag`, so this gets requests of `definition` only
  readonly handle: (request: any) => Effect.Effect<unknown, unknown, unknown>
}

const cachingOf = Effect.fnUntraced(function* (entry: Entry & { readonly cache?: CacheOptions | undefined }) {
  const options = entry.cache
  if (options === undefined) return entry.handle
  const definition: Any = entry.definition
  const cache = yield* TieredCache.make({
    name: `query:${definition.tag}`,
    schema: definition.success,
    ttl: options.ttl
  })
  const all = "query"
  const bus = yield* EventBus.EventBus
  for (const event of options.invalidatedBy ?? []) {
    yield* bus.subscribe(event, () => UnitOfWork.afterCommit(cache.invalidateTag(all)), {
      name: `QueryCache ${definition.tag} <- ${event.type}`,
      mode: "sync"
    })
  }
  const encode = Schema.encodeUnknownEffect(Schema.toCodecJson(definition.schema))
  return (request: unknown) =>
    Effect.flatMap(Effect.orDie(encode(request)), (encoded) =>
      cache.getOrLoad(stableJson(encoded), () => entry.handle(request), { tags: [all] })
    )
})

// What `Context.getOrElse` answers for a service the caller lacks.
const missing: unique symbol = Symbol("missing")
const absent = (): typeof missing => missing

const make =
  <K extends Kind>(kind: K) =>
  <
    // biome-ignore lint/suspicious/noExplicitAny: see `Any`; the handlers' own types are what `const` infers
    const Handlers extends ReadonlyArray<Handler<Definition<K, any, any, any, any>, unknown>>,
    const Middlewares extends ReadonlyArray<Middleware<unknown, unknown>> = readonly []
  >(options: {
    readonly handlers: Handlers
    /** First = outermost. */
    readonly middleware?: Middlewares | undefined
  }): Effect.Effect<
    Bus<Handlers[number], MiddlewareError<Middlewares[number]>>,
    never,
    RequirementsOf<Handlers[number]> | MiddlewareRequirements<Middlewares[number]> | Scope.Scope
  > =>
    Effect.gen(function* () {
      const table = new Map<string, Entry>()
      for (const entry of options.handlers) {
        const definition: Any = entry.definition
        if (table.has(definition.tag)) {
          return yield* Effect.die(new Error(`${kind}Bus: two handlers for ${definition.tag}`))
        }
        table.set(definition.tag, { definition, handle: yield* cachingOf(entry) })
      }
      const pipeline = options.middleware ?? []
      // The services the bus was built with, for a caller that lacks them;
      // the caller's own (its transaction, principal, metadata) win. Added
      // one by one, as few as are missing: a merge of the two contexts
      // copied both maps on every dispatch.
      const built = yield* Effect.context<never>()
      const own = Array.from(
        built.mapUnsafe,
        ([key, service]) => [Context.Service<unknown>(key), service] as const
      )
      const withOwn = (caller: Context.Context<never>): Context.Context<never> => {
        let context = caller
        for (const [key, service] of own) {
          if (Context.getOrElse(caller, key, absent) === missing) context = Context.add(context, key, service)
        }
        return context
      }
      const dispatch = (request: { readonly _tag: string }): Effect.Effect<unknown, unknown> =>
        Effect.suspend(() => {
          const entry = table.get(request._tag)
          if (entry === undefined) return Effect.die(new Error(`${kind}Bus: no handler for ${request._tag}`))
          const info: Info = { kind, tag: request._tag, request, definition: entry.definition }
          const run = pipeline.reduceRight<Effect.Effect<unknown, unknown, unknown>>(
            (next, step) => step.wrap(next, info),
            Effect.suspend(() => entry.handle(request))
          )
          return Effect.updateContext(run as Effect.Effect<unknown, unknown, never>, withOwn)
        })
      // The types of `dispatch` come from the handler list; at run time every
      // request of the list has its entry (checked above).
      return { dispatch } as Bus<Handlers[number], MiddlewareError<Middlewares[number]>>
    }) as Effect.Effect<
      Bus<Handlers[number], MiddlewareError<Middlewares[number]>>,
      never,
      // The cache services are needed exactly when a handler is `cached`, which adds them to its R.
      RequirementsOf<Handlers[number]> | MiddlewareRequirements<Middlewares[number]> | Scope.Scope
    >

/**
 * Builds a command bus from its handlers and middleware.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { Cqrs, UnitOfWork } from "@org/core"
 *
 * const CreateItem = Cqrs.command("CreateItem", { payload: { name: Schema.String }, success: Schema.String })
 * const handlers = [Cqrs.handler(CreateItem, ({ name }) => Effect.succeed(`item ${name}`))] as const
 *
 * class Commands extends Context.Service<Commands, Cqrs.CommandBus<typeof handlers, Cqrs.ValidationError>>()(
 *   "app/Commands"
 * ) {
 *   static readonly layer = Layer.effect(
 *     Commands,
 *     Cqrs.makeCommandBus({ handlers, middleware: [Cqrs.logging, Cqrs.validation, Cqrs.transaction] })
 *   ).pipe(Layer.provide(UnitOfWork.layerMemory))
 * }
 *
 * const program = Effect.flatMap(Commands, (bus) => bus.dispatch(CreateItem.make({ name: "pen" })))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeCommandBus = make("Command")

/**
 * Builds a query bus from its handlers and middleware.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Cqrs } from "@org/core"
 *
 * const Ping = Cqrs.query("Ping", { payload: {}, success: Schema.String })
 * const program = Effect.gen(function* () {
 *   const queries = yield* Cqrs.makeQueryBus({ handlers: [Cqrs.handler(Ping, () => Effect.succeed("pong"))] })
 *   return yield* queries.dispatch(Ping.make({}))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeQueryBus = make("Query")
