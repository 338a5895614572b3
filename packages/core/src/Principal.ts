/**
 * Who a request acts for: the principal the authentication middleware
 * derives from a verified access token and provides to handlers as
 * `CurrentPrincipal`. Use cases read it to decide ownership (see `Rbac`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"

/**
 * An authenticated caller. Times are epoch milliseconds; `permissions` is the
 * union of the permissions of `roles` at the time the token was issued.
 *
 * @since 0.1.0
 * @category models
 */
export interface Principal {
  readonly subject: string
  readonly roles: ReadonlyArray<string>
  readonly permissions: ReadonlySet<string>
  readonly tokenId: string
  readonly issuedAt: number
  readonly expiresAt: number
  /** The login session (refresh-token family) the token belongs to, if any. */
  readonly sessionId?: string | undefined
}

/**
 * The principal of the current request.
 *
 * @since 0.1.0
 * @category services
 */
export class CurrentPrincipal extends Context.Service<CurrentPrincipal, Principal>()(
  "@org/core/CurrentPrincipal"
) {}
