/**
 * Entry point of the example API. The kit's runner does the rest: reads the
 * server settings (`HOST`, `PORT`, `BODY_LIMIT`, `LOG_*`,
 * `SHUTDOWN_TIMEOUT`), builds the app (keys, then the database and its
 * migrations), listens, logs the ready line, and on SIGTERM/SIGINT drains
 * and exits 0; a bad setting stops the start with one line naming it.
 *
 * @since 0.1.0
 */
import { AccountsConfig } from "@org/accounts"
import { Cors } from "@org/http"
import { Runner } from "@org/server"
import { Migrations, PgDatabase } from "@org/sql"
import { Effect, Layer } from "effect"
import * as App from "./server/App.ts"
import { migrations } from "./server/Migrations.ts"
import * as Stores from "./server/Stores.ts"

Runner.run({
  name: "Example API",
  links: { docs: "/docs", OpenAPI: "/openapi.json" },
  app: (server) =>
    Effect.gen(function* () {
      const config = yield* AccountsConfig.load(App.accountsDefaults)
      // Keys first: a bad or missing key stops the start before the database opens.
      const secrets = yield* AccountsConfig.loadSecrets(config)
      const middlewares = yield* App.trustedProxies
      const services = App.services({ config, secrets }).pipe(Layer.provide(Stores.layerConfig))
      const Database = Layer.provideMerge(Migrations.layer(migrations), PgDatabase.layerConfig)
      return App.make({ bodyLimit: server.bodyLimit, services, middlewares }).pipe(
        Layer.provide(Database),
        // CORS_ORIGINS: exact origins allowed to call the API from a browser (none by default)
        Layer.provide(Cors.layerConfig())
      )
    })
})
