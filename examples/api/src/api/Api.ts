/**
 * The example API's definition: schemas and groups only, no server code
 * (checked by dependency-cruiser in `pnpm lint`), so the typed client
 * (`../client.ts`) imports it alone.
 *
 * @since 0.1.0
 */
import * as AccountsApi from "@org/accounts/AccountsApi"
import * as ApiDefinition from "@org/http/ApiDefinition"
import * as AuditGroup from "@org/http/AuditGroup"
import * as Authentication from "@org/http/Authentication"
import * as CrudGroup from "@org/http/CrudGroup"
import * as Health from "@org/http/Health"
import * as RateLimit from "@org/http/RateLimit"
import { HttpApi, OpenApi } from "effect/http-api"
import { CreateItem, Item, UpdateItem } from "../domain/Item.ts"
import { policy } from "../domain/Policy.ts"
// @org/cli:imports (`pnpm gen entity` adds its imports below this line, one chunk each)

/**
 * The accounts groups (`/api/v1/auth`, `/api/v1/users`, the JWKS) for the
 * example's policy.
 *
 * @since 0.1.0
 * @category groups
 */
export const accounts = AccountsApi.make({
  policy,
  permissions: { read: "users:read", manage: "users:manage" }
})

/**
 * `/api/v1/items`: list, create, get, update, delete; each route needs a
 * bearer token with the permission of the contract. Create honours
 * `Idempotency-Key`.
 *
 * @since 0.1.0
 * @category groups
 */
export const ItemsGroup = CrudGroup.make("items", {
  entity: Item,
  path: "/api/v1/items",
  create: CreateItem,
  update: UpdateItem,
  annotations: {
    list: Authentication.requires(policy, "items:read"),
    get: Authentication.requires(policy, "items:read"),
    create: Authentication.requires(policy, "items:create"),
    update: Authentication.requires(policy, "items:update:own", "items:update:any"),
    delete: Authentication.requires(policy, "items:delete:own", "items:delete:any")
  },
  // `Idempotency-Key` on create (a retry with the same key and body gets the
  // first 201); added before Authentication, so it runs inside it and keys are
  // scoped by the verified subject
  idempotent: ["create"]
})
  .middleware(Authentication.Authentication)
  // RATE_LIMIT: outside Authentication, which counts a verified caller by subject
  .middleware(RateLimit.Middleware)
  .annotateMerge(OpenApi.annotations({ title: "Items", description: "Items for sale, soft-deleted" }))

/**
 * `GET /api/v1/audit`: the audit log, for admins (`audit:read`).
 *
 * @since 0.3.0
 * @category groups
 */
export const AuditLogGroup = AuditGroup.make({ policy, permission: "audit:read" }).middleware(
  RateLimit.Middleware
)

/**
 * The whole API.
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends ApiDefinition.prepare(
  HttpApi.make("example-api")
    .add(Health.Group)
    .add(accounts.jwks)
    .add(accounts.auth)
    .add(accounts.session)
    .add(accounts.users)
    .add(ItemsGroup)
    .add(AuditLogGroup)
    // @org/cli:groups (`pnpm gen entity` adds its groups above this line)
    .annotateMerge(
      OpenApi.annotations({
        title: "Example API",
        version: "0.1.0",
        description: "The bundled example service of the org service kit.",
        license: { name: "MIT", url: "https://opensource.org/license/mit" },
        transform: (spec) => ({
          ...spec,
          info: { ...spec.info, contact: { name: "The example API's maintainers (see the README)" } },
          // relative: the server that serves the document serves the API
          servers: [
            {
              url: "/",
              description:
                "This server, wherever it runs: local in the quick start, staging or production when deployed.",
              "x-internal": false
            }
          ]
        })
      })
    )
) {}
