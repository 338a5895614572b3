/**
 * Test helpers: the example app over a fresh test database (embedded PGlite,
 * or a fresh database on the Postgres at DATABASE_URL), served in memory.
 */
import { HttpApp } from "@org/http"
import { Migrations, SqlTest } from "@org/sql"
import { Effect, Layer, Logger } from "effect"
import * as Caching from "../src/Caching.ts"
import { Items } from "../src/Item.ts"
import { migrations } from "../src/Migrations.ts"
import { makeApp } from "../src/Server.ts"

/** What a test looks at in a response. */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect JSON bodies field by field.
  readonly body: any
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The app on a migrated test database, with logging silenced. */
export const AppLayer = (options: { readonly bodyLimit?: number } = {}) => {
  const Database = Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)
  const services = Items.layer.pipe(Layer.provide(Caching.layerMemory))
  return makeApp({ ...options, services }).pipe(Layer.provide(Database), Layer.provide(Logger.layer([])))
}

/** Serves the app in memory for the scope; `call` sends one request. */
export const serve = (options: { readonly bodyLimit?: number } = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => HttpApp.toWebHandler(AppLayer(options))),
      ({ dispose }) => Effect.promise(dispose)
    ),
    ({ handler }) => ({
      call: (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
        Effect.promise(async (): Promise<Reply> => {
          const init: RequestInit = { method, headers: { ...headers } }
          if (body !== undefined) {
            init.body = typeof body === "string" ? body : JSON.stringify(body)
            init.headers = { "content-type": "application/json", ...headers }
          }
          const response = await handler(new Request(`http://localhost${path}`, init))
          const text = await response.text()
          return { status: response.status, headers: response.headers, text, body: parse(text) }
        })
    })
  )
