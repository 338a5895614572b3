/**
 * The example API as the kit's runner starts it: its name, the links of the
 * ready line and how the app is built from the configuration (keys first,
 * then the database and its migrations). `main.ts` runs it as the process;
 * tests launch the same options in process with a configuration of their own.
 *
 * @since 0.1.0
 */
import { AccountsConfig } from "@org/accounts"
import { Cors } from "@org/http"
import type { ServerConfig } from "@org/server"
import { Migrations, PgDatabase } from "@org/sql"
import { Effect, Layer } from "effect"
import * as App from "./App.ts"
import { migrations } from "./Migrations.ts"
import * as Stores from "./Stores.ts"

/**
 * The runner's options for the example API (`Runner.run(options)`).
 *
 * @since 0.1.0
 * @category running
 */
export const options = {
  name: "Example API",
  links: { docs: "/docs", OpenAPI: "/openapi.json" },
  app: (server: ServerConfig.ServerConfig) =>
    Effect.gen(function* () {
      const config = yield* AccountsConfig.load(App.accountsDefaults)
      // Keys first: a bad or missing key stops the start before the database opens.
      const secrets = yield* AccountsConfig.loadSecrets(config)
      const trustedProxies = yield* App.trustedProxies
      const services = App.services({ config, secrets }).pipe(Layer.provide(Stores.layerConfig))
      const Database = Layer.provideMerge(Migrations.layer(migrations), PgDatabase.layerConfig)
      return App.make({ bodyLimit: server.bodyLimit, services, trustedProxies }).pipe(
        Layer.provide(Database),
        // CORS_ORIGINS: exact origins allowed to call the API from a browser (none by default)
        Layer.provide(Cors.layerConfig())
      )
    })
}
