/**
 * An SSRF-safe outbound `HttpClient`: requests leave only for allow-listed
 * hosts over https (http on request), and only when every address the host
 * resolves to is public. Literal IP hosts are normalised by the WHATWG URL
 * parser (`2130706433`, `0177.0.0.1`, `0x7f.0.0.1`, `127.1` all become
 * `127.0.0.1`) and checked like resolved ones; IPv4-mapped IPv6 is checked as
 * the IPv4 it carries. URLs with userinfo are refused outright. Redirects are
 * followed here, hop by hop, with every check applied again (the underlying
 * fetch is told `redirect: "manual"`). Each attempt gets a timeout; idempotent
 * methods are retried with jittered exponential backoff; a `CircuitBreaker`
 * registry, if given, guards each host.
 *
 * What is not covered (DNS rebinding): the host is resolved with the `Dns`
 * service for the check, and the transport resolves it again to connect. A
 * name whose answers change between the two (short TTL, attacker-controlled
 * resolver) can pass the check with a public address and connect to a private
 * one. Closing that gap needs a transport that connects to the checked
 * address while sending the original Host header and TLS SNI (a custom undici
 * dispatcher or `lookup` hook in the Node adapter); Effect's `HttpClient` has
 * no portable way to do that, so this module does not. Also outside: the
 * bodies of discarded 3xx responses are released when the request's scope
 * closes (see `HttpClient.withScope`), and the timeout ends when response
 * headers arrive, not after the body is read.
 *
 * Tracing: each hop (every redirect and retry) is one `client` span of
 * Effect's `HttpClient` (`http.request.method`, `server.address`,
 * `server.port`, `url.full`, `http.response.status_code`), and the request
 * carries that span as W3C `traceparent` (with `tracestate`), so the callee
 * continues the caller's trace. Every query value in `url.full`/`url.query`
 * is recorded as `REDACTED`: queries may carry secrets.
 *
 * Testing seam: `unsafeAllowNetworks` lets listed networks through the address
 * check (tests use `127.0.0.1/32` to reach a local server). It is empty by
 * default; never set it from user input.
 *
 * @since 0.2.0
 */
import type { CircuitBreaker } from "@org/core"
import { Context, Data, Duration, Effect, Layer, Option, Result, Schedule, Schema } from "effect"
import {
  FetchHttpClient,
  HttpBody,
  HttpClient,
  HttpClientError,
  type HttpClientResponse,
  HttpClientRequest as Request,
  Url,
  UrlParams
} from "effect/http"
import { Dns, IpNetwork, NetAddress } from "effect/net"
import { everyName } from "./internal/url.ts"

/**
 * Why a request was refused before anything was sent.
 *
 * @since 0.2.0
 * @category models
 */
export const RefusalReason = Schema.Literals([
  "not allowed",
  "private address",
  "userinfo",
  "too many redirects",
  "scheme"
])

/**
 * A request refused by the policy; `url` has no userinfo, query or fragment.
 *
 * @since 0.2.0
 * @category errors
 */
export class OutboundRefused extends Schema.TaggedError<OutboundRefused>()("OutboundRefused", {
  reason: RefusalReason,
  url: Schema.String
}) {}

/**
 * The errors of an outbound client: refusals, transport failures, open circuits.
 *
 * @since 0.2.0
 * @category models
 */
export type Error = OutboundRefused | HttpClientError.HttpClientError | CircuitBreaker.CircuitOpen

/**
 * The options of `make`.
 *
 * - `allow`: exact hosts (`api.example.com`, `203.0.113.7`, `[2001:db8::1]`)
 *   and suffix patterns (`*.example.com`: any subdomain, not the apex).
 * - `allowHttp`: accept `http:` as well as `https:` (default false).
 * - `maxRedirects`: hops followed before refusing (default 5; 0 refuses any).
 * - `timeout`: per attempt, until response headers (default 10 seconds).
 * - `retry`: retries of idempotent methods on transport errors, timeouts and
 *   502/503/504 (default none); delays grow from `base` (default 100 ms),
 *   jittered.
 * - `breaker`: a registry whose breaker named after the host guards each hop.
 *   Transport errors, timeouts and answers that say the host is failing
 *   (any 5xx, and 408) count against it; the answer still reaches the
 *   caller as a response while the breaker is closed.
 * - `unsafeAllowNetworks`: CIDRs exempt from the address check; tests only.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly allow: ReadonlyArray<string>
  readonly allowHttp?: boolean | undefined
  readonly maxRedirects?: number | undefined
  readonly timeout?: Duration.Input | undefined
  readonly retry?: { readonly times: number; readonly base?: Duration.Input | undefined } | undefined
  readonly breaker?: CircuitBreaker.Registry["Service"] | undefined
  readonly unsafeAllowNetworks?: ReadonlyArray<string> | undefined
}

// Addresses no outbound request may reach. IPv4-mapped IPv6 is folded to
// IPv4 first (NetAddress.toCanonical), so the IPv4 list covers it too.
const blockedNetworks: ReadonlyArray<IpNetwork.IpNetwork> = [
  "0.0.0.0/8", // "this network", includes 0.0.0.0
  "10.0.0.0/8",
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, includes the 169.254.169.254 metadata service
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, includes 255.255.255.255
  "::/96", // unspecified, loopback, IPv4-compatible
  "64:ff9b:1::/48", // local-use NAT64
  "fc00::/7", // unique-local, includes the fd00:ec2::254 metadata service
  "fe80::/10", // link-local
  "ff00::/8" // multicast
].map(IpNetwork.fromStringUnsafe)

/**
 * Whether an address is internal: private, loopback, link-local, unique-local,
 * multicast, unspecified, carrier-grade NAT, cloud metadata, reserved, or an
 * IPv4-mapped IPv6 form of one of these.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isInternalAddress = (address: NetAddress.IpAddress): boolean => {
  const canonical = NetAddress.toCanonical(address)
  return blockedNetworks.some((network) => IpNetwork.contains(network, canonical))
}

const idempotent: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
const retryStatuses: ReadonlySet<number> = new Set([502, 503, 504])

// Answers that count against the host's breaker: the host is failing (5xx) or gave up (408).
const isFailedStatus = (status: number): boolean => status >= 500 || status === 408

// An IP literal as the URL parser leaves it: dotted IPv4 or bracketed IPv6.
const ipOfHostname = (hostname: string): Option.Option<NetAddress.IpAddress> =>
  Result.getSuccess(
    NetAddress.ipFromString(
      hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname
    )
  )

const normaliseHost = (host: string): string => {
  const lower = host.toLowerCase()
  const bare = lower.length > 1 && lower.endsWith(".") ? lower.slice(0, -1) : lower
  return Option.match(ipOfHostname(bare), { onNone: () => bare, onSome: NetAddress.formatIp })
}

// Origin and path only: userinfo, query and fragment may carry secrets.
const redact = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`

const redactString = (input: string): string =>
  Result.match(Url.fromString(input), { onFailure: () => "<invalid url>", onSuccess: redact })

/**
 * Builds the outbound client over the `HttpClient` and `Dns` in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { OutboundClient } from "@org/http"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* OutboundClient.make({ allow: ["api.example.com", "*.cdn.example.com"], timeout: "5 seconds" })
 *   return yield* client.get("https://api.example.com/v1/status")
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<HttpClient.HttpClient.With<Error>, never, HttpClient.HttpClient | Dns.Dns> =>
  Effect.gen(function* () {
    const base = yield* HttpClient.HttpClient
    const dns = yield* Dns.Dns
    const timed = HttpClient.timeout(base, options.timeout ?? Duration.seconds(10))
    const maxRedirects = options.maxRedirects ?? 5
    const exact = new Set<string>()
    const suffixes: Array<string> = []
    for (const entry of options.allow) {
      if (entry.startsWith("*.")) suffixes.push(`.${normaliseHost(entry.slice(2))}`)
      else exact.add(normaliseHost(entry))
    }
    const exempt = (options.unsafeAllowNetworks ?? []).map(IpNetwork.fromStringUnsafe)
    const isAllowedHost = (host: string): boolean =>
      exact.has(host) || suffixes.some((suffix) => host.endsWith(suffix))
    const isRefusedAddress = (address: NetAddress.IpAddress): boolean => {
      const canonical = NetAddress.toCanonical(address)
      return isInternalAddress(canonical) && !exempt.some((network) => IpNetwork.contains(network, canonical))
    }

    const refuse = (reason: typeof RefusalReason.Type, url: URL) =>
      Effect.fail(new OutboundRefused({ reason, url: redact(url) }))

    const transportError = (request: Request.HttpClientRequest, description: string, cause: unknown) =>
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.TransportError({ request, description, cause })
      })

    const check = (url: URL, request: Request.HttpClientRequest): Effect.Effect<void, Error> => {
      if (url.username !== "" || url.password !== "") return refuse("userinfo", url)
      if (url.protocol !== "https:" && !(url.protocol === "http:" && options.allowHttp === true)) {
        return refuse("scheme", url)
      }
      const host = normaliseHost(url.hostname)
      if (!isAllowedHost(host)) return refuse("not allowed", url)
      return Option.match(ipOfHostname(host), {
        onSome: (address) => (isRefusedAddress(address) ? refuse("private address", url) : Effect.void),
        onNone: () =>
          dns.lookup(host).pipe(
            Effect.mapError((cause) => transportError(request, `DNS lookup of ${host} failed`, cause)),
            Effect.flatMap((addresses) =>
              addresses.some(isRefusedAddress) ? refuse("private address", url) : Effect.void
            )
          )
      })
    }

    const schedule = Schedule.jittered(Schedule.exponential(options.retry?.base ?? Duration.millis(100)))
    const isRetryable = (error: Error | FailedStatus): boolean =>
      (error._tag === "FailedStatus" && retryStatuses.has(error.response.status)) ||
      (error._tag === "HttpClientError" && error.reason._tag === "TransportError")

    // One hop: the transport call with its timeout, retries and breaker.
    const send = (
      request: Request.HttpClientRequest,
      host: string
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, Error> => {
      const once = Effect.flatMap(timed.execute(request), (response) =>
        isFailedStatus(response.status)
          ? Effect.fail(new FailedStatus({ response }))
          : Effect.succeed(response)
      )
      const guarded =
        options.breaker === undefined
          ? once
          : Effect.flatMap(options.breaker.get(host), (breaker) => breaker.execute(once))
      const retried =
        options.retry === undefined || !idempotent.has(request.method)
          ? guarded
          : Effect.retry(guarded, { schedule, times: options.retry.times, while: isRetryable })
      return retried.pipe(
        Effect.catchTag("FailedStatus", (error) => Effect.succeed(error.response)),
        // The hop's span records `url.full` and `url.query` with every value redacted.
        Effect.provideService(UrlParams.CurrentRedactedNames, everyName),
        // fetch must hand 3xx responses back so each hop is checked here.
        Effect.provideServiceEffect(
          FetchHttpClient.RequestInit,
          Effect.map(Effect.serviceOption(FetchHttpClient.RequestInit), (init) => ({
            ...Option.getOrUndefined(init),
            redirect: "manual" as const
          }))
        )
      )
    }

    const loop = (
      request: Request.HttpClientRequest,
      url: URL,
      hops: number
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, Error> =>
      Effect.flatMap(check(url, request), () =>
        Effect.flatMap(send(request, normaliseHost(url.hostname)), (response) => {
          const location = response.headers.location
          if (response.status < 300 || response.status >= 400 || location === undefined) {
            return Effect.succeed(response)
          }
          const next = Url.fromString(location, url)
          if (Result.isFailure(next)) return Effect.succeed(response)
          if (hops >= maxRedirects) return refuse("too many redirects", next.success)
          return loop(redirectRequest(request, response.status, url, next.success), next.success, hops + 1)
        })
      )

    return HttpClient.makeWith<never, never, Error, never>(
      (effect) =>
        Effect.flatMap(effect, (request) =>
          Result.match(Url.make(request.url, request.urlParams, Option.getOrUndefined(request.hash)), {
            onFailure: (cause) =>
              Effect.fail(
                new HttpClientError.HttpClientError({
                  reason: new HttpClientError.InvalidUrlError({
                    request: Request.setUrl(request, redactString(request.url)),
                    cause
                  })
                })
              ),
            onSuccess: (url) => loop(withUrl(request, url), url, 0)
          })
        ),
      Effect.succeed
    )
  })

// A failing answer carried through the breaker and `Effect.retry` (502/503/504
// only), then handed back as a response.
class FailedStatus extends Data.TaggedError("FailedStatus")<{
  readonly response: HttpClientResponse.HttpClientResponse
}> {}

// The next hop's request, as browsers build it: 303 (and 301/302 after POST)
// become a GET without body; credentials are dropped across origins.
const redirectRequest = (
  request: Request.HttpClientRequest,
  status: number,
  from: URL,
  to: URL
): Request.HttpClientRequest => {
  let next = request
  if (
    ((status === 301 || status === 302) && request.method === "POST") ||
    (status === 303 && request.method !== "GET" && request.method !== "HEAD")
  ) {
    next = Request.setBody(Request.setMethod(next, "GET"), HttpBody.empty)
  }
  if (to.origin !== from.origin) {
    next = Request.removeHeader(
      Request.removeHeader(Request.removeHeader(next, "authorization"), "cookie"),
      "proxy-authorization"
    )
  }
  return withUrl(next, to)
}

// The request for a full URL, its query kept as written (setUrl would re-encode it).
const withUrl = (request: Request.HttpClientRequest, url: URL): Request.HttpClientRequest => {
  const hash = url.hash === "" ? Option.none() : Option.some(url.hash.slice(1))
  const target = new URL(url.href)
  target.hash = ""
  return Request.makeWith(request.method, target.href, UrlParams.empty, hash, request.headers, request.body)
}

/**
 * The outbound client as a service, for code that should only talk to the
 * outside through the policy.
 *
 * @since 0.2.0
 * @category services
 */
export class OutboundClient extends Context.Service<OutboundClient, HttpClient.HttpClient.With<Error>>()(
  "@org/http/OutboundClient"
) {}

/**
 * Provides `OutboundClient` from the `HttpClient` and `Dns` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<OutboundClient, never, HttpClient.HttpClient | Dns.Dns> =>
  Layer.effect(OutboundClient, make(options))
