/**
 * Writes the example API's OpenAPI document to the path given (for the
 * linters CI runs on it: `bash scripts/openapi/lint.sh`).
 */
import { writeFileSync } from "node:fs"
import { OpenApi } from "effect/http-api"
import { Api } from "../../examples/api/src/api/Api.ts"

const target = process.argv[2]
if (target === undefined) throw new Error("usage: document.ts <output.json>")
writeFileSync(target, `${JSON.stringify(OpenApi.fromApi(Api), null, 2)}\n`)
