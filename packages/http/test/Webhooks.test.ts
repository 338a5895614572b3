/**
 * The webhook publisher against a real receiver on 127.0.0.1 (node:http),
 * which checks every delivery with its own HMAC (node:crypto), not the
 * module's: the signature, the id and timestamp headers, the body as sent.
 * Failures (statuses, refusals, an open breaker, a full bulkhead) must come
 * back as `PublishError` so the outbox retries, and must never show the
 * secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { AppConfig, DomainEvent, EventPublisher, Outbox, OutboxDispatcher, UnitOfWork } from "@org/core"
import { ConfigProvider, Effect, Exit, Layer, Logger, Option, Redacted, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { Dns } from "effect/net"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { afterAll, beforeAll, it as vitest } from "vitest"
import * as Webhooks from "../src/Webhooks.ts"

// --- the receiver -------------------------------------------------------------

interface Delivery {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

type Handler = (delivery: Delivery, res: ServerResponse) => void

const ok: Handler = (_, res) => void res.writeHead(204).end()
let handler: Handler = ok
let deliveries: Array<Delivery> = []
let inFlight = 0
let maxInFlight = 0
let server: Server
let port = 0

const reset = (next: Handler = ok) => {
  handler = next
  deliveries = []
  inFlight = 0
  maxInFlight = 0
}

beforeAll(
  () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        res.on("close", () => void inFlight--)
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const delivery = {
            method: req.method ?? "",
            path: req.url ?? "/",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          deliveries.push(delivery)
          handler(delivery, res)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
)
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

// The receiver's own check, as the docs tell receivers to write it.
const verify = (
  secret: string,
  id: string,
  timestamp: string,
  body: Buffer | string,
  header: string
): boolean => {
  const key = Buffer.from(secret.slice("whsec_".length), "base64")
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(body)])
  const expected = createHmac("sha256", key).update(content).digest()
  return header.split(" ").some((entry) => {
    const [version, signature] = entry.split(",")
    if (version !== "v1" || signature === undefined) return false
    const given = Buffer.from(signature, "base64")
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

const verifies = (secret: string, delivery: Delivery): boolean =>
  verify(
    secret,
    String(delivery.headers["webhook-id"]),
    String(delivery.headers["webhook-timestamp"]),
    delivery.body,
    String(delivery.headers["webhook-signature"])
  )

// --- fixtures -----------------------------------------------------------------

const makeSecret = () => `whsec_${randomBytes(32).toString("base64")}`

const OrderPlaced = DomainEvent.define("OrderPlaced", {
  aggregateType: "Order",
  payload: Schema.Struct({ total: Schema.Number }),
  integration: true
})
const placed = (n = 1) => Effect.flatMap(OrderPlaced.make(`order-${n}`, { total: n }), OrderPlaced.toEnvelope)

const Env = Layer.merge(FetchHttpClient.layer, Layer.orDie(Dns.layerStatic({ hosts: {} })))

const url = (path: string) => `http://127.0.0.1:${port}${path}`

// The receiver is on loopback: only the test-only exemption lets a delivery reach it.
const local = (path: string, secret: string, extra: Partial<Webhooks.Options> = {}): Webhooks.Options => ({
  url: url(path),
  secret: Redacted.make(secret),
  allowHttp: true,
  unsafeAllowNetworks: ["127.0.0.1/32"],
  ...extra
})

// The dispatcher logs failed attempts and the breaker its transitions: expected here.
const quiet = Logger.layer([])

const publisher = (options: Webhooks.Options) => Effect.provide(Webhooks.make(options), Env)

// --- tests --------------------------------------------------------------------

describe("Webhooks", () => {
  it.effect("POSTs the envelope as JSON, signed; id is the event id, timestamp the Clock's seconds", () =>
    Effect.gen(function* () {
      reset()
      const secret = makeSecret()
      yield* TestClock.setTime(1_700_000_123_987)
      const hooks = yield* publisher(local("/hook?token=abc", secret))
      const event = yield* placed()
      yield* hooks.publish(event)
      assert.strictEqual(deliveries.length, 1)
      const [delivery] = deliveries
      assert.strictEqual(delivery!.method, "POST")
      assert.strictEqual(delivery!.path, "/hook?token=abc")
      assert.strictEqual(delivery!.headers["content-type"], "application/json")
      assert.strictEqual(delivery!.headers["webhook-id"], event.id)
      assert.strictEqual(delivery!.headers["webhook-timestamp"], "1700000123")
      assert.match(String(delivery!.headers["webhook-signature"]), /^v1,[A-Za-z0-9+/]{43}=$/)
      assert.isTrue(verifies(secret, delivery!), "the receiver's own HMAC does not match")
      assert.isFalse(verifies(makeSecret(), delivery!), "another secret verifies it too")
      const body = Schema.decodeUnknownSync(Schema.fromJsonString(DomainEvent.Envelope))(delivery!.body)
      assert.strictEqual(body.id, event.id)
      assert.strictEqual(body.type, "OrderPlaced")
      assert.deepStrictEqual(body.payload, { total: 1 })
    })
  )

  it.effect("matches the Standard Webhooks reference signature", () =>
    Effect.gen(function* () {
      const signer = yield* Webhooks.makeSigner(Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
      const header = yield* signer.sign({
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: 1614265330,
        body: '{"test": 2432232314}'
      })
      assert.strictEqual(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    })
  )

  vitest(
    "a signature verifies for any id and body, and fails for any changed byte of id, timestamp or body",
    () => {
      const secret = makeSecret()
      const signer = Effect.runSync(Webhooks.makeSigner(Redacted.make(secret)))
      const part = fc.constantFrom("id", "timestamp", "body")
      return fc.assert(
        fc.asyncProperty(
          fc.string({ minLength: 1, maxLength: 64, unit: "grapheme" }),
          fc.integer({ min: 0, max: 2 ** 32 }),
          fc.string({ maxLength: 300, unit: "grapheme" }),
          part,
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          async (id, timestamp, body, which, position, flip) => {
            const header = await Effect.runPromise(signer.sign({ id, timestamp, body }))
            const parts = {
              id: Buffer.from(id),
              timestamp: Buffer.from(String(timestamp)),
              body: Buffer.from(body)
            }
            if (!verify(secret, id, String(timestamp), body, header)) return false
            const target = parts[which]
            if (target.length === 0) return true
            const changed = Buffer.from(target)
            const at = position % changed.length
            changed[at] = changed[at]! ^ flip
            const tampered = { ...parts, [which]: changed }
            // Rebuilt from bytes: a changed byte need not be valid UTF-8 any more.
            const key = Buffer.from(secret.slice("whsec_".length), "base64")
            const content = Buffer.concat([
              tampered.id,
              Buffer.from("."),
              tampered.timestamp,
              Buffer.from("."),
              tampered.body
            ])
            const expected = createHmac("sha256", key).update(content).digest("base64")
            return `v1,${expected}` !== header
          }
        ),
        { numRuns: 200 }
      )
    }
  )

  it.effect("a non-2xx answer is a PublishError, without the response body", () =>
    Effect.gen(function* () {
      const secret = makeSecret()
      const hooks = yield* publisher(
        local("/status", secret, { breaker: { trip: { consecutiveFailures: 100 } } })
      )
      const event = yield* placed()
      for (const [status, reason] of [
        [400, "Rejected"],
        [410, "Rejected"],
        [429, "Unavailable"],
        [500, "Unavailable"],
        [503, "Unavailable"]
      ] as const) {
        reset(
          (_, res) => void res.writeHead(status, { "content-type": "text/plain" }).end("receiver-body-text")
        )
        const error = yield* Effect.flip(hooks.publish(event))
        assert.strictEqual(error._tag, "PublishError")
        assert.strictEqual(error.reason, reason, `status ${status}`)
        assert.strictEqual(error.eventId, event.id)
        assert.include(error.message, String(status))
        assert.notInclude(JSON.stringify(error), "receiver-body-text")
        assert.notInclude(error.message, "receiver-body-text")
        assert.strictEqual(deliveries.length, 1, "a POST is not retried within a publish")
      }
    })
  )

  it.live(
    "through the outbox: a receiver failing twice gets the event on the third attempt, same webhook-id",
    () =>
      Effect.gen(function* () {
        let calls = 0
        reset((_, res) => void res.writeHead(++calls <= 2 ? 500 : 200).end())
        const secret = makeSecret()
        const hooks = yield* publisher(local("/flaky", secret))
        const relay = yield* EventPublisher.relay({ name: "webhook" }).pipe(
          Effect.provideService(EventPublisher.EventPublisher, hooks)
        )
        const event = yield* placed()
        const outbox = yield* Outbox.Outbox
        yield* UnitOfWork.transaction(outbox.append([event]))
        const options: OutboxDispatcher.Options = {
          consumers: Effect.succeed([relay]),
          backoff: () => 0,
          maxAttempts: 5
        }
        const summaries = [
          yield* OutboxDispatcher.drain(options),
          yield* OutboxDispatcher.drain(options),
          yield* OutboxDispatcher.drain(options)
        ]
        assert.deepStrictEqual(
          summaries.map((s) => [s.retried, s.completed]),
          [
            [1, 0],
            [1, 0],
            [0, 1]
          ]
        )
        assert.strictEqual(deliveries.length, 3)
        for (const delivery of deliveries) {
          assert.strictEqual(delivery.headers["webhook-id"], event.id)
          assert.isTrue(verifies(secret, delivery))
        }
        const stored = yield* outbox.get(event.id)
        assert.strictEqual(Option.getOrUndefined(stored)?.state, "delivered")
      }).pipe(Effect.provide(Layer.mergeAll(Outbox.layerMemory, UnitOfWork.layerMemory, quiet)))
  )

  it.live("through the outbox: a receiver that never accepts leaves the event dead-lettered, not lost", () =>
    Effect.gen(function* () {
      reset((_, res) => void res.writeHead(400).end())
      const hooks = yield* publisher(local("/never", makeSecret()))
      const relay = yield* EventPublisher.relay({ name: "webhook" }).pipe(
        Effect.provideService(EventPublisher.EventPublisher, hooks)
      )
      const event = yield* placed()
      const outbox = yield* Outbox.Outbox
      yield* UnitOfWork.transaction(outbox.append([event]))
      const options: OutboxDispatcher.Options = {
        consumers: Effect.succeed([relay]),
        backoff: () => 0,
        maxAttempts: 2
      }
      yield* OutboxDispatcher.drain(options)
      const last = yield* OutboxDispatcher.drain(options)
      assert.strictEqual(last.dead, 1)
      const [dead] = yield* outbox.deadLetters()
      assert.strictEqual(dead?.event.id, event.id)
      assert.include(dead?.error ?? "", "answered 400")
      assert.strictEqual(deliveries.length, 2)
    }).pipe(Effect.provide(Layer.mergeAll(Outbox.layerMemory, UnitOfWork.layerMemory, quiet)))
  )

  it.live("the breaker opens after repeated failures; nothing reaches the receiver until it half-opens", () =>
    Effect.gen(function* () {
      let down = true
      reset((_, res) => void res.writeHead(down ? 503 : 200).end())
      const hooks = yield* publisher(
        local("/breaker", makeSecret(), {
          breaker: { trip: { consecutiveFailures: 3 }, openFor: "1 second" }
        })
      )
      const event = yield* placed()
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(hooks.publish(event))
        assert.include(error.message, "answered 503")
      }
      assert.strictEqual(deliveries.length, 3)
      const open = yield* Effect.flip(hooks.publish(event))
      assert.strictEqual(open.reason, "Unavailable")
      assert.include(open.message, "circuit open for 127.0.0.1")
      assert.strictEqual(deliveries.length, 3, "an open breaker sent a request")
      down = false
      assert.strictEqual((yield* Effect.flip(hooks.publish(event))).reason, "Unavailable", "still open")
      assert.strictEqual(deliveries.length, 3)
      yield* Effect.sleep("1200 millis")
      yield* hooks.publish(event)
      assert.strictEqual(deliveries.length, 4, "the half-open probe reached the receiver")
      yield* hooks.publish(event)
      assert.strictEqual(deliveries.length, 5)
    }).pipe(Effect.provide(quiet))
  )

  it.live("a receiver answering 500 trips the breaker; one answering 400 does not", () =>
    Effect.gen(function* () {
      let status = 400
      reset((_, res) => void res.writeHead(status).end())
      const hooks = yield* publisher(
        local("/broken", makeSecret(), { breaker: { trip: { consecutiveFailures: 3 }, openFor: "1 minute" } })
      )
      const event = yield* placed()
      for (let i = 0; i < 4; i++)
        assert.strictEqual((yield* Effect.flip(hooks.publish(event))).reason, "Rejected")
      assert.strictEqual(deliveries.length, 4, "a 4xx tripped the breaker")
      status = 500
      for (let i = 0; i < 3; i++)
        assert.include((yield* Effect.flip(hooks.publish(event))).message, "answered 500")
      const open = yield* Effect.flip(hooks.publish(event))
      assert.include(open.message, "circuit open for 127.0.0.1")
      assert.strictEqual(deliveries.length, 7, "an open breaker sent a request")
    }).pipe(Effect.provide(quiet))
  )

  it.live("the bulkhead bounds the requests in flight at the receiver", () =>
    Effect.gen(function* () {
      reset((_, res) => void setTimeout(() => res.writeHead(200).end(), 100))
      const hooks = yield* publisher(local("/slow", makeSecret(), { maxConcurrent: 2, maxQueue: 10 }))
      const events = yield* Effect.forEach([1, 2, 3, 4, 5, 6], placed)
      yield* Effect.forEach(events, (event) => hooks.publish(event), { concurrency: "unbounded" })
      assert.strictEqual(deliveries.length, 6)
      assert.strictEqual(maxInFlight, 2)

      // Beyond running and queued, a publish fails at once (the outbox retries it later).
      reset((_, res) => void setTimeout(() => res.writeHead(200).end(), 100))
      const tight = yield* publisher(local("/slow", makeSecret(), { maxConcurrent: 1, maxQueue: 1 }))
      const exits = yield* Effect.forEach(events.slice(0, 4), (event) => Effect.exit(tight.publish(event)), {
        concurrency: "unbounded"
      })
      const failures = exits.filter(Exit.isFailure)
      assert.strictEqual(failures.length, 2)
      assert.strictEqual(deliveries.length, 2)
      assert.strictEqual(maxInFlight, 1)
    })
  )

  it.live("a private address without an exemption is refused, and nothing is sent", () =>
    Effect.gen(function* () {
      reset()
      const hooks = yield* publisher({
        url: url("/private"),
        secret: Redacted.make(makeSecret()),
        allowHttp: true
      })
      const error = yield* Effect.flip(hooks.publish(yield* placed()))
      assert.strictEqual(error._tag, "PublishError")
      assert.strictEqual(error.reason, "Rejected")
      assert.include(error.message, "private address")
      assert.strictEqual(deliveries.length, 0)
    })
  )

  it.live("neither the secret nor its key appears in any error's message or JSON", () =>
    Effect.gen(function* () {
      const secret = makeSecret()
      const key = secret.slice("whsec_".length)
      const keyHex = Buffer.from(key, "base64").toString("hex")
      const errors: Array<unknown> = []
      reset((_, res) => void res.writeHead(503).end(secret))
      const hooks = yield* publisher(
        local("/leak", secret, { breaker: { trip: { consecutiveFailures: 1 }, openFor: "1 minute" } })
      )
      const event = yield* placed()
      errors.push(yield* Effect.flip(hooks.publish(event)))
      const open = yield* Effect.flip(hooks.publish(event))
      assert.include(open.message, "circuit open")
      errors.push(open)
      const refused = yield* publisher({ url: url("/leak"), secret: Redacted.make(secret), allowHttp: true })
      errors.push(yield* Effect.flip(refused.publish(event)))
      // Malformed secrets: the error describes the shape, never the value.
      for (const bad of [`${secret}!`, secret.slice(0, 20), key, `whsec_${key.slice(0, 12)}`]) {
        errors.push(yield* Effect.flip(publisher(local("/leak", bad))))
        errors.push(
          yield* Effect.flip(
            Webhooks.loadConfig.pipe(
              Effect.provide(
                ConfigProvider.layer(
                  ConfigProvider.fromEnv({ env: { WEBHOOK_URL: "https://h.example/", WEBHOOK_SECRET: bad } })
                )
              )
            )
          )
        )
      }
      assert.strictEqual(errors.length, 11)
      for (const error of errors) {
        for (const text of [String(error), (error as Error).message, JSON.stringify(error)]) {
          for (const leak of [secret, key, key.slice(0, 12), keyHex]) assert.notInclude(text, leak)
        }
      }
    })
  )

  describe("loadConfig", () => {
    const load = (env: Record<string, string>) =>
      Webhooks.loadConfig.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
    const secret = makeSecret()

    it.effect("no WEBHOOK_URL (or a blank one): no webhook", () =>
      Effect.gen(function* () {
        assert.isTrue(Option.isNone(yield* load({})))
        assert.isTrue(Option.isNone(yield* load({ WEBHOOK_URL: "  ", WEBHOOK_SECRET: "nonsense" })))
      })
    )

    it.effect("a URL with its secret; networks make http acceptable", () =>
      Effect.gen(function* () {
        const https = Option.getOrThrow(
          yield* load({ WEBHOOK_URL: "https://hooks.example.com/x", WEBHOOK_SECRET: secret })
        )
        assert.strictEqual(https.url, "https://hooks.example.com/x")
        assert.strictEqual(Redacted.value(https.secret), secret)
        assert.isFalse(https.allowHttp)
        const local = Option.getOrThrow(
          yield* load({
            WEBHOOK_URL: "http://127.0.0.1:9000/hook",
            WEBHOOK_SECRET: secret,
            WEBHOOK_ALLOW_NETWORKS: "127.0.0.1/32, ::1"
          })
        )
        assert.isTrue(local.allowHttp)
        assert.deepStrictEqual(local.unsafeAllowNetworks, ["127.0.0.1/32", "::1"])
      })
    )

    for (const [name, env, variable, problem] of [
      ["a missing secret", { WEBHOOK_URL: "https://h.example/" }, "WEBHOOK_SECRET", "is required"],
      [
        "a blank secret",
        { WEBHOOK_URL: "https://h.example/", WEBHOOK_SECRET: " " },
        "WEBHOOK_SECRET",
        "is required"
      ],
      [
        "a secret without whsec_",
        { WEBHOOK_URL: "https://h.example/", WEBHOOK_SECRET: "abc" },
        "WEBHOOK_SECRET",
        "whsec_"
      ],
      [
        "a short key",
        { WEBHOOK_URL: "https://h.example/", WEBHOOK_SECRET: `whsec_${randomBytes(16).toString("base64")}` },
        "WEBHOOK_SECRET",
        "24 to 64 bytes (got 16)"
      ],
      [
        "http without networks",
        { WEBHOOK_URL: "http://h.example/", WEBHOOK_SECRET: secret },
        "WEBHOOK_URL",
        "https"
      ],
      ["a relative URL", { WEBHOOK_URL: "/hooks", WEBHOOK_SECRET: secret }, "WEBHOOK_URL", "absolute"],
      [
        "credentials in the URL",
        { WEBHOOK_URL: "https://user:pw@h.example/", WEBHOOK_SECRET: secret },
        "WEBHOOK_URL",
        "credentials"
      ],
      [
        "a bad network",
        { WEBHOOK_URL: "https://h.example/", WEBHOOK_SECRET: secret, WEBHOOK_ALLOW_NETWORKS: "10.0.0.0/99" },
        "WEBHOOK_ALLOW_NETWORKS",
        "10.0.0.0/99"
      ]
    ] as const) {
      it.effect(`${name} is one InvalidConfig naming ${variable}`, () =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(load(env))
          assert.instanceOf(error, AppConfig.InvalidConfig)
          assert.strictEqual(error.variable, variable)
          assert.include(error.problem, problem)
          assert.notInclude(error.message, "\n")
        })
      )
    }
  })
})
