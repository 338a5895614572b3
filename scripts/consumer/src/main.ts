/**
 * The consumer service as a process: tasks in SQL (embedded PGlite under
 * DATA_DIR, or Postgres at DATABASE_URL), accounts in memory, run by the
 * kit's runner (ready line, drain on SIGTERM, exit 0).
 */
import { AccountsConfig } from "@org/accounts"
import { Runner } from "@org/server"
import { Migrations, PgDatabase } from "@org/sql"
import { Effect, Layer } from "effect"
import { app, DatabaseCheck, migrations, Tasks } from "./App.ts"

Runner.run({
  name: "Consumer",
  app: () =>
    Effect.gen(function* () {
      const config = yield* AccountsConfig.load({ issuer: "consumer", audience: "consumer-api" })
      const secrets = yield* AccountsConfig.loadSecrets(config)
      const Database = Layer.provideMerge(Migrations.layer(migrations), PgDatabase.layerConfig)
      return app({ config, secrets, tasks: Tasks.layerSql, checks: DatabaseCheck }).pipe(
        Layer.provide(Database)
      )
    })
})
