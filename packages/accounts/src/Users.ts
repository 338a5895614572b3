/**
 * The accounts store: a port with two implementations that obey one law
 * suite (`test/laws/UsersLaws.ts` of this package): `layerMemory` here, for
 * tests and prototypes, and `UsersSql.layer` on any `SqlClient`.
 *
 * The store holds secrets (the password hash, the sealed TOTP secret); they
 * never leave it except to the use cases in `Accounts`. Emails are stored
 * trimmed and lower-cased (the `Email` schema does that) and are unique
 * among live accounts; every method sees only live (not deleted) accounts.
 * Ids compare exactly: only the id `create` returned (a lower-case UUID v7)
 * names its account; any other string, even another spelling of that uuid,
 * names none.
 *
 * @since 0.2.0
 */
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { UserId } from "./AccountsApi.ts"

/**
 * An account as the use cases return it: no secrets.
 *
 * @since 0.2.0
 * @category models
 */
export interface PublicUser {
  readonly id: UserId
  readonly email: string
  readonly name: string | null
  readonly roles: ReadonlyArray<string>
  readonly mfaEnabled: boolean
  readonly createdAt: DateTime.Utc
  readonly updatedAt: DateTime.Utc
}

/**
 * An account with its secrets, as the store keeps it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Account extends PublicUser {
  readonly passwordHash: string
  /** The sealed TOTP secret: pending until `mfaEnabled`. */
  readonly mfaSecret: string | null
  readonly mfaLastStep: number | null
  readonly mfaFailures: number
  /** Epoch milliseconds. */
  readonly mfaLockedUntil: number | null
}

/**
 * What `create` takes.
 *
 * @since 0.2.0
 * @category models
 */
export interface NewAccount {
  readonly email: string
  readonly name: string | null
  readonly passwordHash: string
  readonly roles: ReadonlyArray<string>
}

/**
 * The email is already used by a live account.
 *
 * @since 0.2.0
 * @category errors
 */
export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", {}) {}

/**
 * The accounts store.
 *
 * @since 0.2.0
 * @category services
 */
export class Users extends Context.Service<
  Users,
  {
    readonly create: (input: NewAccount) => Effect.Effect<Account, EmailTaken>
    readonly findById: (id: string) => Effect.Effect<Option.Option<Account>>
    readonly findByEmail: (email: string) => Effect.Effect<Option.Option<Account>>
    /** Live accounts, oldest first (ties by id), and how many there are. */
    readonly list: (page: {
      readonly page: number
      readonly size: number
    }) => Effect.Effect<{ readonly items: ReadonlyArray<Account>; readonly total: number }>
    readonly setRoles: (id: string, roles: ReadonlyArray<string>) => Effect.Effect<Option.Option<Account>>
    readonly setPasswordHash: (id: string, hash: string) => Effect.Effect<void>
    /** Soft delete; false when there was no live account. */
    readonly delete: (id: string) => Effect.Effect<boolean>
    /** Stores a pending (not yet confirmed) sealed TOTP secret; MFA is off until a code confirms it. */
    readonly setPendingMfa: (id: string, sealedSecret: string) => Effect.Effect<void>
    /**
     * Records a verified TOTP step, only if it is later than the last one
     * (so two concurrent uses of one code cannot both pass) and a secret is
     * set; `enable` also turns MFA on. Clears the failure count. False when
     * the step was not newer.
     */
    readonly useTotpStep: (
      id: string,
      step: number,
      options: { readonly enable: boolean }
    ) => Effect.Effect<boolean>
    /** Counts a failed second factor; at `maxFailures` the account's MFA is locked until `lockUntil`. */
    readonly recordMfaFailure: (id: string, maxFailures: number, lockUntil: number) => Effect.Effect<void>
    /** Turns MFA off: forgets the secret, the last step, the failures and the recovery codes. */
    readonly disableMfa: (id: string) => Effect.Effect<void>
    readonly replaceRecoveryCodes: (id: string, hashes: ReadonlyArray<string>) => Effect.Effect<void>
    /** Marks an unused recovery code (by hash) used; false when there is no such unused code. */
    readonly useRecoveryCode: (id: string, hash: string) => Effect.Effect<boolean>
  }
>()("@org/accounts/Users") {}

interface Stored {
  readonly account: Account
  readonly deleted: boolean
  /** Recovery code hash -> used. */
  readonly codes: ReadonlyMap<string, boolean>
}

/**
 * The store in memory (one process), with the same behaviour as the SQL
 * store, law for law. Ids are UUID v7 from `SecureRandom`.
 *
 * @example
 * ```ts
 * import { Users } from "@org/accounts"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const users = yield* Users.Users
 *   return yield* users.create({ email: "ada@example.com", name: null, passwordHash: "$argon2id$...", roles: ["user"] })
 * }).pipe(Effect.provide(Users.layerMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Users> = Layer.effect(
  Users,
  Effect.gen(function* () {
    const random = yield* SecureRandom.SecureRandom
    const state = yield* Ref.make<ReadonlyMap<string, Stored>>(new Map())
    const live = (id: string) =>
      Effect.map(Ref.get(state), (map) => {
        const found = map.get(id)
        return found === undefined || found.deleted ? Option.none() : Option.some(found)
      })
    // Applies `f` to a live account atomically; `None` when there is none.
    const update = <A>(
      id: string,
      f: (stored: Stored, at: DateTime.Utc) => readonly [A, Stored] | undefined
    ) =>
      Effect.flatMap(DateTime.now, (at) =>
        Ref.modify(state, (map): readonly [Option.Option<A>, ReadonlyMap<string, Stored>] => {
          const found = map.get(id)
          if (found === undefined || found.deleted) return [Option.none(), map]
          const result = f(found, at)
          if (result === undefined) return [Option.none(), map]
          return [Option.some(result[0]), new Map(map).set(id, result[1])]
        })
      )
    const touch = (stored: Stored, at: DateTime.Utc, patch: Partial<Account>): Stored => ({
      ...stored,
      account: { ...stored.account, ...patch, updatedAt: at }
    })
    const liveAccounts = (map: ReadonlyMap<string, Stored>) =>
      [...map.values()].filter((stored) => !stored.deleted).map((stored) => stored.account)

    return Users.of({
      create: (input) =>
        Effect.gen(function* () {
          const id = UserId.make(yield* random.uuidV7())
          const at = yield* DateTime.now
          const account: Account = {
            id,
            email: input.email,
            name: input.name,
            roles: [...input.roles],
            mfaEnabled: false,
            createdAt: at,
            updatedAt: at,
            passwordHash: input.passwordHash,
            mfaSecret: null,
            mfaLastStep: null,
            mfaFailures: 0,
            mfaLockedUntil: null
          }
          const created = yield* Ref.modify(state, (map): readonly [boolean, ReadonlyMap<string, Stored>] =>
            liveAccounts(map).some((other) => other.email === input.email)
              ? [false, map]
              : [true, new Map(map).set(id, { account, deleted: false, codes: new Map() })]
          )
          return created ? account : yield* Effect.fail(new EmailTaken())
        }),
      findById: (id) =>
        Effect.map(
          live(id),
          Option.map((stored) => stored.account)
        ),
      findByEmail: (email) =>
        Effect.map(Ref.get(state), (map) =>
          Option.fromNullishOr(liveAccounts(map).find((account) => account.email === email))
        ),
      list: ({ page, size }) =>
        Effect.map(Ref.get(state), (map) => {
          const all = liveAccounts(map).sort(
            (a, b) =>
              DateTime.toEpochMillis(a.createdAt) - DateTime.toEpochMillis(b.createdAt) ||
              (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
          )
          return { items: all.slice((page - 1) * size, page * size), total: all.length }
        }),
      setRoles: (id, roles) =>
        update(id, (stored, at) => {
          const next = touch(stored, at, { roles: [...roles] })
          return [next.account, next]
        }),
      setPasswordHash: (id, hash) =>
        Effect.asVoid(update(id, (stored, at) => [undefined, touch(stored, at, { passwordHash: hash })])),
      delete: (id) =>
        Effect.map(
          update(id, (stored, at) => [true, { ...touch(stored, at, {}), deleted: true }]),
          Option.isSome
        ),
      setPendingMfa: (id, sealed) =>
        Effect.asVoid(
          update(id, (stored, at) => [
            undefined,
            touch(stored, at, { mfaSecret: sealed, mfaEnabled: false, mfaLastStep: null })
          ])
        ),
      useTotpStep: (id, step, { enable }) =>
        Effect.map(
          update(id, (stored, at) => {
            const account = stored.account
            if (account.mfaSecret === null) return undefined
            if (account.mfaLastStep !== null && account.mfaLastStep >= step) return undefined
            return [
              true,
              touch(stored, at, {
                mfaLastStep: step,
                mfaFailures: 0,
                mfaLockedUntil: null,
                mfaEnabled: account.mfaEnabled || enable
              })
            ]
          }),
          Option.isSome
        ),
      // Not a change of the account as the API shows it: `updatedAt` stays.
      recordMfaFailure: (id, maxFailures, lockUntil) =>
        Effect.asVoid(
          update(id, (stored) => {
            const failures = stored.account.mfaFailures + 1
            return [
              undefined,
              {
                ...stored,
                account: {
                  ...stored.account,
                  mfaFailures: failures,
                  mfaLockedUntil: failures >= maxFailures ? lockUntil : stored.account.mfaLockedUntil
                }
              }
            ]
          })
        ),
      disableMfa: (id) =>
        Effect.asVoid(
          update(id, (stored, at) => [
            undefined,
            {
              ...touch(stored, at, {
                mfaEnabled: false,
                mfaSecret: null,
                mfaLastStep: null,
                mfaFailures: 0,
                mfaLockedUntil: null
              }),
              codes: new Map()
            }
          ])
        ),
      replaceRecoveryCodes: (id, hashes) =>
        Effect.asVoid(
          update(id, (stored) => [
            undefined,
            { ...stored, codes: new Map(hashes.map((hash) => [hash, false])) }
          ])
        ),
      useRecoveryCode: (id, hash) =>
        Effect.map(
          update(id, (stored) =>
            stored.codes.get(hash) === false
              ? [true, { ...stored, codes: new Map(stored.codes).set(hash, true) }]
              : undefined
          ),
          Option.isSome
        )
    })
  })
).pipe(Layer.provide(SecureRandom.layerWebCrypto))
