/**
 * Package boundaries, checked in CI (`pnpm lint`). See docs/adr/0003-package-boundaries.md.
 * @type {import('dependency-cruiser').IConfiguration}
 */

// API definitions: schemas, groups, endpoints, middleware tags, problem
// classes. A typed client imports these alone (docs/adr/0008).
const definitions = [
  "^packages/http/src/(ApiDefinition|Problem|Authentication|CrudGroup|Filters|Preconditions|Health|RequestId|RateLimit|SecurityHeaders)\\.ts$",
  "^packages/accounts/src/AccountsApi\\.ts$",
  "^examples/[^/]+/src/(api|domain)/",
  "^examples/[^/]+/src/client\\.ts$"
]

// Server code: what a definition must never reach, directly or through
// another module: handlers, stores, SQL/Redis implementations, migrations,
// the app pipeline, the runner, the adapter packages, drivers and Node.
const serverCode = [
  "^packages/(sql|redis|nats|auth|server)/",
  "^packages/http/src/(HttpApp|index)\\.ts$",
  "^packages/core/src/(index|RepositorySql|RepositoryMemory|RepositoryCache|RevocationStoreSql|UnitOfWork|TieredCache)\\.ts$",
  "^packages/accounts/src/(?!AccountsApi\\.ts$)",
  "^examples/[^/]+/src/(server/|main\\.ts$)",
  "node_modules/(@effect/sql-pg|@effect/platform-node|@effect/platform-node-shared|@electric-sql|ioredis|@nats-io|jose|hash-wasm|@opentelemetry)/"
]

module.exports = {
  forbidden: [
    {
      name: "definitions-are-client-safe",
      comment:
        "An API definition (schemas, groups, endpoints, middleware tags, problem classes) never reaches server code, so a typed client can import it alone. Import kit modules by their own path (@org/http/Problem, @org/core/Entity), not through a barrel that also exports servers.",
      severity: "error",
      from: { path: definitions },
      to: { path: serverCode, reachable: true }
    },
    {
      name: "definitions-import-no-node-builtins",
      comment: "An API definition runs in browsers too: no node: builtins.",
      severity: "error",
      from: { path: definitions },
      to: { dependencyTypes: ["core"] }
    },
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
        "@org/http is the HttpApi shell: it may not import an adapter package (sql, redis, auth, accounts, server, telemetry) nor their drivers.",
      severity: "error",
      from: { path: "^packages/http/src" },
      to: {
        path: [
          "^packages/(sql|redis|nats|auth|accounts|server|telemetry)/",
          "^@org/(sql|redis|nats|auth|accounts|server|telemetry)",
          "^(@effect/sql-pg|@effect/platform-node|@electric-sql|ioredis|@nats-io|jose|hash-wasm|@opentelemetry)",
          "node_modules/(@effect/sql-pg|@effect/platform-node|@electric-sql|ioredis|@nats-io|jose|hash-wasm|@opentelemetry)/"
        ]
      }
    },
    {
      name: "nats-imports-core-effect-and-its-client",
      comment: "@org/nats may import @org/core, effect and the @nats-io client, nothing else.",
      severity: "error",
      from: { path: "^packages/nats/src" },
      to: {
        pathNot: [
          "^packages/nats/src",
          "^packages/core/src",
          "node_modules/(effect|@nats-io)/",
          "node_modules/\\.pnpm/(effect|@nats-io)"
        ]
      }
    },
    {
      name: "telemetry-imports-core-and-effect",
      comment:
        "@org/telemetry may import @org/core, effect (its OTLP exporters need no SDK) and Node's own modules (runtime metrics: perf_hooks, v8), nothing else; no other package of the kit may depend on it except the edges (examples, runner) that compose it.",
      severity: "error",
      from: { path: "^packages/telemetry/src" },
      to: {
        dependencyTypesNot: ["core"],
        pathNot: [
          "^packages/telemetry/src",
          "^packages/core/src",
          "node_modules/effect/",
          "node_modules/\\.pnpm/effect"
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
