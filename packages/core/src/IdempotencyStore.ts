/**
 * The idempotency port: what became of a request sent with an
 * `Idempotency-Key`, so a retry gets the first response again instead of
 * repeating the operation.
 *
 * A record is keyed by (scope, key), where the scope names the client (so
 * two clients never share a key), and holds the request's fingerprint
 * (method, path and a hash of the body: a key reused for another request is
 * refused), its state and an expiry:
 *
 * - `in-progress`, owned by one request through a random `token`, until the
 *   lease expires (a crashed owner cannot block the key forever);
 * - `completed`, with the response to replay (status, headers, body bytes).
 *
 * `begin` is atomic: of any number of concurrent begins of one (scope, key),
 * exactly one is `Started`. Implementations obey the law suite
 * `IdempotencyStoreLaws` of `@org/testing`; `layerMemory` is for one process
 * and tests.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"

/**
 * The store could not answer or record. A request that meets it cannot be
 * made idempotent and is refused (503) rather than run unprotected.
 *
 * @since 0.2.0
 * @category errors
 */
export class IdempotencyUnavailable extends Schema.TaggedError<IdempotencyUnavailable>()(
  "IdempotencyUnavailable",
  {
    operation: Schema.String,
    cause: Schema.Defect()
  }
) {}

/**
 * A completed response, as it is replayed: status, the headers worth
 * replaying (lower-case names) and the body bytes.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoredResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/**
 * The outcome of `begin`:
 *
 * - `Started`: the caller owns the key; it must `complete` or `abandon` it
 *   with `token`;
 * - `Replay`: a request with this fingerprint completed; send `response`;
 * - `Mismatch`: the key was used for another request (fingerprint);
 * - `Busy`: a request with this fingerprint is still running; its lease
 *   ends in `retryAfterMillis`.
 *
 * @since 0.2.0
 * @category models
 */
export type Begin =
  | { readonly _tag: "Started"; readonly token: string }
  | { readonly _tag: "Replay"; readonly response: StoredResponse }
  | { readonly _tag: "Mismatch" }
  | { readonly _tag: "Busy"; readonly retryAfterMillis: number }

/**
 * How long a record lives (`ttl`, from `begin`) and how long an
 * in-progress claim holds before another request may take it over
 * (`lease`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Timing {
  readonly ttl: Duration.Input
  readonly lease: Duration.Input
}

/**
 * The store service. Times come from the caller's `Clock` (memory, SQL) or
 * the server's (Redis).
 *
 * - `begin(scope, key, fingerprint, timing)`: claims the key, or says why not.
 * - `complete(scope, key, token, response)`: stores the response of the
 *   claim `token`; `false` when the claim was lost (its lease expired and
 *   another request took the key over), in which case nothing is stored.
 * - `abandon(scope, key, token)`: drops the claim, so a retry runs again.
 *
 * @since 0.2.0
 * @category services
 */
export class IdempotencyStore extends Context.Service<
  IdempotencyStore,
  {
    readonly begin: (
      scope: string,
      key: string,
      fingerprint: string,
      timing: Timing
    ) => Effect.Effect<Begin, IdempotencyUnavailable>
    readonly complete: (
      scope: string,
      key: string,
      token: string,
      response: StoredResponse
    ) => Effect.Effect<boolean, IdempotencyUnavailable>
    readonly abandon: (
      scope: string,
      key: string,
      token: string
    ) => Effect.Effect<void, IdempotencyUnavailable>
  }
>()("@org/core/IdempotencyStore") {}

/**
 * A fresh claim token: 128 random bits from `Random`, as hex.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeToken: Effect.Effect<string> = Effect.map(
  Effect.all([Random.nextIntBetween(0, 0xffffffff), Random.nextIntBetween(0, 0xffffffff)]),
  (parts) => parts.map((part) => part.toString(16).padStart(8, "0")).join("")
)

/**
 * The millisecond lengths of a `Timing` (at least 1 ms each).
 *
 * @since 0.2.0
 * @category models
 */
export const timingMillis = (timing: Timing): { readonly ttl: number; readonly lease: number } => ({
  ttl: Math.max(1, Math.ceil(Duration.toMillis(Duration.fromInputUnsafe(timing.ttl)))),
  lease: Math.max(1, Math.ceil(Duration.toMillis(Duration.fromInputUnsafe(timing.lease))))
})

type Entry =
  | {
      readonly state: "in-progress"
      readonly fingerprint: string
      readonly token: string
      readonly leaseUntil: number
      readonly expiresAt: number
    }
  | {
      readonly state: "completed"
      readonly fingerprint: string
      readonly response: StoredResponse
      readonly expiresAt: number
    }

/**
 * Makes an in-memory store that keeps time with the `Clock` of each
 * operation (so `TestClock.adjust` expires records and leases).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdempotencyStore } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* IdempotencyStore.makeMemory
 *   const begun = yield* store.begin("sub:u1", "key-1", "POST /items abc", { ttl: "24 hours", lease: "30 seconds" })
 *   if (begun._tag === "Started") {
 *     yield* store.complete("sub:u1", "key-1", begun.token, { status: 201, headers: {}, body: new Uint8Array() })
 *   }
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<IdempotencyStore["Service"]> = Effect.sync(() => {
  const entries = new Map<string, Entry>()
  let sweepAt = 1024
  const id = (scope: string, key: string) => JSON.stringify([scope, key])
  const live = (entryId: string, now: number): Entry | undefined => {
    const entry = entries.get(entryId)
    if (entry !== undefined && entry.expiresAt <= now) {
      entries.delete(entryId)
      return undefined
    }
    return entry
  }
  return IdempotencyStore.of({
    // Everything between reading the clock and writing the map is synchronous: atomic in one process.
    begin: (scope, key, fingerprint, timing) =>
      Effect.flatMap(
        Effect.all([Clock.currentTimeMillis, makeToken]),
        ([now, token]): Effect.Effect<Begin> => {
          if (entries.size >= sweepAt) {
            for (const [entryId, entry] of entries) if (entry.expiresAt <= now) entries.delete(entryId)
            sweepAt = Math.max(1024, entries.size * 2)
          }
          const entryId = id(scope, key)
          const entry = live(entryId, now)
          const { ttl, lease } = timingMillis(timing)
          if (entry !== undefined) {
            if (entry.fingerprint !== fingerprint) return Effect.succeed({ _tag: "Mismatch" })
            if (entry.state === "completed")
              return Effect.succeed({ _tag: "Replay", response: entry.response })
            if (entry.leaseUntil > now) {
              return Effect.succeed({ _tag: "Busy", retryAfterMillis: entry.leaseUntil - now })
            }
            // The owner's lease ran out (it crashed or hangs): this request takes over.
            entries.set(entryId, { ...entry, token, leaseUntil: now + lease })
            return Effect.succeed({ _tag: "Started", token })
          }
          entries.set(entryId, {
            state: "in-progress",
            fingerprint,
            token,
            leaseUntil: now + lease,
            expiresAt: now + ttl
          })
          return Effect.succeed({ _tag: "Started", token })
        }
      ),
    complete: (scope, key, token, response) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entryId = id(scope, key)
        const entry = live(entryId, now)
        if (entry === undefined || entry.state !== "in-progress" || entry.token !== token) return false
        entries.set(entryId, {
          state: "completed",
          fingerprint: entry.fingerprint,
          response: {
            status: response.status,
            headers: { ...response.headers },
            body: response.body.slice()
          },
          expiresAt: entry.expiresAt
        })
        return true
      }),
    abandon: (scope, key, token) =>
      Effect.sync(() => {
        const entryId = id(scope, key)
        const entry = entries.get(entryId)
        if (entry !== undefined && entry.state === "in-progress" && entry.token === token)
          entries.delete(entryId)
      })
  })
})

/**
 * A fresh in-memory store per layer build.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<IdempotencyStore> = Layer.effect(IdempotencyStore, makeMemory)
