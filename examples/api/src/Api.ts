/**
 * The example API's definition: schemas and groups only, no server code, so
 * a typed client can be derived from it (`HttpApiClient.make(Api)`).
 *
 * @since 0.1.0
 */
import { Authentication, CrudGroup, Health, HttpApp } from "@org/http"
import { HttpApi, OpenApi } from "effect/http-api"
import { AuthGroup, itemPermissions, JwksGroup, SessionGroup, UsersGroup } from "./AuthApi.ts"
import { CreateItem, Item, UpdateItem } from "./Item.ts"

/**
 * `/api/v1/items`: list, create, get, update, delete; each route needs a
 * bearer token with the permission of the contract.
 *
 * @since 0.1.0
 * @category groups
 */
export const ItemsGroup = CrudGroup.make("items", {
  entity: Item,
  path: "/api/v1/items",
  create: CreateItem,
  update: UpdateItem,
  annotations: itemPermissions
})
  .middleware(Authentication.Authentication)
  .annotateMerge(OpenApi.annotations({ title: "Items", description: "Items for sale, soft-deleted" }))

/**
 * The whole API.
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApp.api(
  HttpApi.make("example-api")
    .add(Health.Group)
    .add(JwksGroup)
    .add(AuthGroup)
    .add(SessionGroup)
    .add(UsersGroup)
    .add(ItemsGroup)
    .annotateMerge(
      OpenApi.annotations({
        title: "Example API",
        version: "0.1.0",
        description: "The bundled example service of the org service kit."
      })
    )
) {}
