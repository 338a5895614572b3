/**
 * The example API's definition: schemas and groups only, no server code, so
 * a typed client can be derived from it (`HttpApiClient.make(Api)`).
 *
 * @since 0.1.0
 */
import { CrudGroup, Health, HttpApp } from "@org/http"
import { HttpApi, OpenApi } from "effect/http-api"
import { CreateItem, Item, UpdateItem } from "./Item.ts"

/**
 * `/api/v1/items`: list, create, get, update, delete.
 *
 * @since 0.1.0
 * @category groups
 */
export const ItemsGroup = CrudGroup.make("items", {
  entity: Item,
  path: "/api/v1/items",
  create: CreateItem,
  update: UpdateItem
}).annotateMerge(OpenApi.annotations({ title: "Items", description: "Items for sale, soft-deleted" }))

/**
 * The whole API.
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApp.api(
  HttpApi.make("example-api")
    .add(Health.Group)
    .add(ItemsGroup)
    .annotateMerge(
      OpenApi.annotations({
        title: "Example API",
        version: "0.1.0",
        description: "The bundled example service of the org service kit."
      })
    )
) {}
