/**
 * The example API's server side: handlers, readiness checks and the served
 * app, as layers. `main.ts` composes them with the database and a listening
 * server; tests compose them with the in-memory repository or a test database.
 *
 * @since 0.1.0
 */

import { CrudGroup, Health, HttpApp } from "@org/http"
import { PgDatabase } from "@org/sql"
import { Effect, Layer } from "effect"
import { Api } from "./Api.ts"
import { type CreateItem, Item, Items } from "./Item.ts"
import { CurrentOwner } from "./Owner.ts"

/**
 * The items handlers over the `Items` repository in context. The owner of a
 * new item is the current owner (anonymous until authentication lands).
 *
 * @since 0.1.0
 * @category layers
 */
export const ItemsHandlers = CrudGroup.handlers(Api, "items", {
  entity: Item,
  repository: Items,
  toCreate: (payload: typeof CreateItem.Type) =>
    Effect.map(CurrentOwner, (ownerId) => ({ ...payload, ownerId }))
})

/**
 * Readiness: the database answers `SELECT 1` within 2 seconds.
 *
 * @since 0.1.0
 * @category layers
 */
export const DatabaseCheck = Health.check("database", PgDatabase.ready("2 seconds"), { timeout: "3 seconds" })

/**
 * The served app. `services` provides `Items` (and may register more
 * readiness checks, e.g. Redis); the app still needs a `SqlClient` (for the
 * database check) and the HTTP platform.
 *
 * @since 0.1.0
 * @category layers
 */
export const makeApp = <E, R>(options: {
  readonly bodyLimit?: number | undefined
  readonly services: Layer.Layer<Items, E, R>
}) =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(ItemsHandlers, Health.layer(Api)).pipe(
      Layer.provide(Layer.merge(DatabaseCheck, options.services)),
      Layer.provideMerge(Health.Checks.layer)
    ),
    bodyLimit: options.bodyLimit
  })
