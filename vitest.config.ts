import { defineConfig } from "vitest/config"
import { projects } from "./vitest.workspace.ts"

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
