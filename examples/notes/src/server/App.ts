/**
 * The notes service's server side: the notes repository and handlers, the
 * kit's accounts, and the app: state lives in SQL (the repository, users,
 * refresh tokens, revocations); tests give it an isolated database.
 */
import { type AccountsConfig, AccountsHandlers, AccountsServer } from "@org/accounts"
import { type Repository, RepositorySql, RevocationStoreSql } from "@org/core"
import { CrudGroup, Health, HttpApp } from "@org/http"
import { Context, Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql"
import { Api, accounts, Note, policy } from "../api/Api.ts"

export class Notes extends Context.Service<Notes, Repository.ForEntity<typeof Note>>()("notes/Notes") {}

export const migrations = {
  "1_users": AccountsServer.migrations.users,
  "2_refresh_tokens": AccountsServer.migrations.refreshTokens,
  "3_revocations": RevocationStoreSql.migration,
  "4_notes": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE notes (
      id uuid PRIMARY KEY, title text COLLATE "C" NOT NULL, body text NOT NULL,
      created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
      version integer NOT NULL, deleted_at timestamptz)`
  )
}

export const NotesSql = Layer.effect(Notes, RepositorySql.make(Note)).pipe(
  Layer.provide(SecureRandom.layerWebCrypto)
)

export const app = (options: {
  readonly config: AccountsConfig.AccountsConfig
  readonly secrets: AccountsConfig.Secrets
}) =>
  HttpApp.layer({
    api: Api,
    handlers: Layer.mergeAll(
      HttpApiBuilder.group(Api, "notes", CrudGroup.handlers({ entity: Note, repository: Notes })),
      Layer.mergeAll(
        HttpApiBuilder.group(Api, "auth", AccountsHandlers.auth(accounts)),
        HttpApiBuilder.group(Api, "session", AccountsHandlers.session(accounts)),
        HttpApiBuilder.group(Api, "users", AccountsHandlers.users(accounts)),
        HttpApiBuilder.group(Api, "jwks", AccountsHandlers.jwks(accounts))
      ),
      Health.layer(Api)
    ).pipe(
      Layer.provide(
        Layer.mergeAll(
          NotesSql,
          AccountsServer.layer({ ...options, policy, defaultRoles: ["writer"], adminRoles: ["admin"] }).pipe(
            Layer.provide(RevocationStoreSql.layer())
          )
        )
      ),
      Layer.provide(Health.Checks.layer)
    )
  })
