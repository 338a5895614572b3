/**
 * The configuration reference of the example API: `docs/configuration.md`
 * is generated from the table in this file (`variables`), never written by
 * hand.
 *
 *   node --conditions=@org/source scripts/config-reference.ts           # rewrite the page
 *   node --conditions=@org/source scripts/config-reference.ts --check   # CI: fail when stale
 *
 * (`pnpm docs:config` is the first line.) Both run the same checks first,
 * and exit 1 when one fails:
 *
 * 1. **Complete, both ways.** The example is started the way `main.ts`
 *    starts it (`Runner.launch` with `server/Service.ts`'s options) under a
 *    recording `ConfigProvider` that passes every lookup on to an
 *    environment of our own and remembers the name. Once the ready line is
 *    logged the start is over, and the server is stopped. Every name read
 *    must be in the table, and every name in the table must have been read.
 *    Two starts: one with nothing set (the defaults: embedded PGlite in a
 *    temporary `DATA_DIR`, generated keys, memory stores), one with
 *    `REDIS_URL` and `NATS_URL` set to closed ports (the example starts
 *    while they are down) and a `WEBHOOK_URL` with its secret (nothing is
 *    sent at start), so the branches those variables switch on are read
 *    too. `DATABASE_URL` is not set in either: the example refuses to
 *    start on an unreachable Postgres, and `PgDatabase` reads nothing more
 *    on that branch.
 * 2. **Owned.** Each row names the modules that read the variable; each of
 *    those files must contain the name as a string literal (`"PORT"`), so a
 *    renamed or moved read shows up here.
 *
 * Not checked: defaults and meanings are prose in the table below, checked
 * by review against the modules named in each row. Reads that happen only
 * while serving requests would not be observed; none exist today (every
 * `Config` read of the example happens while its layers are built).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { ConfigProvider, Deferred, Effect, Fiber, Logger } from "effect"
import { options } from "../examples/api/src/server/Service.ts"
import * as Runner from "../packages/server/src/Runner.ts"

const root = resolve(import.meta.dirname, "..")
const target = "docs/configuration.md"

/** One environment variable of the example API. */
interface Variable {
  readonly name: string
  /** Markdown: the value used when the variable is unset or blank. */
  readonly default: string
  /** Markdown: what it does and what it accepts. */
  readonly meaning: string
  /** The modules (paths from the repository root) that read it by name. */
  readonly readBy: ReadonlyArray<string>
}

interface Section {
  readonly title: string
  readonly intro: string
  readonly variables: ReadonlyArray<Variable>
}

const server = "packages/server/src/ServerConfig.ts"
const accounts = "packages/accounts/src/AccountsConfig.ts"
const telemetry = "packages/telemetry/src/TelemetryConfig.ts"
const pgDatabase = "packages/sql/src/PgDatabase.ts"
const webhooks = "packages/http/src/Webhooks.ts"

/** The table: every variable the example API reads at start-up. */
export const sections: ReadonlyArray<Section> = [
  {
    title: "Process and HTTP server",
    intro:
      "Read by the runner (`Runner.launch` reads `ServerConfig` first, before anything else starts). The limits are enforced by Node before the app sees a request.",
    variables: [
      {
        name: "APP_ENV",
        default: "`development`",
        meaning:
          "`development`, `test` or `production` (any case). Production refuses to start with `HS256`, without `JWT_PRIVATE_KEY`, without `MFA_ENCRYPTION_KEY` or without `DATABASE_URL`; outside `development` the default `LOG_FORMAT` is `json`. Read through `AppConfig.appEnv` by `ServerConfig`, `AccountsConfig` and `PgDatabase`.",
        readBy: ["packages/core/src/AppConfig.ts", pgDatabase]
      },
      {
        name: "HOST",
        default: "`127.0.0.1`",
        meaning: "the interface to listen on (`0.0.0.0` for every IPv4 interface, e.g. in a container)",
        readBy: [server]
      },
      {
        name: "PORT",
        default: "`3000`",
        meaning: "the port, 0 to 65535; 0 lets the system pick a free one",
        readBy: [server]
      },
      {
        name: "BODY_LIMIT",
        default: "`1mb`",
        meaning:
          "the largest request body (`512kb`, `1mb`, or bytes; `kb`/`mb` are binary multiples); a larger one is a 413",
        readBy: [server]
      },
      {
        name: "LOG_LEVEL",
        default: "`info`",
        meaning: "`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `none`",
        readBy: [server]
      },
      {
        name: "LOG_FORMAT",
        default: "`pretty` when `APP_ENV=development`, else `json`",
        meaning:
          "`pretty` for people, `json` for collectors (one object per line with `request_id`, and `trace_id`/`span_id` when traces are exported)",
        readBy: [server]
      },
      {
        name: "SHUTDOWN_TIMEOUT",
        default: "`10 seconds`",
        meaning:
          "after SIGTERM/SIGINT, how long in-flight requests may run before they are interrupted and the pools close",
        readBy: [server]
      },
      {
        name: "MAX_HEADER_SIZE",
        default: "`16kb`",
        meaning: "request line plus headers, at least `1kb`; more is a 431",
        readBy: [server]
      },
      {
        name: "MAX_URL_LENGTH",
        default: "`8kb`",
        meaning: "the longest request target in characters; longer is a 414",
        readBy: [server]
      },
      {
        name: "HEADERS_TIMEOUT",
        default: "`10 seconds`",
        meaning: "how long a client may take to send its headers (then 408); at most `REQUEST_TIMEOUT`",
        readBy: [server]
      },
      {
        name: "REQUEST_TIMEOUT",
        default: "`30 seconds`",
        meaning: "how long a client may take to send the whole request, body included (then 408)",
        readBy: [server]
      },
      {
        name: "KEEP_ALIVE_TIMEOUT",
        default: "`65 seconds`",
        meaning: "how long an idle connection stays open; keep it above your load balancer's idle timeout",
        readBy: [server]
      },
      {
        name: "TRUSTED_PROXIES",
        default: "unset: none",
        meaning:
          "comma-separated addresses or CIDR networks whose `X-Forwarded-For`/`-Proto`/`-Host` count; rate limits then key on the client behind them. Nobody else's forwarded headers count.",
        readBy: ["examples/api/src/server/App.ts"]
      }
    ]
  },
  {
    title: "Database",
    intro: "Read by `PgDatabase.layerConfig` when the example's layers are built.",
    variables: [
      {
        name: "DATABASE_URL",
        default: "unset: embedded PGlite",
        meaning:
          "a Postgres URL (`postgresql://user@host:5432/db`), kept `Redacted`; required in production. Migrations run at start.",
        readBy: [pgDatabase]
      },
      {
        name: "DATA_DIR",
        default: "`.data`",
        meaning:
          "the embedded database (`$DATA_DIR/pg`, only without `DATABASE_URL`) and, outside production, the generated keys (`jwt-keys.json`, `mfa-key`)",
        readBy: [accounts, pgDatabase]
      }
    ]
  },
  {
    title: "Accounts and tokens",
    intro:
      "Read by `AccountsConfig.load` and resolved by `AccountsConfig.loadSecrets` before the database opens, so a bad key stops the start first.",
    variables: [
      {
        name: "JWT_ALGORITHM",
        default: "`ES256`",
        meaning: "`ES256` or `RS256`; `HS256` only outside production",
        readBy: [accounts]
      },
      {
        name: "JWT_PRIVATE_KEY",
        default: "generated once into `$DATA_DIR/jwt-keys.json` (not in production)",
        meaning: "the signing key, PEM or JWK, kept `Redacted`; for `HS256` the secret (at least 32 bytes)",
        readBy: [accounts]
      },
      {
        name: "JWT_PUBLIC_KEY",
        default: "unset: only the public half of the private key verifies",
        meaning:
          "PEM, JWK or a JWKS holding the public half of `JWT_PRIVATE_KEY` and older keys that still verify (rotation: [operations.md](operations.md#rotating-signing-keys)); refused without `JWT_PRIVATE_KEY` and with `HS256`",
        readBy: [accounts]
      },
      {
        name: "JWT_ISSUER",
        default: "`org-example` (the example's `accountsDefaults`)",
        meaning: "`iss` of issued tokens, required on every verified token",
        readBy: [accounts]
      },
      {
        name: "JWT_AUDIENCE",
        default: "`org-example-api` (the example's `accountsDefaults`)",
        meaning: "`aud` of issued tokens, required on every verified token",
        readBy: [accounts]
      },
      {
        name: "ACCESS_TOKEN_TTL",
        default: "`15 minutes`",
        meaning:
          "access token lifetime, 1 second to 1 year; also how long a rotated-out key must stay in `JWT_PUBLIC_KEY`",
        readBy: [accounts]
      },
      {
        name: "REFRESH_TOKEN_TTL",
        default: "`7 days`",
        meaning: "refresh token lifetime, 1 second to 1 year",
        readBy: [accounts]
      },
      {
        name: "MFA_ENCRYPTION_KEY",
        default: "generated once into `$DATA_DIR/mfa-key` (not in production)",
        meaning:
          "32 random bytes, base64, kept `Redacted`: seals TOTP secrets at rest (AES-256-GCM). Losing it makes every enrolled second factor unreadable.",
        readBy: [accounts]
      },
      {
        name: "ADMIN_EMAIL",
        default: "unset",
        meaning:
          "with `ADMIN_PASSWORD`: that account exists after start with the admin roles (created, or its password reset and its sessions revoked)",
        readBy: [accounts]
      },
      {
        name: "ADMIN_PASSWORD",
        default: "unset",
        meaning: "set together with `ADMIN_EMAIL`; kept `Redacted`; must pass the password policy",
        readBy: [accounts]
      }
    ]
  },
  {
    title: "HTTP policies",
    intro:
      "Read by `@org/http` layers the example composes (`RateLimit.layerConfig`, `Cors.layerConfig`, `Metrics.layerConfig`).",
    variables: [
      {
        name: "RATE_LIMIT",
        default: "`100/minute`",
        meaning:
          "sliding window per client (the verified subject, else the address), e.g. `10/second`, `20/30 seconds`; allowed when the store cannot answer",
        readBy: ["packages/http/src/RateLimit.ts"]
      },
      {
        name: "AUTH_RATE_LIMIT",
        default: "`10/minute`",
        meaning:
          "register, login, refresh, MFA verify, password change: per address and per account; refused (503) when the store cannot answer",
        readBy: ["packages/http/src/RateLimit.ts"]
      },
      {
        name: "CORS_ORIGINS",
        default: "unset: no CORS",
        meaning: "comma-separated exact origins allowed to call the API from a browser",
        readBy: ["packages/http/src/Cors.ts"]
      },
      {
        name: "METRICS_TOKEN",
        default: "unset: `/metrics` open",
        meaning:
          "when set, `GET /metrics` requires `Authorization: Bearer <METRICS_TOKEN>` (else 401); kept `Redacted`",
        readBy: ["packages/http/src/Metrics.ts"]
      }
    ]
  },
  {
    title: "Shared state and events",
    intro:
      "Each switches one part from in-process to a shared service, or adds a destination for the outbox's events; the example starts while any of them is down, and readiness reports Redis.",
    variables: [
      {
        name: "REDIS_URL",
        default: "unset: in-memory stores",
        meaning:
          "Redis for the L2 cache, cache invalidations (pub/sub), revocations (with the durable copy in Postgres), rate-limit windows and `Idempotency-Key` records; adds a `redis` readiness check. Run it with `maxmemory-policy noeviction`.",
        readBy: ["examples/api/src/server/Stores.ts", "packages/redis/src/IoRedis.ts"]
      },
      {
        name: "NATS_URL",
        default: "unset: no relay",
        meaning:
          "NATS with JetStream (one URL or several, comma-separated): integration events are also published from the outbox to the stream `EXAMPLE_EVENTS`",
        readBy: ["examples/api/src/server/Events.ts", "packages/nats/src/NatsConnection.ts"]
      },
      {
        name: "WEBHOOK_URL",
        default: "unset: no webhook",
        meaning:
          "an https URL: integration events are also POSTed there from the outbox, signed (Standard Webhooks), through the SSRF-safe `OutboundClient`",
        readBy: [webhooks]
      },
      {
        name: "WEBHOOK_SECRET",
        default: "required with `WEBHOOK_URL`",
        meaning: "the signing secret, `whsec_<base64>`, kept `Redacted`",
        readBy: [webhooks]
      },
      {
        name: "WEBHOOK_ALLOW_NETWORKS",
        default: "unset: none",
        meaning:
          "comma-separated CIDRs or addresses exempt from the private-address check (and then `http:` is accepted too): for a local receiver only, never in production",
        readBy: [webhooks]
      }
    ]
  },
  {
    title: "Telemetry",
    intro:
      "The standard OpenTelemetry variables, read by `TelemetryConfig.config` in the runner. Nothing is exported, and no exporter runs, without an endpoint. Details: [telemetry.md](telemetry.md).",
    variables: [
      {
        name: "OTEL_SDK_DISABLED",
        default: "`false`",
        meaning: "`true` turns every exporter off",
        readBy: [telemetry]
      },
      {
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        default: "unset: no export",
        meaning: "base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended",
        readBy: [telemetry]
      },
      {
        name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        default: "unset",
        meaning: "the traces URL, used as is (overrides the base for traces)",
        readBy: [telemetry]
      },
      {
        name: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        default: "unset",
        meaning: "the metrics URL, used as is",
        readBy: [telemetry]
      },
      {
        name: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        default: "unset",
        meaning: "the logs URL, used as is",
        readBy: [telemetry]
      },
      {
        name: "OTEL_EXPORTER_OTLP_PROTOCOL",
        default: "`http/protobuf`",
        meaning: "or `http/json`; anything else (`grpc`) stops the start",
        readBy: [telemetry]
      },
      {
        name: "OTEL_EXPORTER_OTLP_HEADERS",
        default: "none",
        meaning: "`k=v,k2=v2` sent with every export, values percent-decoded and kept `Redacted`",
        readBy: [telemetry]
      },
      {
        name: "OTEL_SERVICE_NAME",
        default: "`service.name` of the resource attributes, else `Example API`",
        meaning: "`service.name`",
        readBy: [telemetry]
      },
      {
        name: "OTEL_RESOURCE_ATTRIBUTES",
        default: "none",
        meaning: "`k=v,...` resource attributes, percent-decoded",
        readBy: [telemetry]
      },
      {
        name: "OTEL_TRACES_SAMPLER",
        default: "`parentbased_always_on`",
        meaning:
          "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`",
        readBy: [telemetry]
      },
      {
        name: "OTEL_TRACES_SAMPLER_ARG",
        default: "`1`",
        meaning: "the ratio in [0, 1] of the ratio samplers",
        readBy: [telemetry]
      }
    ]
  }
]

/** Every variable of the table. */
export const variables: ReadonlyArray<Variable> = sections.flatMap((section) => section.variables)

// -----------------------------------------------------------------------------
// rendering
// -----------------------------------------------------------------------------

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ")

// `packages/server/src/ServerConfig.ts` -> `@org/server` `ServerConfig`; `examples/api/...` -> the example's.
const owner = (path: string): string => {
  const module = path.split("/").at(-1)?.replace(/\.ts$/, "") ?? path
  const pkg = /^packages\/([^/]+)\//.exec(path)?.[1]
  return pkg === undefined ? `example \`server/${module}\`` : `\`@org/${pkg}\` \`${module}\``
}

export const render = (): string => {
  const lines: Array<string> = [
    "<!-- Generated by scripts/config-reference.ts from its table. Do not edit: change the table and run `pnpm docs:config`. -->",
    "",
    "# Configuration reference",
    "",
    "Every environment variable the example API (`examples/api`) reads at start-up, with its default, its meaning and the module that reads it. Configuration is read with Effect's `Config`; a blank variable counts as unset, and a bad value stops the start with one line naming the variable (`Invalid configuration: PORT must be an integer from 0 to 65535`) and exit code 1.",
    "",
    "This page is generated, and checked in CI: `node --conditions=@org/source scripts/config-reference.ts --check` starts the example under a recording `ConfigProvider` and fails when a variable it reads is missing here, when a variable listed here is no longer read, or when this page differs from the table (see the script's module doc).",
    ""
  ]
  for (const section of sections) {
    lines.push(`## ${section.title}`, "", section.intro, "")
    lines.push("| variable | default | meaning | read by |", "|---|---|---|---|")
    for (const variable of section.variables) {
      lines.push(
        `| \`${variable.name}\` | ${cell(variable.default)} | ${cell(variable.meaning)} | ${variable.readBy.map(owner).join(", ")} |`
      )
    }
    lines.push("")
  }
  lines.push(
    "## Not read by the app",
    "",
    "- `NODE_COMPILE_CACHE`: Node's own; `main.ts` turns on the compile cache, which Node keeps there (else in the OS temp directory).",
    "- `REQUIRE_SERVICES`: tests only (`SqlTest`, the Redis and NATS test helpers): fail instead of falling back or skipping when Postgres, Redis or NATS is missing.",
    ""
  )
  return format(lines.join("\n"))
}

// Through the repository's formatter (Biome aligns Markdown tables), so
// `biome check --write` leaves the generated page as it is.
const format = (markdown: string): string => {
  const biome = join(root, "node_modules", "@biomejs", "biome", "bin", "biome")
  const run = spawnSync(process.execPath, [biome, "format", `--stdin-file-path=${target}`], {
    cwd: root,
    input: markdown,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024
  })
  if (run.status !== 0) throw new Error(`biome could not format ${target}: ${run.stderr}`)
  return run.stdout
}

// -----------------------------------------------------------------------------
// checks
// -----------------------------------------------------------------------------

/**
 * Starts the example with `env` as its whole environment, records every
 * configuration name it reads until it is ready, then stops it.
 */
const observe = (env: Record<string, string>): Effect.Effect<ReadonlySet<string>, unknown> =>
  Effect.gen(function* () {
    const seen = new Set<string>()
    const source = ConfigProvider.fromEnv({ env })
    const recording = ConfigProvider.make((path) => {
      seen.add(path.join("_"))
      return source.load(path)
    })
    const ready = yield* Deferred.make<void>()
    // Replaces the console logger: the start is silent, the ready line ends it.
    const logger = Logger.make(({ message }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      if (text.includes(" ready on ")) Deferred.doneUnsafe(ready, Effect.void)
    })
    const fiber = yield* Effect.forkChild(
      Runner.launch({ ...options, logger }).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, recording)
      )
    )
    // A failed start ends the race with its error.
    yield* Deferred.await(ready).pipe(
      Effect.raceFirst(Fiber.join(fiber)),
      Effect.timeoutOrElse({
        duration: "120 seconds",
        orElse: () => Effect.fail(new Error("the example did not log its ready line within 120 s"))
      })
    )
    yield* Fiber.interrupt(fiber)
    return seen
  })

const literalIn = (path: string, name: string): boolean => {
  try {
    return readFileSync(join(root, path), "utf8").includes(`"${name}"`)
  } catch {
    return false
  }
}

const problems = (observed: ReadonlySet<string>): Array<string> => {
  const out: Array<string> = []
  const listed = new Set<string>()
  for (const variable of variables) {
    if (listed.has(variable.name)) out.push(`${variable.name} is listed twice`)
    listed.add(variable.name)
    if (!observed.has(variable.name)) {
      out.push(`${variable.name} is in the table but the example did not read it at start-up`)
    }
    for (const path of variable.readBy) {
      if (!literalIn(path, variable.name))
        out.push(`${variable.name}: ${path} does not contain "${variable.name}"`)
    }
  }
  for (const name of [...observed].sort()) {
    if (!listed.has(name)) out.push(`${name} is read by the example at start-up but missing from the table`)
  }
  return out
}

const main = async () => {
  const check = process.argv.includes("--check")
  const dataDir = mkdtempSync(join(tmpdir(), "config-reference-"))
  const base = { DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "info" }
  let observed: Set<string>
  try {
    observed = await Effect.runPromise(
      Effect.gen(function* () {
        const defaults = yield* observe(base)
        const services = yield* observe({
          ...base,
          REDIS_URL: "redis://127.0.0.1:1",
          NATS_URL: "nats://127.0.0.1:1",
          WEBHOOK_URL: "https://hooks.invalid/events",
          WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        })
        return new Set([...defaults, ...services])
      })
    )
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
  const found = problems(observed)
  if (found.length > 0) {
    console.error(
      `config reference: the table in scripts/config-reference.ts is wrong:\n- ${found.join("\n- ")}`
    )
    return 1
  }
  const rendered = render()
  const path = join(root, target)
  let current: string | undefined
  try {
    current = readFileSync(path, "utf8")
  } catch {
    current = undefined
  }
  if (check) {
    if (current !== rendered) {
      console.error(`config reference: ${target} is stale; run pnpm docs:config`)
      return 1
    }
    console.log(`config reference: ${variables.length} variables, complete; ${target} is up to date`)
    return 0
  }
  if (current !== rendered) writeFileSync(path, rendered)
  console.log(
    `config reference: ${variables.length} variables, complete; ${target} ${current === rendered ? "unchanged" : "written"}`
  )
  return 0
}

if (import.meta.main) {
  // Exits explicitly: clients of the services that were down (Redis, NATS)
  // may keep a reconnect timer alive after the stop.
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error("config reference: could not start the example:", error)
      process.exit(2)
    }
  )
}
