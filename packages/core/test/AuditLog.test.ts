import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import * as fc from "fast-check"
import { AuditLog, DomainEvent, Outbox, OutboxDispatcher, UnitOfWork } from "../src/index.ts"

const secretWords = [
  "password",
  "passcode",
  "secret",
  "token",
  "code",
  "otp",
  "recovery",
  "authorization",
  "cookie",
  "hash"
]

// Keys with a secret word in any case, with or without a prefix or suffix, and plain keys.
const secretKey = fc
  .tuple(
    fc.string({ maxLength: 4 }),
    fc.constantFrom(...secretWords),
    fc.array(fc.boolean(), { minLength: 13, maxLength: 13 }),
    fc.string({ maxLength: 4 })
  )
  .map(
    ([prefix, word, upper, suffix]) =>
      `${prefix}${[...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("")}${suffix}`
  )
const anyKey = fc.oneof(secretKey, fc.string({ maxLength: 8 }))

const payload: fc.Arbitrary<Schema.Json> = fc.letrec<{ value: Schema.Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.string(),
      fc.constantFrom("<redacted>", "<redacted:apiKey>")
    ),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(anyKey, tie("value"), { maxKeys: 5 })
  )
})).value

// The first secret key or Redacted value found, as a path.
const leak = (value: unknown, path = "$"): string | undefined => {
  if (Redacted.isRedacted(value)) return path
  if (typeof value === "string") return /^<redacted(:[^>]*)?>$/.test(value) ? path : undefined
  if (Array.isArray(value))
    return value.map((item, i) => leak(item, `${path}[${i}]`)).find((p) => p !== undefined)
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (AuditLog.isSecretKey(key)) return `${path}.${key}`
      const found = leak(item, `${path}.${key}`)
      if (found !== undefined) return found
    }
  }
  return undefined
}

// What redaction keeps: the input without the dropped parts, nothing added or changed.
const keeps = (input: unknown, output: unknown): boolean => {
  if (leak(input) === "$") return output === null
  if (Array.isArray(output)) {
    const kept = (input as ReadonlyArray<unknown>).filter((item) => leak(item) !== "$")
    return (
      Array.isArray(input) && output.length === kept.length && output.every((item, i) => keeps(kept[i], item))
    )
  }
  if (typeof output === "object" && output !== null) {
    const source = input as Record<string, unknown>
    return Object.entries(output).every(
      ([key, item]) => Object.hasOwn(source, key) && keeps(source[key], item)
    )
  }
  return Object.is(input, output)
}

const ItemCreated = DomainEvent.define("ItemCreated", {
  aggregateType: "Item",
  payload: Schema.Struct({ name: Schema.String, secret: Schema.String })
})

describe("AuditLog", () => {
  describe("redact", () => {
    it("drops every secret key and Redacted value at any depth (generated payloads)", () => {
      fc.assert(
        fc.property(payload, (value) => {
          const redacted = AuditLog.redact(value)
          return leak(redacted) === undefined && keeps(value, redacted)
        }),
        { numRuns: 500 }
      )
    })

    it("keeps plain keys, drops secret ones in any case, and Redacted instances", () => {
      const input = {
        email: "a@example.com",
        NewPassword: "x",
        zipCode: "12345",
        items: [{ name: "saw", Set_Cookie: "c" }, "<redacted>", 3],
        nested: { mfa: { otpauth_uri: "otpauth://", enabled: true } },
        apiKey: Redacted.make("k")
      } as unknown as Schema.Json
      assert.deepStrictEqual(AuditLog.redact(input), {
        email: "a@example.com",
        items: [{ name: "saw" }, 3],
        nested: { mfa: { enabled: true } }
      })
      assert.strictEqual(AuditLog.redact("<redacted>"), null)
      assert.strictEqual(AuditLog.redact(7), 7)
    })

    it("the secret words are the documented ones", () => {
      for (const word of secretWords) assert.isTrue(AuditLog.isSecretKey(word.toUpperCase()), word)
      for (const key of ["email", "name", "roles", "aggregateId", "reason"])
        assert.isFalse(AuditLog.isSecretKey(key), key)
    })
  })

  describe("Entry", () => {
    it.effect("encodes to the API's JSON: ISO instant, null actor and request", () =>
      Effect.gen(function* () {
        const event = yield* ItemCreated.make("item-1", { name: "saw", secret: "s" })
        const envelope = yield* ItemCreated.toEnvelope(event)
        const entry = AuditLog.fromEnvelope(envelope)
        const encoded = yield* Schema.encodeEffect(AuditLog.Entry)(entry)
        assert.deepStrictEqual(encoded, {
          id: envelope.id,
          type: "ItemCreated",
          aggregateType: "Item",
          aggregateId: "item-1",
          actorId: null,
          requestId: null,
          occurredAt: "1970-01-01T00:00:00.000Z",
          data: { name: "saw" }
        })
        const decoded = yield* Schema.decodeUnknownEffect(AuditLog.Entry)(encoded)
        assert.deepStrictEqual(Schema.encodeSync(AuditLog.Entry)(decoded), encoded)
      })
    )
  })

  describe("layerMemory", () => {
    it.effect("records once per id, lists newest first with filters", () =>
      Effect.gen(function* () {
        const log = yield* AuditLog.AuditLog
        const raise = (aggregateId: string, actorId: string) =>
          Effect.flatMap(
            DomainEvent.withMetadata(ItemCreated.make(aggregateId, { name: aggregateId, secret: "s" }), {
              actorId,
              requestId: "req-1"
            }),
            ItemCreated.toEnvelope
          )
        const a = yield* raise("a", "u1")
        const b = yield* raise("b", "u2")
        const c = yield* raise("c", "u1")
        for (const event of [b, a, c, a, b]) yield* log.record(event)
        const page = yield* log.list({}, { page: 1, size: 10 })
        assert.deepStrictEqual(
          page.items.map((entry) => entry.aggregateId),
          ["c", "b", "a"],
          "same instant: UUIDv7 ids give the raising order"
        )
        assert.deepInclude(page, { page: 1, size: 10, total: 3, pages: 1 })
        const mine = yield* log.list({ actorId: "u1", aggregateId: "a" }, { page: 1, size: 10 })
        assert.deepStrictEqual(
          mine.items.map((entry) => entry.id),
          [a.id]
        )
        assert.strictEqual(mine.items[0]?.requestId, "req-1")
        const clamped = yield* log.list({}, { page: 0, size: 1_000 })
        assert.deepInclude(clamped, { page: 1, size: 100, total: 3 })
      }).pipe(Effect.provide(AuditLog.layerMemory))
    )
  })

  describe("consumer", () => {
    it.effect("the outbox dispatcher audits every committed event exactly once", () =>
      Effect.gen(function* () {
        const outbox = yield* Outbox.Outbox
        const log = yield* AuditLog.AuditLog
        const audit = yield* AuditLog.consumer()
        assert.strictEqual(audit.name, "audit")
        const events = yield* Effect.forEach(["a", "b"], (id) =>
          Effect.flatMap(ItemCreated.make(id, { name: id, secret: "s" }), ItemCreated.toEnvelope)
        )
        yield* outbox.append(events)
        yield* OutboxDispatcher.drain({ consumers: Effect.succeed([audit]) })
        // at least once: a second delivery of the same events changes nothing
        for (const event of events) yield* audit.handle(event)
        const page = yield* log.list({}, { page: 1, size: 10 })
        assert.strictEqual(page.total, 2)
        assert.isTrue(page.items.every((entry) => !("secret" in (entry.data as object))))
      }).pipe(
        Effect.provide(Layer.mergeAll(AuditLog.layerMemory, Outbox.layerMemory, UnitOfWork.layerMemory))
      )
    )

    it.effect("takes a name and a predicate", () =>
      Effect.gen(function* () {
        const audit = yield* AuditLog.consumer({
          name: "audit-items",
          accepts: (event) => event.type.startsWith("Item")
        })
        const event = yield* Effect.flatMap(
          ItemCreated.make("a", { name: "a", secret: "s" }),
          ItemCreated.toEnvelope
        )
        assert.strictEqual(audit.name, "audit-items")
        assert.isTrue(audit.accepts(event))
        assert.isFalse(audit.accepts({ ...event, type: "LoginFailed" }))
      }).pipe(Effect.provide(AuditLog.layerMemory))
    )
  })
})
