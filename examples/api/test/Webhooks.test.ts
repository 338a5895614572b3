/**
 * The example with a webhook (WEBHOOK_URL): an item created through the
 * typed client reaches a receiver on 127.0.0.1 as a signed `ItemCreated`,
 * through the outbox and the example's own destinations
 * (`Events.destinationsConfig`, as `main.ts` wires them), configured from
 * the three variables. The receiver checks the signature with node:crypto.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, References, Schedule } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as Events from "../src/server/Events.ts"
import { serve } from "./client.ts"

interface Delivery {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

const received: Array<Delivery> = []
let server: Server
let port = 0

beforeAll(
  () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
          res.writeHead(204).end()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
)
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const secret = `whsec_${randomBytes(32).toString("base64")}`

// The receiver's check (Standard Webhooks), independent of the kit.
const verifies = (delivery: Delivery): boolean => {
  const key = Buffer.from(secret.slice("whsec_".length), "base64")
  const content = `${delivery.headers["webhook-id"]}.${delivery.headers["webhook-timestamp"]}.${delivery.body}`
  const expected = createHmac("sha256", key).update(content).digest()
  const [version, signature] = String(delivery.headers["webhook-signature"]).split(",")
  const given = Buffer.from(signature ?? "", "base64")
  return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected)
}

// The example's destinations from a configuration of the test's own (no NATS_URL there).
const destinations = () =>
  Events.destinationsConfig.pipe(
    Layer.provide(
      ConfigProvider.layer(
        ConfigProvider.fromEnv({
          env: {
            WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/example`,
            WEBHOOK_SECRET: secret,
            WEBHOOK_ALLOW_NETWORKS: "127.0.0.1/32"
          }
        })
      )
    ),
    Layer.orDie
  )

const saw = { name: "Webhook Saw", description: null, price: 12.5, quantity: 3, category: "tools" }

describe("the example delivers its item events to a webhook", () => {
  it.live(
    "creating an item through the typed client delivers a signed ItemCreated",
    () =>
      Effect.gen(function* () {
        const api = yield* serve({ destinations: destinations() })
        const created = yield* api.typed.items.create({ payload: saw })
        const itemId = created.body.id
        const delivery = yield* Effect.suspend(() => {
          const found = received.find((d) => JSON.parse(d.body).aggregateId === itemId)
          return found === undefined ? Effect.fail("not yet") : Effect.succeed(found)
        }).pipe(Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }), Effect.orDie)
        const body = JSON.parse(delivery.body)
        assert.strictEqual(body.type, "ItemCreated")
        assert.strictEqual(body.aggregateType, "Item")
        assert.strictEqual(body.payload.name, saw.name)
        assert.strictEqual(body.metadata.actorId, api.user.id)
        assert.strictEqual(delivery.headers["content-type"], "application/json")
        assert.strictEqual(delivery.headers["webhook-id"], body.id, "webhook-id is the event id")
        const timestamp = Number(delivery.headers["webhook-timestamp"])
        assert.isAtMost(Math.abs(timestamp - Date.now() / 1000), 60)
        assert.isTrue(verifies(delivery), "the signature does not verify with WEBHOOK_SECRET")
      }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Error")),
    20_000
  )
})
