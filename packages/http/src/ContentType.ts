/**
 * Strict request media types. A request that carries a body must say it is
 * JSON: `Content-Type: application/json` or a `+json` type
 * (`application/merge-patch+json`), in any case, parameters allowed, and a
 * `charset` only if it is UTF-8 (`utf-8`, `UTF-8`, quoted or not). Anything
 * else, a missing `Content-Type` included, is a 415 problem and the body is
 * never parsed.
 *
 * Why: Effect's HttpApi reads a body without `Content-Type` as JSON. A page
 * on any origin can send such a body without a CORS preflight (a "simple"
 * request: `fetch(url, { method: "POST", body: new Blob([json]) })`), so a
 * public endpoint such as register would act on it. Requiring a JSON media
 * type forces a preflight, which CORS then refuses for unknown origins.
 *
 * A request carries a body when `Content-Length` is over 0 or
 * `Transfer-Encoding` is present; without either (an in-memory `Request`,
 * HTTP/2) the body is read, within the body limit, to see whether it is
 * empty. Methods without a body in HttpApi (`GET`, `HEAD`, `OPTIONS`,
 * `TRACE`) and requests no route serves (the router answers 404/405 first)
 * are not checked.
 *
 * A JSON body is read once, within the body limit, and must be valid UTF-8
 * (`TextDecoder` with `fatal: true`): Effect decodes bodies with a lenient
 * decoder that turns bad bytes into U+FFFD, which would store text the
 * client never sent. Bad bytes are a 400 validation problem naming the
 * body. The request is then replaced by a view whose body accessors return
 * the bytes read, so handlers, HttpApi and prefixed routes read the same
 * body, any number of times.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import type * as Headers from "effect/http/Headers"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpMethod from "effect/http/HttpMethod"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Multipart from "effect/http/Multipart"
import * as UrlParams from "effect/http/UrlParams"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as Path from "effect/Path"
import * as Predicate from "effect/Predicate"
import type * as Record from "effect/Record"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Socket from "effect/socket/Socket"
import * as Problem from "./Problem.ts"

/**
 * A parsed media type (RFC 9110 section 8.3.1): `type` and `subtype` lower
 * case, parameter names lower case, parameter values unquoted. A parameter
 * given twice is kept once per occurrence, in order.
 *
 * @since 0.2.0
 * @category models
 */
export interface MediaType {
  readonly type: string
  readonly subtype: string
  readonly parameters: ReadonlyArray<readonly [name: string, value: string]>
}

const token = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
// qdtext and quoted-pair of RFC 9110: no controls but HTAB, `"` and `\` only escaped.
const quoted = String.raw`"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*"`
const typePattern = new RegExp(`^[ \t]*(${token})/(${token})`, "y")
const parameterPattern = new RegExp(`[ \t]*;[ \t]*(?:(${token})=(${token}|${quoted}))?`, "y")
const trailingPattern = /[ \t]*$/y

/**
 * Parses a `Content-Type` value; `None` when it is not one media type (a
 * list, a missing subtype, a stray character).
 *
 * @example
 * ```ts
 * import { ContentType } from "@org/http"
 *
 * ContentType.parse('Application/Problem+JSON; charset="UTF-8"')
 * // Some({ type: "application", subtype: "problem+json", parameters: [["charset", "UTF-8"]] })
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = (value: string): Option.Option<MediaType> => {
  typePattern.lastIndex = 0
  const head = typePattern.exec(value)
  if (head === null) return Option.none()
  const parameters: Array<readonly [string, string]> = []
  let index = typePattern.lastIndex
  while (index < value.length) {
    parameterPattern.lastIndex = index
    const parameter = parameterPattern.exec(value)
    if (parameter === null || parameterPattern.lastIndex === index) break
    index = parameterPattern.lastIndex
    const [, name, raw] = parameter
    if (name !== undefined && raw !== undefined) {
      const unquoted = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw
      parameters.push([name.toLowerCase(), unquoted])
    }
  }
  trailingPattern.lastIndex = index
  trailingPattern.exec(value)
  if (trailingPattern.lastIndex !== value.length) return Option.none()
  return Option.some({ type: head[1]!.toLowerCase(), subtype: head[2]!.toLowerCase(), parameters })
}

/**
 * Whether a media type is JSON as this kit accepts it: `application/json`
 * or `application/<anything>+json`, with no `charset` or exactly one that
 * is UTF-8.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isJson = (mediaType: MediaType): boolean => {
  if (mediaType.type !== "application") return false
  if (mediaType.subtype !== "json" && !(mediaType.subtype.endsWith("+json") && mediaType.subtype.length > 5))
    return false
  const charsets = mediaType.parameters.filter(([name]) => name === "charset")
  return charsets.length === 0 || (charsets.length === 1 && charsets[0]![1].toLowerCase() === "utf-8")
}

/**
 * Options of the content type check.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * More media types accepted besides JSON (`type/subtype`, any case, for
   * example `multipart/form-data` for an upload endpoint). Such bodies are
   * neither read nor validated here; the endpoint decides.
   */
  readonly mediaTypes?: ReadonlyArray<string> | undefined
  /** How deep and how wide a JSON body may be; `defaultJsonLimits` when omitted. */
  readonly json?: JsonLimits | undefined
}

/**
 * Options of `middleware`: `Options` and what the pipeline knows of routes.
 *
 * @since 0.2.0
 * @category models
 */
export interface MiddlewareOptions extends Options {
  /**
   * Whether a route serves this method at this URL; when it does not, the
   * request is left to the router (404/405), unchecked. Every request is
   * checked when omitted.
   */
  readonly served?: ((method: string, url: string) => boolean) | undefined
}

/**
 * The 415 answer: the given media type is not echoed.
 *
 * @since 0.2.0
 * @category errors
 */
export const unsupported = (): Problem.ProblemError =>
  Problem.make({
    status: 415,
    detail:
      "The request body must be JSON: Content-Type application/json or a +json type, charset UTF-8 if any."
  })

/**
 * The 400 answer for a JSON body that is not valid UTF-8.
 *
 * @since 0.2.0
 * @category errors
 */
export const invalidUtf8 = (): Problem.ProblemError =>
  Problem.make({
    status: 400,
    detail: "The request body is not valid UTF-8.",
    errors: [{ in: "body", pointer: "", message: "Expected UTF-8 text" }]
  })

/**
 * Whether the framing headers say the request has a body: `true` for a
 * `Content-Length` over 0 (or not a number) or any `Transfer-Encoding`,
 * `false` for `Content-Length: 0`, `undefined` when neither is present.
 *
 * @since 0.2.0
 * @category predicates
 */
export const declaresBody = (headers: Headers.Headers): boolean | undefined => {
  if (headers["transfer-encoding"] !== undefined) return true
  const length = headers["content-length"]
  if (length === undefined) return undefined
  const trimmed = length.trim()
  return !/^\d+$/.test(trimmed) || Number(trimmed) > 0
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * The most a JSON body may nest (objects and arrays) and the most members
 * (object keys, all levels together) it may have. Both bound the work of
 * parsing and decoding a body the size limit lets through: 1 MiB of `[` is
 * a million levels, of `{"a":0,` about 150 000 keys.
 *
 * @since 0.2.0
 * @category models
 */
export interface JsonLimits {
  readonly maxDepth: number
  readonly maxMembers: number
}

/**
 * The default `JsonLimits`: 32 levels, 10 000 members.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultJsonLimits: JsonLimits = { maxDepth: 32, maxMembers: 10_000 }

/**
 * Why a JSON text is over the limits (`undefined` when it is not): one pass
 * over the characters, strings skipped, before any parser sees it.
 *
 * @example
 * ```ts
 * import { ContentType } from "@org/http"
 * ContentType.overJsonLimits("[[[1]]]", { maxDepth: 2, maxMembers: 10 }) // "nests deeper than 2 levels"
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const overJsonLimits = (text: string, limits: JsonLimits): string | undefined => {
  let depth = 0
  let members = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92)
        i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > limits.maxDepth) return `nests deeper than ${limits.maxDepth} levels`
    } else if (c === 125 || c === 93) depth--
    else if (c === 58 && ++members > limits.maxMembers) return `has more than ${limits.maxMembers} members`
  }
  return undefined
}

const tooComplex = (reason: string): Problem.ProblemError =>
  Problem.make({
    status: 400,
    detail: `The request body ${reason}.`,
    errors: [{ in: "body", pointer: "", message: `The JSON ${reason}` }]
  })

type Kind = "missing" | "json" | "other" | "refused"

const kindOf = (header: string | undefined, extra: ReadonlySet<string>): Kind => {
  if (header === undefined) return "missing"
  return Option.match(parse(header), {
    onNone: () => "refused",
    onSome: (mediaType) =>
      isJson(mediaType) ? "json" : extra.has(`${mediaType.type}/${mediaType.subtype}`) ? "other" : "refused"
  })
}

/**
 * Middleware enforcing JSON bodies (see the module doc): 415 for a body
 * without a JSON media type, 400 for a JSON body that is not UTF-8, and the
 * request replaced by one whose body is the bytes read. Run it inside the
 * body limit, so the read is bounded.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { BodyLimit, ContentType } from "@org/http"
 *
 * const app = BodyLimit.middleware(64 * 1024)(
 *   ContentType.middleware()(Effect.succeed(HttpServerResponse.text("ok")))
 * )
 * ```
 *
 * @since 0.2.0
 * @category middleware
 */
export const middleware = (options?: MiddlewareOptions) => {
  const extra = new Set((options?.mediaTypes ?? []).map((type) => type.trim().toLowerCase()))
  const limits = options?.json ?? defaultJsonLimits
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E | Problem.ProblemError | HttpServerError.HttpServerError,
    R | HttpServerRequest.HttpServerRequest
  > =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (!HttpMethod.hasBody(request.method)) return app
      if (options?.served !== undefined && !options.served(request.method, request.url)) return app
      const declared = declaresBody(request.headers)
      if (declared === false) return app
      const kind = kindOf(request.headers["content-type"], extra)
      if (kind === "other") return app
      if (kind === "refused" || (kind === "missing" && declared === true)) return Effect.fail(unsupported())
      // JSON, or no Content-Type and no framing headers: read (bounded) to know.
      return Effect.flatMap(request.arrayBuffer, (buffer) => {
        const bytes = new Uint8Array(buffer)
        if (bytes.byteLength > 0 && kind === "missing") return Effect.fail(unsupported())
        return Effect.flatMap(Effect.try({ try: () => utf8.decode(bytes), catch: invalidUtf8 }), (text) => {
          const over = kind === "json" ? overJsonLimits(text, limits) : undefined
          return over === undefined
            ? Effect.provideService(
                app,
                HttpServerRequest.HttpServerRequest,
                new BufferedRequest(request, bytes, text)
              )
            : Effect.fail<E | Problem.ProblemError>(tooComplex(over))
        })
      })
    })
}

/**
 * A request whose body has been read: the body accessors serve the bytes
 * (and their text) kept here, everything else is the original request's.
 * `modify` keeps the body, so a prefixed route's view reads it too.
 */
class BufferedRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: typeof HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly [HttpIncomingMessage.TypeId]: typeof HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly inner: HttpServerRequest.HttpServerRequest
  readonly bytes: Uint8Array
  readonly body: string

  constructor(inner: HttpServerRequest.HttpServerRequest, bytes: Uint8Array, body: string) {
    super()
    this.inner = inner
    this.bytes = bytes
    this.body = body
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "HttpServerRequest",
      method: this.method,
      url: UrlParams.redactUrl(this.originalUrl)
    })
  }

  modify(options: {
    readonly url?: string
    readonly headers?: Headers.Headers
    readonly remoteAddress?: Option.Option<string>
    readonly peerAddress?: Option.Option<string>
    readonly protocol?: "http" | "https"
  }): HttpServerRequest.HttpServerRequest {
    return new BufferedRequest(this.inner.modify(options), this.bytes, this.body)
  }

  get source(): object {
    return this.inner.source
  }
  get url(): string {
    return this.inner.url
  }
  get originalUrl(): string {
    return this.inner.originalUrl
  }
  get method(): string {
    return this.inner.method
  }
  get headers(): Headers.Headers {
    return this.inner.headers
  }
  get cookies(): Record.ReadonlyRecord<string, string> {
    return this.inner.cookies
  }
  get remoteAddress(): Option.Option<string> {
    return this.inner.remoteAddress
  }
  get peerAddress(): Option.Option<string> {
    return this.inner.peerAddress
  }
  get protocol(): "http" | "https" | undefined {
    return this.inner.protocol
  }
  // Platform helpers (`NodeHttpServerRequest.toServerResponse`) read it.
  get response(): unknown {
    return Predicate.hasProperty(this.inner, "response") ? this.inner.response : undefined
  }
  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.HttpServerError> {
    return this.inner.upgrade
  }
  upgradeWith(options: {
    readonly headers?: Headers.Input | undefined
  }): Effect.Effect<Socket.Socket, HttpServerError.HttpServerError> {
    return this.inner.upgradeWith(options)
  }

  get stream(): Stream.Stream<Uint8Array, HttpServerError.HttpServerError> {
    return this.bytes.byteLength === 0 ? Stream.empty : Stream.succeed(this.bytes)
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.HttpServerError> {
    // A copy: a caller may write to it.
    return Effect.sync(() => this.bytes.slice().buffer)
  }
  get text(): Effect.Effect<string, HttpServerError.HttpServerError> {
    return Effect.succeed(this.body)
  }
  get json(): Effect.Effect<Schema.Json, HttpServerError.HttpServerError> {
    return Effect.try({
      try: (): Schema.Json => (this.body === "" ? null : JSON.parse(this.body)),
      catch: (cause) =>
        new HttpServerError.HttpServerError({
          reason: new HttpServerError.RequestParseError({ request: this, cause })
        })
    })
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.HttpServerError> {
    return Effect.sync(() => UrlParams.fromInput(new URLSearchParams(this.body)))
  }
  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return Stream.pipeThroughChannel(
      Stream.mapError(this.stream, (cause) => Multipart.MultipartError.fromReason("InternalError", cause)),
      Multipart.makeChannel(this.headers)
    )
  }
  get multipart(): Effect.Effect<
    Multipart.Persisted,
    Multipart.MultipartError,
    Scope.Scope | FileSystem.FileSystem | Path.Path
  > {
    return Multipart.toPersisted(this.multipartStream)
  }
}
