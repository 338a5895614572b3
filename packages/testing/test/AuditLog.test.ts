import { assert, describe, it } from "@effect/vitest"
import { AuditLog } from "@org/core"
import { AuditLogLaws } from "@org/testing"
import { DateTime, Effect, Exit } from "effect"

const fresh = Effect.map(AuditLog.makeMemory, (log) => ({ log }))

describe("AuditLog.layerMemory obeys the AuditLog laws", () => {
  for (const [name, law] of Object.entries(AuditLogLaws.laws)) {
    it.effect(name, () => law(fresh))
  }
})

type Log = AuditLog.AuditLog["Service"]

// Broken logs, each wrong in one way a real implementation could be: the laws must catch each.
const mutants: Record<string, (log: Log) => Log> = {
  "a redelivery overwrites the entry": (log) => {
    const latest = new Map<string, AuditLog.Entry>()
    return {
      record: (event) =>
        Effect.andThen(
          log.record(event),
          Effect.sync(() => latest.set(event.id, AuditLog.fromEnvelope(event)))
        ),
      list: (filter, page) =>
        Effect.map(log.list(filter, page), (got) => ({
          ...got,
          items: got.items.map((entry) => latest.get(entry.id) ?? entry)
        }))
    }
  },
  "oldest first": (log) => ({
    ...log,
    list: (filter, page) =>
      Effect.map(log.list(filter, page), (got) => ({ ...got, items: [...got.items].reverse() }))
  }),
  "ties broken by id ascending": (log) => ({
    ...log,
    list: (filter, page) =>
      Effect.map(log.list(filter, page), (got) => ({
        ...got,
        items: [...got.items].sort(
          (a, b) =>
            DateTime.toEpochMillis(b.occurredAt) - DateTime.toEpochMillis(a.occurredAt) ||
            (a.id < b.id ? -1 : 1)
        )
      }))
  }),
  "filters OR instead of AND": (log) => ({
    ...log,
    list: (filter, page) =>
      Object.keys(filter).length > 1 ? log.list({ type: filter.type }, page) : log.list(filter, page)
  }),
  "the total counts the page only": (log) => ({
    ...log,
    list: (filter, page) => Effect.map(log.list(filter, page), (got) => ({ ...got, total: got.items.length }))
  }),
  "secrets are kept": (log) => {
    const payloads = new Map<string, AuditLog.Entry["data"]>()
    return {
      record: (event) =>
        Effect.andThen(
          log.record(event),
          Effect.sync(() => payloads.set(event.id, event.payload))
        ),
      list: (filter, page) =>
        Effect.map(log.list(filter, page), (got) => ({
          ...got,
          items: got.items.map((entry) => ({ ...entry, data: payloads.get(entry.id) ?? entry.data }))
        }))
    }
  },
  "the actor is lost": (log) => ({
    ...log,
    list: (filter, page) =>
      Effect.map(log.list(filter, page), (got) => ({
        ...got,
        items: got.items.map((entry) => ({ ...entry, actorId: null }))
      }))
  })
}

describe("the laws catch broken logs", () => {
  for (const [name, mutate] of Object.entries(mutants)) {
    it.effect(name, () =>
      Effect.gen(function* () {
        const broken = Effect.map(fresh, (fixture) => ({ log: mutate(fixture.log) }))
        let caught = 0
        for (const law of Object.values(AuditLogLaws.laws)) {
          const exit = yield* Effect.exit(law(broken))
          if (Exit.isFailure(exit)) caught++
        }
        assert.isAbove(caught, 0, `no law caught the mutant "${name}"`)
      })
    )
  }
})

describe("AuditLogLaws helpers", () => {
  it("eventId is a UUIDv7 carrying the instant", () => {
    const id = AuditLogLaws.eventId(1_767_225_600_123, 5)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.strictEqual(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16), 1_767_225_600_123)
  })
})
