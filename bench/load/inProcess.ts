/**
 * The example API in this process, as a web handler (no socket): an account,
 * its bearer token and one item to read, for the in-process suites
 * (`stack`, `telemetry`).
 */
import { Layer } from "effect"
import { AppLayer } from "../../examples/api/test/client.ts"
import { HttpApp } from "../../packages/http/src/index.ts"

export interface InProcess {
  readonly handler: (request: Request) => Promise<Response>
  readonly dispose: () => Promise<void>
  /** `GET` of the item with the bearer token; fails on anything but 200. */
  readonly read: () => Promise<void>
}

/**
 * `observability` is merged into the app's output, as the runner provides it
 * around the whole server: the pipeline that opens the server span runs with
 * the server's context, not the app layer's.
 */
export const exampleInProcess = async <A>(observability: Layer.Layer<A>): Promise<InProcess> => {
  const { handler, dispose } = HttpApp.toWebHandler(AppLayer().pipe(Layer.provideMerge(observability)))
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await handler(new Request(`http://localhost${path}`, init))
    const text = await response.text()
    if (response.status >= 300) throw new Error(`${path}: ${response.status} ${text}`)
    return JSON.parse(text) as Record<string, string>
  }
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    })
  const account = {
    email: `reader-${crypto.randomUUID()}@example.test`,
    password: "Correct-Horse-Battery-Staple-42"
  }
  await post("/api/v1/auth/register", account)
  const headers = { authorization: `Bearer ${(await post("/api/v1/auth/login", account)).access_token}` }
  const { id } = await post("/api/v1/items", { name: "Saw", price: 12.5, quantity: 3 }, headers)
  return {
    handler,
    dispose,
    read: async () => {
      const response = await handler(new Request(`http://localhost/api/v1/items/${id}`, { headers }))
      if (response.status !== 200) throw new Error(`example: ${response.status} ${await response.text()}`)
      await response.arrayBuffer()
    }
  }
}
