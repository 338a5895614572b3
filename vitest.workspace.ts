/**
 * The test projects of the workspace. Vitest 5 has no workspace files, so
 * the root `vitest.config.ts` imports this list (see docs/adr/0001).
 */
import { defineProject } from "vitest/config"

const project = (name: string, dir: string, options: { readonly fileParallelism?: boolean } = {}) =>
  defineProject({
    // Workspace packages resolve to their TypeScript sources, not `dist/`.
    resolve: { conditions: ["@org/source"] },
    ssr: { resolve: { conditions: ["@org/source"] } },
    test: {
      name,
      root: dir,
      include: ["test/**/*.test.ts"],
      environment: "node",
      // Files share their worker: a fresh one per file cost ~450 ms of CPU each
      // (ADR 0001). No test file may leave global state behind.
      isolate: false,
      ...options
    }
  })

export const projects = [
  project("core", "packages/core"),
  project("testing", "packages/testing"),
  project("sql", "packages/sql"),
  project("redis", "packages/redis"),
  project("nats", "packages/nats"),
  project("telemetry", "packages/telemetry"),
  project("auth", "packages/auth"),
  project("http", "packages/http"),
  project("server", "packages/server"),
  project("accounts", "packages/accounts"),
  project("cli", "packages/cli"),
  project("example-api", "examples/api"),
  project("example-notes", "examples/notes")
]
