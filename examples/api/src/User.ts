/**
 * Accounts: the public `User` as the API shows it, the request schemas of
 * the auth and users endpoints, and the `Users` store in Postgres. The
 * store holds secrets (the password hash, the sealed TOTP secret); they
 * never leave it except to the use cases in `Accounts.ts`.
 *
 * Emails are compared case-insensitively: they are stored trimmed and
 * lower-cased, and unique among live accounts.
 *
 * @since 0.1.0
 */
import { Entity } from "@org/core"
import { Array as Arr, Context, DateTime, Effect, Layer, Option, Schema, SchemaTransformation } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"
import { UserId } from "./Item.ts"
import { policy, type Role } from "./Policy.ts"

/**
 * An email address: trimmed and lower-cased on decoding; at most 254
 * characters, one `@`, a dotted domain, no spaces or control characters.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Email = Schema.String.check(Schema.isMaxLength(320)).pipe(
  Schema.decodeTo(
    Schema.String.check(
      Schema.isMaxLength(254),
      Schema.makeFilter((s: string) => /^[^\s@\p{Cc}]+@[^\s@\p{Cc}.]+(\.[^\s@\p{Cc}.]+)+$/u.test(s), {
        expected: "an email address"
      })
    ),
    SchemaTransformation.transform({
      decode: (s: string) => s.trim().toLowerCase(),
      encode: (s: string) => s
    })
  )
)

/**
 * A password as submitted: a string of at most 1 KiB (the policy decides
 * what is strong enough; the cap keeps hashing cost bounded).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Password = Schema.String.check(Schema.isMaxLength(1024))

/**
 * A display name.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DisplayName = Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(100))

/**
 * An account as the API shows it (never the hash or the MFA secret).
 *
 * @since 0.1.0
 * @category schemas
 */
export const User = Schema.Struct({
  id: UserId,
  email: Schema.String,
  name: Schema.NullOr(Schema.String),
  roles: Schema.Array(policy.Role),
  mfaEnabled: Schema.Boolean,
  createdAt: Schema.DateTimeUtcFromString,
  updatedAt: Schema.DateTimeUtcFromString
})

/**
 * @since 0.1.0
 * @category models
 */
export type User = typeof User.Type

/**
 * An account with its secrets, as the store keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Account extends User {
  readonly passwordHash: string
  /** The sealed TOTP secret: pending until `mfaEnabled`. */
  readonly mfaSecret: string | null
  readonly mfaLastStep: number | null
  readonly mfaFailures: number
  readonly mfaLockedUntil: number | null
}

/**
 * The email is already used by a live account.
 *
 * @since 0.1.0
 * @category errors
 */
export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", {}) {}

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
  id: row.id as UserId,
  email: row.email,
  name: row.name,
  roles: row.roles.filter(policy.isRole),
  mfaEnabled: row.mfa_enabled,
  createdAt: DateTime.makeUnsafe(row.created_at),
  updatedAt: DateTime.makeUnsafe(row.updated_at),
  passwordHash: row.password_hash,
  mfaSecret: row.mfa_secret,
  mfaLastStep: row.mfa_last_step === null ? null : Number(row.mfa_last_step),
  mfaFailures: row.mfa_failures,
  mfaLockedUntil: row.mfa_locked_until === null ? null : row.mfa_locked_until.getTime()
})

/**
 * The public view of an account.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toUser = (account: Account): User => ({
  id: account.id,
  email: account.email,
  name: account.name,
  roles: account.roles,
  mfaEnabled: account.mfaEnabled,
  createdAt: account.createdAt,
  updatedAt: account.updatedAt
})

/**
 * The accounts store. Every method reads only live (not deleted) accounts.
 *
 * @since 0.1.0
 * @category services
 */
export class Users extends Context.Service<
  Users,
  {
    readonly create: (input: {
      readonly email: string
      readonly name: string | null
      readonly passwordHash: string
      readonly roles: ReadonlyArray<Role>
    }) => Effect.Effect<Account, EmailTaken>
    readonly findById: (id: string) => Effect.Effect<Option.Option<Account>>
    readonly findByEmail: (email: string) => Effect.Effect<Option.Option<Account>>
    readonly list: (page: {
      readonly page: number
      readonly size: number
    }) => Effect.Effect<{ readonly items: ReadonlyArray<User>; readonly total: number }>
    readonly setRoles: (id: string, roles: ReadonlyArray<Role>) => Effect.Effect<Option.Option<Account>>
    readonly setPasswordHash: (id: string, hash: string) => Effect.Effect<void>
    readonly delete: (id: string) => Effect.Effect<boolean>
    /** Stores a pending (not yet confirmed) sealed TOTP secret. */
    readonly setPendingMfa: (id: string, sealedSecret: string) => Effect.Effect<void>
    /**
     * Records a verified TOTP step, only if it is later than the last one
     * (so two concurrent uses of one code cannot both pass); `enable` also
     * turns MFA on. False when the step was not newer.
     */
    readonly useTotpStep: (
      id: string,
      step: number,
      options: { readonly enable: boolean }
    ) => Effect.Effect<boolean>
    /** Counts a failed second factor; at `maxFailures` the account's MFA is locked until `lockUntil`. */
    readonly recordMfaFailure: (id: string, maxFailures: number, lockUntil: number) => Effect.Effect<void>
    readonly disableMfa: (id: string) => Effect.Effect<void>
    readonly replaceRecoveryCodes: (id: string, hashes: ReadonlyArray<string>) => Effect.Effect<void>
    /** Marks an unused recovery code (by hash) used; false when there is no such unused code. */
    readonly useRecoveryCode: (id: string, hash: string) => Effect.Effect<boolean>
  }
>()("@org/example-api/Users") {}

/**
 * The tables of the store, as a migration.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migration = Effect.gen(function* () {
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
})

const columns =
  "id, email, name, roles, password_hash, mfa_enabled, mfa_secret, mfa_last_step, mfa_failures, mfa_locked_until, created_at, updated_at"

/**
 * The store on the `SqlClient` in context. SQL failures are defects here:
 * no caller can act on them, and the problem middleware turns them into a
 * logged 500 without details.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Users, never, SqlClient.SqlClient> = Layer.effect(
  Users,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const random = yield* SecureRandom.SecureRandom
    const now = Effect.map(DateTime.now, DateTime.toDateUtc)
    const one = (rows: ReadonlyArray<Row>) => Option.map(Option.fromNullishOr(rows[0]), toAccount)
    return Users.of({
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
          return { items: rows.map((row) => toUser(toAccount(row))), total: Number(count?.total ?? 0) }
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
          (at) => sql`UPDATE users SET password_hash = ${hash}, updated_at = ${at} WHERE id = ${id}`
        ).pipe(Effect.asVoid, Effect.orDie),
      delete: (id) =>
        Effect.flatMap(
          now,
          (at) => sql<{ readonly id: string }>`
            UPDATE users SET deleted_at = ${at}, updated_at = ${at}
            WHERE id = ${id} AND deleted_at IS NULL RETURNING id`
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
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
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      recordMfaFailure: (id, maxFailures, lockUntil) =>
        sql`
          UPDATE users SET mfa_failures = mfa_failures + 1,
            mfa_locked_until = CASE WHEN mfa_failures + 1 >= ${maxFailures} THEN ${new Date(lockUntil)} ELSE mfa_locked_until END
          WHERE id = ${id}`.pipe(Effect.asVoid, Effect.orDie),
      disableMfa: (id) =>
        Effect.flatMap(now, (at) =>
          sql.withTransaction(
            Effect.andThen(
              sql`
                UPDATE users SET mfa_enabled = false, mfa_secret = NULL, mfa_last_step = NULL,
                  mfa_failures = 0, mfa_locked_until = NULL, updated_at = ${at}
                WHERE id = ${id}`,
              sql`DELETE FROM user_recovery_codes WHERE user_id = ${id}`
            )
          )
        ).pipe(Effect.asVoid, Effect.orDie),
      replaceRecoveryCodes: (id, hashes) =>
        sql
          .withTransaction(
            Effect.andThen(
              sql`DELETE FROM user_recovery_codes WHERE user_id = ${id}`,
              Arr.isReadonlyArrayNonEmpty(hashes)
                ? sql`INSERT INTO user_recovery_codes ${sql.insert(Arr.map(hashes, (code_hash) => ({ user_id: id, code_hash })))}`
                : Effect.void
            )
          )
          .pipe(Effect.asVoid, Effect.orDie),
      useRecoveryCode: (id, hash) =>
        Effect.flatMap(
          now,
          (at) => sql<{ readonly user_id: string }>`
            UPDATE user_recovery_codes SET used_at = ${at}
            WHERE user_id = ${id} AND code_hash = ${hash} AND used_at IS NULL RETURNING user_id`
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        )
    })
  })
).pipe(Layer.provide(SecureRandom.layerWebCrypto))
