/**
 * `RefreshTokens.layerSql` against the shared laws on embedded PGlite, and on
 * the Postgres at DATABASE_URL when there is one (always in CI, with
 * REQUIRE_SERVICES=1). PGlite has a single connection, so its concurrent
 * rotations are serialized; the race is real only on Postgres, which also runs
 * a deterministic test of a rotation blocked behind a concurrent spend.
 */
import { createHash } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { RefreshTokens } from "@org/auth"
import { SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Deferred, Effect, Fiber, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import * as RefreshTokenLaws from "./laws/RefreshTokenLaws.ts"

const databaseUrl = process.env.DATABASE_URL || undefined
const requireServices = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")

const backends = [
  {
    name: "embedded PGlite (one connection: concurrent rotations are serialized, not raced)",
    database: PgEmbedded.layer(),
    postgres: false
  },
  ...(databaseUrl !== undefined || requireServices
    ? [
        {
          name: "Postgres at DATABASE_URL (a pool: rotations really race)",
          database: SqlTest.layer,
          postgres: true
        }
      ]
    : [])
]

const fresh = (options: RefreshTokens.Options) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // DELETE, not TRUNCATE: on tables this small it costs a fraction (no new files, no fsync of them).
    yield* sql`DELETE FROM auth_refresh_tokens`
    yield* sql`DELETE FROM auth_refresh_families`
    return { tokens: yield* RefreshTokens.makeSql(options), advance: TestClock.adjust }
  }).pipe(Effect.orDie)

const sha256 = (text: string) => createHash("sha256").update(text).digest()

for (const backend of backends) {
  const Services = Layer.mergeAll(
    Layer.effectDiscard(RefreshTokens.migration).pipe(Layer.provideMerge(backend.database)),
    SecureRandom.layerWebCrypto
  )

  layer(Services, { timeout: 120_000 })(`RefreshTokens.layerSql on ${backend.name}`, (it) => {
    for (const [name, law] of Object.entries(RefreshTokenLaws.laws)) {
      it.effect(name, () => law(fresh))
    }

    it.effect("agrees with the model on random scenarios", () =>
      RefreshTokenLaws.model(fresh, { numRuns: 40, maxCommands: 30 })
    )

    it.effect("the tables hold only the SHA-256 of a token, never the token or its bytes", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { tokens } = yield* fresh({ ttl: "7 days" })
        const session = yield* tokens.issue("alice")
        const next = yield* tokens.rotate(session.token)
        const dump = (yield* sql<{ readonly line: string }>`
          SELECT row_to_json(t)::text AS line FROM auth_refresh_tokens AS t
          UNION ALL SELECT row_to_json(f)::text AS line FROM auth_refresh_families AS f`)
          .map((row) => row.line)
          .join("\n")
        for (const token of [session.token, next.token]) {
          const raw = Buffer.from(token.slice(RefreshTokens.prefix.length), "base64url")
          for (const form of [token, token.slice(3), raw.toString("hex"), raw.toString("base64")]) {
            assert.notInclude(dump, form)
          }
        }
        const stored = yield* sql<{ readonly hash: string; readonly spent: boolean }>`
          SELECT encode(hash, 'hex') AS hash, spent_at IS NOT NULL AS spent FROM auth_refresh_tokens ORDER BY issued_at, spent_at`
        assert.sameDeepMembers(
          stored.map((row) => ({ hash: row.hash, spent: row.spent })),
          [
            { hash: sha256(session.token).toString("hex"), spent: true },
            { hash: sha256(next.token).toString("hex"), spent: false }
          ]
        )
      }).pipe(Effect.orDie)
    )

    it.effect("the migration is idempotent, and the schema guards its invariants", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const { tokens } = yield* fresh({ ttl: "7 days" })
        yield* RefreshTokens.migration
        const session = yield* tokens.issue("alice")
        const rejected = (statement: Effect.Effect<unknown, unknown>) =>
          Effect.map(Effect.exit(statement), (exit) => exit._tag === "Failure")
        assert.isTrue(
          yield* rejected(sql`INSERT INTO auth_refresh_tokens (hash, family_id, issued_at, expires_at)
            VALUES (${new Uint8Array(31)}, ${session.familyId}, now(), now() + interval '1 hour')`),
          "a hash of 31 bytes was accepted"
        )
        assert.isTrue(
          yield* rejected(sql`INSERT INTO auth_refresh_tokens (hash, family_id, issued_at, expires_at)
            VALUES (${new Uint8Array(32)}, ${session.familyId}, now(), now())`),
          "a token that expires when issued was accepted"
        )
        assert.isTrue(
          yield* rejected(
            sql`UPDATE auth_refresh_families SET revoked_at = now() WHERE id = ${session.familyId}`
          ),
          "a revocation without a reason was accepted"
        )
        yield* sql`DELETE FROM auth_refresh_families WHERE id = ${session.familyId}`
        const [left] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM auth_refresh_tokens`
        assert.strictEqual(left?.n, 0, "deleting a family left its tokens behind")
      }).pipe(Effect.orDie)
    )

    it.effect.skipIf(!backend.postgres)(
      "a rotation blocked behind a concurrent spend of its token waits, re-checks and fails 'reused' (Postgres only)",
      () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const { tokens } = yield* fresh({ ttl: "7 days" })
          const session = yield* tokens.issue("alice")
          const locked = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          // Another connection spends the token and holds its row lock until told to commit.
          const holder = yield* Effect.forkChild(
            sql.withTransaction(
              Effect.gen(function* () {
                yield* sql`UPDATE auth_refresh_tokens SET spent_at = issued_at WHERE hash = ${sha256(session.token)}`
                yield* Deferred.succeed(locked, undefined)
                yield* Deferred.await(release)
              })
            )
          )
          yield* Deferred.await(locked)
          const rotation = yield* Effect.forkChild(Effect.flip(tokens.rotate(session.token)))
          let waiting = 0
          for (let i = 0; i < 5_000 && waiting === 0; i++) {
            const [row] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`
            waiting = row?.n ?? 0
          }
          assert.strictEqual(waiting, 1, "the rotation never waited for the row lock")
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holder)
          const error = yield* Fiber.join(rotation)
          assert.strictEqual(error.reason, "reused")
          const [family] = yield* sql<{ readonly reason: string | null }>`
            SELECT revoked_reason AS reason FROM auth_refresh_families WHERE id = ${session.familyId}`
          assert.strictEqual(family?.reason, "reuse")
        }).pipe(Effect.orDie)
    )
  })
}
