/**
 * The CAPTCHA port, consulted on register and login. The default verifier
 * accepts everything; a deployment that wants a challenge provides a layer
 * of its own (for example one that posts the client's token to a provider's
 * `siteverify` endpoint with `HttpClient`) and no other code changes.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/**
 * The challenge was missing, wrong or could not be checked. Callers answer
 * it with a 400 naming the CAPTCHA, never with a 5xx.
 *
 * @since 0.1.0
 * @category errors
 */
export class CaptchaFailed extends Schema.TaggedError<CaptchaFailed>()("CaptchaFailed", {
  reason: Schema.String
}) {}

/**
 * What a verifier sees: the client's response token (from the
 * `X-Captcha-Token` header, absent when the client sent none), the client's
 * address and the action being protected.
 *
 * @since 0.1.0
 * @category models
 */
export interface Challenge {
  readonly token: string | undefined
  readonly remoteAddress: string | undefined
  readonly action: "register" | "login"
}

/**
 * The verifier service.
 *
 * @since 0.1.0
 * @category services
 */
export class CaptchaVerifier extends Context.Service<
  CaptchaVerifier,
  { readonly verify: (challenge: Challenge) => Effect.Effect<void, CaptchaFailed> }
>()("@org/core/CaptchaVerifier") {}

/**
 * Accepts every challenge (the default: no CAPTCHA).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<CaptchaVerifier> = Layer.succeed(
  CaptchaVerifier,
  CaptchaVerifier.of({ verify: () => Effect.void })
)

/**
 * A verifier from a function, for adapters and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Captcha } from "@org/core"
 *
 * // Refuse every login that carries no token.
 * const RequireToken = Captcha.layer((challenge) =>
 *   challenge.token === undefined
 *     ? Effect.fail(new Captcha.CaptchaFailed({ reason: "missing" }))
 *     : Effect.void
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (verify: CaptchaVerifier["Service"]["verify"]): Layer.Layer<CaptchaVerifier> =>
  Layer.succeed(CaptchaVerifier, CaptchaVerifier.of({ verify }))
