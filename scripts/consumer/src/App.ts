/**
 * The consumer's server side: the tasks repository (in memory or in SQL),
 * the kit's accounts with every store in memory, and the app. `main.ts`
 * serves it with the SQL repository; the test swaps in the memory one.
 */
import { type AccountsConfig, AccountsHandlers, AccountsServer, Users } from "@org/accounts"
import { type Argon2, RefreshTokens } from "@org/auth"
import {
  type PasswordHasher,
  type Repository,
  RepositoryMemory,
  RepositorySql,
  RevocationStore
} from "@org/core"
import { CrudGroup, Health, HttpApp } from "@org/http"
import { PgDatabase } from "@org/sql"
import { Context, Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql"
import { Api, accounts, policy, Task } from "./Api.ts"

export class Tasks extends Context.Service<Tasks, Repository.ForEntity<typeof Task>>()("consumer/Tasks") {
  static readonly layerMemory = Layer.effect(Tasks, RepositoryMemory.make(Task)).pipe(
    Layer.provide(SecureRandom.layerWebCrypto)
  )
  static readonly layerSql = Layer.effect(Tasks, RepositorySql.make(Task)).pipe(
    Layer.provide(SecureRandom.layerWebCrypto)
  )
}

export const migrations = {
  "1_tasks": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE tasks (
      id uuid PRIMARY KEY, title text COLLATE "C" NOT NULL, done boolean NOT NULL,
      created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
      version integer NOT NULL, deleted_at timestamptz)`
  )
}

export const DatabaseCheck = Health.check("database", PgDatabase.ready("2 seconds"), { timeout: "3 seconds" })

/** Accounts with users, refresh tokens and revocations in memory. */
export const accountsInMemory = (options: {
  readonly config: AccountsConfig.AccountsConfig
  readonly secrets: AccountsConfig.Secrets
  readonly passwords?: Layer.Layer<PasswordHasher.PasswordHasher, Argon2.InvalidParameters> | undefined
}) =>
  AccountsServer.layerWith({
    config: options.config,
    secrets: options.secrets,
    policy,
    defaultRoles: ["member"],
    adminRoles: ["admin"],
    passwords: options.passwords,
    users: Users.layerMemory,
    refreshTokens: RefreshTokens.layerMemory({ ttl: options.config.jwt.refreshTtl }).pipe(
      Layer.provide(SecureRandom.layerWebCrypto)
    )
  }).pipe(Layer.provide(RevocationStore.layerMemory))

export const app = <E, R, RC = never>(options: {
  readonly config: AccountsConfig.AccountsConfig
  readonly secrets: AccountsConfig.Secrets
  readonly tasks: Layer.Layer<Tasks, E, R>
  readonly passwords?: Layer.Layer<PasswordHasher.PasswordHasher, Argon2.InvalidParameters> | undefined
  readonly checks?: Layer.Layer<never, never, Health.Checks | RC> | undefined
}) =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(
      HttpApiBuilder.group(Api, "tasks", CrudGroup.handlers({ entity: Task, repository: Tasks })),
      HttpApiBuilder.group(Api, "auth", AccountsHandlers.auth(accounts)),
      HttpApiBuilder.group(Api, "session", AccountsHandlers.session(accounts)),
      HttpApiBuilder.group(Api, "users", AccountsHandlers.users(accounts)),
      HttpApiBuilder.group(Api, "jwks", AccountsHandlers.jwks(accounts)),
      Health.layer(Api)
    ).pipe(
      Layer.provide(Layer.mergeAll(options.tasks, accountsInMemory(options), options.checks ?? Layer.empty)),
      Layer.provideMerge(Health.Checks.layer)
    )
  })
