/**
 * A NATS connection as a scoped service, through the official client
 * (`@nats-io/transport-node`): opened when the layer is built, drained and
 * closed when its scope closes, reconnecting for ever once connected.
 *
 * With `startWhileDown` the layer builds even when no server answers: it
 * keeps dialling in the background, and `client` waits for the first
 * connection. Services that must start without their broker (an outbox
 * relay: the events wait in the outbox) use it; the others fail fast.
 *
 * @since 0.3.0
 */
import { type NatsConnection as Client, connect, type NodeConnectionOptions } from "@nats-io/transport-node"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/**
 * A NATS operation failed: no server answered the first connection, a stream
 * or consumer could not be set up.
 *
 * @since 0.3.0
 * @category errors
 */
export class NatsError extends Schema.TaggedError<NatsError>()("NatsError", {
  operation: Schema.String,
  message: Schema.String
}) {}

/**
 * The text of a client failure (no stack).
 *
 * @since 0.3.0
 * @category errors
 */
export const messageOf = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)

/**
 * The connection service.
 *
 * @since 0.3.0
 * @category services
 */
export class NatsConnection extends Context.Service<
  NatsConnection,
  {
    /** The client, once connected; waits for the first connection (bound it with a timeout). */
    readonly client: Effect.Effect<Client>
    /** The client once it has connected (it may be reconnecting now); `None` before the first connection. */
    readonly current: Effect.Effect<Option.Option<Client>>
    /** Connected now (false before the first connection and while reconnecting). */
    readonly connected: Effect.Effect<boolean>
  }
>()("@org/nats/NatsConnection") {}

/**
 * Options of `layer`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** One URL, several separated by commas, or a list: `nats://user:pass@host:4222`. */
  readonly servers: string | Redacted.Redacted<string> | ReadonlyArray<string>
  /** Client name shown by the server's monitoring. */
  readonly name?: string | undefined
  /** Build the layer although no server answers; connect in the background. False unless given. */
  readonly startWhileDown?: boolean | undefined
  /** Time allowed to one dial; 2 seconds unless given. */
  readonly connectTimeout?: Duration.Input | undefined
  /** Pause between dials (first connection and reconnects); 1 second unless given. */
  readonly reconnectWait?: Duration.Input | undefined
  /** Time allowed to drain on release before the connection is closed; 5 seconds unless given. */
  readonly drainTimeout?: Duration.Input | undefined
  /** Further client options (credentials, TLS), passed as they are. */
  readonly connectionOptions?: Partial<NodeConnectionOptions> | undefined
}

const serversOf = (servers: Options["servers"]): Array<string> => {
  const list =
    typeof servers === "string"
      ? servers.split(",")
      : Redacted.isRedacted(servers)
        ? Redacted.value(servers).split(",")
        : [...servers]
  return list.map((server) => server.trim()).filter((server) => server.length > 0)
}

/**
 * Connects, and keeps the connection for the scope.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const reconnectWait = Duration.toMillis(options.reconnectWait ?? Duration.seconds(1))
  const dialOptions: NodeConnectionOptions = {
    ...options.connectionOptions,
    servers: serversOf(options.servers),
    timeout: Duration.toMillis(options.connectTimeout ?? Duration.seconds(2)),
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: reconnectWait,
    waitOnFirstConnect: false,
    ...(options.name === undefined ? {} : { name: options.name })
  }
  const ready = yield* Deferred.make<Client>()
  let current: Client | undefined
  let connected = false

  // Each dial is uninterruptible so that a connection opened while the scope
  // closes is still seen (and closed) by the finalizer; a dial is bounded by
  // `connectTimeout`.
  const dial = Effect.uninterruptible(
    Effect.tryPromise({
      try: () => connect(dialOptions),
      catch: (cause) => new NatsError({ operation: "connect", message: messageOf(cause) })
    }).pipe(
      Effect.tap((client) =>
        Effect.sync(() => {
          current = client
          connected = true
        })
      )
    )
  )

  const watch = (client: Client) =>
    Stream.fromAsyncIterable(client.status(), (cause) => cause).pipe(
      Stream.runForEach((status) => {
        switch (status.type) {
          case "disconnect":
            connected = false
            return Effect.logWarning("NATS disconnected", status.server)
          case "reconnect":
            connected = true
            return Effect.logInfo("NATS reconnected", status.server)
          case "close":
            connected = false
            return Effect.void
          default:
            return Effect.void
        }
      }),
      Effect.ignore
    )

  const drainTimeout = options.drainTimeout ?? Duration.seconds(5)
  let fiber: Fiber.Fiber<unknown, unknown> | undefined
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      if (fiber !== undefined) yield* Fiber.interrupt(fiber)
      const client = current
      if (client === undefined || client.isClosed()) return
      yield* Effect.tryPromise(() => client.drain()).pipe(
        Effect.timeout(drainTimeout),
        Effect.catch(() => Effect.tryPromise(() => client.close())),
        Effect.ignore
      )
    })
  )

  if (options.startWhileDown === true) {
    fiber = yield* Effect.forkDetach(
      Effect.flatMap(dial, (client) => Effect.andThen(Deferred.succeed(ready, client), watch(client))).pipe(
        Effect.tapError((error) => Effect.logWarning("NATS not reachable yet, retrying", error.message)),
        Effect.retry(Schedule.spaced(reconnectWait))
      )
    )
  } else {
    const client = yield* dial
    yield* Deferred.succeed(ready, client)
    fiber = yield* Effect.forkDetach(watch(client))
  }

  return NatsConnection.of({
    client: Deferred.await(ready),
    current: Effect.sync(() => Option.fromUndefinedOr(current)),
    connected: Effect.sync(() => connected && current !== undefined && !current.isClosed())
  })
})

/**
 * The connection layer.
 *
 * @example
 * ```ts
 * import { NatsConnection } from "@org/nats"
 *
 * const Nats = NatsConnection.layer({ servers: "nats://127.0.0.1:4222", startWhileDown: true })
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<NatsConnection, NatsError> =>
  Layer.effect(NatsConnection, make(options))

/**
 * The connection layer with the servers from `NATS_URL` (one URL or several
 * separated by commas).
 *
 * @example
 * ```ts
 * import { NatsConnection } from "@org/nats"
 *
 * const Nats = NatsConnection.layerConfig({ name: "orders", startWhileDown: true })
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "servers"> = {}
): Layer.Layer<NatsConnection, NatsError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.Redacted("NATS_URL"), (servers) => layer({ ...options, servers })))
