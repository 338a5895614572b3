/**
 * Package boundaries, checked in CI (`pnpm lint`). See docs/adr/0003-package-boundaries.md.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "core-imports-only-effect",
      comment:
        "@org/core is a pure functional core: it may import effect and itself, nothing else (no node: builtins either).",
      severity: "error",
      from: { path: "^packages/core/src" },
      to: {
        pathNot: ["^packages/core/src", "node_modules/effect/"]
      }
    },
    {
      name: "http-imports-no-adapter",
      comment:
        "@org/http is the HttpApi shell: it may not import an adapter package (sql, redis, auth, telemetry) nor their drivers.",
      severity: "error",
      from: { path: "^packages/http/src" },
      to: {
        path: [
          "^packages/(sql|redis|auth|telemetry)/",
          "^@org/(sql|redis|auth|telemetry)",
          "^(@effect/sql-pg|@effect/platform-node|@electric-sql|ioredis|jose|hash-wasm|@opentelemetry)",
          "node_modules/(@effect/sql-pg|@effect/platform-node|@electric-sql|ioredis|jose|hash-wasm|@opentelemetry)/"
        ]
      }
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves (a typo or an undeclared package fails here).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true }
    },
    {
      name: "no-undeclared-dependency",
      comment: "A package imports only what its own package.json declares.",
      severity: "error",
      from: { path: "^(packages|examples)/[^/]+/src" },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] }
    },
    {
      name: "libraries-do-not-import-examples",
      severity: "error",
      from: { path: "^packages/" },
      to: { path: "^examples/" }
    },
    {
      name: "src-does-not-import-tests",
      severity: "error",
      from: { path: "^(packages|examples)/[^/]+/src" },
      to: { path: "^(packages|examples)/[^/]+/test" }
    },
    {
      name: "no-circular-within-src",
      severity: "error",
      from: { path: "^(packages|examples)/[^/]+/src" },
      to: { circular: true, pathNot: "node_modules" }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|\\.data)/" },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["@org/source", "import", "types", "default"],
      extensions: [".ts", ".js", ".json"]
    },
    reporterOptions: { text: { highlightFocused: true } }
  }
}
