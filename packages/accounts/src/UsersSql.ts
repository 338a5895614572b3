/**
 * The accounts store on any `SqlClient` (written for Postgres), and its
 * tables as a migration. It obeys the same laws as `Users.layerMemory`.
 *
 * SQL failures are defects here: no caller can act on them, and the problem
 * middleware turns them into a logged 500 without details.
 *
 * @since 0.2.0
 */
import { Array as Arr, DateTime, Effect, Layer, Option } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient, type SqlError } from "effect/sql"
import { UserId } from "./AccountsApi.ts"
import { type Account, EmailTaken, Users } from "./Users.ts"

/**
 * The tables of the store (`users`, `user_recovery_codes`), as a migration.
 * Emails compare in code point order (`COLLATE "C"`), as in memory.
 *
 * @example
 * ```ts
 * import { UsersSql } from "@org/accounts"
 *
 * export const migrations = { "1_users": UsersSql.migration }
 * ```
 *
 * @since 0.2.0
 * @category migrations
 */
export const migration: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY,
      email text COLLATE "C" NOT NULL CHECK (char_length(email) <= 254),
      name text CHECK (char_length(name) <= 100),
      roles jsonb NOT NULL,
      password_hash text NOT NULL,
      mfa_enabled boolean NOT NULL DEFAULT false,
      mfa_secret text,
      mfa_last_step bigint,
      mfa_failures integer NOT NULL DEFAULT 0,
      mfa_locked_until timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      deleted_at timestamptz
    )`
    yield* sql`CREATE UNIQUE INDEX users_live_email ON users (email) WHERE deleted_at IS NULL`
    yield* sql`CREATE INDEX users_live_created_at ON users (created_at, id) WHERE deleted_at IS NULL`
    yield* sql`
    CREATE TABLE user_recovery_codes (
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      code_hash text NOT NULL,
      used_at timestamptz,
      PRIMARY KEY (user_id, code_hash)
    )`
  }
)

interface Row {
  readonly id: string
  readonly email: string
  readonly name: string | null
  readonly roles: ReadonlyArray<string>
  readonly password_hash: string
  readonly mfa_enabled: boolean
  readonly mfa_secret: string | null
  readonly mfa_last_step: string | number | null
  readonly mfa_failures: number
  readonly mfa_locked_until: Date | null
  readonly created_at: Date
  readonly updated_at: Date
}

const toAccount = (row: Row): Account => ({
  id: UserId.make(row.id),
  email: row.email,
  name: row.name,
  roles: row.roles,
  mfaEnabled: row.mfa_enabled,
  createdAt: DateTime.makeUnsafe(row.created_at),
  updatedAt: DateTime.makeUnsafe(row.updated_at),
  passwordHash: row.password_hash,
  mfaSecret: row.mfa_secret,
  mfaLastStep: row.mfa_last_step === null ? null : Number(row.mfa_last_step),
  mfaFailures: row.mfa_failures,
  mfaLockedUntil: row.mfa_locked_until === null ? null : row.mfa_locked_until.getTime()
})

const columns =
  "id, email, name, roles, password_hash, mfa_enabled, mfa_secret, mfa_last_step, mfa_failures, mfa_locked_until, created_at, updated_at"

// The memory store compares ids as strings. Postgres would read other
// spellings of a uuid (upper case, braces, no hyphens) as the same id and
// fail on any other string, so only the canonical form, the one the store
// hands out, reaches the database: anything else names no account.
const canonicalId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const ifCanonical = <A, E, R>(id: string, otherwise: A, query: () => Effect.Effect<A, E, R>) =>
  canonicalId.test(id) ? query() : Effect.succeed(otherwise)

/**
 * The store on the `SqlClient` in context (tables from `migration`).
 *
 * @example
 * ```ts
 * import { Users, UsersSql } from "@org/accounts"
 * import { Effect } from "effect"
 *
 * // with a SqlClient in context (for example PgDatabase.layerConfig from @org/sql)
 * const count = Effect.map(Effect.flatMap(Users.Users, (users) => users.list({ page: 1, size: 1 })), (page) => page.total).pipe(
 *   Effect.provide(UsersSql.layer)
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Users, never, SqlClient.SqlClient> = Layer.effect(
  Users,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const random = yield* SecureRandom.SecureRandom
    const now = Effect.map(DateTime.now, DateTime.toDateUtc)
    const one = (rows: ReadonlyArray<Row>) => Option.map(Option.fromNullishOr(rows[0]), toAccount)
    const changed = (rows: ReadonlyArray<unknown>) => rows.length > 0
    const store = Users.of({
      create: (input) =>
        Effect.gen(function* () {
          const id = yield* random.uuidV7()
          const at = yield* now
          const rows = yield* sql<Row>`
            INSERT INTO users (id, email, name, roles, password_hash, created_at, updated_at)
            VALUES (${id}, ${input.email}, ${input.name}, ${JSON.stringify(input.roles)}::jsonb, ${input.passwordHash}, ${at}, ${at})
            ON CONFLICT (email) WHERE deleted_at IS NULL DO NOTHING
            RETURNING ${sql.unsafe(columns)}`
          const created = one(rows)
          return Option.isSome(created) ? created.value : yield* Effect.fail(new EmailTaken())
        }).pipe(Effect.catchTag("SqlError", Effect.die)),
      findById: (id) =>
        sql<Row>`SELECT ${sql.unsafe(columns)} FROM users WHERE id = ${id} AND deleted_at IS NULL`.pipe(
          Effect.map(one),
          Effect.orDie
        ),
      findByEmail: (email) =>
        sql<Row>`SELECT ${sql.unsafe(columns)} FROM users WHERE email = ${email} AND deleted_at IS NULL`.pipe(
          Effect.map(one),
          Effect.orDie
        ),
      list: ({ page, size }) =>
        Effect.gen(function* () {
          const rows = yield* sql<Row>`
            SELECT ${sql.unsafe(columns)} FROM users WHERE deleted_at IS NULL
            ORDER BY created_at, id LIMIT ${size} OFFSET ${(page - 1) * size}`
          const [count] = yield* sql<{
            readonly total: string | number
          }>`SELECT count(*) AS total FROM users WHERE deleted_at IS NULL`
          return { items: rows.map(toAccount), total: Number(count?.total ?? 0) }
        }).pipe(Effect.orDie),
      setRoles: (id, roles) =>
        Effect.flatMap(
          now,
          (at) => sql<Row>`
            UPDATE users SET roles = ${JSON.stringify(roles)}::jsonb, updated_at = ${at}
            WHERE id = ${id} AND deleted_at IS NULL RETURNING ${sql.unsafe(columns)}`
        ).pipe(Effect.map(one), Effect.orDie),
      setPasswordHash: (id, hash) =>
        Effect.flatMap(
          now,
          (at) =>
            sql`UPDATE users SET password_hash = ${hash}, updated_at = ${at} WHERE id = ${id} AND deleted_at IS NULL`
        ).pipe(Effect.asVoid, Effect.orDie),
      delete: (id) =>
        Effect.flatMap(
          now,
          (at) => sql<{ readonly id: string }>`
            UPDATE users SET deleted_at = ${at}, updated_at = ${at}
            WHERE id = ${id} AND deleted_at IS NULL RETURNING id`
        ).pipe(Effect.map(changed), Effect.orDie),
      setPendingMfa: (id, sealed) =>
        Effect.flatMap(
          now,
          (at) => sql`
            UPDATE users SET mfa_secret = ${sealed}, mfa_enabled = false, mfa_last_step = NULL, updated_at = ${at}
            WHERE id = ${id} AND deleted_at IS NULL`
        ).pipe(Effect.asVoid, Effect.orDie),
      useTotpStep: (id, step, { enable }) =>
        Effect.flatMap(
          now,
          (at) => sql<{ readonly id: string }>`
            UPDATE users SET mfa_last_step = ${step}, mfa_failures = 0, mfa_locked_until = NULL,
              mfa_enabled = (mfa_enabled OR ${enable}), updated_at = ${at}
            WHERE id = ${id} AND deleted_at IS NULL AND mfa_secret IS NOT NULL
              AND (mfa_last_step IS NULL OR mfa_last_step < ${step})
            RETURNING id`
        ).pipe(Effect.map(changed), Effect.orDie),
      recordMfaFailure: (id, maxFailures, lockUntil) =>
        sql`
          UPDATE users SET mfa_failures = mfa_failures + 1,
            mfa_locked_until = CASE WHEN mfa_failures + 1 >= ${maxFailures} THEN ${new Date(lockUntil)} ELSE mfa_locked_until END
          WHERE id = ${id} AND deleted_at IS NULL`.pipe(Effect.asVoid, Effect.orDie),
      disableMfa: (id) =>
        Effect.flatMap(now, (at) =>
          sql.withTransaction(
            Effect.flatMap(
              sql<{ readonly id: string }>`
                UPDATE users SET mfa_enabled = false, mfa_secret = NULL, mfa_last_step = NULL,
                  mfa_failures = 0, mfa_locked_until = NULL, updated_at = ${at}
                WHERE id = ${id} AND deleted_at IS NULL RETURNING id`,
              (rows) =>
                changed(rows) ? sql`DELETE FROM user_recovery_codes WHERE user_id = ${id}` : Effect.void
            )
          )
        ).pipe(Effect.asVoid, Effect.orDie),
      replaceRecoveryCodes: (id, hashes) =>
        sql
          .withTransaction(
            Effect.flatMap(
              sql<{
                readonly id: string
              }>`SELECT id FROM users WHERE id = ${id} AND deleted_at IS NULL FOR UPDATE`,
              (rows) =>
                !changed(rows)
                  ? Effect.void
                  : Effect.andThen(
                      sql`DELETE FROM user_recovery_codes WHERE user_id = ${id}`,
                      Arr.isReadonlyArrayNonEmpty(hashes)
                        ? sql`INSERT INTO user_recovery_codes ${sql.insert(Arr.map(Arr.dedupe(hashes), (code_hash) => ({ user_id: id, code_hash })))}`
                        : Effect.void
                    )
            )
          )
          .pipe(Effect.asVoid, Effect.orDie),
      useRecoveryCode: (id, hash) =>
        Effect.flatMap(
          now,
          (at) => sql<{ readonly user_id: string }>`
            UPDATE user_recovery_codes SET used_at = ${at}
            WHERE user_id = ${id} AND code_hash = ${hash} AND used_at IS NULL
              AND EXISTS (SELECT 1 FROM users WHERE id = ${id} AND deleted_at IS NULL)
            RETURNING user_id`
        ).pipe(Effect.map(changed), Effect.orDie)
    })
    return Users.of({
      ...store,
      findById: (id) => ifCanonical(id, Option.none(), () => store.findById(id)),
      setRoles: (id, roles) => ifCanonical(id, Option.none(), () => store.setRoles(id, roles)),
      setPasswordHash: (id, hash) => ifCanonical(id, undefined, () => store.setPasswordHash(id, hash)),
      delete: (id) => ifCanonical(id, false, () => store.delete(id)),
      setPendingMfa: (id, sealed) => ifCanonical(id, undefined, () => store.setPendingMfa(id, sealed)),
      useTotpStep: (id, step, options) => ifCanonical(id, false, () => store.useTotpStep(id, step, options)),
      recordMfaFailure: (id, maxFailures, lockUntil) =>
        ifCanonical(id, undefined, () => store.recordMfaFailure(id, maxFailures, lockUntil)),
      disableMfa: (id) => ifCanonical(id, undefined, () => store.disableMfa(id)),
      replaceRecoveryCodes: (id, hashes) =>
        ifCanonical(id, undefined, () => store.replaceRecoveryCodes(id, hashes)),
      useRecoveryCode: (id, hash) => ifCanonical(id, false, () => store.useRecoveryCode(id, hash))
    })
  })
).pipe(Layer.provide(SecureRandom.layerWebCrypto))
