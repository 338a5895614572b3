/**
 * The notes service's definition: a policy, a `Note` entity, the kit's
 * accounts groups and a CRUD group. No server code: a typed client imports
 * this file alone (`HttpApiClient.make(Api)`).
 */
import * as AccountsApi from "@org/accounts/AccountsApi"
import * as Entity from "@org/core/Entity"
import * as Rbac from "@org/core/Rbac"
import * as ApiDefinition from "@org/http/ApiDefinition"
import * as Authentication from "@org/http/Authentication"
import * as CrudGroup from "@org/http/CrudGroup"
import * as Health from "@org/http/Health"
import { Schema } from "effect"
import { HttpApi } from "effect/http-api"

export const policy = Rbac.make({
  permissions: ["notes:read", "notes:write", "users:manage"],
  roles: {
    writer: { permissions: ["notes:read", "notes:write"] },
    admin: { inherits: ["writer"], permissions: ["users:manage"] }
  }
})

export const Note = Entity.make("Note", {
  table: "notes",
  id: Entity.Uuid.pipe(Schema.brand("NoteId")),
  fields: { title: Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(200)), body: Entity.Text },
  sortable: ["title", "createdAt"],
  filterable: ["title"]
})

export const accounts = AccountsApi.make({
  policy,
  permissions: { read: "users:manage", manage: "users:manage" }
})

export const NotesGroup = CrudGroup.make("notes", {
  entity: Note,
  path: "/api/v1/notes",
  annotations: {
    list: Authentication.requires(policy, "notes:read"),
    get: Authentication.requires(policy, "notes:read"),
    create: Authentication.requires(policy, "notes:write"),
    update: Authentication.requires(policy, "notes:write"),
    delete: Authentication.requires(policy, "notes:write")
  }
}).middleware(Authentication.Authentication)

export class Api extends ApiDefinition.prepare(
  HttpApi.make("notes")
    .add(Health.Group)
    .add(accounts.auth)
    .add(accounts.session)
    .add(accounts.users)
    .add(accounts.jwks)
    .add(NotesGroup)
) {}
