import { assert, describe, it } from "@effect/vitest"
import { Entity, Pagination, RepositoryMemory, RepositorySql } from "@org/core"
import { Effect, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { parentId, recording } from "./fixtures/tracing.ts"

// A local entity, so core's tests need no other workspace package.
const Gadget = Entity.make("Gadget", {
  table: "gadgets",
  id: Entity.Uuid.pipe(Schema.brand("GadgetId")),
  fields: { name: Entity.Text },
  sortable: ["name"],
  unique: ["name"]
})

describe("RepositoryMemory tracing", () => {
  it.effect(
    "opens one Repository.<method> span per call, a child of the caller's, with the table and entity",
    () =>
      Effect.gen(function* () {
        const traces = recording()
        yield* Effect.gen(function* () {
          const gadgets = yield* RepositoryMemory.make(Gadget)
          const made = yield* gadgets.create({ name: "cog" })
          yield* gadgets.findById(made.id)
          yield* gadgets.update(made.id, { name: "sprocket" })
          yield* gadgets.list(Pagination.request({}))
          yield* gadgets.count()
          yield* gadgets.delete(made.id)
          yield* Effect.exit(gadgets.findById(made.id))
        }).pipe(
          Effect.withSpan("use case"),
          Effect.provide(SecureRandom.layerWebCrypto),
          Effect.provide(traces.layer)
        )
        const root = traces.named("use case")[0]!
        const methods = traces.spans.filter((span) => span.name.startsWith("Repository."))
        assert.deepStrictEqual(
          methods.map((span) => span.name),
          [
            "Repository.create",
            "Repository.findById",
            "Repository.update",
            "Repository.list",
            "Repository.count",
            "Repository.delete",
            "Repository.findById"
          ]
        )
        for (const span of methods) {
          assert.strictEqual(parentId(span), root.spanId)
          assert.strictEqual(span.attributes.get("db.collection.name"), "gadgets")
          assert.strictEqual(span.attributes.get("repository.entity"), "Gadget")
        }
        // A NotFound ends its span with the failure.
        const last = methods.at(-1)!
        assert.isTrue(last.status._tag === "Ended" && last.status.exit._tag === "Failure")
      })
  )

  it("shares its span attributes with the SQL repository", () => {
    assert.deepStrictEqual(RepositorySql.spanOptions(Gadget).attributes, {
      "db.collection.name": "gadgets",
      "repository.entity": "Gadget"
    })
  })
})
