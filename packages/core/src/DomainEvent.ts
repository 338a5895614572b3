/**
 * Domain events: facts a write made true, defined once as a Schema and
 * carried as an `Envelope` (the event with its payload encoded) through the
 * outbox, the event bus and brokers.
 *
 * An event has a UUIDv7 id (time-ordered, so ids sort by creation), a
 * `type`, the aggregate it belongs to, `occurredAt`, a schema `version`, a
 * payload defined by the event's own schema, and metadata taken from the
 * fiber that raised it (request id, actor, trace context: see
 * `CurrentMetadata`). An event marked `integration` is also published to
 * other services (the outbox relay); the others stay in the process.
 *
 * One definition gives the typed event, its codec and its constructor:
 *
 * - `define(type, options)` → a `Definition`;
 * - `definition.make(aggregateId, payload)` raises the typed event;
 * - `toEnvelope` / `fromEnvelope` cross the wire (payload encoded / decoded);
 * - `Envelope` is the schema of any event whose type is not known statically
 *   (what the outbox stores and dispatchers hand to consumers).
 *
 * @since 0.3.0
 */

import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SecureRandomPool from "./SecureRandomPool.ts"

/**
 * An event id: a lower-case UUIDv7.
 *
 * @since 0.3.0
 * @category schemas
 */
export const EventId = Schema.String.check(Schema.isMaxLength(36), Schema.isUUID(7))

/**
 * The longest each text of an event may be, in characters: the audit log and
 * the API state the same bounds. `define` refuses a longer type or aggregate
 * type, `make` a longer aggregate id (both are programming errors).
 *
 * @since 0.3.0
 * @category models
 */
export const limits = {
  type: 100,
  aggregateType: 100,
  aggregateId: 200,
  actorId: 200,
  requestId: 128,
  traceparent: 55,
  tracestate: 512
} as const

const bounded = (max: number) => Schema.String.check(Schema.isMaxLength(max))

/**
 * What the raising fiber knew: the request, the acting principal and the
 * W3C trace context (`traceparent`, `tracestate`), when there was one.
 *
 * @since 0.3.0
 * @category schemas
 */
export const Metadata = Schema.Struct({
  requestId: Schema.optionalKey(bounded(limits.requestId)),
  actorId: Schema.optionalKey(bounded(limits.actorId)),
  traceparent: Schema.optionalKey(bounded(limits.traceparent)),
  tracestate: Schema.optionalKey(bounded(limits.tracestate))
})

/**
 * @since 0.3.0
 * @category models
 */
export type Metadata = typeof Metadata.Type

/**
 * The metadata events raised in this fiber carry. The HTTP edge sets the
 * request id and the actor; a span in context adds `traceparent`.
 *
 * @since 0.3.0
 * @category references
 */
export const CurrentMetadata = Context.Reference<Metadata>("@org/core/DomainEvent/CurrentMetadata", {
  defaultValue: () => ({})
})

/**
 * Runs `effect` with `metadata` merged into the metadata its events carry.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DomainEvent } from "@org/core"
 *
 * declare const handle: Effect.Effect<void>
 * const traced = DomainEvent.withMetadata(handle, { requestId: "req-1", actorId: "user-7" })
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const withMetadata: {
  (metadata: Metadata): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, metadata: Metadata): Effect.Effect<A, E, R>
} = ((...args: Array<unknown>) => {
  if (args.length === 1) {
    const metadata = args[0] as Metadata
    return <A, E, R>(effect: Effect.Effect<A, E, R>) => withMetadata(effect, metadata)
  }
  const [effect, metadata] = args as [Effect.Effect<unknown, unknown, unknown>, Metadata]
  return Effect.flatMap(CurrentMetadata, (current) =>
    Effect.provideService(effect, CurrentMetadata, { ...current, ...metadata })
  )
}) as never

const envelopeFields = {
  id: EventId,
  type: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(limits.type)),
  aggregateType: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(limits.aggregateType)),
  aggregateId: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(limits.aggregateId)),
  occurredAt: Schema.DateTimeUtcFromString,
  version: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  integration: Schema.Boolean,
  metadata: Metadata
}

/**
 * Any event, its payload still encoded (JSON): what the outbox stores, a
 * dispatcher hands to consumers and a relay publishes. Its encoded form is
 * plain JSON (`occurredAt` an ISO string).
 *
 * @since 0.3.0
 * @category schemas
 */
export const Envelope = Schema.Struct({ ...envelopeFields, payload: Schema.Json })

/**
 * @since 0.3.0
 * @category models
 */
export interface Envelope extends Schema.Schema.Type<typeof Envelope> {}

/**
 * A typed event: an `Envelope` whose `type` is known and whose payload is
 * decoded.
 *
 * @since 0.3.0
 * @category models
 */
export interface DomainEvent<Type extends string = string, Payload = unknown> {
  readonly id: string
  readonly type: Type
  readonly aggregateType: string
  readonly aggregateId: string
  readonly occurredAt: DateTime.Utc
  readonly version: number
  readonly integration: boolean
  readonly payload: Payload
  readonly metadata: Metadata
}

/**
 * The JSON form of a typed event.
 *
 * @since 0.3.0
 * @category models
 */
export type Encoded<Type extends string = string, Payload = Schema.Json> = Omit<
  typeof Envelope.Encoded,
  "type" | "payload"
> & { readonly type: Type; readonly payload: Payload }

/**
 * An event whose payload does not decode with its definition's schema, or
 * whose type or version is not the definition's.
 *
 * @since 0.3.0
 * @category errors
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  eventId: Schema.String,
  type: Schema.String,
  message: Schema.String
}) {}

/**
 * One event type: its name, its aggregate, its payload schema and version,
 * and whether it leaves the process. Build with `define`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Definition<
  Type extends string,
  Payload extends Schema.Codec<unknown, unknown, never, never>
> {
  readonly type: Type
  readonly aggregateType: string
  readonly version: number
  readonly integration: boolean
  readonly payload: Payload
  /** The whole typed event as a codec whose encoded form is JSON. */
  readonly schema: Schema.Codec<DomainEvent<Type, Payload["Type"]>, Encoded<Type, Payload["Encoded"]>>
  /** Raises the event now: a fresh id, the clock's time, the fiber's metadata. */
  readonly make: (
    aggregateId: string,
    payload: Payload["Type"]
  ) => Effect.Effect<DomainEvent<Type, Payload["Type"]>>
  /** Is this envelope (or event) of this type? */
  readonly is: (event: { readonly type: string }) => boolean
  /** Encodes the payload: the form to store and send. */
  readonly toEnvelope: (event: DomainEvent<Type, Payload["Type"]>) => Effect.Effect<Envelope>
  /** Decodes an envelope of this type. */
  readonly fromEnvelope: (
    envelope: Envelope
  ) => Effect.Effect<DomainEvent<Type, Payload["Type"]>, EventDecodeError>
}

/**
 * Any definition, for registries and lists of event types.
 *
 * @since 0.3.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: a definition's methods take its own payload type, so no single payload type accepts every definition
export type AnyDefinition = Definition<any, any>

/**
 * The typed event of a definition.
 *
 * @since 0.3.0
 * @category models
 */
export type EventOf<D> =
  D extends Definition<infer Type, infer Payload> ? DomainEvent<Type, Payload["Type"]> : never

const ids = SecureRandomPool.make()

/**
 * A fresh event id (UUIDv7 from the `Clock`).
 *
 * @since 0.3.0
 * @category constructors
 */
export const nextId: Effect.Effect<string> = ids.uuidV7()

const traceparentOf = (span: {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}) => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

const currentMetadata: Effect.Effect<Metadata> = Effect.flatMap(CurrentMetadata, (metadata) =>
  metadata.traceparent !== undefined
    ? Effect.succeed(metadata)
    : Effect.map(Effect.option(Effect.currentSpan), (span) =>
        Option.isSome(span) &&
        /^[0-9a-f]{32}$/.test(span.value.traceId) &&
        /^[0-9a-f]{16}$/.test(span.value.spanId)
          ? { ...metadata, traceparent: traceparentOf(span.value) }
          : metadata
      )
)

/**
 * Defines an event type.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DomainEvent } from "@org/core"
 *
 * const OrderPlaced = DomainEvent.define("OrderPlaced", {
 *   aggregateType: "Order",
 *   payload: Schema.Struct({ total: Schema.Number }),
 *   integration: true
 * })
 *
 * const raise = OrderPlaced.make("order-1", { total: 12.5 })
 * const roundTrip = Effect.flatMap(raise, (event) =>
 *   Effect.flatMap(OrderPlaced.toEnvelope(event), OrderPlaced.fromEnvelope)
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const define = <
  const Type extends string,
  Payload extends Schema.Codec<unknown, unknown, never, never>
>(
  type: Type,
  options: {
    readonly aggregateType: string
    readonly payload: Payload
    /** Schema version of the payload; 1 unless given. */
    readonly version?: number | undefined
    /** Published to other services by the outbox relay; false unless given. */
    readonly integration?: boolean | undefined
  }
): Definition<Type, Payload> => {
  const version = options.version ?? 1
  const integration = options.integration ?? false
  // Definitions are module constants: a bad one is a bug found at start-up.
  if (type.length === 0 || type.length > limits.type) {
    throw new Error(
      `DomainEvent.define: the type must be 1 to ${limits.type} characters: ${type.slice(0, 120)}`
    )
  }
  if (options.aggregateType.length === 0 || options.aggregateType.length > limits.aggregateType) {
    throw new Error(
      `DomainEvent.define(${type}): the aggregate type must be 1 to ${limits.aggregateType} characters`
    )
  }
  const checkMetadata = Schema.is(Metadata)
  const schema = Schema.Struct({ ...envelopeFields, type: Schema.Literal(type), payload: options.payload })
  const encodePayload = Schema.encodeEffect(options.payload)
  const decodePayload = Schema.decodeUnknownEffect(options.payload)
  const decodeError = (envelope: Envelope, message: string) =>
    new EventDecodeError({ eventId: envelope.id, type: envelope.type, message })
  return {
    type,
    aggregateType: options.aggregateType,
    version,
    integration,
    payload: options.payload,
    schema: schema as never,
    is: (event) => event.type === type,
    make: (aggregateId, payload) =>
      aggregateId.length === 0 || aggregateId.length > limits.aggregateId
        ? Effect.die(new Error(`${type}: an aggregate id must be 1 to ${limits.aggregateId} characters`))
        : Effect.all({ id: nextId, occurredAt: DateTime.now, metadata: currentMetadata }).pipe(
            Effect.tap(({ metadata }) =>
              checkMetadata(metadata)
                ? Effect.void
                : Effect.die(new Error(`${type}: the metadata exceeds DomainEvent.limits`))
            ),
            Effect.map(({ id, metadata, occurredAt }) => ({
              id,
              type,
              aggregateType: options.aggregateType,
              aggregateId,
              occurredAt,
              version,
              integration,
              payload,
              metadata
            }))
          ),
    toEnvelope: (event) =>
      encodePayload(event.payload).pipe(
        // The payload was built as `Payload["Type"]`: failing to encode it is a bug, not input.
        Effect.orDie,
        Effect.map((payload): Envelope => ({ ...event, payload: payload as Schema.Json }))
      ),
    fromEnvelope: (envelope) =>
      envelope.type !== type
        ? Effect.fail(decodeError(envelope, `expected an event of type ${type}`))
        : envelope.version !== version
          ? Effect.fail(decodeError(envelope, `expected version ${version}, got ${envelope.version}`))
          : decodePayload(envelope.payload).pipe(
              Effect.mapError((error) => decodeError(envelope, error.message)),
              Effect.map((payload) => ({ ...envelope, type, payload }))
            )
  }
}
