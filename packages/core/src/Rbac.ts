/**
 * Role-based access control with typed permissions. A policy declares its
 * permissions once, as literals, and roles as sets of those permissions plus
 * the roles they inherit; every later mention of a permission is checked by
 * the compiler, so a typo does not build.
 *
 * Two kinds of check:
 * - `require(permission)`: the caller holds the permission (route level,
 *   enforced by `@org/http`'s authentication middleware from endpoint
 *   annotations);
 * - `requireOwnerOr(ownerId, { own, any })`: object level, in use cases: the
 *   caller holds `any`, or holds `own` and owns the object. This is what
 *   stops one user from touching another's data (OWASP API1, BOLA).
 *
 * @example
 * ```ts
 * import { Rbac } from "@org/core"
 *
 * export const policy = Rbac.make({
 *   permissions: ["items:read", "items:update:own", "items:update:any"],
 *   roles: {
 *     user: { permissions: ["items:read", "items:update:own"] },
 *     admin: { inherits: ["user"], permissions: ["items:update:any"] }
 *   }
 * })
 * policy.permissionsOf(["admin"]) // Set { "items:read", "items:update:own", "items:update:any" }
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { CurrentPrincipal, type Principal } from "./Principal.ts"

/**
 * The caller is authenticated but lacks a permission (or does not own the
 * object). `permission` names what was missing.
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  permission: Schema.String
}) {}

/**
 * How a role is defined: its own permissions and the roles it includes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RoleDefinition<P extends string, R extends string> {
  readonly permissions?: ReadonlyArray<P> | undefined
  readonly inherits?: ReadonlyArray<R> | undefined
}

/**
 * A compiled policy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy<P extends string, R extends string> {
  readonly permissions: ReadonlyArray<P>
  readonly roles: ReadonlyArray<R>
  /** Schemas of the permission and role literals (for payloads and OpenAPI). */
  readonly Permission: Schema.Literals<ReadonlyArray<P>>
  readonly Role: Schema.Literals<ReadonlyArray<R>>
  /** The permissions of a set of roles, inheritance included; unknown roles grant nothing. */
  readonly permissionsOf: (roles: ReadonlyArray<string>) => ReadonlySet<P>
  readonly isRole: (value: string) => value is R
  readonly has: (principal: Principal, permission: P) => boolean
  /** Whether the principal may act on an object owned by `ownerId`. */
  readonly canActOn: (principal: Principal, ownerId: string, permissions: OwnOrAny<P>) => boolean
  /** Fails with `Forbidden` unless the current principal holds `permission`. */
  readonly require: (permission: P) => Effect.Effect<void, Forbidden, CurrentPrincipal>
  /** Fails with `Forbidden` unless the current principal may act on the object. */
  readonly requireOwnerOr: (
    ownerId: string,
    permissions: OwnOrAny<P>
  ) => Effect.Effect<void, Forbidden, CurrentPrincipal>
}

/**
 * The pair of permissions of an object-level check.
 *
 * @since 0.1.0
 * @category models
 */
export interface OwnOrAny<P extends string> {
  readonly own: P
  readonly any: P
}

/**
 * Compiles a policy. Inheritance is resolved once, here; a role that
 * inherits itself (directly or not) is a programming error and throws.
 *
 * @example
 * ```ts
 * import { Rbac } from "@org/core"
 *
 * const policy = Rbac.make({
 *   permissions: ["reports:read", "reports:write"],
 *   roles: { reader: { permissions: ["reports:read"] }, writer: { inherits: ["reader"], permissions: ["reports:write"] } }
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const P extends string, const R extends string>(definition: {
  readonly permissions: ReadonlyArray<P>
  readonly roles: { readonly [K in R]: RoleDefinition<NoInfer<P>, NoInfer<R>> }
}): Policy<P, R> => {
  const roles = Object.keys(definition.roles) as Array<R>
  const isRole = (value: string): value is R => Object.hasOwn(definition.roles, value)
  const resolved = new Map<R, ReadonlySet<P>>()
  const resolve = (role: R, path: ReadonlyArray<R>): ReadonlySet<P> => {
    const done = resolved.get(role)
    if (done !== undefined) return done
    if (path.includes(role))
      throw new Error(`Rbac.make: role "${role}" inherits itself (${[...path, role].join(" -> ")})`)
    const own = definition.roles[role]
    const set = new Set<P>(own.permissions ?? [])
    for (const parent of own.inherits ?? []) for (const p of resolve(parent, [...path, role])) set.add(p)
    resolved.set(role, set)
    return set
  }
  for (const role of roles) resolve(role, [])

  // Every authenticated request asks for the same few role lists: the sets
  // are made once per list (a few hundred lists at most, then made afresh).
  const known = new Map<string, ReadonlySet<P>>()
  const permissionsOf = (names: ReadonlyArray<string>): ReadonlySet<P> => {
    // JSON, not a join: no two lists share a key, whatever characters a name has.
    const key = JSON.stringify(names)
    const found = known.get(key)
    if (found !== undefined) return found
    const set = new Set<P>()
    for (const name of names) if (isRole(name)) for (const p of resolved.get(name) ?? []) set.add(p)
    if (known.size < 256) known.set(key, set)
    return set
  }
  const has = (principal: Principal, permission: P) => principal.permissions.has(permission)
  const canActOn = (principal: Principal, ownerId: string, permissions: OwnOrAny<P>) =>
    has(principal, permissions.any) || (has(principal, permissions.own) && principal.subject === ownerId)
  return {
    permissions: definition.permissions,
    roles,
    Permission: Schema.Literals(definition.permissions),
    Role: Schema.Literals(roles),
    permissionsOf,
    isRole,
    has,
    canActOn,
    require: (permission) =>
      Effect.flatMap(CurrentPrincipal, (principal) =>
        has(principal, permission) ? Effect.void : Effect.fail(new Forbidden({ permission }))
      ),
    requireOwnerOr: (ownerId, permissions) =>
      Effect.flatMap(CurrentPrincipal, (principal) =>
        canActOn(principal, ownerId, permissions)
          ? Effect.void
          : Effect.fail(new Forbidden({ permission: permissions.any }))
      )
  }
}
