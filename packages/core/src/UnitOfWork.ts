/**
 * Runs an effect atomically across repositories: commit on success, roll
 * back on failure, defect or interruption; nested `transaction`s are
 * savepoints (an inner failure that the outer effect handles rolls back only
 * the inner writes); `afterCommit` hooks run once the outermost transaction
 * commits (events and cache invalidations hook in here) and are dropped on
 * rollback.
 *
 * Two implementations: `layerSql` (the database's transaction, through
 * `effect/sql`; isolation is the database's) and `layerMemory`, which
 * journals the writes of `RepositoryMemory` and undoes them on rollback. The
 * memory one is atomic but not isolated: other fibers see writes before the
 * commit (read-uncommitted), which is enough for users' tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as SqlError from "effect/sql/SqlError"

/**
 * The unit-of-work service.
 *
 * @since 0.1.0
 * @category services
 */
export class UnitOfWork extends Context.Service<
  UnitOfWork,
  {
    /** Runs `effect` in a transaction (a savepoint when one is already open). */
    readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** Runs `effect` after the outermost transaction commits; now if none is open. */
    readonly afterCommit: <R>(effect: Effect.Effect<void, never, R>) => Effect.Effect<void, never, R>
  }
>()("@org/core/UnitOfWork") {}

/**
 * Runs an effect in a transaction of the `UnitOfWork` in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { UnitOfWork } from "@org/core"
 *
 * declare const debit: Effect.Effect<void>
 * declare const credit: Effect.Effect<void>
 * const transfer = UnitOfWork.transaction(Effect.andThen(debit, credit))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | UnitOfWork> =>
  Effect.flatMap(UnitOfWork, (uow) => uow.transaction(effect))

/**
 * Registers an effect to run after the current transaction commits.
 *
 * @since 0.1.0
 * @category combinators
 */
export const afterCommit = <R>(
  effect: Effect.Effect<void, never, R>
): Effect.Effect<void, never, R | UnitOfWork> => Effect.flatMap(UnitOfWork, (uow) => uow.afterCommit(effect))

/**
 * The unit of work of a SQL database: `withTransaction` (nested: savepoints)
 * and `afterCommit` of the `SqlClient`. A failing `BEGIN`/`COMMIT` is a
 * defect: nothing a caller can act on.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: Layer.Layer<UnitOfWork, never, SqlClient.SqlClient> = Layer.effect(
  UnitOfWork,
  Effect.map(SqlClient.SqlClient, (sql) =>
    UnitOfWork.of({
      transaction: (effect) =>
        sql.withTransaction(effect).pipe(Effect.catchIf(SqlError.isSqlError, Effect.die)),
      afterCommit: sql.afterCommit
    })
  )
)

/**
 * One open in-memory transaction: how to undo its writes, what to run after
 * it commits, and the transaction it is nested in.
 *
 * @since 0.1.0
 * @category memory
 */
export interface Journal {
  readonly undo: Array<() => void>
  readonly afterCommit: Array<Effect.Effect<void>>
}

/**
 * The in-memory transaction of the current fiber, if any. In-memory
 * repositories record an undo action here for every write they make.
 *
 * @since 0.1.0
 * @category memory
 */
export const CurrentJournal = Context.Reference<Journal | undefined>("@org/core/UnitOfWork/CurrentJournal", {
  defaultValue: () => undefined
})

/**
 * Records how to undo a write, when a memory transaction is open.
 *
 * @since 0.1.0
 * @category memory
 */
export const recordUndo = (journal: Journal | undefined, undo: () => void): void => {
  journal?.undo.push(undo)
}

const rollback = (journal: Journal) => {
  for (let i = journal.undo.length - 1; i >= 0; i--) journal.undo[i]!()
}

/**
 * The unit of work of `RepositoryMemory`: all-or-nothing through an undo
 * journal (not isolated: see the module doc).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<UnitOfWork> = Layer.succeed(
  UnitOfWork,
  UnitOfWork.of({
    transaction: (effect) =>
      Effect.flatMap(CurrentJournal, (parent) => {
        const journal: Journal = { undo: [], afterCommit: [] }
        return effect.pipe(
          Effect.provideService(CurrentJournal, journal),
          Effect.onExit((exit) => {
            if (Exit.isFailure(exit)) return Effect.sync(() => rollback(journal))
            if (parent !== undefined) {
              // A savepoint released: its writes and hooks now belong to the parent.
              return Effect.sync(() => {
                parent.undo.push(...journal.undo)
                parent.afterCommit.push(...journal.afterCommit)
              })
            }
            return Effect.forEach(journal.afterCommit, (hook) => hook, { discard: true })
          })
        )
      }),
    afterCommit: <R>(effect: Effect.Effect<void, never, R>) =>
      Effect.flatMap(Effect.context<R>(), (context) =>
        Effect.flatMap(CurrentJournal, (journal) =>
          journal === undefined
            ? effect
            : Effect.sync(() => {
                journal.afterCommit.push(Effect.provideContext(effect, context))
              })
        )
      )
  })
)
