/**
 * An `EventPublisher` that delivers each event to one webhook URL: an HTTP
 * POST whose body is the event's envelope as JSON, signed per the Standard
 * Webhooks spec (https://www.standardwebhooks.com):
 *
 * - `webhook-id`: the event id, the same on every attempt, so a receiver
 *   drops a second delivery (delivery is at least once);
 * - `webhook-timestamp`: the attempt's time in unix seconds (from `Clock`),
 *   new on every attempt, so a receiver may refuse stale ones;
 * - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`
 *   with the key of the secret `whsec_<base64>`.
 *
 * A 2xx answer is a delivery. Anything else fails the publish with
 * `PublishError` (always retryable): the outbox dispatcher retries with its
 * backoff and dead-letters after its last attempt, so an accepted event is
 * never dropped here. `Unavailable`: a transport error, a 5xx, 408 or 429, an
 * open circuit, a full bulkhead; `Timeout`: no response headers within
 * `timeout`; `Rejected`: any other status, a refusal of the SSRF policy.
 *
 * Requests go through `OutboundClient`: the URL's host is the only host
 * allowed, over https (`allowHttp` for local receivers), every address it
 * resolves to must be public (`unsafeAllowNetworks` exempts networks), no
 * redirect is followed (a redirected POST would be replayed elsewhere or
 * turned into a GET), each attempt has a timeout. `OutboundClient` retries
 * only idempotent methods: a POST is never retried within a publish, the
 * dispatcher's retries are the only ones. A `CircuitBreaker` per host stops
 * calling a receiver that keeps failing (transport errors, timeouts,
 * 502/503/504: what `OutboundClient`'s breaker counts), and a `Bulkhead`
 * bounds the deliveries in flight.
 *
 * Errors and logs never carry the secret, the key, a signature or a response
 * body; the URL appears without its query (which may carry a token).
 *
 * @since 0.5.0
 */
import * as AppConfig from "@org/core/AppConfig"
import * as Bulkhead from "@org/core/Bulkhead"
import * as CircuitBreaker from "@org/core/CircuitBreaker"
import * as DomainEvent from "@org/core/DomainEvent"
import * as EventPublisher from "@org/core/EventPublisher"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Mac from "effect/crypto/Mac"
import * as SecureRandom from "effect/crypto/SecureRandom"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Layer from "effect/Layer"
import type * as Dns from "effect/net/Dns"
import * as IpNetwork from "effect/net/IpNetwork"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as OutboundClient from "./OutboundClient.ts"

/**
 * Options of `make` and `layer`.
 *
 * - `url`: where every event is POSTed (https unless `allowHttp`).
 * - `secret`: `whsec_` and the base64 of a 24 to 64 byte key.
 * - `allowHttp`: accept an `http:` URL (local receivers only; default false).
 * - `timeout`: per attempt, until response headers (default 10 seconds).
 * - `maxConcurrent` / `maxQueue`: the bulkhead: deliveries in flight
 *   (default 8) and waiting (default 100); beyond that a publish fails and
 *   the dispatcher tries again later.
 * - `breaker`: options of the per-host circuit breaker (default: open after
 *   5 consecutive failures, for 5 seconds doubling up to 2 minutes).
 * - `unsafeAllowNetworks`: CIDRs exempt from the private address check
 *   (a receiver on loopback or a private network). Unsafe: it lets a
 *   delivery reach internal services.
 * - `name`: names the bulkhead in metrics (default "webhook").
 *
 * @since 0.5.0
 * @category models
 */
export interface Options {
  readonly url: string
  readonly secret: Redacted.Redacted<string>
  readonly allowHttp?: boolean | undefined
  readonly timeout?: Duration.Input | undefined
  readonly maxConcurrent?: number | undefined
  readonly maxQueue?: number | undefined
  readonly breaker?: CircuitBreaker.RegistryOptions | undefined
  readonly unsafeAllowNetworks?: ReadonlyArray<string> | undefined
  readonly name?: string | undefined
}

/**
 * Options that cannot work: `field` names the option, `problem` says why
 * (never the value: the secret must not reach a log).
 *
 * @since 0.5.0
 * @category errors
 */
export class InvalidWebhook extends Schema.TaggedError<InvalidWebhook>()("InvalidWebhook", {
  field: Schema.Literals(["url", "secret", "unsafeAllowNetworks"]),
  problem: Schema.String
}) {
  override get message(): string {
    return `Invalid webhook ${this.field}: ${this.problem}`
  }
}

/**
 * The three headers of a signed delivery.
 *
 * @since 0.5.0
 * @category constants
 */
export const headers = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature"
} as const

/**
 * What signs deliveries: `sign` gives the `webhook-signature` value for an
 * id, a timestamp (unix seconds) and the exact body sent. The key stays in
 * the closure: the signer prints and serialises as nothing.
 *
 * @since 0.5.0
 * @category models
 */
export interface Signer {
  readonly sign: (message: {
    readonly id: string
    readonly timestamp: number
    readonly body: string
  }) => Effect.Effect<string>
}

const secretPrefix = "whsec_"
// The spec's bounds: shorter keys are guessable, longer ones buy nothing.
const minKeyBytes = 24
const maxKeyBytes = 64

// The key bytes of `whsec_<base64>`. Problems describe the shape, never the value.
const keyBytes = (secret: Redacted.Redacted<string>): Result.Result<Uint8Array, InvalidWebhook> => {
  const fail = (problem: string) => Result.fail(new InvalidWebhook({ field: "secret", problem }))
  const text = Redacted.value(secret).trim()
  if (text === "") return fail("is required")
  if (!text.startsWith(secretPrefix)) return fail(`must start with "${secretPrefix}" (whsec_<base64 key>)`)
  const decoded = Base64.decode(text.slice(secretPrefix.length))
  // The decoder's error quotes its input: only its failure is kept.
  if (Result.isFailure(decoded)) return fail(`must be "${secretPrefix}" followed by standard base64`)
  const length = decoded.success.length
  if (length < minKeyBytes || length > maxKeyBytes) {
    return fail(`must hold a key of ${minKeyBytes} to ${maxKeyBytes} bytes (got ${length})`)
  }
  return Result.succeed(decoded.success)
}

// Signing is not a deployment choice: Web Crypto is on every runtime the kit supports.
const MacLive = Mac.layerWebCrypto.pipe(Layer.provide(SecureRandom.layerWebCrypto))

const encoder = new TextEncoder()

/**
 * Makes the signer of a `whsec_` secret; fails with `InvalidWebhook` when
 * the secret is not `whsec_` and the base64 of a 24 to 64 byte key.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Webhooks } from "@org/http"
 *
 * const header = Effect.gen(function* () {
 *   const signer = yield* Webhooks.makeSigner(Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
 *   return yield* signer.sign({ id: "msg_1", timestamp: 1614265330, body: '{"test": 1}' })
 * })
 * ```
 *
 * @since 0.5.0
 * @category constructors
 */
export const makeSigner = (secret: Redacted.Redacted<string>): Effect.Effect<Signer, InvalidWebhook> =>
  Effect.gen(function* () {
    const bytes = yield* Effect.fromResult(keyBytes(secret))
    const mac = yield* Effect.provide(Effect.service(Mac.Mac), MacLive)
    // Non-empty by the length check above, so building the key cannot fail.
    const key = yield* Effect.orDie(Mac.key(Mac.hmacSha256, bytes))
    return {
      sign: ({ id, timestamp, body }) =>
        mac.sign(key, encoder.encode(`${id}.${timestamp}.${body}`)).pipe(
          Effect.map((tag) => `v1,${Base64.encode(tag)}`),
          // Web Crypto refusing HMAC-SHA256 on a valid key is a broken runtime, not a delivery failure.
          Effect.orDie
        )
    }
  })

// Origin and path only: the query may carry a token.
const redact = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`

interface Checked {
  readonly url: URL
  readonly networks: ReadonlyArray<string>
}

// A bare address is its own network (`/32`, `/128`).
const parseNetwork = (entry: string): Result.Result<string, InvalidWebhook> => {
  const input = entry.includes("/") ? entry : `${entry}/${entry.includes(":") ? 128 : 32}`
  return Result.match(IpNetwork.fromString(input), {
    onFailure: () =>
      Result.fail(
        new InvalidWebhook({
          field: "unsafeAllowNetworks",
          problem: `"${entry.slice(0, 60)}" is not an address or CIDR network`
        })
      ),
    onSuccess: (network) => Result.succeed(IpNetwork.format(network))
  })
}

const check = (options: Options): Result.Result<Checked, InvalidWebhook> => {
  const invalidUrl = (problem: string) => Result.fail(new InvalidWebhook({ field: "url", problem }))
  if (!URL.canParse(options.url)) return invalidUrl("is not an absolute URL")
  const url = new URL(options.url)
  if (url.username !== "" || url.password !== "") return invalidUrl("must not carry credentials")
  if (url.protocol !== "https:" && !(url.protocol === "http:" && options.allowHttp === true)) {
    return invalidUrl(`must be https (got ${url.protocol})`)
  }
  const networks: Array<string> = []
  for (const entry of options.unsafeAllowNetworks ?? []) {
    const network = parseNetwork(entry.trim())
    if (Result.isFailure(network)) return Result.fail(network.failure)
    networks.push(network.success)
  }
  return Result.succeed({ url, networks })
}

const encode = Schema.encodeEffect(Schema.fromJsonString(DomainEvent.Envelope))

// Statuses that say "later": the receiver is down, overloaded or slow.
const unavailableStatuses: ReadonlySet<number> = new Set([408, 429])

/**
 * Builds the webhook publisher over the `HttpClient` and `Dns` in context;
 * its breaker lives as long as the scope. The publish options' `subject` is
 * not sent: the receiver reads `type` and `aggregateType` from the body.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { EventPublisher } from "@org/core"
 * import { Webhooks } from "@org/http"
 *
 * const relay = Effect.gen(function* () {
 *   const publisher = yield* Webhooks.make({
 *     url: "https://hooks.example.com/events",
 *     secret: Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
 *   })
 *   return yield* EventPublisher.relay({ name: "webhook" }).pipe(
 *     Effect.provideService(EventPublisher.EventPublisher, publisher)
 *   )
 * })
 * ```
 *
 * @since 0.5.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<
  EventPublisher.EventPublisher["Service"],
  InvalidWebhook,
  HttpClient.HttpClient | Dns.Dns | Scope.Scope
> =>
  Effect.gen(function* () {
    const { url, networks } = yield* Effect.fromResult(check(options))
    const signer = yield* makeSigner(options.secret)
    const destination = redact(url)
    const breakers = Context.get(
      yield* Layer.build(CircuitBreaker.layerRegistry({ defaults: options.breaker })),
      CircuitBreaker.Registry
    )
    const client = yield* OutboundClient.make({
      allow: [url.hostname],
      allowHttp: options.allowHttp === true,
      maxRedirects: 0,
      timeout: options.timeout,
      breaker: breakers,
      unsafeAllowNetworks: networks
    })
    // Scoped: the response body (never read) is released when the attempt ends.
    const scoped = HttpClient.withScope(client)
    const bulkhead = yield* Bulkhead.make({
      name: options.name ?? "webhook",
      maxConcurrent: options.maxConcurrent ?? 8,
      maxQueue: options.maxQueue ?? 100
    })

    const publish = Effect.fn("Webhooks.publish")(function* (envelope: DomainEvent.Envelope) {
      const fail = (reason: EventPublisher.PublishError["reason"], message: string) =>
        new EventPublisher.PublishError({ eventId: envelope.id, subject: destination, reason, message })
      yield* Effect.annotateCurrentSpan({ "webhook.url": destination, eventId: envelope.id })
      // An envelope that does not encode was built wrong: a bug, not a receiver failure.
      const body = yield* Effect.orDie(encode(envelope))
      const timestamp = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const signature = yield* signer.sign({ id: envelope.id, timestamp, body })
      const request = HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeaders({
          [headers.id]: envelope.id,
          [headers.timestamp]: String(timestamp),
          [headers.signature]: signature
        }),
        HttpClientRequest.bodyText(body, "application/json")
      )
      const status = yield* bulkhead
        .run(Effect.scoped(Effect.map(scoped.execute(request), (r) => r.status)))
        .pipe(
          Effect.catchTags({
            OutboundRefused: (error) =>
              Effect.fail(fail("Rejected", `refused by the outbound policy: ${error.reason}`)),
            CircuitOpen: (error) =>
              Effect.fail(
                fail(
                  "Unavailable",
                  `circuit open for ${error.name}; retry after ${error.retryAfterSeconds} s`
                )
              ),
            BulkheadFull: () => Effect.fail(fail("Unavailable", "too many deliveries in flight")),
            // The reason's tag only: its description and cause may quote the URL's query.
            HttpClientError: (error) =>
              Effect.fail(
                error.reason._tag === "TransportError" && Cause.isTimeoutError(error.reason.cause)
                  ? fail("Timeout", `no response from ${destination} in time`)
                  : fail("Unavailable", `${error.reason._tag} calling ${destination}`)
              )
          })
        )
      if (status >= 200 && status < 300) return
      return yield* fail(
        status >= 500 || unavailableStatuses.has(status) ? "Unavailable" : "Rejected",
        `${destination} answered ${status}`
      )
    })

    return EventPublisher.EventPublisher.of({ publish: (envelope) => publish(envelope) })
  })

/**
 * The webhook publisher as the `EventPublisher` service.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { Dns } from "effect/net"
 * import { Webhooks } from "@org/http"
 *
 * declare const dns: Layer.Layer<Dns.Dns>
 * const Publisher = Webhooks.layer({
 *   url: "https://hooks.example.com/events",
 *   secret: Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
 * }).pipe(Layer.provide(Layer.merge(FetchHttpClient.layer, dns)))
 * ```
 *
 * @since 0.5.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<EventPublisher.EventPublisher, InvalidWebhook, HttpClient.HttpClient | Dns.Dns> =>
  Layer.effect(EventPublisher.EventPublisher, make(options))

const variables = {
  url: "WEBHOOK_URL",
  secret: "WEBHOOK_SECRET",
  unsafeAllowNetworks: "WEBHOOK_ALLOW_NETWORKS"
} as const

/**
 * The options from the environment, `None` when `WEBHOOK_URL` is unset or
 * blank. With a URL, `WEBHOOK_SECRET` is required (`whsec_<base64>`);
 * `WEBHOOK_ALLOW_NETWORKS` (comma-separated CIDRs or addresses, unsafe:
 * local receivers only) exempts networks from the private address check and
 * then also accepts an `http:` URL. A bad value fails with one
 * `InvalidConfig` naming its variable.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Webhooks } from "@org/http"
 *
 * const enabled = Effect.map(Webhooks.loadConfig, Option.isSome)
 * ```
 *
 * @since 0.5.0
 * @category config
 */
export const loadConfig: Effect.Effect<Option.Option<Options>, AppConfig.InvalidConfig> = Effect.gen(
  function* () {
    const url = (yield* Config.String(variables.url).pipe(Config.withDefault(""))).trim()
    if (url === "") return Option.none()
    const secret = yield* Config.Redacted(variables.secret).pipe(Config.withDefault(Redacted.make("")))
    const networks = (yield* Config.String(variables.unsafeAllowNetworks).pipe(Config.withDefault("")))
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "")
    const options: Options = {
      url,
      secret,
      allowHttp: networks.length > 0,
      unsafeAllowNetworks: networks
    }
    // The same checks as `make`, now, so a bad variable stops the start.
    yield* Effect.fromResult(check(options))
    yield* Effect.fromResult(keyBytes(secret))
    return Option.some(options)
  }
).pipe(
  Effect.mapError((error) =>
    error._tag === "InvalidWebhook"
      ? new AppConfig.InvalidConfig({ variable: variables[error.field], problem: error.problem })
      : AppConfig.fromConfigError(error)
  )
)

/**
 * The webhook publisher from the environment (`loadConfig`); fails with
 * `InvalidConfig` when `WEBHOOK_URL` is not set.
 *
 * @since 0.5.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  EventPublisher.EventPublisher,
  AppConfig.InvalidConfig | InvalidWebhook,
  HttpClient.HttpClient | Dns.Dns
> = Layer.unwrap(
  Effect.flatMap(loadConfig, (options) =>
    Option.match(options, {
      onNone: () =>
        Effect.fail(new AppConfig.InvalidConfig({ variable: variables.url, problem: "is required" })),
      onSome: (options) => Effect.succeed(layer(options))
    })
  )
)
