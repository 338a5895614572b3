/**
 * Refresh tokens with rotation and reuse detection.
 *
 * A login opens a family (one session of one user); every refresh spends the
 * presented token and issues its successor in the same family. Presenting a
 * spent token is taken as theft (an attacker or the victim holds a copy), so
 * the whole family is revoked and every later refresh in it fails.
 *
 * Strict by design: there is no grace period for a token that was spent a
 * moment ago. Two concurrent refreshes with the same token yield exactly one
 * success; the other is a reuse and ends the session, so a client must
 * serialize its refreshes (one in flight, the others wait for its result).
 *
 * Tokens are opaque: `rt_` followed by 32 random bytes in base64url. Only their
 * SHA-256 is stored. A fast hash is right here, unlike for passwords: with 256
 * bits of entropy there is nothing to brute-force, and a deterministic digest
 * lets the store find a token by equality on an indexed column, so no secret
 * is ever compared in JavaScript. Argon2 would add tens of milliseconds per
 * refresh and buy nothing.
 *
 * Every decision about time uses the `Clock` of the calling fiber, passed to
 * the store as a parameter (never the database's `now()`), so `TestClock`
 * drives expiry in the memory and the SQL store alike. Both obey the same law
 * suite (`test/laws/RefreshTokenLaws.ts`). Database failures are defects.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Base64Url from "effect/encoding/Base64Url"
import * as Hex from "effect/encoding/Hex"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"

/**
 * Why a refresh was refused. The HTTP layer answers every one of them with
 * the same 401; the reason is for logs and alerts.
 *
 * - `unknown`: not a token this store issued (or purged since).
 * - `expired`: past the token's lifetime or the family's maximum age.
 * - `reused`: a spent token was presented; its family is now revoked.
 * - `revoked`: the family was revoked (logout, reuse, account change).
 *
 * @since 0.1.0
 * @category models
 */
export const RejectionReason = Schema.Literals(["unknown", "expired", "reused", "revoked"])

/**
 * The type of `RejectionReason`.
 *
 * @since 0.1.0
 * @category models
 */
export type RejectionReason = typeof RejectionReason.Type

/**
 * A refresh token that cannot be used. `familyId` and `userId` are set when
 * the token was recognised, so a reuse can be traced to the session it hit.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshRejected extends Schema.TaggedError<RefreshRejected>()("RefreshRejected", {
  reason: RejectionReason,
  familyId: Schema.optionalKey(Schema.String),
  userId: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `Refresh token rejected: ${this.reason}`
  }
}

/**
 * Why a family was revoked, as recorded with it.
 *
 * @since 0.1.0
 * @category models
 */
export const RevocationReason = Schema.Literals([
  "logout",
  "reuse",
  "password-changed",
  "roles-changed",
  "user-deleted",
  "admin"
])

/**
 * The type of `RevocationReason`.
 *
 * @since 0.1.0
 * @category models
 */
export type RevocationReason = typeof RevocationReason.Type

/**
 * A new session. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issued {
  /** The opaque token to hand to the client; it is never stored. */
  readonly token: string
  /** The session: put it in the access token (e.g. `sid`) to revoke it at logout. */
  readonly familyId: string
  readonly expiresAt: number
}

/**
 * The result of a successful refresh: the successor token and whom it is for.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rotated extends Issued {
  readonly userId: string
}

/**
 * Lifetimes. `ttl` bounds each token (`REFRESH_TOKEN_TTL`, 7 days in the
 * example app); `familyMaxAge` bounds the session however often it is
 * refreshed (default 30 days): a successor never outlives its family.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly ttl: Duration.Input
  readonly familyMaxAge?: Duration.Input | undefined
}

/**
 * The service.
 *
 * - `issue(userId)`: opens a family with its first token (at login).
 * - `rotate(token)`: spends the token and returns its successor; a spent
 *   token revokes its family and fails `reused`.
 * - `revokeFamily(familyId, reason)`: ends one session; true if it was live.
 * - `revokeByToken(token, userId, reason)`: ends the session of a token, but
 *   only if it belongs to `userId` (so a caller cannot log out someone else);
 *   true if a live family was revoked.
 * - `revokeUser(userId, reason, { except })`: ends every live session of a
 *   user (deleted, password or roles changed), but the family `except` if
 *   given (the caller's own session after a password change); returns how many.
 * - `purgeExpired(limit)`: deletes at most `limit` expired tokens and at most
 *   `limit` expired families left without tokens; returns how many rows.
 *
 * @since 0.1.0
 * @category services
 */
export class RefreshTokens extends Context.Service<
  RefreshTokens,
  {
    readonly issue: (userId: string) => Effect.Effect<Issued>
    readonly rotate: (token: string) => Effect.Effect<Rotated, RefreshRejected>
    readonly revokeFamily: (familyId: string, reason: RevocationReason) => Effect.Effect<boolean>
    readonly revokeByToken: (
      token: string,
      userId: string,
      reason: RevocationReason
    ) => Effect.Effect<boolean>
    readonly revokeUser: (
      userId: string,
      reason: RevocationReason,
      options?: { readonly except?: string | undefined }
    ) => Effect.Effect<number>
    readonly purgeExpired: (limit?: number) => Effect.Effect<number>
  }
>()("@org/auth/RefreshTokens") {}

/**
 * The token prefix, so a leaked token is recognisable (secret scanners, logs).
 *
 * @since 0.1.0
 * @category constants
 */
export const prefix = "rt_"

const tokenBytes = 32
const tokenShape = /^rt_[A-Za-z0-9_-]{43}$/
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const defaultFamilyMaxAge = Duration.days(30)
const defaultPurgeLimit = 1000

// Anything that is not exactly a token we could have issued is rejected
// before it is hashed or sent to the store, which also caps its length.
const hashOf = (token: string): Uint8Array | undefined =>
  tokenShape.test(token) ? createHash("sha256").update(token).digest() : undefined

interface Lifetimes {
  readonly ttl: number
  readonly familyMaxAge: number
}

const lifetimes = (options: Options): Effect.Effect<Lifetimes> =>
  Effect.suspend(() => {
    const ttl = Duration.toMillis(options.ttl)
    const familyMaxAge = Duration.toMillis(options.familyMaxAge ?? defaultFamilyMaxAge)
    const valid = (millis: number) => Number.isFinite(millis) && millis >= 1
    return valid(ttl) && valid(familyMaxAge)
      ? Effect.succeed({ ttl, familyMaxAge })
      : Effect.die(new Error("RefreshTokens: ttl and familyMaxAge must be finite and at least 1 ms"))
  })

// A new token and its digest, minted before any store work so that the
// store's critical section needs no effects.
interface Minted {
  readonly token: string
  readonly hash: Uint8Array
}

const mint = (random: SecureRandom.SecureRandom["Service"]): Effect.Effect<Minted> =>
  Effect.map(random.randomBytes(tokenBytes), (bytes) => {
    const token = `${prefix}${Base64Url.encode(bytes)}`
    return { token, hash: createHash("sha256").update(token).digest() }
  })

// What a store knows about a presented token that it could not spend.
interface Stored {
  readonly familyId: string
  readonly userId: string
  readonly revoked: boolean
  readonly spent: boolean
  readonly expiresAt: number
  readonly familyExpiresAt: number
}

type Verdict = "valid" | "revoked" | "expired" | "reused"

// The one decision both stores make; order matters: a revoked family wins
// over everything, and an expired token is never evidence of theft, so reuse
// detection lasts exactly a token's lifetime (and does not depend on purges).
const judge = (stored: Stored, now: number): Verdict =>
  stored.revoked
    ? "revoked"
    : stored.expiresAt <= now || stored.familyExpiresAt <= now
      ? "expired"
      : stored.spent
        ? "reused"
        : "valid"

type Outcome =
  | {
      readonly _tag: "Rotated"
      readonly familyId: string
      readonly userId: string
      readonly expiresAt: number
    }
  | {
      readonly _tag: "Rejected"
      readonly reason: RejectionReason
      readonly familyId?: string
      readonly userId?: string
    }

const rejected = (reason: RejectionReason, stored?: Stored): Outcome =>
  stored === undefined
    ? { _tag: "Rejected", reason }
    : { _tag: "Rejected", reason, familyId: stored.familyId, userId: stored.userId }

// A store's side of the service: persistence and the atomic spend. Times are
// epoch milliseconds from the caller's Clock.
interface Store {
  readonly open: (
    familyId: string,
    userId: string,
    now: number,
    familyExpiresAt: number,
    first: Minted,
    expiresAt: number
  ) => Effect.Effect<void>
  /** Spends `hash` and stores `successor`, or says why not (revoking a reused family). */
  readonly spend: (hash: Uint8Array, now: number, successor: Minted) => Effect.Effect<Outcome>
  readonly revokeFamily: (familyId: string, reason: RevocationReason, now: number) => Effect.Effect<boolean>
  readonly revokeByHash: (
    hash: Uint8Array,
    userId: string,
    reason: RevocationReason,
    now: number
  ) => Effect.Effect<boolean>
  readonly revokeUser: (
    userId: string,
    reason: RevocationReason,
    now: number,
    except: string | undefined
  ) => Effect.Effect<number>
  readonly purge: (now: number, limit: number) => Effect.Effect<number>
}

const checkUserId = (userId: string) =>
  userId.length === 0 || userId.length > 255
    ? Effect.die(new Error("RefreshTokens: userId must have 1 to 255 characters"))
    : Effect.void

const fromStore = (
  store: Store,
  life: Lifetimes,
  random: SecureRandom.SecureRandom["Service"]
): RefreshTokens["Service"] => {
  const now = Clock.currentTimeMillis
  return RefreshTokens.of({
    issue: Effect.fn("RefreshTokens.issue")(function* (userId: string) {
      yield* checkUserId(userId)
      const at = yield* now
      const familyId = yield* random.uuidV4()
      const first = yield* mint(random)
      const familyExpiresAt = at + life.familyMaxAge
      const expiresAt = Math.min(at + life.ttl, familyExpiresAt)
      yield* store.open(familyId, userId, at, familyExpiresAt, first, expiresAt)
      return { token: first.token, familyId, expiresAt }
    }),
    rotate: Effect.fn("RefreshTokens.rotate")(function* (token: string) {
      const hash = hashOf(token)
      if (hash === undefined) return yield* new RefreshRejected({ reason: "unknown" })
      const successor = yield* mint(random)
      const outcome = yield* store.spend(hash, yield* now, successor)
      if (outcome._tag === "Rotated") {
        return {
          token: successor.token,
          familyId: outcome.familyId,
          userId: outcome.userId,
          expiresAt: outcome.expiresAt
        }
      }
      const { _tag, ...fields } = outcome
      if (fields.reason === "reused") {
        yield* Effect.logWarning("Refresh token reuse: the session is revoked").pipe(
          Effect.annotateLogs({ familyId: fields.familyId, userId: fields.userId })
        )
      }
      return yield* new RefreshRejected(fields)
    }),
    revokeFamily: (familyId, reason) =>
      uuidShape.test(familyId)
        ? Effect.flatMap(now, (at) => store.revokeFamily(familyId.toLowerCase(), reason, at))
        : Effect.succeed(false),
    revokeByToken: (token, userId, reason) => {
      const hash = hashOf(token)
      return hash === undefined
        ? Effect.succeed(false)
        : Effect.flatMap(now, (at) => store.revokeByHash(hash, userId, reason, at))
    },
    revokeUser: (userId, reason, options) =>
      Effect.flatMap(now, (at) => store.revokeUser(userId, reason, at, options?.except)),
    purgeExpired: (limit = defaultPurgeLimit) =>
      Number.isSafeInteger(limit) && limit >= 1
        ? Effect.flatMap(now, (at) => store.purge(at, limit))
        : Effect.die(new Error("RefreshTokens.purgeExpired: limit must be a positive integer"))
  })
}

interface MemoryFamily {
  readonly userId: string
  readonly expiresAt: number
  readonly tokens: Set<string>
  revokedAt: number | undefined
  revokedReason: RevocationReason | undefined
}

interface MemoryToken {
  readonly familyId: string
  readonly expiresAt: number
  spentAt: number | undefined
}

const makeMemoryStore = (life: Lifetimes): Store => {
  const families = new Map<string, MemoryFamily>()
  const tokens = new Map<string, MemoryToken>()
  const live = (family: MemoryFamily, now: number) => family.revokedAt === undefined && family.expiresAt > now
  const revoke = (family: MemoryFamily, reason: RevocationReason, now: number) => {
    if (!live(family, now)) return false
    family.revokedAt = now
    family.revokedReason = reason
    return true
  }
  const add = (familyId: string, family: MemoryFamily, minted: Minted, expiresAt: number) => {
    const key = Hex.encode(minted.hash)
    tokens.set(key, { familyId, expiresAt, spentAt: undefined })
    family.tokens.add(key)
  }
  const find = (hash: Uint8Array) => {
    const token = tokens.get(Hex.encode(hash))
    const family = token === undefined ? undefined : families.get(token.familyId)
    return token === undefined || family === undefined ? undefined : { token, family }
  }
  // Every operation is one synchronous step: no other fiber can interleave,
  // so the spend is atomic without locks.
  return {
    open: (familyId, userId, _now, familyExpiresAt, first, expiresAt) =>
      Effect.sync(() => {
        const family: MemoryFamily = {
          userId,
          expiresAt: familyExpiresAt,
          tokens: new Set(),
          revokedAt: undefined,
          revokedReason: undefined
        }
        families.set(familyId, family)
        add(familyId, family, first, expiresAt)
      }),
    spend: (hash, now, successor) =>
      Effect.sync((): Outcome => {
        const found = find(hash)
        if (found === undefined) return rejected("unknown")
        const { token, family } = found
        const stored: Stored = {
          familyId: token.familyId,
          userId: family.userId,
          revoked: family.revokedAt !== undefined,
          spent: token.spentAt !== undefined,
          expiresAt: token.expiresAt,
          familyExpiresAt: family.expiresAt
        }
        const verdict = judge(stored, now)
        if (verdict === "valid") {
          token.spentAt = now
          const expiresAt = Math.min(now + life.ttl, family.expiresAt)
          add(token.familyId, family, successor, expiresAt)
          return { _tag: "Rotated", familyId: token.familyId, userId: family.userId, expiresAt }
        }
        if (verdict === "reused") revoke(family, "reuse", now)
        return rejected(verdict, stored)
      }),
    revokeFamily: (familyId, reason, now) =>
      Effect.sync(() => {
        const family = families.get(familyId)
        return family !== undefined && revoke(family, reason, now)
      }),
    revokeByHash: (hash, userId, reason, now) =>
      Effect.sync(() => {
        const found = find(hash)
        return found !== undefined && found.family.userId === userId && revoke(found.family, reason, now)
      }),
    revokeUser: (userId, reason, now, except) =>
      Effect.sync(() => {
        let count = 0
        for (const [familyId, family] of families) {
          if (family.userId === userId && familyId !== except && revoke(family, reason, now)) count++
        }
        return count
      }),
    purge: (now, limit) =>
      Effect.sync(() => {
        let tokensLeft = limit
        let familiesLeft = limit
        for (const [key, token] of tokens) {
          if (tokensLeft === 0) break
          if (token.expiresAt > now) continue
          tokens.delete(key)
          families.get(token.familyId)?.tokens.delete(key)
          tokensLeft--
        }
        for (const [id, family] of families) {
          if (familiesLeft === 0) break
          if (family.expiresAt > now || family.tokens.size > 0) continue
          families.delete(id)
          familiesLeft--
        }
        return limit - tokensLeft + (limit - familiesLeft)
      })
  }
}

/**
 * Makes an in-memory service: one process, for tests and single-instance
 * demos. Needs `SecureRandom` for tokens and family ids.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SecureRandom } from "effect/crypto"
 * import { RefreshTokens } from "@org/auth"
 *
 * const program = Effect.gen(function* () {
 *   const tokens = yield* RefreshTokens.makeMemory({ ttl: "7 days" })
 *   const session = yield* tokens.issue("user-1")
 *   return yield* tokens.rotate(session.token)
 * }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (
  options: Options
): Effect.Effect<RefreshTokens["Service"], never, SecureRandom.SecureRandom> =>
  Effect.gen(function* () {
    const life = yield* lifetimes(options)
    return fromStore(makeMemoryStore(life), life, yield* SecureRandom.SecureRandom)
  })

/**
 * A fresh in-memory service per layer build.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Options): Layer.Layer<RefreshTokens, never, SecureRandom.SecureRandom> =>
  Layer.effect(RefreshTokens, makeMemory(options))

/**
 * Creates the two tables (idempotent): `auth_refresh_families` (one row per
 * session) and `auth_refresh_tokens` (one row per token, keyed by its
 * SHA-256). Deleting a family deletes its tokens. `user_id` is text with no
 * foreign key, so any user table (and id type) fits; an application may add
 * one. Add it to the application's migrations, e.g.
 * `{ "5_refresh_tokens": RefreshTokens.migration }`.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migration: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS auth_refresh_families (
      id uuid PRIMARY KEY,
      user_id text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 255),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz NULL,
      revoked_reason text NULL CHECK (length(revoked_reason) BETWEEN 1 AND 50),
      CHECK (expires_at > created_at),
      CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS auth_refresh_families_user_id_idx
      ON auth_refresh_families (user_id)`
    yield* sql`CREATE INDEX IF NOT EXISTS auth_refresh_families_expires_at_idx
      ON auth_refresh_families (expires_at)`
    yield* sql`CREATE TABLE IF NOT EXISTS auth_refresh_tokens (
      hash bytea PRIMARY KEY CHECK (length(hash) = 32),
      family_id uuid NOT NULL REFERENCES auth_refresh_families (id) ON DELETE CASCADE,
      issued_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      spent_at timestamptz NULL,
      CHECK (expires_at > issued_at)
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS auth_refresh_tokens_family_id_idx
      ON auth_refresh_tokens (family_id)`
    yield* sql`CREATE INDEX IF NOT EXISTS auth_refresh_tokens_expires_at_idx
      ON auth_refresh_tokens (expires_at)`
  }
)

// Instants travel as ISO-8601 text (typed by the server from the column) and
// come back as float8 milliseconds: the same with any Postgres driver.
const iso = (millis: number) => DateTime.formatIso(DateTime.makeUnsafe(millis))

// Result aliases are single lowercase words, so a client configured to
// transform result names (snake to camel) leaves them as they are.
interface StoredRow {
  readonly family: string
  readonly owner: string
  readonly revoked: boolean
  readonly spent: boolean
  readonly expires: number
  readonly closes: number
}

const makeSqlStore = (sql: SqlClient.SqlClient, life: Lifetimes): Store => {
  const orDie = <A>(effect: Effect.Effect<A, SqlError.SqlError>) => Effect.orDie(effect)
  const insertToken = (hash: Uint8Array, familyId: string, now: number, expiresAt: number) =>
    sql`INSERT INTO auth_refresh_tokens (hash, family_id, issued_at, expires_at)
      VALUES (${hash}, ${familyId}, ${iso(now)}, ${iso(expiresAt)})`
  const revokeWhere = (condition: Statement.Fragment, reason: RevocationReason, now: number) =>
    sql<{ readonly id: string }>`UPDATE auth_refresh_families
      SET revoked_at = ${iso(now)}, revoked_reason = ${reason}
      WHERE ${condition} AND revoked_at IS NULL AND expires_at > ${iso(now)}
      RETURNING id::text AS id`
  return {
    open: (familyId, userId, now, familyExpiresAt, first, expiresAt) =>
      orDie(
        sql.withTransaction(
          Effect.andThen(
            sql`INSERT INTO auth_refresh_families (id, user_id, created_at, expires_at)
              VALUES (${familyId}, ${userId}, ${iso(now)}, ${iso(familyExpiresAt)})`,
            insertToken(first.hash, familyId, now, expiresAt)
          )
        )
      ),
    // The spend is one conditional UPDATE: Postgres locks the token row, and a
    // concurrent spend of the same token waits, re-checks `spent_at IS NULL`
    // on the committed row and matches nothing. No read-then-write race.
    spend: (hash, now, successor) =>
      orDie(
        sql.withTransaction(
          Effect.gen(function* () {
            const [won] = yield* sql<{
              readonly family: string
              readonly owner: string
              readonly closes: number
            }>`UPDATE auth_refresh_tokens AS t SET spent_at = ${iso(now)}
              FROM auth_refresh_families AS f
              WHERE t.hash = ${hash} AND t.spent_at IS NULL AND t.expires_at > ${iso(now)}
                AND f.id = t.family_id AND f.revoked_at IS NULL AND f.expires_at > ${iso(now)}
              RETURNING t.family_id::text AS family, f.user_id AS owner,
                (extract(epoch FROM f.expires_at) * 1000)::float8 AS closes`
            if (won !== undefined) {
              const expiresAt = Math.min(now + life.ttl, won.closes)
              yield* insertToken(successor.hash, won.family, now, expiresAt)
              return { _tag: "Rotated", familyId: won.family, userId: won.owner, expiresAt } as const
            }
            const [row] = yield* sql<StoredRow>`SELECT t.family_id::text AS family, f.user_id AS owner,
                f.revoked_at IS NOT NULL AS revoked, t.spent_at IS NOT NULL AS spent,
                (extract(epoch FROM t.expires_at) * 1000)::float8 AS expires,
                (extract(epoch FROM f.expires_at) * 1000)::float8 AS closes
              FROM auth_refresh_tokens AS t JOIN auth_refresh_families AS f ON f.id = t.family_id
              WHERE t.hash = ${hash}`
            if (row === undefined) return rejected("unknown")
            const stored: Stored = {
              familyId: row.family,
              userId: row.owner,
              revoked: row.revoked,
              spent: row.spent,
              expiresAt: row.expires,
              familyExpiresAt: row.closes
            }
            const verdict = judge(stored, now)
            if (verdict === "reused") yield* revokeWhere(sql`id = ${row.family}`, "reuse", now)
            // "valid" here would mean the UPDATE and this read disagree, which
            // Postgres does not allow for one token; refuse rather than guess.
            return rejected(verdict === "valid" ? "unknown" : verdict, stored)
          })
        )
      ),
    revokeFamily: (familyId, reason, now) =>
      orDie(Effect.map(revokeWhere(sql`id = ${familyId}`, reason, now), (rows) => rows.length > 0)),
    revokeByHash: (hash, userId, reason, now) =>
      orDie(
        Effect.map(
          revokeWhere(
            sql`user_id = ${userId} AND id = (SELECT family_id FROM auth_refresh_tokens WHERE hash = ${hash})`,
            reason,
            now
          ),
          (rows) => rows.length > 0
        )
      ),
    revokeUser: (userId, reason, now, except) =>
      orDie(
        Effect.map(
          revokeWhere(
            // A malformed `except` cannot name a family: it excludes nothing.
            except === undefined || !uuidShape.test(except)
              ? sql`user_id = ${userId}`
              : sql`user_id = ${userId} AND id <> ${except}`,
            reason,
            now
          ),
          (rows) => rows.length
        )
      ),
    // Bounded by `limit` per table so one call never holds long locks;
    // families go once their tokens are gone, so the count is exact (no cascade).
    purge: (now, limit) =>
      orDie(
        Effect.gen(function* () {
          const tokens = yield* sql`DELETE FROM auth_refresh_tokens WHERE hash IN (
              SELECT hash FROM auth_refresh_tokens WHERE expires_at <= ${iso(now)} LIMIT ${limit})
            RETURNING 1 AS one`
          const families = yield* sql`DELETE FROM auth_refresh_families WHERE id IN (
              SELECT f.id FROM auth_refresh_families AS f
              WHERE f.expires_at <= ${iso(now)}
                AND NOT EXISTS (SELECT 1 FROM auth_refresh_tokens AS t WHERE t.family_id = f.id)
              LIMIT ${limit})
            RETURNING 1 AS one`
          return tokens.length + families.length
        })
      )
  }
}

/**
 * Makes the service over the `SqlClient` in context (Postgres; run
 * `migration` first). Needs `SecureRandom` for tokens and family ids.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SecureRandom } from "effect/crypto"
 * import { RefreshTokens } from "@org/auth"
 *
 * const layer = Layer.effect(RefreshTokens.RefreshTokens, RefreshTokens.makeSql({ ttl: "7 days" })).pipe(
 *   Layer.provide(SecureRandom.layerWebCrypto)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSql = (
  options: Options
): Effect.Effect<RefreshTokens["Service"], never, SqlClient.SqlClient | SecureRandom.SecureRandom> =>
  Effect.gen(function* () {
    const life = yield* lifetimes(options)
    const sql = yield* SqlClient.SqlClient
    return fromStore(makeSqlStore(sql, life), life, yield* SecureRandom.SecureRandom)
  })

/**
 * The SQL service as a layer; its requirements stay open.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SecureRandom } from "effect/crypto"
 * import { RefreshTokens } from "@org/auth"
 *
 * const layer = RefreshTokens.layerSql({ ttl: "7 days", familyMaxAge: "30 days" }).pipe(
 *   Layer.provide(SecureRandom.layerWebCrypto)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (
  options: Options
): Layer.Layer<RefreshTokens, never, SqlClient.SqlClient | SecureRandom.SecureRandom> =>
  Layer.effect(RefreshTokens, makeSql(options))

/**
 * Purges expired rows with the default bound (1000 tokens and 1000 families
 * per call); schedule it, e.g. `Effect.repeat(purgeExpired, Schedule.spaced("1 hour"))`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const purgeExpired: Effect.Effect<number, never, RefreshTokens> = RefreshTokens.use((service) =>
  service.purgeExpired()
)
