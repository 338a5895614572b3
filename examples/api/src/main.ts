/**
 * Entry point of the example API. The kit's runner does the rest: reads the
 * server settings (`HOST`, `PORT`, `BODY_LIMIT`, `LOG_*`,
 * `SHUTDOWN_TIMEOUT`), builds the app (`server/Service.ts`: keys, then the
 * database and its migrations), listens, logs the ready line, and on
 * SIGTERM/SIGINT drains and exits 0; a bad setting stops the start with one
 * line naming it.
 *
 * @since 0.1.0
 */
import { Runner } from "@org/server"
import { options } from "./server/Service.ts"

Runner.run(options)
