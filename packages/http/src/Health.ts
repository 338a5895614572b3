/**
 * Liveness and readiness, as an `HttpApiGroup` named `health`:
 * - `GET /health/live`: 200 `{"status":"pass"}` while the process serves.
 * - `GET /health/ready`: runs every registered check, concurrently, each
 *   bounded by its timeout (2 s by default); 200
 *   `{"status":"pass","checks":{"db":{"status":"pass"}}}` when all pass, 503
 *   `{"status":"fail","checks":{"db":{"status":"fail","output":"timed out after 2s"}}}`
 *   naming each failing check otherwise.
 *
 * Bodies are `application/health+json`, after the IETF draft "Health Check
 * Response Format for HTTP APIs" (draft-inadarei-api-health-check): a
 * top-level `status` and per-check `status` / `output`. One deliberate
 * difference: `checks` maps a check name to one result object, not to an
 * array. A failing check's `output` says "failed" or "timed out", never the
 * error (that goes to the log, with the request id).
 *
 * Checks are pluggable: layers contribute named checks to the `Checks`
 * registry with `check`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as OpenApi from "effect/http-api/OpenApi"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * The media type of health reports.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "application/health+json"

/**
 * The timeout of a check that does not set its own: 2 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(2)

/**
 * The outcome of one check.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CheckResult = Schema.Struct({
  status: Schema.Literals(["pass", "fail"]),
  output: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(200)))
}).annotate({ identifier: "HealthCheckResult" })

/**
 * The liveness report.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Live = Schema.Struct({ status: Schema.Literal("pass") }).annotate({ identifier: "HealthLive" })

/**
 * A passing readiness report.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ready = Schema.Struct({
  status: Schema.Literal("pass"),
  checks: Schema.Record(Schema.String, CheckResult)
}).annotate({ identifier: "HealthReady" })

/**
 * A failing readiness report (sent with 503).
 *
 * @since 0.1.0
 * @category schemas
 */
export const NotReady = Schema.Struct({
  status: Schema.Literal("fail"),
  checks: Schema.Record(Schema.String, CheckResult)
}).annotate({ identifier: "HealthNotReady" })

/**
 * A readiness report.
 *
 * @since 0.1.0
 * @category models
 */
export type Report = typeof Ready.Type | typeof NotReady.Type

const healthJson = HttpApiSchema.asJson({ contentType })

/**
 * The `health` group. Add it to your `HttpApi` and provide `layer(Api)`.
 *
 * @since 0.1.0
 * @category groups
 */
export class Group extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("live", "/health/live", {
      success: Live.pipe(healthJson)
    }).annotate(OpenApi.Summary, "Liveness: the process is up"),
    HttpApiEndpoint.get("ready", "/health/ready", {
      success: [Ready.pipe(healthJson), NotReady.pipe(HttpApiSchema.status(503), healthJson)]
    }).annotate(OpenApi.Summary, "Readiness: every registered check passes")
  )
  .annotate(OpenApi.Description, "Liveness and readiness (application/health+json)") {}

/**
 * A named readiness check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Check {
  readonly name: string
  readonly run: Effect.Effect<void, unknown>
  readonly timeout: Duration.Duration
}

/**
 * The registry of readiness checks. Layers add checks with `check`; the
 * `ready` endpoint runs what is registered when it is called.
 *
 * @since 0.1.0
 * @category services
 */
export class Checks extends Context.Service<
  Checks,
  {
    /** Adds a check, replacing one with the same name. */
    readonly register: (check: Check) => Effect.Effect<void>
    /** The checks registered so far, in registration order. */
    readonly all: Effect.Effect<ReadonlyArray<Check>>
  }
>()("@org/http/Health/Checks") {
  /**
   * An empty registry.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<Checks> = Layer.effect(
    Checks,
    Effect.sync(() => {
      const checks = new Map<string, Check>()
      return Checks.of({
        register: (check) =>
          Effect.sync(() => {
            checks.set(check.name, check)
          }),
        all: Effect.sync(() => Array.from(checks.values()))
      })
    })
  )
}

/**
 * A layer that registers a readiness check. The effect runs with the services
 * of the layer's context, so it may use a database client the layer is given.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { Health } from "@org/http"
 *
 * const DatabaseCheck = Health.check(
 *   "database",
 *   Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = <E, R>(
  name: string,
  run: Effect.Effect<unknown, E, R>,
  options?: { readonly timeout?: Duration.Input | undefined }
): Layer.Layer<never, never, Checks | R> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const checks = yield* Checks
      const context = yield* Effect.context<R>()
      yield* checks.register({
        name,
        run: Effect.asVoid(Effect.provideContext(run, context)),
        timeout: options?.timeout === undefined ? defaultTimeout : Duration.fromInputUnsafe(options.timeout)
      })
    })
  )

const runOne = (check: Check): Effect.Effect<typeof CheckResult.Type> =>
  check.run.pipe(
    Effect.timeoutOption(check.timeout),
    Effect.exit,
    Effect.flatMap((exit): Effect.Effect<typeof CheckResult.Type> => {
      if (Exit.isSuccess(exit) && Option.isSome(exit.value)) {
        return Effect.succeed({ status: "pass" as const })
      }
      if (Exit.isSuccess(exit)) {
        return Effect.as(Effect.logWarning(`Health check "${check.name}" timed out`), {
          status: "fail" as const,
          output: `timed out after ${Duration.format(check.timeout)}`
        })
      }
      return Effect.as(Effect.logWarning(`Health check "${check.name}" failed`, exit.cause), {
        status: "fail" as const,
        output: "failed"
      })
    })
  )

/**
 * Runs checks concurrently, each bounded by its timeout, into a report.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (checks: ReadonlyArray<Check>): Effect.Effect<Report> =>
  Effect.map(
    Effect.forEach(checks, (check) => Effect.map(runOne(check), (result) => [check.name, result] as const), {
      concurrency: "unbounded"
    }),
    (results): Report => {
      const byName = Object.fromEntries(results)
      return results.every(([, result]) => result.status === "pass")
        ? { status: "pass", checks: byName }
        : { status: "fail", checks: byName }
    }
  )

type HealthEndpoints<Groups extends HttpApiGroup.Constraint> = HttpApiGroup.EndpointsWithIdentifier<
  Groups,
  "health"
>

/**
 * The handlers of the `health` group of an API that contains `Group`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * const HealthLive = Health.layer(Api).pipe(Layer.provide(Health.Checks.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): Layer.Layer<
  HttpApiGroup.Service<Id, "health">,
  never,
  | Checks
  | HttpApiEndpoint.Middleware<HealthEndpoints<Groups>>
  | HttpApiEndpoint.MiddlewareServices<HealthEndpoints<Groups>>
> =>
  // The API is generic here, so its `health` group is viewed as the bare
  // `Group`; the middleware the real group carries is still applied at run
  // time, and its requirements are restored in the declared type above.
  HttpApiBuilder.group(
    api as unknown as HttpApi.HttpApi<Id, typeof Group>,
    "health",
    Effect.fnUntraced(function* (handlers) {
      const checks = yield* Checks
      return handlers
        .handle("live", () => Effect.succeed({ status: "pass" as const }))
        .handle("ready", () => Effect.flatMap(checks.all, run))
    })
  )
