/**
 * The notes service: accounts, tokens, MFA and a CRUD resource, run by the
 * kit's runner (config, listen after start-up, ready line, drain on
 * SIGTERM, one-line start errors).
 */
import { AccountsConfig } from "@org/accounts"
import { Runner } from "@org/server"
import { Migrations, PgDatabase } from "@org/sql"
import { Effect, Layer } from "effect"
import { app, migrations } from "./server/App.ts"

Runner.run({
  name: "Notes",
  app: () =>
    Effect.gen(function* () {
      const config = yield* AccountsConfig.load({ issuer: "notes", audience: "notes-api" })
      const secrets = yield* AccountsConfig.loadSecrets(config)
      const Database = Layer.provideMerge(Migrations.layer(migrations), PgDatabase.layerConfig)
      return app({ config, secrets }).pipe(Layer.provide(Database))
    })
})
