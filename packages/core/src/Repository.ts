/**
 * The generic Repository port: create, find by id, update (optionally against
 * an expected version), soft delete, list a page, count. Implementations:
 * `RepositoryMemory` (for tests and prototypes) and `RepositorySql` (any
 * `effect/sql` driver); both obey the same laws (see the shared law tests).
 *
 * Infrastructure failures (a lost connection) are defects at this boundary:
 * callers can act on `NotFound` and `Conflict`, not on a broken socket.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Tracer from "effect/Tracer"
import type * as Entity from "./Entity.ts"
import type * as Pagination from "./Pagination.ts"
import type * as Specification from "./Specification.ts"

/**
 * No live entity has this id (it never existed or was deleted).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  entity: Schema.String,
  id: Schema.String
}) {
  override get message(): string {
    return `${this.entity} ${this.id} was not found`
  }
}

/**
 * Why a write conflicted: a unique field already taken, or a stale version.
 *
 * @since 0.1.0
 * @category errors
 */
export const ConflictReason = Schema.Literals(["duplicate", "stale-version"])

/**
 * A write that would break a uniqueness rule or that was made against a
 * version that is no longer current.
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", {
  entity: Schema.String,
  reason: ConflictReason,
  /** The unique fields involved, for `duplicate`. */
  fields: Schema.Array(Schema.String),
  /** The current version, for `stale-version`. */
  currentVersion: Schema.optionalKey(Schema.Int)
}) {
  override get message(): string {
    return this.reason === "duplicate"
      ? `${this.entity} with the same ${this.fields.join(", ")} already exists`
      : `${this.entity} was changed by someone else (current version ${this.currentVersion})`
  }
}

/**
 * Options of a write made against a version read earlier.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions {
  /** Fail with a `stale-version` `Conflict` unless the stored version is this one. */
  readonly expectedVersion?: number | undefined
}

/**
 * A page request with an optional filter.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListRequest<SortField extends string = string> extends Pagination.PageRequest<SortField> {
  /** Only entities that satisfy it (all when absent). */
  readonly filter?: Specification.Spec | undefined
}

/**
 * A repository of entities of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Repository<A, Id, Create, Patch, SortField extends string> {
  /** Stores a new entity with a fresh id, timestamps of now and version 1. */
  readonly create: (input: Create) => Effect.Effect<A, Conflict>
  /** The live entity with this id. */
  readonly findById: (id: Id) => Effect.Effect<A, NotFound>
  /**
   * Applies a patch: bumps `version`, sets `updatedAt`. An empty patch changes
   * nothing and returns the entity as stored (after the version check).
   */
  readonly update: (id: Id, patch: Patch, options?: WriteOptions) => Effect.Effect<A, NotFound | Conflict>
  /** Soft-deletes: the entity is never read again, its id never reused. */
  readonly delete: (id: Id, options?: WriteOptions) => Effect.Effect<void, NotFound | Conflict>
  /**
   * A page of the live entities that satisfy the filter, in the requested
   * order, ties broken by `id` ascending. A filter that names an unknown
   * field or an undecodable value fails with a `SpecificationError`.
   */
  readonly list: (
    request: ListRequest<SortField>
  ) => Effect.Effect<Pagination.Page<A>, Specification.SpecificationError>
  /** The number of live entities (that satisfy the filter, when given). */
  readonly count: (filter?: Specification.Spec) => Effect.Effect<number, Specification.SpecificationError>
}

/**
 * The repository type of an entity definition.
 *
 * @since 0.1.0
 * @category models
 */
export type ForEntity<D extends Entity.Any> = Repository<
  Entity.Type<D>,
  Entity.IdOf<D>,
  Entity.CreateOf<D>,
  Entity.PatchOf<D>,
  Entity.SortableOf<D>
>

/**
 * The options of a repository's method spans: the table as
 * `db.collection.name` (OpenTelemetry's database convention) and the
 * entity's name as `repository.entity`.
 *
 * @since 0.4.0
 * @category tracing
 */
export const spanOptions = (definition: Entity.Any): Tracer.SpanOptions => ({
  kind: "internal",
  attributes: { "db.collection.name": definition.table, "repository.entity": definition.name },
  // The trace would point here, not at the caller: not worth an Error per call.
  captureStackTrace: false
})

/**
 * A repository whose every method runs in a span `Repository.<method>`
 * (`spanOptions`), as both kit implementations do, so a trace reads the same
 * on either. The wrapped methods should call each other untraced.
 *
 * @since 0.4.0
 * @category tracing
 */
export const traced = <D extends Entity.Any>(definition: D, repository: ForEntity<D>): ForEntity<D> => {
  const options = spanOptions(definition)
  return {
    create: (input) => Effect.withSpan(repository.create(input), "Repository.create", options),
    findById: (id) => Effect.withSpan(repository.findById(id), "Repository.findById", options),
    update: (id, patch, write) =>
      Effect.withSpan(repository.update(id, patch, write), "Repository.update", options),
    delete: (id, write) => Effect.withSpan(repository.delete(id, write), "Repository.delete", options),
    list: (request) => Effect.withSpan(repository.list(request), "Repository.list", options),
    count: (filter) => Effect.withSpan(repository.count(filter), "Repository.count", options)
  }
}
