/**
 * The floor of the load benchmark: bare `node:http` answering the example
 * API's item JSON for `GET /api/v1/items/<id>` from a constant. Nothing is
 * cheaper on Node; every other server's cost is measured against it.
 *
 * Run by `bench/load.bench.ts` as a child process; by hand:
 * `PORT=3003 ITEM_JSON='{"id":...}' ./node_modules/.bin/node bench/load/bare-node.ts`
 */
import { createServer } from "node:http"
import { itemJson } from "./item.ts"

const body = Buffer.from(itemJson())
const etag = `"${JSON.parse(itemJson()).version}"`

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url?.startsWith("/api/v1/items/")) {
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": body.length,
      etag,
      "cache-control": "no-store"
    })
    res.end(body)
  } else {
    res.writeHead(404).end()
  }
})

const close = () => server.close(() => process.exit(0))
process.once("SIGTERM", close)
process.once("SIGINT", close)
server.listen(Number(process.env.PORT ?? 3003), process.env.HOST ?? "127.0.0.1")
