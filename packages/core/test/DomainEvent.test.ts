import { assert, describe, it } from "@effect/vitest"
import { DomainEvent } from "@org/core"
import { DateTime, Effect, Exit, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

describe("DomainEvent round trip", () => {
  const Shipped = DomainEvent.define("OrderShipped", {
    aggregateType: "Order",
    payload: Schema.Struct({
      at: Schema.DateTimeUtcFromString,
      carrier: Schema.optionalKey(Schema.String),
      lines: Schema.Array(Schema.Struct({ sku: Schema.String, quantity: Schema.Int }))
    }),
    version: 2,
    integration: true
  })
  const payloads = Schema.Struct({
    millis: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4_000_000_000_000 })),
    carrier: Schema.optionalKey(Schema.String),
    lines: Schema.Array(Schema.Struct({ sku: Schema.String, quantity: Schema.Int }))
  })

  it.effect.prop(
    "toEnvelope then fromEnvelope gives the event back (DateTime, optional and nested fields)",
    [payloads],
    ([p]) =>
      Effect.gen(function* () {
        const { millis, ...rest } = p
        const event = yield* Shipped.make("order-1", { ...rest, at: DateTime.makeUnsafe(millis) })
        const envelope = yield* Shipped.toEnvelope(event)
        const json = JSON.parse(JSON.stringify(yield* Schema.encodeEffect(DomainEvent.Envelope)(envelope)))
        const back = yield* Shipped.fromEnvelope(
          yield* Schema.decodeUnknownEffect(DomainEvent.Envelope)(json)
        )
        assert.strictEqual(DateTime.toEpochMillis(back.payload.at), millis)
        // DateTimes compare by instant (a decoded one may cache other fields).
        const plain = (e: typeof event) => ({
          ...e,
          occurredAt: DateTime.toEpochMillis(e.occurredAt),
          // JSON has no -0: a -0 quantity comes back as 0.
          payload: {
            ...e.payload,
            at: DateTime.toEpochMillis(e.payload.at),
            lines: e.payload.lines.map((line) => ({ ...line, quantity: line.quantity + 0 }))
          }
        })
        assert.deepStrictEqual(plain(back), plain(event))
        assert.strictEqual("carrier" in back.payload, "carrier" in event.payload)
      }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )

  it.effect("fromEnvelope refuses another type, another version and a bad payload", () =>
    Effect.gen(function* () {
      const event = yield* Shipped.make("order-1", { at: DateTime.makeUnsafe(0), lines: [] })
      const envelope = yield* Shipped.toEnvelope(event)
      for (const bad of [
        { ...envelope, type: "Other" },
        { ...envelope, version: 1 },
        { ...envelope, payload: { at: "yesterday", lines: [] } }
      ]) {
        const exit = yield* Effect.exit(Shipped.fromEnvelope(bad))
        assert.isTrue(Exit.isFailure(exit))
      }
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )
})
