import { mkdtemp, readdir, rm } from "node:fs/promises"
import { createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { PgDatabase, SqlTest } from "@org/sql"
import { ConfigProvider, Effect, Redacted } from "effect"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "org-sql-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

// A TCP server that accepts connections and never says a word. Closing it
// destroys the accepted sockets: @effect/sql-pg leaves a connection attempt
// that was interrupted waiting until the peer hangs up.
const silentServer = Effect.acquireRelease(
  Effect.callback<{ readonly server: Server; readonly sockets: Set<Socket> }>((resume) => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => void sockets.add(socket))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

describe("PgDatabase.backend", () => {
  it.effect("selects Postgres when DATABASE_URL is set", () =>
    Effect.gen(function* () {
      const backend = yield* PgDatabase.backend.pipe(
        withEnv({ DATABASE_URL: "postgresql://u:p@db:5432/app" })
      )
      assert.strictEqual(backend._tag, "Postgres")
      assert.strictEqual(
        backend._tag === "Postgres" && Redacted.value(backend.url),
        "postgresql://u:p@db:5432/app"
      )
    })
  )

  it.effect("selects PGlite under DATA_DIR/pg, .data/pg by default", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* PgDatabase.backend.pipe(withEnv({})), {
        _tag: "Embedded",
        dataDir: ".data/pg"
      })
      assert.deepStrictEqual(yield* PgDatabase.backend.pipe(withEnv({ DATA_DIR: "/srv/data" })), {
        _tag: "Embedded",
        dataDir: "/srv/data/pg"
      })
      // An empty variable counts as unset.
      assert.strictEqual((yield* PgDatabase.backend.pipe(withEnv({ DATABASE_URL: "" })))._tag, "Embedded")
    })
  )

  it.effect("refuses the embedded database in production: DATABASE_URL is required", () =>
    Effect.gen(function* () {
      for (const env of [{ APP_ENV: "production" }, { APP_ENV: "Production", DATABASE_URL: "" }]) {
        const error = yield* Effect.flip(PgDatabase.backend.pipe(withEnv(env)))
        assert.strictEqual(error._tag, "DatabaseConfigError")
        assert.strictEqual(error.variable, "DATABASE_URL")
        assert.match(error.message, /^DATABASE_URL is required in production/)
        assert.notInclude(error.message, "\n")
      }
      const postgres = yield* PgDatabase.backend.pipe(
        withEnv({ APP_ENV: "production", DATABASE_URL: "postgresql://u:p@db:5432/app" })
      )
      assert.strictEqual(postgres._tag, "Postgres")
      assert.strictEqual((yield* PgDatabase.backend.pipe(withEnv({ APP_ENV: "test" })))._tag, "Embedded")
      const bad = yield* Effect.flip(PgDatabase.backend.pipe(withEnv({ APP_ENV: "prod" })))
      assert.strictEqual(bad.variable, "APP_ENV")
    })
  )

  it.effect.each(["mysql://root:s3cret@db/app", "s3cret:pw@db/app", "not a url", "localhost:5432"])(
    "rejects DATABASE_URL=%s naming the variable, not the secret",
    (url) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(PgDatabase.backend.pipe(withEnv({ DATABASE_URL: url })))
        assert.strictEqual(error._tag, "DatabaseConfigError")
        assert.strictEqual(error.variable, "DATABASE_URL")
        assert.include(error.message, "DATABASE_URL")
        assert.notInclude(error.message, "s3cret")
      })
  )
})

describe("PgDatabase.layerConfig", () => {
  it.effect("fails to build with a bad DATABASE_URL", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(Effect.void, PgDatabase.layerConfig).pipe(
          withEnv({ DATABASE_URL: "redis://localhost:6379" })
        )
      )
      assert.strictEqual(error._tag, "DatabaseConfigError")
      assert.include(error.message, "DATABASE_URL must be a postgres:// or postgresql:// URL")
    })
  )

  it.effect("runs embedded PGlite persisted under DATA_DIR/pg without DATABASE_URL", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const backend = yield* SqlTest.backend.pipe(
        Effect.tap(PgDatabase.ready()),
        Effect.provide(PgDatabase.layerConfig),
        withEnv({ DATA_DIR: dir })
      )
      assert.strictEqual(backend, "pglite")
      assert.include(yield* Effect.promise(() => readdir(join(dir, "pg"))), "PG_VERSION")
    })
  )
})

describe("PgDatabase.ready", () => {
  it.live("fails with DatabaseUnavailable when nothing listens", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        PgDatabase.ready("5 seconds").pipe(
          Effect.provide(PgClient.layer({ url: Redacted.make("postgresql://postgres@127.0.0.1:1/none") }))
        )
      )
      assert.strictEqual(error._tag, "DatabaseUnavailable")
      assert.include(error.message, "readiness query failed")
    })
  )

  it.live("fails with DatabaseUnavailable when the server does not answer in time", () =>
    Effect.gen(function* () {
      const { server } = yield* silentServer
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const error = yield* Effect.flip(
        PgDatabase.ready("200 millis").pipe(
          Effect.provide(PgClient.layer({ host: "127.0.0.1", port, username: "postgres" }))
        )
      )
      assert.strictEqual(error._tag, "DatabaseUnavailable")
      assert.include(error.message, "within 200ms")
    })
  )
})
