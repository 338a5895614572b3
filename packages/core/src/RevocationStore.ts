/**
 * The revocation port: which access tokens must be refused before they
 * expire. Two kinds of entry:
 *
 * - a token, by its `jti` (logout): refused until the entry's `until`;
 * - a subject, with a cut-off (a deleted user, roles changed, "log out
 *   everywhere"): every token of that subject issued at or before the
 *   cut-off is refused until `until`.
 *
 * Entries expire at `until` (the longest lifetime a token they cover can
 * have), so the store stays as small as the set of live revoked tokens.
 *
 * Fail closed: a store that cannot answer fails with `RevocationUnavailable`
 * and the caller must refuse the request (503), never let it through.
 * Implementations obey the law suite `RevocationStoreLaws` of
 * `@org/testing`; `layerMemory` is meant for one process and users' tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/**
 * No source could answer (or record) a revocation. A protected request that
 * meets it is refused with 503, never served.
 *
 * @since 0.1.0
 * @category errors
 */
export class RevocationUnavailable extends Schema.TaggedError<RevocationUnavailable>()(
  "RevocationUnavailable",
  {
    operation: Schema.String,
    cause: Schema.Defect()
  }
) {}

/**
 * What a check needs to know about a verified token. `issuedAt` is the
 * token's `iat` in epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenRef {
  readonly tokenId: string
  readonly subject: string
  readonly issuedAt: number
}

/**
 * One live entry, as `entries` lists it (used to rebuild a cache tier such
 * as Redis from the durable tier after a restart).
 *
 * @since 0.1.0
 * @category models
 */
export type Entry =
  | { readonly _tag: "Token"; readonly tokenId: string; readonly until: number }
  | { readonly _tag: "Subject"; readonly subject: string; readonly cutoff: number; readonly until: number }

/**
 * The store service. Times are epoch milliseconds.
 *
 * - `revokeToken(tokenId, until)`: `isRevoked` is true for that token id
 *   until `until` (a later call with a later `until` extends it).
 * - `revokeSubject(subject, cutoff, until)`: `isRevoked` is true for tokens
 *   of that subject with `issuedAt <= cutoff`, until `until`. A later
 *   call keeps the greatest cut-off and the greatest `until`.
 * - `isRevoked(ref)`: whether either entry covers the token.
 * - `entries`: the live entries (for rebuilding a faster tier).
 *
 * @since 0.1.0
 * @category services
 */
export class RevocationStore extends Context.Service<
  RevocationStore,
  {
    readonly revokeToken: (tokenId: string, until: number) => Effect.Effect<void, RevocationUnavailable>
    readonly revokeSubject: (
      subject: string,
      cutoff: number,
      until: number
    ) => Effect.Effect<void, RevocationUnavailable>
    readonly isRevoked: (ref: TokenRef) => Effect.Effect<boolean, RevocationUnavailable>
    readonly entries: Effect.Effect<ReadonlyArray<Entry>, RevocationUnavailable>
  }
>()("@org/core/RevocationStore") {}

/**
 * Makes an in-memory store that keeps time with the `Clock` of each
 * operation (so `TestClock.adjust` expires entries).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RevocationStore } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RevocationStore.makeMemory
 *   yield* store.revokeToken("0190f3c2-jti", Date.UTC(2030, 0, 1))
 *   return yield* store.isRevoked({ tokenId: "0190f3c2-jti", subject: "u1", issuedAt: 0 }) // true
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<RevocationStore["Service"]> = Effect.sync(() => {
  const tokens = new Map<string, number>()
  const subjects = new Map<string, { readonly cutoff: number; readonly until: number }>()
  let sweepAt = 1024
  const sweep = (now: number) => {
    for (const [id, until] of tokens) if (until <= now) tokens.delete(id)
    for (const [id, entry] of subjects) if (entry.until <= now) subjects.delete(id)
  }
  const now = Effect.clockWith((clock) => Effect.sync(() => clock.currentTimeMillisUnsafe()))
  return RevocationStore.of({
    revokeToken: (tokenId, until) =>
      Effect.map(now, (at) => {
        // Amortised: expired entries go once the map has doubled since the last sweep.
        if (tokens.size >= sweepAt) {
          sweep(at)
          sweepAt = Math.max(1024, tokens.size * 2)
        }
        tokens.set(tokenId, Math.max(until, tokens.get(tokenId) ?? 0))
      }),
    revokeSubject: (subject, cutoff, until) =>
      Effect.sync(() => {
        const previous = subjects.get(subject)
        subjects.set(subject, {
          cutoff: Math.max(cutoff, previous?.cutoff ?? Number.NEGATIVE_INFINITY),
          until: Math.max(until, previous?.until ?? 0)
        })
      }),
    isRevoked: (ref) =>
      Effect.map(now, (at) => {
        const until = tokens.get(ref.tokenId)
        if (until !== undefined && until > at) return true
        const subject = subjects.get(ref.subject)
        return subject !== undefined && subject.until > at && ref.issuedAt <= subject.cutoff
      }),
    entries: Effect.map(now, (at) => {
      sweep(at)
      const out: Array<Entry> = []
      for (const [tokenId, until] of tokens) out.push({ _tag: "Token", tokenId, until })
      for (const [subject, { cutoff, until }] of subjects) {
        out.push({ _tag: "Subject", subject, cutoff, until })
      }
      return out
    })
  })
})

/**
 * A fresh in-memory store per layer build.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RevocationStore> = Layer.effect(RevocationStore, makeMemory)

/**
 * A store for one process that answers from memory and writes through to a
 * durable one (`RevocationStoreSql`): every revocation is recorded in the
 * durable store first (its failure is the caller's `RevocationUnavailable`,
 * and nothing is remembered that was not recorded), the durable entries are
 * loaded when the store is made, so a revocation survives a restart, and
 * `isRevoked` costs a map lookup. Other processes' revocations are not seen:
 * for several instances use a shared store (Redis, with the durable copy).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RevocationStore } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const durable = yield* RevocationStore.makeMemory // RevocationStoreSql.make() in a service
 *   const store = yield* RevocationStore.makeWriteThrough(durable)
 *   yield* store.revokeToken("0190f3c2-jti", Date.UTC(2030, 0, 1))
 *   return yield* durable.isRevoked({ tokenId: "0190f3c2-jti", subject: "u1", issuedAt: 0 }) // true
 * })
 * ```
 *
 * @since 0.5.0
 * @category constructors
 */
export const makeWriteThrough = (
  durable: RevocationStore["Service"]
): Effect.Effect<RevocationStore["Service"], RevocationUnavailable> =>
  Effect.gen(function* () {
    const memory = yield* makeMemory
    for (const entry of yield* durable.entries) {
      yield* entry._tag === "Token"
        ? memory.revokeToken(entry.tokenId, entry.until)
        : memory.revokeSubject(entry.subject, entry.cutoff, entry.until)
    }
    return RevocationStore.of({
      revokeToken: (tokenId, until) =>
        Effect.andThen(durable.revokeToken(tokenId, until), memory.revokeToken(tokenId, until)),
      revokeSubject: (subject, cutoff, until) =>
        Effect.andThen(
          durable.revokeSubject(subject, cutoff, until),
          memory.revokeSubject(subject, cutoff, until)
        ),
      isRevoked: memory.isRevoked,
      entries: memory.entries
    })
  })

/**
 * `makeWriteThrough` over the store `durable` provides; fails to build when
 * the durable entries cannot be read.
 *
 * @since 0.5.0
 * @category layers
 */
export const layerWriteThrough = <E, R>(
  durable: Layer.Layer<RevocationStore, E, R>
): Layer.Layer<RevocationStore, E | RevocationUnavailable, R> =>
  Layer.effect(
    RevocationStore,
    Effect.gen(function* () {
      return yield* makeWriteThrough(yield* RevocationStore)
    })
  ).pipe(Layer.provide(durable))
