/**
 * What every repository implementation does alike: stamp a new record and
 * build the errors of the port. Internal: not exported from the package.
 */
import type * as SecureRandom from "effect/crypto/SecureRandom"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Entity from "../Entity.ts"
import * as Repository from "../Repository.ts"

/**
 * A new record: a UUIDv7 id, `createdAt = updatedAt = now`, version 1, and
 * the input's own fields (`null` for a nullable field left out).
 */
export const stamp = (
  random: SecureRandom.SecureRandom["Service"],
  definition: Entity.Any,
  input: { readonly [field: string]: unknown }
): Effect.Effect<Record<string, unknown>> =>
  Effect.gen(function* () {
    const id = yield* random.uuidV7()
    const now = yield* DateTime.now
    const record: Record<string, unknown> = { id, createdAt: now, updatedAt: now, version: 1 }
    for (const [field, schema] of Object.entries(definition.fields)) {
      const value = input[field]
      record[field] = value === undefined && Entity.isNullable(schema) ? null : value
    }
    return record
  })

export const notFound = (definition: Entity.Any, id: unknown): Repository.NotFound =>
  new Repository.NotFound({ entity: definition.name, id: String(id) })

export const staleVersion = (definition: Entity.Any, currentVersion: number): Repository.Conflict =>
  new Repository.Conflict({ entity: definition.name, reason: "stale-version", fields: [], currentVersion })

export const duplicate = (definition: Entity.Any, fields: ReadonlyArray<string>): Repository.Conflict =>
  new Repository.Conflict({ entity: definition.name, reason: "duplicate", fields })
