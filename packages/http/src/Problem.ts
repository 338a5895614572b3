/**
 * RFC 9457 problem details for every error of an HttpApi app, built on
 * Effect's own: the classes are `HttpApiError.Problem`s (so HttpApi renders,
 * documents and decodes them), the endpoint middleware is an
 * `HttpApiMiddleware` that declares its errors as Effect's `ProblemDetails`
 * middleware does, and the media type and `about:blank` come from
 * `effect/http/ProblemDetails`. What Effect leaves out is added here:
 * - typed problem classes (`NotFound`, `Conflict`, ... or your own with
 *   `Class`) with tags of their own (never Effect's `BadRequestProblem` or
 *   `InternalServerErrorProblem`), a `requestId`, and response headers
 *   derived from the instance (`ServiceUnavailable` and `TooManyRequests`
 *   send `Retry-After`);
 * - `Middleware`, declared on every endpoint (see `HttpApp.api`): it
 *   documents the problems any endpoint can produce (400, 404, 405, 413,
 *   415, 500), turns request decoding failures into a 400 listing each
 *   failing field (`in`, JSON Pointer, message), and sends the headers of a
 *   declared problem;
 * - `middleware`, the router-level renderer: router 404/405, body limits,
 *   defects (a generic 500, logged with the cause) and any error response that
 *   is not yet a problem; it also fills `instance` and `requestId` and forces
 *   `status` to equal the HTTP status.
 *
 * Problem `type`s are relative URIs, `/docs/problems#<name>` (see `types`),
 * resolved against the API's own address, where the docs page describes
 * each (`Docs`); they identify the kind of problem and are what clients
 * switch on.
 * Each class's tag is its type's name (`validation` -> `ValidationProblem`).
 *
 * @since 0.1.0
 */
import type * as CircuitBreaker from "@org/core/CircuitBreaker"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerRespondable from "effect/http/HttpServerRespondable"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as ProblemDetails from "effect/http/ProblemDetails"
import * as HttpApiError from "effect/http-api/HttpApiError"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type * as Types from "effect/Types"
import { pathOf } from "./internal/url.ts"
import * as RequestId from "./RequestId.ts"

/**
 * The media type of a problem body.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType: typeof ProblemDetails.contentType = ProblemDetails.contentType

/**
 * The problem `type` URIs of this kit: relative references to the API's
 * own docs page (`GET /docs/problems`, from `Docs`), one anchor per kind.
 * They are identifiers: stable, never reused for another meaning.
 *
 * @since 0.1.0
 * @category constants
 */
export const types = {
  validation: "/docs/problems#validation",
  unauthorized: "/docs/problems#unauthorized",
  forbidden: "/docs/problems#forbidden",
  notFound: "/docs/problems#not-found",
  methodNotAllowed: "/docs/problems#method-not-allowed",
  conflict: "/docs/problems#conflict",
  preconditionFailed: "/docs/problems#precondition-failed",
  payloadTooLarge: "/docs/problems#payload-too-large",
  unsupportedMediaType: "/docs/problems#unsupported-media-type",
  tooManyRequests: "/docs/problems#too-many-requests",
  internal: "/docs/problems#internal",
  serviceUnavailable: "/docs/problems#service-unavailable"
} as const

/**
 * Where a failing request value was found.
 *
 * @since 0.1.0
 * @category models
 */
export const Location = Schema.Literals(["body", "query", "path", "header"])

/**
 * The longest each member of a problem body gets, in characters (`errors`:
 * entries). `middleware` truncates a longer `detail` and drops a longer
 * `instance`; the OpenAPI document states the same bounds.
 *
 * @since 0.3.0
 * @category models
 */
export const limits = {
  type: 200,
  title: 200,
  detail: 2048,
  instance: 1024,
  errors: 50
} as const

/**
 * One failing request value of a validation problem: where it is (`in`), a
 * JSON Pointer (RFC 6901) to it inside that part (`""` for the whole part)
 * and why it was rejected. The rejected value itself is never echoed.
 *
 * @since 0.1.0
 * @category models
 */
export const FieldError = Schema.Struct({
  in: Location,
  pointer: Schema.String.check(Schema.isMaxLength(1024)),
  message: Schema.String.check(Schema.isMaxLength(200))
}).annotate({ identifier: "FieldError" })

/**
 * A `FieldError` value.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldError = typeof FieldError.Type

/**
 * The schema of every problem body this package sends.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Body = Schema.Struct({
  type: Schema.String.check(Schema.isMaxLength(limits.type)),
  title: Schema.String.check(Schema.isMaxLength(limits.title)),
  status: Schema.Int.check(Schema.isBetween({ minimum: 400, maximum: 599 })),
  detail: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(limits.detail))),
  instance: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(limits.instance))),
  requestId: Schema.optionalKey(RequestId.Token),
  errors: Schema.optionalKey(Schema.Array(FieldError).check(Schema.isMaxLength(limits.errors)))
}).annotate({ identifier: "Problem" })

/**
 * A problem body.
 *
 * @since 0.1.0
 * @category models
 */
export type Body = typeof Body.Type

// -----------------------------------------------------------------------------
// Typed problems
// -----------------------------------------------------------------------------

// Lenient like Effect's own members (a client decoding a problem ignores a
// member of the wrong shape), and bounded.
const lenientMember = <S extends Schema.Constraint>(schema: S) =>
  Schema.optionalKey(schema).pipe(Schema.catchDecoding(() => Effect.succeedNone))

const commonFields = {
  detail: lenientMember(Schema.String.check(Schema.isMaxLength(limits.detail))),
  instance: lenientMember(Schema.String.check(Schema.isMaxLength(limits.instance))),
  /** The `X-Request-ID` of the request; filled in by `middleware`. */
  requestId: Schema.optionalKey(RequestId.Token)
}

// Same text as effect's, so that both conditional types are one type.
type MissingSelfGeneric =
  "Missing `Self` generic - use `class Self extends HttpApiError.Problem<Self>()(...)`"

const HeadersId = "~@org/http/Problem/headers"

/**
 * The response headers a problem carries besides its body (a 503's or a
 * 429's `Retry-After`), as its class declares them; `{}` for anything else.
 *
 * @since 0.2.0
 * @category rendering
 */
export const headersOf = (u: unknown): Readonly<Record<string, string>> =>
  Predicate.hasProperty(u, HeadersId) && typeof u[HeadersId] === "function" ? u[HeadersId]() : {}

/**
 * Declares a typed problem class: an `HttpApiError.Problem` that also carries
 * `requestId`. Declare it as an endpoint `error` so OpenAPI documents it and
 * clients decode it; fail with it from the handler. The tag is yours, so
 * `Effect.catchTag` tells it from every other class.
 *
 * `headers` derives response headers from an instance (they are sent with
 * the body, whether the problem is a declared endpoint error or raised by a
 * router middleware).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Problem } from "@org/http"
 *
 * class OutOfStock extends Problem.Class<OutOfStock>()("OutOfStock", {
 *   type: "/docs/problems#out-of-stock",
 *   status: 409,
 *   title: "Out of stock"
 * }, { sku: Schema.String }) {}
 *
 * const error = new OutOfStock({ sku: "A-1", detail: "Only 2 left" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Class =
  <Self = never>() =>
  <
    const Tag extends string,
    const Type extends string,
    const Status extends number,
    const Fields extends HttpApiError.ProblemExtensionFields = {}
  >(
    tag: Tag,
    declaration: HttpApiError.ProblemDeclaration<Type, Status>,
    fields?: Fields,
    options?: {
      readonly headers?:
        | ((problem: Schema.Struct.Type<typeof commonFields & Fields>) => Readonly<Record<string, string>>)
        | undefined
    }
  ): [Self] extends [never]
    ? MissingSelfGeneric
    : HttpApiError.ProblemClass<Self, Tag, Type, Status, typeof commonFields & Fields, {}> => {
    const headers = options?.headers
    // `fields` is optional; spreading `undefined` adds nothing.
    const base = HttpApiError.Problem<Self>()(tag, declaration, { ...commonFields, ...(fields as Fields) })
    if (headers !== undefined && typeof base === "function") {
      const render = base.prototype[HttpServerRespondable.symbol]
      Object.defineProperty(base.prototype, HeadersId, {
        value(this: Schema.Struct.Type<typeof commonFields & Fields>) {
          return headers(this)
        }
      })
      Object.defineProperty(base.prototype, HttpServerRespondable.symbol, {
        value(this: HttpServerRespondable.Respondable) {
          return Effect.map(render.call(this), HttpServerResponse.setHeaders(headersOf(this)))
        }
      })
    }
    return base
  }

const retryAfter = {
  /** Seconds until a retry may succeed; also sent as `Retry-After`. */
  retryAfter: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
}

const retryAfterHeader = (problem: { readonly retryAfter?: number | undefined }) =>
  problem.retryAfter === undefined ? {} : { "retry-after": String(problem.retryAfter) }

/**
 * 400: the request could not be decoded. `errors` lists each failing value.
 *
 * @since 0.1.0
 * @category problems
 */
export class BadRequest extends Class<BadRequest>()(
  "ValidationProblem",
  { type: types.validation, status: 400, title: "Bad Request" },
  { errors: Schema.optionalKey(Schema.Array(FieldError).check(Schema.isMaxLength(limits.errors))) }
) {}

/**
 * 401: missing or invalid credentials.
 *
 * @since 0.1.0
 * @category problems
 */
export class Unauthorized extends Class<Unauthorized>()("UnauthorizedProblem", {
  type: types.unauthorized,
  status: 401,
  title: "Unauthorized"
}) {}

/**
 * 403: authenticated, but not allowed.
 *
 * @since 0.1.0
 * @category problems
 */
export class Forbidden extends Class<Forbidden>()("ForbiddenProblem", {
  type: types.forbidden,
  status: 403,
  title: "Forbidden"
}) {}

/**
 * 404: no such route, or no such resource.
 *
 * @since 0.1.0
 * @category problems
 */
export class NotFound extends Class<NotFound>()("NotFoundProblem", {
  type: types.notFound,
  status: 404,
  title: "Not Found"
}) {}

/**
 * 405: the path exists but not with this method; the response has `Allow`.
 *
 * @since 0.1.0
 * @category problems
 */
export class MethodNotAllowed extends Class<MethodNotAllowed>()("MethodNotAllowedProblem", {
  type: types.methodNotAllowed,
  status: 405,
  title: "Method Not Allowed"
}) {}

/**
 * 409: the request conflicts with the current state (duplicate, stale write).
 *
 * @since 0.1.0
 * @category problems
 */
export class Conflict extends Class<Conflict>()("ConflictProblem", {
  type: types.conflict,
  status: 409,
  title: "Conflict"
}) {}

/**
 * 412: an `If-Match` precondition failed.
 *
 * @since 0.1.0
 * @category problems
 */
export class PreconditionFailed extends Class<PreconditionFailed>()("PreconditionFailedProblem", {
  type: types.preconditionFailed,
  status: 412,
  title: "Precondition Failed"
}) {}

/**
 * 413: the request body is larger than the body limit.
 *
 * @since 0.1.0
 * @category problems
 */
export class PayloadTooLarge extends Class<PayloadTooLarge>()("PayloadTooLargeProblem", {
  type: types.payloadTooLarge,
  status: 413,
  title: "Content Too Large"
}) {}

/**
 * 415: the body has a media type the endpoint does not accept.
 *
 * @since 0.1.0
 * @category problems
 */
export class UnsupportedMediaType extends Class<UnsupportedMediaType>()("UnsupportedMediaTypeProblem", {
  type: types.unsupportedMediaType,
  status: 415,
  title: "Unsupported Media Type"
}) {}

/**
 * 429: a rate limit refused the request.
 *
 * @since 0.1.0
 * @category problems
 */
export class TooManyRequests extends Class<TooManyRequests>()(
  "TooManyRequestsProblem",
  { type: types.tooManyRequests, status: 429, title: "Too Many Requests" },
  retryAfter,
  { headers: retryAfterHeader }
) {}

/**
 * 500: anything unexpected. The body never says what went wrong; the log does.
 *
 * @since 0.1.0
 * @category problems
 */
export class InternalServerError extends Class<InternalServerError>()("InternalProblem", {
  type: types.internal,
  status: 500,
  title: "Internal Server Error"
}) {}

/**
 * 503: a dependency the request needs cannot answer (for example no
 * revocation source is reachable). Never used for a client's mistake.
 * With `retryAfter` (seconds) the response says when to come back.
 *
 * @since 0.1.0
 * @category problems
 */
export class ServiceUnavailable extends Class<ServiceUnavailable>()(
  "ServiceUnavailableProblem",
  { type: types.serviceUnavailable, status: 503, title: "Service Unavailable" },
  retryAfter,
  { headers: retryAfterHeader }
) {}

/**
 * The 503 for a call an open circuit breaker refused: `Retry-After` is the
 * breaker's own estimate, in whole seconds. The body does not name the
 * breaker or the dependency.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@org/core"
 * import { Problem } from "@org/http"
 *
 * declare const guarded: Effect.Effect<string, CircuitBreaker.CircuitOpen>
 * const handler = guarded.pipe(Effect.catchTag("CircuitOpen", (open) => Effect.fail(Problem.fromCircuitOpen(open))))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromCircuitOpen = (open: CircuitBreaker.CircuitOpen): ServiceUnavailable =>
  new ServiceUnavailable({
    detail: "A service this request needs is temporarily unavailable.",
    retryAfter: open.retryAfterSeconds
  })

// -----------------------------------------------------------------------------
// Ad hoc problems
// -----------------------------------------------------------------------------

/**
 * A problem with a status known only at run time, for router middleware and
 * plain routes. Endpoint handlers should prefer the typed classes, which
 * OpenAPI documents.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProblemError extends Data.TaggedError("ProblemError")<{
  readonly problem: Body
  readonly headers?: Readonly<Record<string, string>> | undefined
}> {
  override get message(): string {
    return this.problem.detail ?? this.problem.title
  }

  [HttpServerRespondable.symbol]() {
    return Effect.succeed(toResponse(this.problem, this.headers))
  }
}

/**
 * Makes a `ProblemError`. `type` defaults to the kit's URI for the status
 * (or `about:blank`) and `title` to the status' reason phrase.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Problem } from "@org/http"
 *
 * const refuse = Effect.fail(
 *   Problem.make({ status: 429, detail: "Try again in 3 seconds", headers: { "retry-after": "3" } })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly status: number
  readonly title?: string | undefined
  readonly type?: string | undefined
  readonly detail?: string | undefined
  readonly errors?: ReadonlyArray<FieldError> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}): ProblemError =>
  new ProblemError({
    problem: {
      ...generic(options.status),
      ...(options.type === undefined ? {} : { type: options.type }),
      ...(options.title === undefined ? {} : { title: options.title }),
      ...(options.detail === undefined ? {} : { detail: options.detail }),
      ...(options.errors === undefined ? {} : { errors: options.errors })
    },
    headers: options.headers
  })

/**
 * Renders a problem body as an `application/problem+json` response whose
 * status is the body's `status`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const toResponse = (
  problem: Body,
  headers?: Readonly<Record<string, string>> | undefined
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(problem, {
    status: problem.status,
    contentType,
    ...(headers === undefined ? {} : { headers })
  })

const titles: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported"
}

const typeByStatus: Readonly<Record<number, string>> = {
  400: types.validation,
  401: types.unauthorized,
  403: types.forbidden,
  404: types.notFound,
  405: types.methodNotAllowed,
  409: types.conflict,
  412: types.preconditionFailed,
  413: types.payloadTooLarge,
  415: types.unsupportedMediaType,
  429: types.tooManyRequests,
  500: types.internal,
  503: types.serviceUnavailable
}

/**
 * The body of a problem that only says its status: the kit's `type` for it
 * (`about:blank` for statuses without one) and the reason phrase as `title`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const generic = (status: number): Body => ({
  type: typeByStatus[status] ?? ProblemDetails.blankType,
  title: titles[status] ?? (status >= 500 ? "Server Error" : "Client Error"),
  status
})

// -----------------------------------------------------------------------------
// Request validation
// -----------------------------------------------------------------------------

const maxErrors = limits.errors
const maxMessageLength = 200
const maxSegmentLength = 100
const maxPointerLength = 1024

// At most `max` characters, the last an ellipsis when cut.
const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s)

const escapePointerSegment = (segment: PropertyKey): string =>
  truncate(String(segment), maxSegmentLength).replaceAll("~", "~0").replaceAll("/", "~1")

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

type RequestKind = "Params" | "Query" | "Headers" | "Payload"

const locationOfKind = {
  Params: "path",
  Query: "query",
  Headers: "header",
  Payload: "body"
} as const

const invalidPart = {
  Params: "The request path parameters are invalid.",
  Query: "The request query is invalid.",
  Headers: "The request headers are invalid.",
  Payload: "The request body is invalid."
} as const

const isRequestKind = (kind: HttpApiError.HttpApiSchemaError["kind"]): kind is RequestKind =>
  kind === "Params" || kind === "Query" || kind === "Headers" || kind === "Payload"

const isMalformedJson = (issue: SchemaIssue.Issue): boolean =>
  issue._tag === "InvalidValue" && issue.annotations?.message === "Expected a valid JSON body"

/**
 * Lists the failing values of a request decoding failure, without the values
 * themselves; at most 50 entries, messages and path segments capped in length.
 *
 * @since 0.1.0
 * @category validation
 */
export const fieldErrors = (
  location: typeof Location.Type,
  issue: SchemaIssue.Issue
): ReadonlyArray<FieldError> =>
  formatIssues(issue)
    .issues.slice(0, maxErrors)
    .map((entry) => ({
      in: location,
      pointer: truncate(
        (entry.path ?? [])
          .map(
            (segment) =>
              `/${escapePointerSegment(typeof segment === "object" && segment !== null ? segment.key : segment)}`
          )
          .join(""),
        maxPointerLength
      ),
      message: truncate(entry.message, maxMessageLength)
    }))

/**
 * The 400 problem for a request decoding failure of HttpApi (`HttpApiSchemaError`
 * of kind `Params`, `Query`, `Headers` or `Payload`).
 *
 * @since 0.1.0
 * @category validation
 */
export const fromSchemaError = (error: HttpApiError.HttpApiSchemaError): BadRequest => {
  const kind = isRequestKind(error.kind) ? error.kind : "Payload"
  return new BadRequest({
    detail: isMalformedJson(error.cause.issue) ? "The request body is not valid JSON." : invalidPart[kind],
    errors: fieldErrors(locationOfKind[kind], error.cause.issue)
  })
}

const isRequestSchemaError = (error: HttpApiError.HttpApiSchemaError): boolean => isRequestKind(error.kind)

// -----------------------------------------------------------------------------
// HttpApi middleware
// -----------------------------------------------------------------------------

/**
 * HttpApi middleware that declares the problems every endpoint can answer
 * with (so OpenAPI documents them as `application/problem+json`) and turns
 * request decoding failures into `BadRequest` with `errors`. Add it to the
 * whole API with `HttpApp.api`; provide it with `layer`.
 *
 * @since 0.1.0
 * @category middleware
 */
export class Middleware extends HttpApiMiddleware.Service<Middleware>()("@org/http/Problem/Middleware", {
  error: [BadRequest, NotFound, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType, InternalServerError]
}) {}

/**
 * An endpoint annotation: more checks of the request's query, run when its
 * declared query fails to decode, so the 400 lists every bad parameter at
 * once (a CRUD list's filters, which are not in the query schema, with a
 * bad `sort`).
 *
 * @since 0.2.0
 * @category annotations
 */
export class QueryErrors extends Context.Service<
  QueryErrors,
  (query: URLSearchParams) => Effect.Effect<ReadonlyArray<FieldError>>
>()("@org/http/Problem/QueryErrors") {}

const withQueryErrors = (
  problem: BadRequest,
  check: Option.Option<QueryErrors["Service"]>
): Effect.Effect<BadRequest, never, HttpServerRequest.HttpServerRequest> =>
  Option.isNone(check)
    ? Effect.succeed(problem)
    : Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const more = yield* check.value(new URL(request.url, "http://localhost").searchParams)
        return more.length === 0
          ? problem
          : new BadRequest({
              ...(problem.detail === undefined ? {} : { detail: problem.detail }),
              errors: [...(problem.errors ?? []), ...more].slice(0, maxErrors)
            })
      })

/**
 * The implementation of `Middleware`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Middleware> = Layer.succeed(Middleware, (httpEffect, { endpoint }) =>
  Effect.catch(
    httpEffect,
    (
      error
    ): Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      BadRequest | Types.unhandled,
      HttpServerRequest.HttpServerRequest
    > => {
      if (HttpApiError.HttpApiSchemaError.is(error)) {
        // A response that does not encode is our bug: a logged 500, rendered by `middleware`.
        if (!isRequestSchemaError(error)) return Effect.die(error)
        const problem = fromSchemaError(error)
        return Effect.flip(
          error.kind === "Query"
            ? withQueryErrors(problem, Context.getOption(endpoint.annotations, QueryErrors))
            : Effect.succeed(problem)
        )
      }
      // HttpApi encodes a declared error from its schema, which has no
      // headers: a problem that carries some is rendered here, with them.
      if (HttpServerRespondable.isRespondable(error) && Object.keys(headersOf(error)).length > 0) {
        return HttpServerRespondable.toResponse(error)
      }
      return Effect.fail(error)
    }
  )
)

// -----------------------------------------------------------------------------
// Router middleware
// -----------------------------------------------------------------------------

/**
 * Options of the router-level problem renderer.
 *
 * @since 0.1.0
 * @category middleware
 */
export interface MiddlewareOptions {
  /**
   * The methods served at the path of a request that matched no route; when
   * not empty the answer is 405 with `Allow` instead of 404.
   */
  readonly allowedMethods?: ((url: string) => ReadonlyArray<string>) | undefined
  /**
   * Error responses with these media types are sent as they are (for example
   * `application/health+json`).
   */
  readonly passthroughContentTypes?: ReadonlyArray<string> | undefined
}

const mediaTypeOf = (response: HttpServerResponse.HttpServerResponse): string =>
  (response.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()

const decodeJsonObject = Schema.decodeUnknownOption(
  Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown))
)

const bodyText = (body: HttpBody.HttpBody): Option.Option<string> =>
  body._tag === "Uint8Array" ? Option.some(body.text ?? new TextDecoder().decode(body.body)) : Option.none()

const finish = (
  response: HttpServerResponse.HttpServerResponse,
  problem: Record<string, unknown>,
  context: { readonly instance: string; readonly requestId: string }
): HttpServerResponse.HttpServerResponse => {
  const base = generic(response.status)
  const { type, title, status: _status, detail, instance, requestId: _requestId, ...rest } = problem
  const body = {
    type: typeof type === "string" && type.length <= limits.type ? type : base.type,
    title: typeof title === "string" && title.length <= limits.title ? title : base.title,
    status: response.status,
    ...rest,
    ...(typeof detail === "string" ? { detail: truncate(detail, limits.detail) } : {}),
    ...(typeof instance === "string" && instance.length <= limits.instance
      ? { instance }
      : context.instance.length > limits.instance
        ? {}
        : { instance: context.instance }),
    ...(context.requestId === "" ? {} : { requestId: context.requestId })
  }
  return HttpServerResponse.setBody(response, HttpBody.jsonUnsafe(body, contentType))
}

const normalize = (
  response: HttpServerResponse.HttpServerResponse,
  context: { readonly instance: string; readonly requestId: string },
  passthrough: ReadonlyArray<string>
): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400) return response
  const mediaType = mediaTypeOf(response)
  if (passthrough.includes(mediaType)) return response
  // A 500 says nothing but that it happened, even if a handler put details in it.
  if (response.status === 500) return finish(response, generic(500), context)
  if (mediaType === contentType) {
    const parsed = Option.flatMap(bodyText(response.body), decodeJsonObject)
    if (Option.isSome(parsed)) return finish(response, parsed.value, context)
  }
  // Whatever the body said (`{"_tag":...}`, "Unsupported content-type: ...", nothing) is dropped.
  return finish(response, generic(response.status), context)
}

const isRouteNotFound = (u: unknown): boolean =>
  HttpServerError.isHttpServerError(u) && u.reason._tag === "RouteNotFound"

const isBodyTooLarge = (u: unknown): boolean =>
  HttpServerError.isHttpServerError(u) &&
  u.reason._tag === "RequestParseError" &&
  u.reason.reason === "BodyTooLarge"

const isUnreadableBody = (u: unknown): boolean =>
  HttpServerError.isHttpServerError(u) && u.reason._tag === "RequestParseError"

const respond = (
  problem: HttpServerRespondable.Respondable
): Effect.Effect<HttpServerResponse.HttpServerResponse> => HttpServerRespondable.toResponse(problem)

const fromFailure = (
  u: unknown,
  url: string,
  options: MiddlewareOptions | undefined
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (HttpServerResponse.isHttpServerResponse(u)) return Effect.succeed(u)
  if (isRouteNotFound(u)) {
    const allowed = options?.allowedMethods?.(url) ?? []
    if (allowed.length > 0) {
      return Effect.map(
        respond(new MethodNotAllowed({ detail: `This resource supports ${allowed.join(", ")}.` })),
        HttpServerResponse.setHeader("allow", allowed.join(", "))
      )
    }
    return respond(new NotFound({ detail: "No route matches this path." }))
  }
  if (isBodyTooLarge(u) || HttpApiError.HttpApiPayloadTooLarge.is(u)) {
    return respond(new PayloadTooLarge({ detail: "The request body is larger than allowed." }))
  }
  if (isUnreadableBody(u)) {
    return respond(new BadRequest({ detail: "The request body could not be read." }))
  }
  if (HttpApiError.HttpApiSchemaError.is(u)) {
    return isRequestSchemaError(u) ? respond(fromSchemaError(u)) : respond(new InternalServerError())
  }
  if (HttpServerRespondable.isRespondable(u)) {
    return Effect.catchCause(HttpServerRespondable.toResponse(u), () => respond(new InternalServerError()))
  }
  return respond(new InternalServerError())
}

const primaryReason = <E>(cause: Cause.Cause<E>): Option.Option<unknown> => {
  for (const reason of cause.reasons) {
    if (reason._tag === "Fail") return Option.some(reason.error)
    if (reason._tag === "Die") return Option.some(reason.defect)
  }
  return Option.none()
}

/**
 * Router-level problem rendering, wrapped around the whole app (inside the
 * request id and security headers): every failure becomes a response, and
 * every response with status >= 400 leaves as `application/problem+json`
 * with `status` equal to the HTTP status, `instance` (the request path) and
 * `requestId`. 5xx answers are logged at Error level with the full cause;
 * a 500 body is always the generic one, whatever a handler put in it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Problem } from "@org/http"
 *
 * const app = Problem.middleware()(Effect.die(new Error("SELECT * FROM secrets")))
 * // responds 500 {"type":"/docs/problems#internal","title":"Internal Server Error","status":500,...}
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware =
  (options?: MiddlewareOptions) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const requestId = yield* RequestId.Current
      const context = { instance: pathOf(request.url), requestId }
      const passthrough = options?.passthroughContentTypes ?? []
      const response = yield* Effect.catchCause(app, (cause) => {
        if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
        const failure = primaryReason(cause)
        return Effect.tap(
          Option.isSome(failure)
            ? fromFailure(failure.value, request.url, options)
            : respond(new InternalServerError()),
          (response) =>
            response.status >= 500
              ? Effect.logError("Request failed with an unexpected error", cause)
              : Effect.void
        )
      })
      return normalize(response, context, passthrough)
    })
