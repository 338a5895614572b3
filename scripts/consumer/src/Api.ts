/**
 * The consumer's API definition, as a team outside the workspace writes it
 * against the published packages: a role policy, a `Task` entity, the kit's
 * accounts groups and a CRUD group. No server code (a typed client may
 * import this module alone).
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
  permissions: ["tasks:read", "tasks:write", "users:manage"],
  roles: {
    member: { permissions: ["tasks:read", "tasks:write"] },
    admin: { inherits: ["member"], permissions: ["users:manage"] }
  }
})

export const Task = Entity.make("Task", {
  table: "tasks",
  id: Entity.Uuid.pipe(Schema.brand("TaskId")),
  fields: {
    title: Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
    done: Schema.Boolean
  },
  sortable: ["title", "createdAt"],
  filterable: ["done"]
})

export const accounts = AccountsApi.make({
  policy,
  permissions: { read: "users:manage", manage: "users:manage" }
})

export const TasksGroup = CrudGroup.make("tasks", {
  entity: Task,
  path: "/api/v1/tasks",
  annotations: {
    list: Authentication.requires(policy, "tasks:read"),
    get: Authentication.requires(policy, "tasks:read"),
    create: Authentication.requires(policy, "tasks:write"),
    update: Authentication.requires(policy, "tasks:write"),
    delete: Authentication.requires(policy, "tasks:write")
  }
}).middleware(Authentication.Authentication)

export class Api extends ApiDefinition.prepare(
  HttpApi.make("consumer")
    .add(Health.Group)
    .add(accounts.auth)
    .add(accounts.session)
    .add(accounts.users)
    .add(accounts.jwks)
    .add(TasksGroup)
) {}
