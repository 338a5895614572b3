/**
 * Keeps secrets out of logs: a value is replaced by `<redacted>` when its
 * field name says it is a secret (password, passcode, token, secret,
 * authorization, cookie, otp, an MFA/TOTP code; case-insensitive, at any
 * depth) or when it is an Effect `Redacted`. `logger` applies it to the
 * message and the annotations a logger sees, so the JSON lines, the pretty
 * lines and the OTLP log records all get the same treatment.
 *
 * @since 0.4.0
 */
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"

/**
 * What a redacted value becomes.
 *
 * @since 0.4.0
 * @category constants
 */
export const placeholder = "<redacted>"

const sensitiveWords = new Set([
  "password",
  "passwd",
  "passcode",
  "token",
  "secret",
  "authorization",
  "cookie",
  "otp",
  "apikey"
])
const codeOwners = new Set(["mfa", "otp", "totp", "auth", "verification", "recovery", "one", "backup"])

// `accessToken`, `refresh_token`, `Set-Cookie`, `http.request.header.authorization` -> words.
const words = (key: string): Array<string> =>
  key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== "")

/**
 * Whether a field name names a secret: one of its words (split on case
 * changes and punctuation, plurals included) is password, passwd, passcode,
 * token, secret, authorization, cookie, otp or apikey; or the name is `code`
 * or ends in an MFA-ish `..._code` (`mfa_code`, `totpCode`), so that
 * `status_code` stays visible.
 *
 * @example
 * ```ts
 * import { Redaction } from "@org/telemetry"
 *
 * Redaction.isSensitiveKey("refresh_token") // true
 * Redaction.isSensitiveKey("http.response.status_code") // false
 * ```
 *
 * @since 0.4.0
 * @category predicates
 */
export const isSensitiveKey = (key: string): boolean => {
  const parts = words(key)
  for (const word of parts) {
    if (sensitiveWords.has(word) || (word.endsWith("s") && sensitiveWords.has(word.slice(0, -1)))) return true
  }
  const last = parts.at(-1)
  if (last !== "code" && last !== "codes") return false
  return parts.length === 1 || codeOwners.has(parts.at(-2) ?? "")
}

const maxDepth = 12

// Errors and dates print as themselves; other objects (plain or class
// instances such as Schema classes) are copied field by field.
const isOpaque = (value: object): boolean => value instanceof Error || value instanceof Date

const redactAt = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
  if (Redacted.isRedacted(value)) return placeholder
  if (value === null || typeof value !== "object" || isOpaque(value)) return value
  if (seen.has(value)) return "[Circular]"
  if (depth >= maxDepth) return "[Truncated]"
  seen.add(value)
  const out = redactObject(value, depth, seen)
  seen.delete(value)
  return out
}

const redactObject = (value: object, depth: number, seen: WeakSet<object>): unknown => {
  if (Array.isArray(value)) return value.map((item) => redactAt(item, depth + 1, seen))
  if (value instanceof Set) return Array.from(value, (item) => redactAt(item, depth + 1, seen))
  const entries: Iterable<readonly [unknown, unknown]> = value instanceof Map ? value : Object.entries(value)
  const out: Record<string, unknown> = {}
  for (const [k, field] of entries) {
    const key = String(k)
    Object.defineProperty(out, key, {
      value: isSensitiveKey(key) ? placeholder : redactAt(field, depth + 1, seen),
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return out
}

/**
 * A copy of `value` with secrets replaced by `<redacted>`: `Redacted`
 * values anywhere, and the values of sensitive fields (`isSensitiveKey`) at
 * any depth of objects, arrays, maps and sets. Other values are kept;
 * cycles become `[Circular]`.
 *
 * @example
 * ```ts
 * import { Redaction } from "@org/telemetry"
 * import { Redacted } from "effect"
 *
 * Redaction.redact({ password: "p", nested: { token: "t" }, r: Redacted.make("x"), user: "ann" })
 * // { password: "<redacted>", nested: { token: "<redacted>" }, r: "<redacted>", user: "ann" }
 * ```
 *
 * @since 0.4.0
 * @category redaction
 */
export const redact = (value: unknown): unknown => redactAt(value, 0, new WeakSet())

/**
 * The annotations with sensitive fields redacted, keyed as given.
 *
 * @example
 * ```ts
 * import { Redaction } from "@org/telemetry"
 *
 * Redaction.redactFields({ requestId: "r1", authorization: "Bearer x" })
 * // { requestId: "r1", authorization: "<redacted>" }
 * ```
 *
 * @since 0.4.0
 * @category redaction
 */
export const redactFields = (fields: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    Object.defineProperty(out, key, {
      value: isSensitiveKey(key) ? placeholder : redact(value),
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return out
}

// The fiber as a logger sees it, with its log annotations redacted. Loggers
// (Effect's pretty/structured ones, the OTLP logger) read the annotations
// from the fiber, not from their input, hence a view of the fiber.
const redactedFiber = (fiber: Fiber.Fiber<unknown, unknown>): Fiber.Fiber<unknown, unknown> => {
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  if (Object.keys(annotations).length === 0) return fiber
  const redacted = redactFields(annotations)
  const view: Fiber.Fiber<unknown, unknown> = Object.create(fiber)
  Object.defineProperty(view, "getRef", {
    value: <A>(ref: Context.Reference<A>): A =>
      (ref as unknown) === References.CurrentLogAnnotations ? (redacted as A) : fiber.getRef(ref)
  })
  Object.defineProperty(view, "context", {
    get: () => Context.add(fiber.context, References.CurrentLogAnnotations, redacted)
  })
  return view
}

/**
 * The logger fed with redacted input: message parts and log annotations.
 *
 * @example
 * ```ts
 * import { Redaction } from "@org/telemetry"
 * import { Effect, Logger } from "effect"
 *
 * const SafeJson = Logger.layer([Redaction.logger(Logger.consoleJson)])
 * Effect.log({ password: "p" }).pipe(Effect.provide(SafeJson))
 * ```
 *
 * @since 0.4.0
 * @category constructors
 */
export const logger = <Output>(inner: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
  Logger.make((options) =>
    inner.log({
      ...options,
      message: Array.isArray(options.message) ? options.message.map(redact) : redact(options.message),
      fiber: redactedFiber(options.fiber)
    })
  )

/**
 * Effect's tracer logger (log lines as events of the current span, exported
 * with the span) fed with redacted input.
 *
 * @since 0.4.0
 * @category loggers
 */
export const tracerLogger: Logger.Logger<unknown, void> = logger(Logger.tracerLogger)
