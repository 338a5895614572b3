/**
 * The example API's roles and permissions (shared API.md): `user` works on
 * its own items, `admin` on everyone's and manages users. Every permission
 * named anywhere else is checked against this list by the compiler.
 *
 * @since 0.1.0
 */
import * as Rbac from "@org/core/Rbac"

/**
 * The policy.
 *
 * @since 0.1.0
 * @category policy
 */
export const policy = Rbac.make({
  permissions: [
    "items:read",
    "items:create",
    "items:update:own",
    "items:update:any",
    "items:delete:own",
    "items:delete:any",
    "users:read",
    "users:manage",
    "audit:read"
    // @org/cli:permissions (`pnpm gen entity` adds permissions above this line)
  ],
  roles: {
    user: {
      permissions: [
        "items:read",
        "items:create",
        "items:update:own",
        "items:delete:own"
        // @org/cli:user-permissions (`pnpm gen entity` adds permissions above this line)
      ]
    },
    admin: {
      inherits: ["user"],
      permissions: [
        "items:update:any",
        "items:delete:any",
        "users:read",
        "users:manage",
        "audit:read"
        // @org/cli:admin-permissions (`pnpm gen entity` adds permissions above this line)
      ]
    }
  }
})

/**
 * A permission of this API.
 *
 * @since 0.1.0
 * @category models
 */
export type Permission = (typeof policy.permissions)[number]

/**
 * A role of this API.
 *
 * @since 0.1.0
 * @category models
 */
export type Role = (typeof policy.roles)[number]
