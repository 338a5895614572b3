/**
 * Setting up JetStream: streams (with the duplicate window that makes
 * publishing by event id idempotent) and durable pull consumers with
 * explicit acks. Both are idempotent: create when absent, update to the
 * given configuration when present, so every instance of a service can run
 * them at start.
 *
 * @since 0.3.0
 */
import {
  AckPolicy,
  type ConsumerInfo,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  type StreamInfo
} from "@nats-io/jetstream"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { messageOf, NatsConnection, NatsError } from "./NatsConnection.ts"

const nanos = (duration: Duration.Input): number => Duration.toMillis(duration) * 1_000_000

const call = <A>(run: () => Promise<A>): Effect.Effect<A, unknown> =>
  Effect.tryPromise({ try: run, catch: (cause) => cause })

const attempt = <A, R>(
  operation: string,
  effect: Effect.Effect<A, unknown, R>
): Effect.Effect<A, NatsError, R> =>
  Effect.mapError(effect, (cause) => new NatsError({ operation, message: messageOf(cause) }))

// Runs `present` when `lookup` finds the resource, `absent` when the server says it does not exist.
const upsert = <A>(lookup: () => Promise<unknown>, present: () => Promise<A>, absent: () => Promise<A>) =>
  Effect.matchEffect(call(lookup), {
    onFailure: (cause) => (isNotFound(cause) ? call(absent) : Effect.fail(cause)),
    onSuccess: () => call(present)
  })

/**
 * The JetStream manager of the connection in context (waits for the first
 * connection).
 *
 * @since 0.3.0
 * @category constructors
 */
export const manager: Effect.Effect<JetStreamManager, NatsError, NatsConnection> = Effect.flatMap(
  NatsConnection,
  (connection) =>
    Effect.flatMap(connection.client, (client) =>
      attempt(
        "jetstreamManager",
        call(() => jetstreamManager(client))
      )
    )
)

const isNotFound = (cause: unknown) => cause instanceof JetStreamApiError && cause.status === 404

// The server removes an account's streams directory when its last stream is
// deleted; a stream created at that moment from another connection fails with
// 10049 "error creating store for stream" (seen on nats-server 2.9: about one
// create in 500 while other clients create and delete streams), and the next
// try succeeds. Other 10049s fail again, a moment later.
const isStoreRace = (cause: unknown) => cause instanceof JetStreamApiError && cause.code === 10049

/**
 * Options of `ensureStream`.
 *
 * @since 0.3.0
 * @category models
 */
export interface StreamOptions {
  readonly name: string
  /** Subjects the stream stores, e.g. `["events.>"]`. */
  readonly subjects: ReadonlyArray<string>
  /**
   * How long the stream remembers message ids to drop duplicates; two
   * minutes unless given (JetStream's default). Longer than the time an
   * event may spend being retried by the relay.
   */
  readonly duplicateWindow?: Duration.Input | undefined
  /** How long messages are kept; for ever unless given. */
  readonly maxAge?: Duration.Input | undefined
  /** Replicas in a cluster; 1 unless given. */
  readonly replicas?: number | undefined
}

/**
 * Creates the stream, or updates it to these options.
 *
 * @example
 * ```ts
 * import { JetStreamAdmin } from "@org/nats"
 *
 * const setup = JetStreamAdmin.ensureStream({ name: "EVENTS", subjects: ["events.>"], duplicateWindow: "10 minutes" })
 * ```
 *
 * @since 0.3.0
 * @category streams
 */
export const ensureStream = Effect.fn("JetStreamAdmin.ensureStream")(function* (options: StreamOptions) {
  const jsm = yield* manager
  const config = {
    subjects: [...options.subjects],
    duplicate_window: nanos(options.duplicateWindow ?? Duration.minutes(2)),
    max_age: options.maxAge === undefined ? 0 : nanos(options.maxAge),
    num_replicas: options.replicas ?? 1
  }
  return yield* attempt(
    "ensureStream",
    upsert<StreamInfo>(
      () => jsm.streams.info(options.name),
      () => jsm.streams.update(options.name, config),
      () => jsm.streams.add({ name: options.name, ...config })
    ).pipe(Effect.retry({ while: isStoreRace, schedule: Schedule.exponential("20 millis"), times: 4 }))
  )
})

/**
 * Deletes a stream and its messages; false when there was none.
 *
 * @since 0.3.0
 * @category streams
 */
export const deleteStream = Effect.fn("JetStreamAdmin.deleteStream")(function* (name: string) {
  const jsm = yield* manager
  return yield* attempt(
    "deleteStream",
    call(() => jsm.streams.delete(name)).pipe(Effect.catchIf(isNotFound, () => Effect.succeed(false)))
  )
})

/**
 * Options of `ensureConsumer`.
 *
 * @since 0.3.0
 * @category models
 */
export interface ConsumerOptions {
  readonly stream: string
  /** The durable consumer's name: instances sharing it share the work. */
  readonly durable: string
  /** Only messages on this subject (wildcards allowed); all of the stream's unless given. */
  readonly filterSubject?: string | undefined
  /** Deliveries of one message before it is given up; 5 unless given. */
  readonly maxDeliver?: number | undefined
  /** Time a delivered message waits for its ack before it is redelivered; 30 seconds unless given. */
  readonly ackWait?: Duration.Input | undefined
}

/**
 * Creates the durable pull consumer (explicit acks), or updates it to these
 * options.
 *
 * @example
 * ```ts
 * import { JetStreamAdmin } from "@org/nats"
 *
 * const setup = JetStreamAdmin.ensureConsumer({ stream: "EVENTS", durable: "billing", filterSubject: "events.Order.>" })
 * ```
 *
 * @since 0.3.0
 * @category consumers
 */
export const ensureConsumer = Effect.fn("JetStreamAdmin.ensureConsumer")(function* (
  options: ConsumerOptions
) {
  const jsm = yield* manager
  const config = {
    ack_policy: AckPolicy.Explicit,
    max_deliver: options.maxDeliver ?? 5,
    ack_wait: nanos(options.ackWait ?? Duration.seconds(30)),
    ...(options.filterSubject === undefined ? {} : { filter_subject: options.filterSubject })
  }
  return yield* attempt(
    "ensureConsumer",
    upsert<ConsumerInfo>(
      () => jsm.consumers.info(options.stream, options.durable),
      () => jsm.consumers.update(options.stream, options.durable, config),
      () => jsm.consumers.add(options.stream, { durable_name: options.durable, ...config })
    )
  )
})
