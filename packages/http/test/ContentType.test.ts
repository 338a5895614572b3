import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Headers, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as fc from "fast-check"
import { ContentType, Problem } from "../src/index.ts"
import { type Client, type Reply, serve, widgetsApp } from "./fixtures/client.ts"

const url = (path: string) => `http://localhost${path}`
const encode = (text: string) => new TextEncoder().encode(text)
const signup = JSON.stringify({ email: "victim@example.com", name: "Mallory" })

/** A body whose chunks are counted as they are pulled. */
const countedStream = (text: string) => {
  const pulls = { count: 0 }
  const bytes = encode(text)
  // No high-water mark: nothing is pulled until someone reads.
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulls.count++
        controller.enqueue(bytes)
        controller.close()
      }
    },
    { highWaterMark: 0 }
  )
  return { pulls, stream }
}

const signups = (client: Client) => Effect.map(client.call("GET", "/signups"), (reply) => reply.body)

const assertUnsupported = (reply: Reply) => {
  assert.strictEqual(reply.status, 415)
  assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
  assert.strictEqual(reply.body.type, Problem.types.unsupportedMediaType)
  assert.strictEqual(reply.body.status, 415)
  assert.include(reply.body.detail, "application/json")
}

/** `POST /echo`: the body as the handler reads it, twice (text, then JSON). */
const echo = HttpRouter.add(
  "POST",
  "/echo",
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.gen(function* () {
      const text = yield* request.text
      const json = yield* request.json
      return HttpServerResponse.jsonUnsafe({ text, json })
    }).pipe(Effect.orDie)
  )
)

/** `POST /v2/echo`, under a prefix: the router hands the handler a modified request. */
const prefixedEcho = Layer.effectDiscard(
  Effect.flatMap(HttpRouter.HttpRouter, (router) =>
    router.prefixed("/v2").add(
      "POST",
      "/echo",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.map(Effect.orDie(request.text), (text) => HttpServerResponse.text(`${request.url} ${text}`))
      )
    )
  )
)

/** `POST /notes`: a plain-text endpoint, for `mediaTypes`. */
const notes = HttpRouter.add(
  "POST",
  "/notes",
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.map(Effect.orDie(request.text), (text) => HttpServerResponse.text(`noted: ${text}`))
  )
)

describe("ContentType", () => {
  describe("parse and isJson", () => {
    it.each([
      "application/json",
      "Application/JSON",
      "application/json; charset=utf-8",
      "application/json;charset=UTF-8",
      'application/json; charset="utf-8"',
      'application/json ; charset="UTF-8" ',
      "application/merge-patch+json",
      "application/problem+json; charset=utf-8",
      'application/json; profile="https://x"; charset=utf-8',
      'application/json; title="a;b\\"c"'
    ])("%j is JSON", (value) => {
      const parsed = ContentType.parse(value)
      assert.isTrue(Option.isSome(parsed), value)
      assert.isTrue(Option.isSome(parsed) && ContentType.isJson(parsed.value), value)
    })

    it.each([
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "text/json",
      "application/jsonx",
      "application/+json",
      "application/json; charset=latin1",
      "application/json; charset=utf8",
      "application/json; charset=utf-16",
      "application/json; charset=utf-8; charset=latin1",
      "application/json; charset",
      "application/json, text/plain",
      "application/json garbage",
      "application/",
      "json",
      ""
    ])("%j is not JSON", (value) => {
      const parsed = ContentType.parse(value)
      assert.isFalse(Option.isSome(parsed) && ContentType.isJson(parsed.value), value)
    })

    it("parses parameters, unquoting values", () => {
      assert.deepStrictEqual(
        ContentType.parse('Application/Problem+JSON; Charset="UTF-8"; q=a\\b'),
        Option.none(),
        "a backslash outside quotes is not a token"
      )
      assert.deepStrictEqual(
        ContentType.parse('Application/Problem+JSON; Charset="U\\"TF-8";x=y'),
        Option.some({
          type: "application",
          subtype: "problem+json",
          parameters: [
            ["charset", 'U"TF-8'],
            ["x", "y"]
          ]
        })
      )
    })
  })

  describe("a body without a JSON media type", () => {
    it.effect("is 415 and creates nothing: the cross-origin simple request", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins: ["https://app.example.com"] } }))
        const evil = { origin: "https://evil.example" }
        const attempts: ReadonlyArray<Request> = [
          // fetch(url, { method: "POST", mode: "no-cors", body: new Blob([json]) }): no Content-Type at all.
          new Request(url("/signups"), { method: "POST", headers: evil, body: new Blob([signup]) }),
          new Request(url("/signups"), {
            method: "POST",
            headers: { ...evil, "content-length": String(signup.length) },
            body: encode(signup)
          }),
          // The three media types a form or fetch may send without a preflight.
          new Request(url("/signups"), { method: "POST", headers: evil, body: signup }),
          new Request(url("/signups"), {
            method: "POST",
            headers: { ...evil, "content-type": "application/x-www-form-urlencoded" },
            body: signup
          }),
          new Request(url("/signups"), {
            method: "POST",
            headers: { ...evil, "content-type": "multipart/form-data; boundary=x" },
            body: signup
          }),
          new Request(url("/signups"), {
            method: "POST",
            headers: { ...evil, "content-type": "application/json; charset=latin1" },
            body: signup
          })
        ]
        for (const request of attempts) {
          const reply = yield* client.send(request)
          assertUnsupported(reply)
          assert.isNull(reply.headers.get("access-control-allow-origin"))
          assert.notInclude(reply.text, "form-urlencoded")
        }
        assert.deepStrictEqual(yield* signups(client), [])
        // The same request as JSON goes through.
        const created = yield* client.call("POST", "/signups", { body: signup })
        assert.strictEqual(created.status, 201)
        assert.deepStrictEqual(yield* signups(client), ["victim@example.com"])
      }).pipe(Effect.scoped)
    )

    it.effect("is refused from its framing headers, before any byte is read", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp())
        for (const framing of [
          { "content-length": String(signup.length) },
          { "transfer-encoding": "chunked" }
        ]) {
          const { pulls, stream } = countedStream(signup)
          const reply = yield* client.send(
            new Request(url("/signups"), { method: "POST", headers: framing, body: stream, duplex: "half" })
          )
          assertUnsupported(reply)
          assert.strictEqual(pulls.count, 0, JSON.stringify(framing))
        }
        assert.deepStrictEqual(yield* signups(client), [])
        // The counter works: the same body as JSON is read.
        const { pulls, stream } = countedStream(signup)
        const json = { "content-type": "application/json", "transfer-encoding": "chunked" }
        const created = yield* client.send(
          new Request(url("/signups"), { method: "POST", headers: json, body: stream, duplex: "half" })
        )
        assert.strictEqual(created.status, 201)
        assert.isAtLeast(pulls.count, 1)
      }).pipe(Effect.scoped)
    )

    it.effect("on DELETE and PUT too; a request without a body needs no media type", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ routes: [echo] }))
        const deleted = yield* client.send(new Request(url("/echo"), { method: "DELETE", body: "{}" }))
        // /echo serves POST only: the router answers first.
        assert.strictEqual(deleted.status, 405)
        const put = yield* client.send(new Request(url("/widgets/x"), { method: "PUT", body: "{}" }))
        assert.strictEqual(put.status, 405)
        // No body: logout-like endpoints take no Content-Type.
        const empty = yield* client.send(new Request(url("/session/logout"), { method: "POST" }))
        assert.strictEqual(empty.status, 204)
        const zero = yield* client.send(
          new Request(url("/session/logout"), {
            method: "POST",
            headers: { "content-type": "text/plain", "content-length": "0" }
          })
        )
        assert.strictEqual(zero.status, 204)
        const emptyStream = yield* client.send(
          new Request(url("/session/logout"), {
            method: "POST",
            body: new ReadableStream({ start: (controller) => controller.close() }),
            duplex: "half"
          })
        )
        assert.strictEqual(emptyStream.status, 204)
      }).pipe(Effect.scoped)
    )

    it.effect("to no route is the router's 404 or 405, not 415", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp())
        const missing = yield* client.send(new Request(url("/nowhere"), { method: "POST", body: "x" }))
        assert.strictEqual(missing.status, 404)
        const wrong = yield* client.send(new Request(url("/widgets"), { method: "PATCH", body: "x" }))
        assert.strictEqual(wrong.status, 405)
      }).pipe(Effect.scoped)
    )

    it.effect("is accepted when its media type is listed in mediaTypes, and read by the route", () =>
      Effect.gen(function* () {
        const client = yield* serve(
          widgetsApp({ routes: [notes], contentType: { mediaTypes: ["Text/Plain"] } })
        )
        const reply = yield* client.send(new Request(url("/notes"), { method: "POST", body: "hello" }))
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.text, "noted: hello")
        const other = yield* client.send(
          new Request(url("/notes"), { method: "POST", headers: { "content-type": "text/csv" }, body: "a,b" })
        )
        assertUnsupported(other)
        const strict = yield* serve(widgetsApp({ routes: [notes] }))
        assertUnsupported(yield* strict.send(new Request(url("/notes"), { method: "POST", body: "hello" })))
      }).pipe(Effect.scoped)
    )
  })

  describe("a JSON body", () => {
    it.effect("passes with +json types, parameters and a UTF-8 charset", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ routes: [echo] }))
        for (const type of [
          "application/json",
          "APPLICATION/JSON; CHARSET=UTF-8",
          'application/json; charset="utf-8"',
          "application/merge-patch+json",
          "application/vnd.example+json; version=2"
        ]) {
          const reply = yield* client.call("POST", "/echo", {
            body: '{"a":"ë"}',
            headers: { "content-type": type }
          })
          assert.strictEqual(reply.status, 200, type)
          assert.deepStrictEqual(reply.body, { text: '{"a":"ë"}', json: { a: "ë" } }, type)
        }
      }).pipe(Effect.scoped)
    )

    it.effect("that is not valid UTF-8 is a 400 naming the body, and the handler never sees it", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ routes: [echo] }))
        const invalid: ReadonlyArray<readonly [string, ReadonlyArray<number>]> = [
          ["a lone continuation byte", [0x80]],
          ["a truncated sequence", [0xc3]],
          ["an invalid byte", [0xff]],
          ["an overlong encoding of /", [0xc0, 0xaf]],
          ["an encoded surrogate", [0xed, 0xa0, 0x80]],
          ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]]
        ]
        for (const [what, bytes] of invalid) {
          const body = new Uint8Array([...encode('{"email":"a'), ...bytes, ...encode('@example.com"}')])
          const reply = yield* client.call("POST", "/signups", { body })
          assert.strictEqual(reply.status, 400, what)
          assert.strictEqual(reply.body.type, Problem.types.validation, what)
          assert.strictEqual(reply.body.detail, "The request body is not valid UTF-8.", what)
          assert.deepStrictEqual(reply.body.errors, [
            { in: "body", pointer: "", message: "Expected UTF-8 text" }
          ])
          const echoed = yield* client.call("POST", "/echo", { body })
          assert.strictEqual(echoed.status, 400, what)
        }
        assert.deepStrictEqual(yield* signups(client), [])
        const valid = yield* client.call("POST", "/signups", { body: encode('{"email":"zoë@example.com"}') })
        assert.strictEqual(valid.status, 201)
        assert.deepStrictEqual(yield* signups(client), ["zoë@example.com"])
      }).pipe(Effect.scoped)
    )

    it.effect("is read once and served to prefixed routes and repeated reads", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ routes: [echo, prefixedEcho] }))
        const twice = yield* client.call("POST", "/echo", { body: '{"n":1}' })
        assert.deepStrictEqual(twice.body, { text: '{"n":1}', json: { n: 1 } })
        const prefixed = yield* client.call("POST", "/v2/echo?x=1", { body: '{"n":2}' })
        assert.strictEqual(prefixed.status, 200)
        assert.strictEqual(prefixed.text, '/echo?x=1 {"n":2}')
        const malformed = yield* client.call("POST", "/echo", { body: "{" })
        assert.strictEqual(malformed.status, 400)
        assert.strictEqual(malformed.body.detail, "The request body could not be read.")
        const widget = yield* client.call("POST", "/widgets", { body: "{" })
        assert.strictEqual(widget.status, 400)
        assert.strictEqual(widget.body.detail, "The request body is not valid JSON.")
      }).pipe(Effect.scoped)
    )

    it.effect("over the body limit is still a 413, declared or counted", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ bodyLimit: 32, routes: [echo] }))
        const big = JSON.stringify({ text: "x".repeat(64) })
        const counted = yield* client.call("POST", "/echo", { body: big })
        assert.strictEqual(counted.status, 413)
        assert.strictEqual(counted.body.type, Problem.types.payloadTooLarge)
        const declared = yield* client.call("POST", "/echo", {
          body: big,
          headers: { "content-length": String(big.length) }
        })
        assert.strictEqual(declared.status, 413)
        // Without a media type and over the limit: the limit speaks first when it is declared.
        const untyped = yield* client.send(
          new Request(url("/echo"), {
            method: "POST",
            headers: { "content-length": String(big.length) },
            body: encode(big)
          })
        )
        assert.strictEqual(untyped.status, 413)
      }).pipe(Effect.scoped)
    )
  })

  describe("declaresBody", () => {
    it("reads the framing headers", () => {
      const declares = (input: Record<string, string>) => ContentType.declaresBody(Headers.fromInput(input))
      assert.isTrue(declares({ "content-length": "12" }))
      assert.isTrue(declares({ "transfer-encoding": "chunked" }))
      assert.isTrue(declares({ "content-length": "twelve" }))
      assert.isFalse(declares({ "content-length": "0" }))
      assert.isUndefined(declares({}))
    })
  })
})

describe("JSON depth and member limits", () => {
  // The reference: depth and members of a parsed value, by recursion.
  const shape = (value: unknown): { readonly depth: number; readonly members: number } => {
    if (Array.isArray(value)) {
      const inner = value.map(shape)
      return {
        depth: 1 + Math.max(0, ...inner.map((s) => s.depth)),
        members: inner.reduce((n, s) => n + s.members, 0)
      }
    }
    if (value !== null && typeof value === "object") {
      const inner = Object.values(value).map(shape)
      return {
        depth: 1 + Math.max(0, ...inner.map((s) => s.depth)),
        members: Object.keys(value).length + inner.reduce((n, s) => n + s.members, 0)
      }
    }
    return { depth: 0, members: 0 }
  }

  it("the one-pass scan agrees with the parsed value's depth and member count (strings skipped)", () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 6 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 40 }),
        (value, maxDepth, maxMembers) => {
          const text = JSON.stringify(value)
          const { depth, members } = shape(JSON.parse(text))
          const over = ContentType.overJsonLimits(text, { maxDepth, maxMembers })
          assert.strictEqual(
            over === undefined,
            depth <= maxDepth && members <= maxMembers,
            `${text} ${over}`
          )
        }
      ),
      { numRuns: 1000 }
    )
  })

  it.effect("a body nested too deep or with too many members is a 400 before any parser runs", () =>
    Effect.gen(function* () {
      const client = yield* serve(widgetsApp())
      const deep = `${"[".repeat(33)}${"]".repeat(33)}`
      const tooDeep = yield* client.call("POST", "/widgets", { body: deep })
      assert.strictEqual(tooDeep.status, 400, tooDeep.text)
      assert.strictEqual(tooDeep.body.detail, "The request body nests deeper than 32 levels.")
      const wide = `{${Array.from({ length: 10_001 }, (_, i) => `"k${i}":0`).join(",")}}`
      const tooWide = yield* client.call("POST", "/widgets", { body: wide })
      assert.strictEqual(tooWide.status, 400, tooWide.text)
      assert.strictEqual(tooWide.body.detail, "The request body has more than 10000 members.")
      // brackets and colons inside strings are text, not structure
      const tricky = yield* client.call("POST", "/widgets", {
        body: JSON.stringify({ name: `${"[{:".repeat(40)}`.slice(0, 10), price: 1 })
      })
      assert.strictEqual(tricky.status, 201, tricky.text)
    }).pipe(Effect.scoped)
  )
})
