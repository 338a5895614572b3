/**
 * Who owns what a request creates. Authentication is not built yet (a later
 * issue): until then every item belongs to the anonymous owner. This is the
 * seam: the bearer middleware will provide `CurrentOwner` from the verified
 * token, and nothing else in the items code changes.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import { UserId } from "./Item.ts"

/**
 * The owner of items created without authentication (the nil UUID).
 *
 * @since 0.1.0
 * @category constants
 */
export const anonymous = Schema.decodeSync(UserId)("00000000-0000-0000-0000-000000000000")

/**
 * The user on whose behalf the current request acts.
 *
 * @since 0.1.0
 * @category services
 */
export const CurrentOwner = Context.Reference<UserId>("@org/example-api/CurrentOwner", {
  defaultValue: () => anonymous
})
