/**
 * `GET /metrics` of the example, read with a real Prometheus text parser:
 * the request histogram counts the reads of one route by its template, the
 * outbox counts its deliveries, the query cache its hits.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import parse from "parse-prometheus-text-format"
import { type Api, serve } from "./client.ts"

const saw = { name: "Saw", price: 12.5, quantity: 3 }

const scrape = (api: Api) =>
  Effect.map(api.call("GET", "/metrics", undefined, { authorization: "" }), (reply) => {
    assert.strictEqual(reply.status, 200, reply.text)
    // parses as Prometheus text (throws otherwise)
    const families = parse(reply.text)
    return { text: reply.text, names: new Set(families.map((family) => family.name)) }
  })

// The sum of every series whose name and labels match (0 when none does). A sum,
// not the first match: the registry is the process's, and an earlier server in
// the same process (another test file in this worker) leaves series whose other
// labels (port, status) differ. What this test checks is a difference.
const sample = (text: string, name: string, labels: Record<string, string>): number =>
  text
    .split("\n")
    .filter(
      (l) =>
        l.startsWith(`${name}{`) &&
        Object.entries(labels).every(([key, value]) => l.includes(`${key}="${value}"`))
    )
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)

describe("GET /metrics", () => {
  it.live(
    "counts the item reads by route template, the outbox deliveries and the query cache's hits",
    () =>
      Effect.gen(function* () {
        const api = yield* serve()
        const route = { http_route: "/api/v1/items/:id", http_request_method: "GET" }
        const before = yield* scrape(api)
        const created = yield* api.call("POST", "/api/v1/items", saw)
        assert.strictEqual(created.status, 201, created.text)
        for (let i = 0; i < 3; i++) {
          assert.strictEqual((yield* api.call("GET", `/api/v1/items/${created.body.id}`)).status, 200)
        }
        const delivered = (text: string) =>
          sample(text, "outbox_deliveries_total", { outcome: "completed", type: "ItemCreated" })
        // the dispatcher delivers after the commit: scrape until it has
        const after = yield* scrape(api).pipe(
          Effect.filterOrFail(
            (now) => delivered(now.text) > delivered(before.text),
            () => "not delivered yet"
          ),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }),
          Effect.orDie
        )
        assert.include([...after.names], "http_server_request_duration_seconds")
        const reads = (text: string) => sample(text, "http_server_request_duration_seconds_count", route)
        assert.strictEqual(reads(after.text) - reads(before.text), 3)
        // no raw id in any label: the template, never the path
        assert.notInclude(after.text, created.body.id)
        assert.strictEqual(delivered(after.text) - delivered(before.text), 1)
        assert.include(after.text, "outbox_lag")
        // the second and third reads came from the query cache
        const hits = (text: string) => sample(text, "cache_hits", { cache: "query:GetItem" })
        assert.strictEqual(hits(after.text) - hits(before.text), 2)
      }).pipe(Effect.scoped),
    60_000
  )
})
