/**
 * The laws of an `AuditLog`: `record` is idempotent on the event id (also
 * under concurrent redelivery); an entry keeps what the event said (actor,
 * request, instant to the millisecond, JSON data) minus its secrets; `list`
 * is newest first with ties broken by id; filters AND; page numbers and
 * totals add up; no generated payload's secret keys or `Redacted` values
 * survive.
 *
 * Each law is an effect that fails (as a defect with a message) when the
 * implementation breaks it. A fixture is an empty log (or an unused table).
 *
 * @since 0.3.0
 */
import { AuditLog, type DomainEvent } from "@org/core"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as fc from "fast-check"

/**
 * An empty audit log.
 *
 * @since 0.3.0
 * @category models
 */
export interface Fixture {
  readonly log: AuditLog.AuditLog["Service"]
}

/**
 * A law: an effect over fresh fixtures.
 *
 * @since 0.3.0
 * @category models
 */
export type Law = <R>(fresh: Effect.Effect<Fixture, never, R>) => Effect.Effect<void, unknown, R>

const expect = (condition: boolean, message: string) =>
  condition ? Effect.void : Effect.die(new Error(`AuditLog law broken: ${message}`))

// 2026-01-01T00:00:00.000Z: every event of the laws happens after it.
const epoch = 1_767_225_600_000

/**
 * A UUIDv7 whose timestamp is `millis` and whose random part is `seq`, so
 * the laws control both orders.
 *
 * @example
 * ```ts
 * import { AuditLogLaws } from "@org/testing"
 *
 * const id = AuditLogLaws.eventId(1_767_225_600_000, 1) // "019b76da-a800-7000-8000-000000000001"
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const eventId = (millis: number, seq: number): string => {
  const time = millis.toString(16).padStart(12, "0")
  const rand = seq.toString(16).padStart(18, "0")
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${rand.slice(0, 3)}-8${rand.slice(3, 6)}-${rand.slice(6)}`
}

/**
 * An event envelope for the laws: `at` milliseconds after the laws' epoch.
 *
 * @example
 * ```ts
 * import { AuditLogLaws } from "@org/testing"
 *
 * const event = AuditLogLaws.envelope({ at: 5, seq: 1, type: "ItemCreated", actorId: "u1", payload: { name: "saw" } })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const envelope = (options: {
  readonly at: number
  readonly seq: number
  readonly type?: string | undefined
  readonly aggregateId?: string | undefined
  readonly actorId?: string | undefined
  readonly requestId?: string | undefined
  readonly payload?: Schema.Json | undefined
}): DomainEvent.Envelope => ({
  id: eventId(epoch + options.at, options.seq),
  type: options.type ?? "ItemCreated",
  aggregateType: "Item",
  aggregateId: options.aggregateId ?? "item-1",
  occurredAt: DateTime.makeUnsafe(epoch + options.at),
  version: 1,
  integration: false,
  payload: options.payload ?? {},
  metadata: {
    ...(options.actorId === undefined ? {} : { actorId: options.actorId }),
    ...(options.requestId === undefined ? {} : { requestId: options.requestId })
  }
})

// JSON with object keys sorted: a store may reorder keys (Postgres jsonb does).
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) =>
    typeof item === "object" && item !== null && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item
  )

const showEntry = (entry: AuditLog.Entry) => ({
  ...entry,
  occurredAt: DateTime.formatIso(entry.occurredAt),
  data: canonical(entry.data)
})

const sameEntry = (a: AuditLog.Entry, b: AuditLog.Entry): boolean =>
  canonical(showEntry(a)) === canonical(showEntry(b))

const ids = (page: { readonly items: ReadonlyArray<AuditLog.Entry> }): string =>
  page.items.map((entry) => entry.id).join(",")

const all = (log: AuditLog.AuditLog["Service"], filter: AuditLog.Filter = {}) =>
  log.list(filter, { page: 1, size: 100 })

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
] as const

/**
 * JSON payloads whose keys mix plain names with names holding a secret word
 * in any case, prefixed or suffixed (`newPASSWORD_hash`), and whose values
 * include `Redacted` texts (`<redacted>`).
 *
 * @since 0.3.0
 * @category arbitraries
 */
export const payloadArbitrary: fc.Arbitrary<Schema.Json> = (() => {
  const secretKey = fc
    .tuple(
      fc.constantFrom("", "new", "mfa_", "x-", "current"),
      fc.constantFrom(...secretWords),
      fc.array(fc.boolean(), { minLength: 13, maxLength: 13 }),
      fc.constantFrom("", "s", "_hash", "Id", "Value")
    )
    .map(
      ([prefix, word, upper, suffix]) =>
        `${prefix}${[...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("")}${suffix}`
    )
  const plainKey = fc.constantFrom("name", "email", "id", "roles", "price", "note", "items", "reason", "ip")
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }),
    // no NUL: Postgres text and jsonb refuse it
    fc.string({ maxLength: 12 }).filter((s) => !s.includes("\u0000")),
    fc.constantFrom("<redacted>", "<redacted:password>")
  )
  const { value } = fc.letrec<{ value: Schema.Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(fc.oneof(secretKey, plainKey), tie("value"), { maxKeys: 5 })
    )
  }))
  return fc.dictionary(fc.oneof(secretKey, plainKey), value, { maxKeys: 6 })
})()

/**
 * Where `data` still holds a secret key or a `Redacted` value, as a JSON
 * path (undefined when clean).
 *
 * @since 0.3.0
 * @category redaction
 */
export const leak = (value: unknown, path = "$"): string | undefined => {
  if (typeof value === "string") return /^<redacted(:[^>]*)?>$/.test(value) ? path : undefined
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = leak(item, `${path}[${i}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (AuditLog.isSecretKey(key)) return `${path}.${key}`
      const found = leak(item, `${path}.${key}`)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/**
 * Every law, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { AuditLog } from "@org/core"
 * import { AuditLogLaws } from "@org/testing"
 * import { Effect } from "effect"
 *
 * const fresh = Effect.map(AuditLog.makeMemory, (log) => ({ log }))
 * for (const [name, law] of Object.entries(AuditLogLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.3.0
 * @category laws
 */
export const laws: Record<string, Law> = {
  "record is idempotent: a redelivered event (even concurrently, even changed) is stored once": (fresh) =>
    Effect.gen(function* () {
      const { log } = yield* fresh
      const first = envelope({ at: 1, seq: 1, actorId: "u1", requestId: "r1", payload: { name: "saw" } })
      yield* Effect.all(
        Array.from({ length: 8 }, () => log.record(first)),
        { concurrency: "unbounded" }
      )
      yield* log.record({ ...first, type: "Changed", payload: { name: "other" } })
      const page = yield* all(log)
      yield* expect(page.total === 1 && page.items.length === 1, `${page.total} entries for one event id`)
      const [entry] = page.items
      yield* expect(
        entry !== undefined && sameEntry(entry, AuditLog.fromEnvelope(first)),
        `the entry is not the first record's: ${canonical(entry === undefined ? null : showEntry(entry))}`
      )
    }),

  "an entry keeps the event's identity, actor, request, instant and data": (fresh) =>
    Effect.gen(function* () {
      const { log } = yield* fresh
      const payload: Schema.Json = {
        name: 'Säge ✓ "quoted" \\ back',
        price: 12.5,
        quantity: 0,
        tags: ["a", 1, true, null, { deep: [[]] }],
        empty: {},
        big: 9_007_199_254_740_991
      }
      const withActor = envelope({
        at: 1_234,
        seq: 7,
        type: "ItemUpdated",
        aggregateId: "i-9",
        actorId: "u-1",
        requestId: "req-1",
        payload
      })
      const anonymous = envelope({ at: 1_235, seq: 8, type: "LoginFailed", payload: null })
      yield* log.record(withActor)
      yield* log.record(anonymous)
      const page = yield* all(log)
      const byId = new Map(page.items.map((entry) => [entry.id, entry]))
      for (const event of [withActor, anonymous]) {
        const stored = byId.get(event.id)
        const expected = AuditLog.fromEnvelope(event)
        yield* expect(
          stored !== undefined && sameEntry(stored, expected),
          `stored ${canonical(stored === undefined ? null : showEntry(stored))}, expected ${canonical(showEntry(expected))}`
        )
      }
      const anon = byId.get(anonymous.id)
      yield* expect(
        anon?.actorId === null && anon.requestId === null,
        "an event without actor or request has a non-null actorId or requestId"
      )
    }),

  "list is newest first: by occurredAt, then id, both descending": (fresh) =>
    Effect.gen(function* () {
      const { log } = yield* fresh
      // Recorded out of order; three share an instant and differ by id only.
      const events = [
        envelope({ at: 30, seq: 1 }),
        envelope({ at: 10, seq: 1 }),
        envelope({ at: 20, seq: 2 }),
        envelope({ at: 20, seq: 9 }),
        envelope({ at: 40, seq: 1 }),
        envelope({ at: 20, seq: 5 }),
        envelope({ at: 1_000_000, seq: 1 })
      ]
      for (const event of events) yield* log.record(event)
      const expected = events
        .map(AuditLog.fromEnvelope)
        .sort(AuditLog.newestFirst)
        .map((entry) => entry.id)
        .join(",")
      const page = yield* all(log)
      yield* expect(ids(page) === expected, `order ${ids(page)}, expected ${expected}`)
      const firstAt = page.items[0] === undefined ? 0 : DateTime.toEpochMillis(page.items[0].occurredAt)
      yield* expect(firstAt === epoch + 1_000_000, "the newest event is not first")
    }),

  "filters AND: type, aggregateId and actorId, each exact": (fresh) =>
    Effect.gen(function* () {
      const { log } = yield* fresh
      const types = ["ItemCreated", "ItemDeleted"]
      const aggregates = ["a-1", "a-2"]
      const actors = ["u-1", "u-2", undefined]
      const events: Array<DomainEvent.Envelope> = []
      let seq = 0
      for (const type of types) {
        for (const aggregateId of aggregates) {
          for (const actorId of actors) {
            seq++
            events.push(envelope({ at: seq, seq, type, aggregateId, actorId }))
          }
        }
      }
      for (const event of events) yield* log.record(event)
      const entries = events.map(AuditLog.fromEnvelope)
      const filters: ReadonlyArray<AuditLog.Filter> = [
        {},
        { type: "ItemCreated" },
        { aggregateId: "a-2" },
        { actorId: "u-1" },
        { type: "ItemDeleted", actorId: "u-2" },
        { type: "ItemCreated", aggregateId: "a-1", actorId: "u-2" },
        { aggregateId: "a-1", actorId: "u-1" },
        { type: "itemcreated" },
        { aggregateId: "a-" },
        { actorId: "" },
        { type: "Nope", aggregateId: "a-1" }
      ]
      for (const filter of filters) {
        const expected = entries.filter(AuditLog.matches(filter)).sort(AuditLog.newestFirst)
        const page = yield* all(log, filter)
        yield* expect(
          ids(page) === expected.map((entry) => entry.id).join(",") && page.total === expected.length,
          `filter ${JSON.stringify(filter)} gave ${page.items.length} of ${page.total}, expected ${expected.length}`
        )
      }
    }),

  "pages add up: total, pages, sizes, and every entry on exactly one page": (fresh) =>
    Effect.gen(function* () {
      const { log } = yield* fresh
      const empty = yield* log.list({}, { page: 1, size: 3 })
      yield* expect(
        empty.total === 0 &&
          empty.pages === 0 &&
          empty.items.length === 0 &&
          empty.page === 1 &&
          empty.size === 3,
        `an empty log lists ${JSON.stringify({ ...empty, items: empty.items.length })}`
      )
      for (let i = 1; i <= 7; i++)
        yield* log.record(envelope({ at: i, seq: i, actorId: i % 2 === 0 ? "even" : "odd" }))
      const whole = ids(yield* all(log))
      const seen: Array<string> = []
      for (let page = 1; page <= 3; page++) {
        const got = yield* log.list({}, { page, size: 3 })
        yield* expect(
          got.page === page && got.size === 3 && got.total === 7 && got.pages === 3,
          `page ${page}: ${JSON.stringify({ ...got, items: got.items.length })}`
        )
        yield* expect(got.items.length === (page < 3 ? 3 : 1), `page ${page} has ${got.items.length} items`)
        seen.push(...got.items.map((entry) => entry.id))
      }
      yield* expect(seen.join(",") === whole, "the pages in turn are not the whole list in order")
      const past = yield* log.list({}, { page: 9, size: 3 })
      yield* expect(
        past.items.length === 0 && past.total === 7 && past.pages === 3 && past.page === 9,
        `a page past the end: ${JSON.stringify({ ...past, items: past.items.length })}`
      )
      const evens = yield* log.list({ actorId: "even" }, { page: 2, size: 2 })
      yield* expect(
        evens.total === 3 && evens.pages === 2 && evens.items.length === 1,
        `filtered paging: ${JSON.stringify({ ...evens, items: evens.items.length })}`
      )
    }),

  "data never holds a secret: keys matching the secret words, at any depth, and Redacted values are dropped":
    (fresh) =>
      Effect.gen(function* () {
        const { log } = yield* fresh
        const payload: Schema.Json = {
          email: "a@example.com",
          password: "hunter2",
          PasswordHash: "$argon2id$...",
          mfa: { secret: "JBSWY3DP", recovery_codes: ["a", "b"], enabled: true },
          session: { refresh_token: "r", accessToken: "t", Cookie: "c", kept: ["<redacted>", "x"] },
          headers: [{ Authorization: "Bearer x", "x-request-id": "r-1" }],
          apiKey: "<redacted:apiKey>",
          code: "123456",
          otp: "654321",
          passcode: "0000"
        }
        yield* log.record(envelope({ at: 1, seq: 1, payload }))
        const [entry] = (yield* all(log)).items
        const expected = {
          email: "a@example.com",
          mfa: { enabled: true },
          session: { kept: ["x"] },
          headers: [{ "x-request-id": "r-1" }]
        }
        yield* expect(
          entry !== undefined && canonical(entry.data) === canonical(expected),
          `data is ${canonical(entry?.data ?? null)}, expected ${canonical(expected)}`
        )
        // Generated payloads, a fixed sample so a failure reproduces.
        const payloads = fc.sample(payloadArbitrary, { seed: 42, numRuns: 40 })
        for (const [i, generated] of payloads.entries()) {
          yield* log.record(envelope({ at: 100 + i, seq: i, type: "Generated", payload: generated }))
        }
        const stored = yield* log.list({ type: "Generated" }, { page: 1, size: 100 })
        yield* expect(
          stored.total === payloads.length,
          `${stored.total} of ${payloads.length} generated events stored`
        )
        for (const item of stored.items) {
          const where = leak(item.data)
          yield* expect(where === undefined, `a secret survived at ${where} in ${canonical(item.data)}`)
        }
      })
}
