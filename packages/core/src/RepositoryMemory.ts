/**
 * An in-memory `Repository`: a product feature for users' tests and
 * prototypes, held to the same laws as the SQL implementation (ordering,
 * uniqueness among live rows, soft delete, versions). Its writes join the
 * memory `UnitOfWork` (`UnitOfWork.layerMemory`) when one is open.
 *
 * @since 0.1.0
 */
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"
import type * as Entity from "./Entity.ts"
import * as Records from "./internal/records.ts"
import * as Ordering from "./Ordering.ts"
import * as Pagination from "./Pagination.ts"
import * as Repository from "./Repository.ts"
import * as Specification from "./Specification.ts"
import * as UnitOfWork from "./UnitOfWork.ts"

interface Row {
  entity: Readonly<Record<string, unknown>>
  deleted: boolean
}

/**
 * Makes an empty in-memory repository for an entity. Ids are UUIDv7 from
 * `SecureRandom`, timestamps from the `Clock` (so `TestClock` works).
 *
 * @example
 * ```ts
 * import { Context, Layer } from "effect"
 * import { SecureRandom } from "effect/crypto"
 * import { type Entity, RepositoryMemory, type Repository } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * class Items extends Context.Service<Items, Repository.ForEntity<typeof Item>>()("app/Items") {
 *   static readonly layerMemory = Layer.effect(Items, RepositoryMemory.make(Item)).pipe(
 *     Layer.provide(SecureRandom.layerWebCrypto)
 *   )
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <D extends Entity.Any>(
  definition: D
): Effect.Effect<Repository.ForEntity<D>, never, SecureRandom.SecureRandom> =>
  Effect.gen(function* () {
    type A = Entity.Type<D>
    const random = yield* SecureRandom.SecureRandom
    const rows = new Map<string, Row>()
    const fieldNames = Object.keys(definition.fields)
    // Typed input is re-checked against the entity schema, so both
    // implementations refuse the same impossible values (as defects).
    const validate: (candidate: unknown) => A = Schema.decodeUnknownSync(Schema.toType(definition.schema))

    const notFound = (id: unknown) => Records.notFound(definition, id)

    // As a Postgres unique index: equal values collide (date-times by
    // instant), NULLs never do (they are distinct).
    const duplicateOf = (candidate: Readonly<Record<string, unknown>>, selfId: unknown) => {
      const taken = definition.unique.filter((field: string) => {
        const value = candidate[field]
        if (value === null || value === undefined) return false
        for (const row of rows.values()) {
          if (!row.deleted && row.entity.id !== selfId && Equal.equals(row.entity[field], value)) return true
        }
        return false
      })
      return taken.length === 0 ? undefined : Records.duplicate(definition, taken)
    }

    const live = (id: unknown): Row | undefined => {
      const row = typeof id === "string" ? rows.get(id) : undefined
      return row && !row.deleted ? row : undefined
    }

    const checkVersion = (row: Row, options: Repository.WriteOptions | undefined) =>
      options?.expectedVersion !== undefined && options.expectedVersion !== row.entity.version
        ? Records.staleVersion(definition, Number(row.entity.version))
        : undefined

    // Every write checks and mutates inside one synchronous block, so no other
    // fiber can interleave between the check and the write.
    const create = (input: Entity.CreateOf<D>) =>
      Effect.gen(function* () {
        const entity: A = validate(yield* Records.stamp(random, definition, input))
        const journal = yield* UnitOfWork.CurrentJournal
        return yield* Effect.suspend((): Effect.Effect<A, Repository.Conflict> => {
          const conflict = duplicateOf(entity, undefined)
          if (conflict) return Effect.fail(conflict)
          rows.set(entity.id, { entity, deleted: false })
          UnitOfWork.recordUndo(journal, () => rows.delete(entity.id))
          return Effect.succeed(entity)
        })
      })

    const findById = (id: Entity.IdOf<D>) =>
      Effect.suspend((): Effect.Effect<A, Repository.NotFound> => {
        const row = live(id)
        return row ? Effect.succeed(row.entity as A) : Effect.fail(notFound(id))
      })

    const update = (id: Entity.IdOf<D>, patch: Entity.PatchOf<D>, options?: Repository.WriteOptions) =>
      Effect.flatMap(Effect.all([DateTime.now, UnitOfWork.CurrentJournal]), ([now, journal]) =>
        Effect.suspend((): Effect.Effect<A, Repository.NotFound | Repository.Conflict> => {
          const row = live(id)
          if (!row) return Effect.fail(notFound(id))
          const stale = checkVersion(row, options)
          if (stale) return Effect.fail(stale)
          const changes = fieldNames.filter((field) => Object.hasOwn(patch, field))
          if (changes.length === 0) return Effect.succeed(row.entity as A)
          const candidate: Record<string, unknown> = { ...row.entity }
          for (const field of changes) candidate[field] = patch[field]
          candidate.updatedAt = now
          candidate.version = Number(row.entity.version) + 1
          const entity: A = validate(candidate)
          const conflict = duplicateOf(entity, id)
          if (conflict) return Effect.fail(conflict)
          const previous = row.entity
          row.entity = entity
          UnitOfWork.recordUndo(journal, () => {
            row.entity = previous
          })
          return Effect.succeed(entity)
        })
      )

    const remove = (id: Entity.IdOf<D>, options?: Repository.WriteOptions) =>
      Effect.flatMap(UnitOfWork.CurrentJournal, (journal) =>
        Effect.suspend((): Effect.Effect<void, Repository.NotFound | Repository.Conflict> => {
          const row = live(id)
          if (!row) return Effect.fail(notFound(id))
          const stale = checkVersion(row, options)
          if (stale) return Effect.fail(stale)
          row.deleted = true
          UnitOfWork.recordUndo(journal, () => {
            row.deleted = false
          })
          return Effect.void
        })
      )

    const matching = (filter: Specification.Spec | undefined) =>
      Effect.map(Specification.isSatisfiedBy(definition, filter ?? Specification.all), (test) => {
        const found: Array<A> = []
        for (const row of rows.values())
          if (!row.deleted && test(row.entity as A)) found.push(row.entity as A)
        return found
      })

    const list = (request: Repository.ListRequest<Entity.SortableOf<D>>) =>
      Effect.map(matching(request.filter), (found) => {
        found.sort(Ordering.bySortKeys(request.sort))
        const start = Pagination.offset(request)
        return Pagination.makePage(found.slice(start, start + request.size), request, found.length)
      })

    const count = (filter?: Specification.Spec) => Effect.map(matching(filter), (found) => found.length)

    // The SQL repository's spans, so a trace reads the same on either.
    return Repository.traced(definition, { create, findById, update, delete: remove, list, count })
  })
