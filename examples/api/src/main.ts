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
import { enableCompileCache } from "node:module"

// Node's compile cache (under NODE_COMPILE_CACHE, else the OS temp dir):
// a restart does not compile the same modules again, about a sixth of the
// start. It must be on before the app's modules load, hence the dynamic imports.
enableCompileCache()
const { Runner } = await import("@org/server")
const { options } = await import("./server/Service.ts")

Runner.run(options)
