/**
 * The access-token port: issue a signed, short-lived token for a subject and
 * verify one presented by a caller. `@org/auth` implements it with JWTs
 * (jose); the port keeps core and `@org/http` free of any token format.
 *
 * A verification failure is one error, `InvalidToken`, whose `reason` is for
 * logs and metrics only: callers answer every reason with the same 401 so
 * that an attacker learns nothing from the difference.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * The token was refused. `reason` names why (for logs, never for responses).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.String
}) {}

/**
 * What a verified token says. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Claims {
  readonly subject: string
  readonly tokenId: string
  readonly issuedAt: number
  readonly expiresAt: number
  readonly roles: ReadonlyArray<string>
  /** The refresh-token family (login session) the token was issued for, if any. */
  readonly sessionId?: string | undefined
}

/**
 * A freshly issued token and its claims.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issued extends Claims {
  readonly token: string
}

/**
 * The service. `issue` never fails for a well-formed input (a signing
 * failure is a defect); `verify` fails with `InvalidToken` for anything it
 * does not accept, including tokens too long to be worth parsing.
 *
 * @since 0.1.0
 * @category services
 */
export class AccessTokens extends Context.Service<
  AccessTokens,
  {
    readonly issue: (input: {
      readonly subject: string
      readonly roles: ReadonlyArray<string>
      readonly sessionId?: string | undefined
    }) => Effect.Effect<Issued>
    readonly verify: (token: string) => Effect.Effect<Claims, InvalidToken>
  }
>()("@org/core/AccessTokens") {}
