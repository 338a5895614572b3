/**
 * A client generated from `/openapi.json` by tools nobody here wrote
 * (`openapi-typescript` + `openapi-fetch`) compiles without casts under the
 * repo's strict settings, and works against the app: list filters, paging
 * and a create go through typed, and the answers are the typed ones.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { HttpApp } from "@org/http"
import { Effect } from "effect"
import { OpenApi } from "effect/http-api"
import openapiTS, { astToString } from "openapi-typescript"
import ts from "typescript"
import { Api } from "../src/api/Api.ts"
import { AppLayer, makeApi } from "./client.ts"

/** The generated consumer module, as this test calls it. */
interface Consumer {
  readonly run: (
    fetch: (request: Request) => Promise<Response>,
    token: string
  ) => Promise<{ id: string; names: Array<string>; total: number | undefined; status: number | undefined }>
}

const dir = join(import.meta.dirname, "..", "test-output", "generated-client")

// What a team writes against the generated types: no `as`, no `any`.
const consumer = `import createClient from "openapi-fetch"
import type { paths } from "./schema.ts"

export const run = async (fetch: (request: Request) => Promise<Response>, token: string) => {
  const client = createClient<paths>({ baseUrl: "http://localhost", fetch })
  const headers = { authorization: \`Bearer \${token}\` }
  const created = await client.POST("/api/v1/items", {
    body: { name: "Saw", price: 12.5, quantity: 3, description: null, category: "tools" },
    headers
  })
  if (created.data === undefined) throw new Error("create failed")
  const id: string = created.data.id
  const page = await client.GET("/api/v1/items", {
    params: { query: { page: "1", size: "10", sort: "-price", price: { gte: 10 }, category: { eq: "tools" } } },
    headers
  })
  const names: Array<string> = (page.data?.items ?? []).map((item) => item.name)
  const missing = await client.GET("/api/v1/items/{id}", {
    params: { path: { id: "00000000-0000-7000-8000-000000000000" } },
    headers
  })
  const status: number | undefined = missing.error?.status
  return { id, names, total: page.data?.total, status }
}
`

describe("a client generated from the document", () => {
  it.effect(
    "compiles strictly and serves typed calls",
    () =>
      Effect.gen(function* () {
        const document = OpenApi.fromApi(Api)
        const schema = yield* Effect.promise(() => openapiTS(JSON.parse(JSON.stringify(document))))
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, "schema.ts"), astToString(schema))
        writeFileSync(join(dir, "consumer.ts"), consumer)
        const program = ts.createProgram([join(dir, "consumer.ts")], {
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          lib: ["lib.es2022.d.ts", "lib.dom.d.ts"]
        })
        const diagnostics = ts
          .getPreEmitDiagnostics(program)
          .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))
        assert.deepStrictEqual(diagnostics, [], "the generated client does not compile")

        // The same calls at run time, through openapi-fetch, against the app.
        const { handler, dispose } = HttpApp.toWebHandler(AppLayer())
        yield* Effect.addFinalizer(() => Effect.promise(dispose))
        const api = yield* makeApi(handler)
        const { run }: Consumer = yield* Effect.promise(() => import(join(dir, "consumer.ts")))
        const result = yield* Effect.promise(() => run(handler, api.user.access))
        assert.isString(result.id)
        assert.deepStrictEqual(result.names, ["Saw"])
        assert.strictEqual(result.total, 1)
        assert.strictEqual(result.status, 404)
      }).pipe(Effect.scoped),
    60_000
  )
})
