/**
 * Spans per second: no layer, Telemetry off (no endpoint), and Effect's own
 * OTLP exporter (protobuf) sending to a loopback receiver. Run:
 *   node --conditions=@org/source packages/telemetry/bench/spans.bench.ts
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Telemetry, TelemetryConfig } from "@org/telemetry"
import { Effect, type Layer } from "effect"

const server = Http.createServer((req, res) => {
  req.resume()
  req.on("end", () => res.end())
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const spans = 200_000
const loop = Effect.gen(function* () {
  for (let i = 0; i < spans; i++) yield* Effect.void.pipe(Effect.withSpan("op", { attributes: { i } }))
})

const run = async (name: string, layer: Layer.Layer<unknown> | undefined) => {
  const program = layer === undefined ? loop : loop.pipe(Effect.provide(layer))
  await Effect.runPromise(program) // warm-up
  const start = performance.now()
  await Effect.runPromise(program)
  const ms = performance.now() - start
  // biome-ignore lint/suspicious/noConsole: a bench script prints its table
  console.log(
    `${name.padEnd(28)} ${Math.round((spans / ms) * 1000).toLocaleString("en")} spans/s  (${((ms * 1e6) / spans).toFixed(0)} ns/span)`
  )
}

await run("no telemetry layer", undefined)
await run("Telemetry off (no endpoint)", Telemetry.layer(TelemetryConfig.off))
await run(
  "Effect OTLP protobuf loopback",
  Telemetry.layer({
    ...TelemetryConfig.off,
    endpoints: { traces: `${url}/v1/traces`, metrics: undefined, logs: undefined }
  })
)
server.close()
