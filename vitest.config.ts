import { join } from "node:path"
import { defineConfig } from "vitest/config"
import { projects } from "./vitest.workspace.ts"

// Tests start many Node processes (the example's entry point, relays, dispatchers):
// V8's compile cache spares each of them compiling the same modules again
// (about a third of a start). Inherited by the workers and their children.
process.env.NODE_COMPILE_CACHE ??= join(import.meta.dirname, "node_modules", ".cache", "node-compile-cache")

export default defineConfig({
  test: {
    projects,
    // Vitest's default is one worker per core but one (2 cores: 1 worker).
    // Most files wait on Postgres, Redis, sockets or timers, not the CPU, so
    // three run side by side; no test pauses a shared server (ADR 0001).
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
