/**
 * A typed client of the example API, derived from its definition alone (no
 * server code comes with it): every route is a method with typed payloads,
 * responses and problems.
 *
 * @example
 * ```ts
 * import { makeClient } from "@org/example-api/client"
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* makeClient("http://127.0.0.1:3000")
 *   const tokens = yield* client.auth.login({
 *     headers: {}, // { "x-captcha-token": ... } where a CAPTCHA verifier is configured
 *     payload: { email: "ada@example.com", password: "Analytical-Engine-1843" }
 *   })
 *   return tokens
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Api } from "./api/Api.ts"

/**
 * The definition, for `HttpApiClient.make` with options of your own.
 *
 * @since 0.1.0
 * @category api
 */
export { Api }

/**
 * A client for the API at `baseUrl`; needs an `HttpClient`
 * (`FetchHttpClient.layer` in browsers and Node). `token` signs every call
 * in (`Authorization: Bearer`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient = (baseUrl: string, options: { readonly token?: string | undefined } = {}) => {
  const token = options.token
  return HttpApiClient.make(Api, {
    baseUrl,
    ...(token === undefined
      ? {}
      : { transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token)) })
  })
}
