/**
 * The example API's server side: handlers, readiness checks and the served
 * app, as layers. `main.ts` composes them with the database and a listening
 * server; tests compose them with a test database and test-strength keys.
 *
 * @since 0.1.0
 */

import { Principal, type Rbac } from "@org/core"
import { Authentication, CrudGroup, Health, HttpApp, Problem } from "@org/http"
import { PgDatabase } from "@org/sql"
import { Effect, Layer, Schema } from "effect"
import type { Accounts } from "./Accounts.ts"
import { Api } from "./Api.ts"
import * as AuthHandlers from "./AuthHandlers.ts"
import { type CreateItem, Item, Items, UserId } from "./Item.ts"
import { type Permission, policy } from "./Policy.ts"

const decodeUserId = Schema.decodeUnknownEffect(UserId)

// Object-level check: the owner with `own`, or anyone with `any` (BOLA).
const ownerOr = (ownerId: string, permissions: Rbac.OwnOrAny<Permission>) =>
  policy
    .requireOwnerOr(ownerId, permissions)
    .pipe(Effect.mapError(() => new Problem.Forbidden({ detail: "This item belongs to someone else." })))

/**
 * The items handlers over the `Items` repository in context. A new item
 * belongs to the caller; only its owner (or an admin) changes or deletes it.
 *
 * @since 0.1.0
 * @category layers
 */
export const ItemsHandlers = CrudGroup.handlers(Api, "items", {
  entity: Item,
  repository: Items,
  toCreate: (payload: typeof CreateItem.Type) =>
    Effect.flatMap(Principal.CurrentPrincipal, (principal) =>
      Effect.map(decodeUserId(principal.subject).pipe(Effect.orDie), (ownerId) => ({ ...payload, ownerId }))
    ),
  authorize: {
    update: (item) => ownerOr(item.ownerId, { own: "items:update:own", any: "items:update:any" }),
    delete: (item) => ownerOr(item.ownerId, { own: "items:delete:own", any: "items:delete:any" })
  }
})

/**
 * Readiness: the database answers `SELECT 1` within 2 seconds.
 *
 * @since 0.1.0
 * @category layers
 */
export const DatabaseCheck = Health.check("database", PgDatabase.ready("2 seconds"), { timeout: "3 seconds" })

/**
 * The authentication middleware with the example's policy.
 *
 * @since 0.1.0
 * @category layers
 */
export const AuthenticationLive = Authentication.layer({ policy })

/**
 * The served app. `services` provides `Items`, the account use cases, the
 * public keys and what the authentication middleware needs (and may
 * register more readiness checks, e.g. Redis); the app still needs a
 * `SqlClient` (for the database check) and the HTTP platform.
 *
 * @since 0.1.0
 * @category layers
 */
export const makeApp = <E, R>(options: {
  readonly bodyLimit?: number | undefined
  readonly services: Layer.Layer<
    Items | Accounts | AuthHandlers.PublicKeys | Authentication.Authentication,
    E,
    R
  >
}) =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(ItemsHandlers, AuthHandlers.layer, Health.layer(Api)).pipe(
      Layer.provide(Layer.merge(DatabaseCheck, options.services)),
      Layer.provideMerge(Health.Checks.layer)
    ),
    bodyLimit: options.bodyLimit
  })
