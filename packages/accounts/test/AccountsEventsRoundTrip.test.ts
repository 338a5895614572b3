/**
 * Every accounts event survives the wire: for payloads generated from its own
 * schema, raised with generated metadata at a generated instant, the event
 * goes `toEnvelope` → JSON (`DomainEvent.Envelope`'s encoding, then
 * `JSON.stringify`/`JSON.parse`, as the outbox and the relay carry it) →
 * `Envelope` decoding → `fromEnvelope`, and comes back equal (the event
 * schema's equivalence: DateTimes by instant, optional keys present or
 * absent alike) with the same JSON.
 *
 * And a guard on the schemas themselves: no payload any of them admits has
 * a key named like a credential (password, token, secret, OTP, code), at any
 * depth, so the audit log and the relay cannot be handed one by an event.
 * `recoveryCodes` (of `MfaEnabled`) is a count, and is checked to be one.
 */

import { assert, describe, it } from "@effect/vitest"
import { AccountsEvents } from "@org/accounts"
import { DomainEvent } from "@org/core"
import { DateTime, Effect, Predicate, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

const AggregateId = Schema.String.check(Schema.isNonEmpty())
// Every instant an ISO string of a four-digit year can hold.
const Millis = Schema.Int.check(
  Schema.isBetween({ minimum: -62_167_219_200_000, maximum: 253_402_300_799_999 })
)

const credentialLike = /pass(word|wd|phrase)?|token|secret|otp|code|hash|key/i
// Keys that look like a credential but are not one: what their value must be.
const allowed: Record<string, (value: unknown) => boolean> = {
  recoveryCodes: (value) => Predicate.isNumber(value) && Number.isInteger(value),
  // The pseudonymous hash of an email no account has (see `AccountsEvents`), not a password hash.
  emailHash: Predicate.isString
}

/** Every key of a JSON value, at any depth, with its value. */
const entries = (json: unknown): Array<readonly [string, unknown]> =>
  Array.isArray(json)
    ? json.flatMap(entries)
    : Predicate.isObject(json)
      ? Object.entries(json).flatMap(([key, value]) => [[key, value] as const, ...entries(value)])
      : []

const roundTrip = (definition: DomainEvent.AnyDefinition) => {
  const equivalent = Schema.toEquivalence(definition.schema)
  const encodeEvent = Schema.encodeEffect(definition.schema)
  it.effect.prop(
    `${definition.type}: toEnvelope, JSON and back gives the event back; no credential-like key`,
    { payload: definition.payload, aggregateId: AggregateId, metadata: DomainEvent.Metadata, millis: Millis },
    ({ aggregateId, metadata, millis, payload }) =>
      Effect.gen(function* () {
        const raised = yield* DomainEvent.withMetadata(definition.make(aggregateId, payload), metadata)
        const event = { ...raised, occurredAt: DateTime.makeUnsafe(millis) }
        const envelope = yield* definition.toEnvelope(event)
        const json: unknown = JSON.parse(
          JSON.stringify(yield* Schema.encodeEffect(DomainEvent.Envelope)(envelope))
        )
        const back = yield* definition.fromEnvelope(
          yield* Schema.decodeUnknownEffect(DomainEvent.Envelope)(json)
        )
        assert.isTrue(Schema.is(definition.schema)(back), "the decoded event is not of its schema")
        assert.isTrue(equivalent(back, event), "the decoded event differs from the raised one")
        // The same JSON both ways (JSON has no -0, so this compares as the wire does).
        assert.strictEqual(
          JSON.stringify(yield* encodeEvent(back)),
          JSON.stringify(yield* encodeEvent(event))
        )

        for (const [key, value] of entries(JSON.parse(JSON.stringify(envelope.payload)))) {
          if (!credentialLike.test(key)) continue
          assert.isTrue(
            allowed[key]?.(value) === true,
            `${definition.type} carries ${key}: ${JSON.stringify(value)}`
          )
        }
      }).pipe(Effect.provide(SecureRandom.layerWebCrypto)),
    { arbitrary: { runs: 100 } }
  )
}

describe("AccountsEvents round trip", () => {
  for (const definition of AccountsEvents.all) roundTrip(definition)

  it("covers the ten accounts events", () => {
    assert.deepStrictEqual(
      AccountsEvents.all.map((definition) => definition.type),
      [
        "UserRegistered",
        "LoginSucceeded",
        "LoginFailed",
        "RefreshReuseDetected",
        "LoggedOut",
        "MfaEnabled",
        "MfaDisabled",
        "PasswordChanged",
        "RolesChanged",
        "UserDeleted"
      ]
    )
  })

  it("the key guard catches what it is meant to", () => {
    for (const key of [
      "password",
      "newPassword",
      "accessToken",
      "refresh_token",
      "totpSecret",
      "code",
      "recoveryCode",
      "passwordHash",
      "apiKey"
    ]) {
      assert.isTrue(credentialLike.test(key) && allowed[key] === undefined, key)
    }
  })
})
