/**
 * The edge of the Node HTTP server, before the app: Node's parser refuses
 * some requests itself (`clientError`: oversized or malformed headers, a bad
 * `Content-Length`, an unknown method, a slow client) and would answer them
 * with an empty body; the server also refuses a few requests the parser
 * lets through (a target over the URL limit, a missing, repeated or
 * malformed `Host`, a CONNECT). Each gets a complete HTTP/1.1 answer:
 * `application/problem+json`, the security headers, `X-Request-ID`,
 * `Connection: close`. The body never repeats the bad input.
 *
 * @internal
 */
import * as Http from "node:http"
import * as Stream from "node:stream"
import { Problem, RequestId, SecurityHeaders } from "@org/http"
import * as Duration from "effect/Duration"
import type * as ServerConfig from "../ServerConfig.ts"

/** Why the edge refuses a request: the status and one sentence for `detail`. @internal */
export interface Refusal {
  readonly status: number
  readonly detail: string
}

/** What the edge needs from outside: the clock, fresh ids, and where an answer is reported. @internal */
export interface Hooks {
  /** The current time as an HTTP date, for the `Date` header. */
  readonly date: () => string
  /** A fresh request id, for a request whose own id is unknown or unusable. */
  readonly requestId: () => string
  /** Called once for every answer the edge writes (the access log line). */
  readonly answered: (answer: Answered) => void
}

/** An answer the edge wrote. @internal */
export interface Answered {
  readonly status: number
  /** Node's error code (`HPE_HEADER_OVERFLOW`, ...), or the server's own reason (`URL_TOO_LONG`, ...). */
  readonly reason: string
  readonly requestId: string
  readonly method?: string | undefined
}

// The codes Node 24 gives `clientError` (llhttp's `HPE_*` and the request
// timeout), with the answer for each; any other parser error is a 400.
const parserRefusals: Readonly<Record<string, Refusal>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    detail: "The request line and headers are larger, or more numerous, than the server accepts."
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    detail: "The chunk extensions of the request body are larger than the server accepts."
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, detail: "The request was not received in time." },
  HPE_INVALID_VERSION: { status: 505, detail: "The HTTP version of the request is not supported." },
  HPE_PAUSED_H2_UPGRADE: { status: 505, detail: "HTTP/2 is not supported on this connection." },
  HPE_INVALID_CONTENT_LENGTH: {
    status: 400,
    detail: "The Content-Length header is invalid or conflicts with Transfer-Encoding."
  },
  HPE_UNEXPECTED_CONTENT_LENGTH: {
    status: 400,
    detail: "The request has more than one Content-Length header."
  },
  HPE_INVALID_TRANSFER_ENCODING: { status: 400, detail: "The Transfer-Encoding header is invalid." },
  HPE_INVALID_HEADER_TOKEN: { status: 400, detail: "A header field of the request is malformed." },
  HPE_INVALID_URL: { status: 400, detail: "The request target is malformed." },
  HPE_INVALID_CONSTANT: { status: 400, detail: "The request line is malformed." },
  HPE_INVALID_CHUNK_SIZE: { status: 400, detail: "The chunked request body is malformed." },
  HPE_INVALID_EOF_STATE: { status: 400, detail: "The connection ended before the request was complete." }
}

const unparsable: Refusal = { status: 400, detail: "The request could not be parsed." }

const unknownMethod: Refusal = { status: 501, detail: "The request method is not supported." }

// A request line that starts with a method token (RFC 9110 `token`) and a space.
const methodToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ /

const codeOf = (error: Error): string => ("code" in error && typeof error.code === "string" ? error.code : "")

/**
 * The answer to a `clientError`, or `undefined` when the error is not about
 * the request (a reset or broken connection), which gets no answer.
 * `HPE_INVALID_METHOD` is a 501 when the request line starts with a
 * well-formed method (RFC 9110: an unrecognised method), a 400 otherwise.
 *
 * @internal
 */
export const refusalOf = (error: Error): Refusal | undefined => {
  const code = codeOf(error)
  if (code === "HPE_INVALID_METHOD") {
    const packet =
      "rawPacket" in error && Buffer.isBuffer(error.rawPacket) ? error.rawPacket : Buffer.alloc(0)
    return methodToken.test(packet.subarray(0, 64).toString("latin1")) ? unknownMethod : unparsable
  }
  const known = parserRefusals[code]
  if (known !== undefined) return known
  return code.startsWith("HPE_") ? unparsable : undefined
}

// `reg-name`, IPv4 or an IP literal, and an optional port (RFC 3986); empty is allowed.
const hostPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d{0,5})?$/

/**
 * What the server refuses among the requests Node's parser accepted: a
 * target longer than `maxUrlLength` (414), and an HTTP/1.1 request without
 * exactly one well-formed `Host` (400, RFC 9112 section 3.2).
 *
 * @internal
 */
export const refusalOfRequest = (
  request: Http.IncomingMessage,
  maxUrlLength: number
): (Refusal & { readonly reason: string }) | undefined => {
  if ((request.url ?? "").length > maxUrlLength) {
    return {
      status: 414,
      reason: "URL_TOO_LONG",
      detail: `The request target is longer than ${maxUrlLength} characters.`
    }
  }
  const hosts: Array<string> = []
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]?.toLowerCase() === "host") hosts.push(request.rawHeaders[i + 1] ?? "")
  }
  if (hosts.length === 0) {
    return request.httpVersionMajor === 1 && request.httpVersionMinor >= 1
      ? { status: 400, reason: "MISSING_HOST", detail: "An HTTP/1.1 request must have a Host header." }
      : undefined
  }
  if (hosts.length > 1) {
    return { status: 400, reason: "DUPLICATE_HOST", detail: "The request has more than one Host header." }
  }
  return hostPattern.test(hosts[0] ?? "")
    ? undefined
    : { status: 400, reason: "INVALID_HOST", detail: "The Host header is malformed." }
}

/**
 * The body and headers of an edge answer: a problem with `type`, `title`,
 * `status`, `detail` and `requestId`, the default security headers (the
 * API's Content-Security-Policy) and `Connection: close`.
 *
 * @internal
 */
export const render = (
  refusal: Refusal,
  requestId: string,
  date: string
): { readonly headers: Readonly<Record<string, string>>; readonly body: string } => {
  const body = JSON.stringify({ ...Problem.generic(refusal.status), detail: refusal.detail, requestId })
  return {
    body,
    headers: {
      ...SecurityHeaders.headersFor("/"),
      "content-type": Problem.contentType,
      "content-length": String(Buffer.byteLength(body)),
      "x-request-id": requestId,
      date,
      connection: "close"
    }
  }
}

/**
 * A whole HTTP/1.1 response as bytes to write on a socket the parser gave up on.
 *
 * @internal
 */
export const serialize = (
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string
): string => {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`)
  return `HTTP/1.1 ${status} ${Problem.generic(status).title}\r\n${lines.join("")}\r\n${body}`
}

// After answering, the socket is ended but kept reading for this long: closing
// a socket with unread input resets the connection, and a reset can destroy
// the answer before the client reads it. The client's own close ends it sooner.
const lingerMillis = 2000

/**
 * The `node:http` options for the limits: header size, the three timeouts,
 * and a connection check often enough to enforce the timeouts within a
 * quarter of the headers timeout (at most a second late). `requireHostHeader`
 * is off because Node's own refusal has an empty body: the edge checks `Host`.
 *
 * @internal
 */
export const serverOptions = (limits: ServerConfig.Limits): Http.ServerOptions => {
  const headersTimeout = Duration.toMillis(limits.headersTimeout)
  return {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout,
    requestTimeout: Duration.toMillis(limits.requestTimeout),
    keepAliveTimeout: Duration.toMillis(limits.keepAliveTimeout),
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
    requireHostHeader: false
  }
}

type Intercept = (event: string, args: ReadonlyArray<unknown>) => boolean

// Node emits `request`, `checkContinue` and `upgrade` to every listener; the
// only way to keep a refused request from reaching the app's listener is to
// not emit it.
class EdgeServer extends Http.Server {
  readonly #intercept: Intercept

  constructor(options: Http.ServerOptions, intercept: Intercept) {
    super(options)
    this.#intercept = intercept
  }

  override emit(event: string, ...args: Array<unknown>): boolean {
    if (
      (event === "request" || event === "checkContinue" || event === "upgrade") &&
      this.#intercept(event, args)
    )
      return true
    return super.emit(event, ...args)
  }
}

/**
 * A `node:http` server with the limits and the edge answers in place, for
 * `NodeHttpServer.layer`.
 *
 * @internal
 */
export const make = (limits: ServerConfig.Limits, hooks: Hooks): Http.Server => {
  // Sockets the edge answered on: later errors on them (the rest of an
  // oversized request, the client's close) need no second answer.
  const answered = new WeakSet<Stream.Duplex>()
  // The response of the request each socket is serving, to tell whether the
  // app has begun to answer when a timeout or a parser error comes.
  const responses = new WeakMap<Stream.Duplex, Http.ServerResponse>()

  const idOf = (request: Http.IncomingMessage): string => {
    const given = request.headers[RequestId.headerName]
    return RequestId.isToken(given) ? given : hooks.requestId()
  }

  const answerSocket = (
    socket: Stream.Duplex,
    refusal: Refusal,
    reason: string,
    requestId: string,
    method?: string
  ) => {
    answered.add(socket)
    const { body, headers } = render(refusal, requestId, hooks.date())
    socket.end(serialize(refusal.status, headers, body))
    socket.resume()
    const linger = setTimeout(() => socket.destroy(), lingerMillis)
    linger.unref()
    socket.once("close", () => clearTimeout(linger))
    hooks.answered({ status: refusal.status, reason, requestId, method })
  }

  const onClientError = (error: Error, socket: Stream.Duplex) => {
    if (answered.has(socket)) return
    const refusal = refusalOf(error)
    const response = responses.get(socket)
    // Bytes written after a started response would corrupt it: Node's own rule.
    const started = response?.headersSent === true && !response.writableFinished
    if (refusal === undefined || !socket.writable || started) {
      socket.destroy()
      return
    }
    // A request the app is still reading keeps its caller's id (the app logs it under that id too).
    const requestId =
      response !== undefined && !response.writableFinished ? idOf(response.req) : hooks.requestId()
    answerSocket(socket, refusal, codeOf(error), requestId)
  }

  const server = new EdgeServer(serverOptions(limits), (event, [request, second]) => {
    if (!(request instanceof Http.IncomingMessage)) return false
    const refusal = refusalOfRequest(request, limits.maxUrlLength)
    if (event === "upgrade") {
      if (refusal === undefined || !(second instanceof Stream.Duplex)) return false
      answerSocket(second, refusal, refusal.reason, idOf(request), request.method)
      return true
    }
    if (!(second instanceof Http.ServerResponse)) return false
    if (refusal === undefined) {
      responses.set(request.socket, second)
      return false
    }
    const requestId = idOf(request)
    const { body, headers } = render(refusal, requestId, hooks.date())
    second.writeHead(refusal.status, headers).end(body)
    hooks.answered({ status: refusal.status, reason: refusal.reason, requestId, method: request.method })
    return true
  })
  server.on("clientError", onClientError)
  // Without a listener Node closes a CONNECT's connection without a word.
  server.on("connect", (request: Http.IncomingMessage, socket: Stream.Duplex) =>
    answerSocket(socket, unknownMethod, "CONNECT", idOf(request), request.method)
  )
  return server
}
