/**
 * A tracer whose spans write themselves as OTLP protobuf when they end, for
 * `Telemetry.layer` with `http/protobuf` (the default).
 *
 * It sends the bytes Effect's `OtlpTracer` with `OtlpSerialization.layerProtobuf`
 * sends (`test/OtlpTraces.test.ts` compares the request bodies of both, byte
 * for byte, over random spans), and batches, retries and flushes through
 * Effect's own `OtlpExporter`. What it leaves out is the step between:
 * Effect's tracer turns every ended span into OTLP objects (an object per
 * attribute, times as decimal strings, ids parsed back from hex) that the
 * encoder then reads back; about 9 us of the example API's authenticated
 * read, two spans (docs/telemetry.md, "Cost"). Here a span is written
 * straight into one reused buffer and kept as a view of a shared chunk, so a
 * batch waiting to go out holds bytes, not span objects.
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Hex from "effect/encoding/Hex"
import * as HttpBody from "effect/http/HttpBody"
import type * as HttpClient from "effect/http/HttpClient"
import * as Option from "effect/Option"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpResource from "effect/observability/OtlpResource"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Version from "effect/Version"

// ---------------------------------------------------------------------------
// The writer: one growing buffer, lengths filled in after the fact.
// ---------------------------------------------------------------------------

const LEN = 2
const utf8 = new TextEncoder()

class Writer {
  buf: Uint8Array
  view: DataView
  pos = 0

  constructor(size = 8192) {
    this.buf = new Uint8Array(size)
    this.view = new DataView(this.buf.buffer)
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  /** A varint of an integer from 0 through 2^53. */
  varint(n: number): void {
    this.ensure(10)
    const buf = this.buf
    while (n > 0x7f) {
      buf[this.pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    buf[this.pos++] = n
  }

  /** An `int64` varint: negative values in ten bytes, two's complement. */
  int64(n: bigint): void {
    let u = BigInt.asUintN(64, n)
    this.ensure(10)
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80
      u >>= 7n
    }
    this.buf[this.pos++] = Number(u)
  }

  fixed64(n: bigint): void {
    this.ensure(8)
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, n), true)
    this.pos += 8
  }

  double(n: number): void {
    this.ensure(8)
    this.view.setFloat64(this.pos, n, true)
    this.pos += 8
  }

  /** Starts a length-delimited value (after its tag); `end` fills in the length. */
  begin(): number {
    this.ensure(1)
    return this.pos++
  }

  end(start: number): void {
    const length = this.pos - start - 1
    if (length < 0x80) {
      this.buf[start] = length
      return
    }
    // Rare: a value of 128 bytes or more takes more than one length byte.
    let extra = 0
    for (let n = length >>> 7; n > 0; n >>>= 7) extra++
    this.ensure(extra)
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos)
    this.pos += extra
    let n = length
    let at = start
    while (n > 0x7f) {
      this.buf[at++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    this.buf[at] = n
  }

  string(s: string): void {
    const n = s.length
    if (n < 0x80) {
      // ASCII in one pass; anything else through the encoder below.
      this.ensure(n + 1)
      const buf = this.buf
      const start = this.pos
      buf[start] = n
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[start + 1 + i] = c
      }
      if (i === n) {
        this.pos = start + 1 + n
        return
      }
    }
    this.bytes(utf8.encode(s))
  }

  /** Length-prefixed bytes. */
  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length)
    this.raw(bytes)
  }

  /** Bytes already encoded, as they are. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** A hex id as bytes, as Effect writes it: pairs `parseInt` cannot read become 0, an odd last digit is dropped. */
  hexId(hex: string): void {
    const n = hex.length >>> 1
    this.varint(n)
    this.ensure(n)
    const buf = this.buf
    for (let i = 0; i < n; i++) {
      const hi = nibble(hex.charCodeAt(2 * i))
      const lo = nibble(hex.charCodeAt(2 * i + 1))
      buf[this.pos++] = hi < 0 || lo < 0 ? parsePair(hex.slice(2 * i, 2 * i + 2)) : (hi << 4) | lo
    }
  }

  reset(): void {
    this.buf = new Uint8Array(8192)
    this.view = new DataView(this.buf.buffer)
    this.pos = 0
  }

  /** What was written, as a view of this writer's buffer (valid until the next write); the writer starts over. */
  written(): Uint8Array {
    const out = this.buf.subarray(0, this.pos)
    this.pos = 0
    return out
  }

  take(): Uint8Array {
    return this.written().slice()
  }
}

/**
 * Where ended spans wait for their batch: copied one after another into
 * 64 KiB chunks and exported as views of them (a `slice` per span, an
 * `ArrayBuffer` each, cost more than writing the span). A chunk is never
 * written again once a span in it is out, so a view stays valid until the
 * exporter drops it; a full chunk is left to the views and the collector.
 */
class Arena {
  private chunk = new Uint8Array(0)
  private pos = 0

  keep(bytes: Uint8Array): Uint8Array {
    if (this.chunk.length - this.pos < bytes.length) {
      this.chunk = new Uint8Array(Math.max(chunkSize, bytes.length))
      this.pos = 0
    }
    const start = this.pos
    this.chunk.set(bytes, start)
    this.pos += bytes.length
    return this.chunk.subarray(start, this.pos)
  }
}

const chunkSize = 64 * 1024

const nibble = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

// What `parseInt(pair, 16)` stored in a byte gives: a leading hex digit counts, NaN is 0.
const parsePair = (pair: string): number => {
  const n = Number.parseInt(pair, 16)
  return Number.isNaN(n) ? 0 : n & 0xff
}

const tag = (field: number, wire: number) => field * 8 + wire

// ---------------------------------------------------------------------------
// OTLP messages (opentelemetry.proto.common.v1, trace.v1).
// ---------------------------------------------------------------------------

// Encoded keys, `KeyValue.key` with its tag: attribute names repeat.
const keys = new Map<string, Uint8Array>()
const keyWriter = new Writer()
const keyBytes = (key: string): Uint8Array => {
  let bytes = keys.get(key)
  if (bytes === undefined) {
    keyWriter.byte(tag(1, LEN))
    keyWriter.string(key)
    bytes = keyWriter.take()
    if (keys.size < 4096) keys.set(key, bytes)
  }
  return bytes
}

const int64Bound = 2 ** 63

/** `AnyValue`, by Effect's `unknownToAttributeValue` rules. */
const writeValue = (w: Writer, value: unknown): void => {
  switch (typeof value) {
    case "string":
      w.byte(tag(1, LEN))
      w.string(value)
      return
    case "boolean":
      w.byte(tag(2, 0))
      w.byte(value ? 1 : 0)
      return
    case "number":
      if (Number.isInteger(value) && value >= -int64Bound && value < int64Bound) {
        w.byte(tag(3, 0))
        if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) w.varint(value)
        else w.int64(BigInt(value))
      } else {
        w.byte(tag(4, 1))
        w.double(value)
      }
      return
    default:
      writeAnyValue(w, OtlpResource.unknownToAttributeValue(value))
  }
}

type AnyValue = ReturnType<typeof OtlpResource.unknownToAttributeValue>

// The general case (arrays, bigints, objects), from the OTLP object Effect makes.
const writeAnyValue = (w: Writer, value: AnyValue): void => {
  if (value.stringValue !== undefined && value.stringValue !== null) {
    w.byte(tag(1, LEN))
    w.string(value.stringValue)
  } else if (value.boolValue !== undefined && value.boolValue !== null) {
    w.byte(tag(2, 0))
    w.byte(value.boolValue ? 1 : 0)
  } else if (value.intValue !== undefined && value.intValue !== null) {
    w.byte(tag(3, 0))
    w.int64(BigInt(value.intValue))
  } else if (value.doubleValue !== undefined && value.doubleValue !== null) {
    w.byte(tag(4, 1))
    w.double(value.doubleValue)
  } else if (value.arrayValue !== undefined) {
    w.byte(tag(5, LEN))
    const array = w.begin()
    for (const item of value.arrayValue.values) {
      w.byte(tag(1, LEN))
      const start = w.begin()
      writeAnyValue(w, item)
      w.end(start)
    }
    w.end(array)
  }
}

/** `KeyValue` under field `field` of the enclosing message. */
const writeAttribute = (w: Writer, field: number, key: string, value: unknown): void => {
  w.byte(tag(field, LEN))
  const start = w.begin()
  w.raw(keyBytes(key))
  w.byte(tag(2, LEN))
  const inner = w.begin()
  writeValue(w, value)
  w.end(inner)
  w.end(start)
}

const writeAttributes = (w: Writer, field: number, attributes: Record<string, unknown> | undefined): void => {
  if (attributes === undefined) return
  for (const key in attributes) {
    if (Object.hasOwn(attributes, key)) writeAttribute(w, field, key, attributes[key])
  }
}

/** `Event`, under field 11 of `Span`. */
const writeEvent = (
  w: Writer,
  name: string,
  time: bigint,
  attributes: Record<string, unknown> | undefined
): void => {
  w.byte(tag(11, LEN))
  const start = w.begin()
  w.byte(tag(1, 1))
  w.fixed64(time)
  w.byte(tag(2, LEN))
  w.string(name)
  writeAttributes(w, 3, attributes)
  w.end(start)
}

const spanKinds: Record<Tracer.SpanKind, number> = {
  internal: 1,
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5
}

const statusUnset = 0
const statusError = 2

type Event = readonly [name: string, startTime: bigint, attributes: Record<string, unknown> | undefined]

/**
 * `Span`, with its tag (field 2 of `ScopeSpans`), as Effect's `OtlpTracer`
 * makes it from an ended span: the same fields, in the same order.
 */
const writeSpan = (
  w: Writer,
  span: OtlpSpan,
  endTime: bigint,
  exit: Exit.Exit<unknown, unknown>
): Uint8Array => {
  const interrupted = exit._tag === "Failure" && Cause.hasInterruptsOnly(exit.cause)
  const errors: ReadonlyArray<Error> =
    exit._tag === "Failure" && !interrupted
      ? Cause.prettyErrors(exit.cause, { includeCauseInStack: true })
      : []
  w.byte(tag(2, LEN))
  const start = w.begin()
  w.byte(tag(1, LEN))
  w.hexId(span.traceId.padStart(32, "0"))
  w.byte(tag(2, LEN))
  w.hexId(span.spanId)
  if (Option.isSome(span.parent)) {
    w.byte(tag(4, LEN))
    w.hexId(span.parent.value.spanId)
  }
  w.byte(tag(5, LEN))
  w.string(span.name)
  w.byte(tag(6, 0))
  w.varint(spanKinds[span.kind] ?? 0)
  w.byte(tag(7, 1))
  w.fixed64(span.startTime)
  w.byte(tag(8, 1))
  w.fixed64(endTime)
  if (span._attributes !== undefined) {
    for (const [key, value] of span._attributes) writeAttribute(w, 9, key, value)
  }
  if (interrupted) writeAttribute(w, 9, "effect.fiber.interrupted", true)
  if (span._events !== undefined) {
    for (const [name, time, attributes] of span._events) writeEvent(w, name, time, attributes)
  }
  for (const error of errors) {
    writeEvent(w, "exception", endTime, {
      "exception.type": error.name,
      "exception.message": error.message,
      "exception.stacktrace": error.stack ?? "No stack trace available"
    })
  }
  for (const link of span.links) {
    w.byte(tag(13, LEN))
    const at = w.begin()
    w.byte(tag(1, LEN))
    w.hexId(link.span.traceId.padStart(32, "0"))
    w.byte(tag(2, LEN))
    w.hexId(link.span.spanId)
    writeAttributes(w, 4, link.attributes)
    w.end(at)
  }
  w.byte(tag(15, LEN))
  const status = w.begin()
  const message = errors[0]?.message
  if (message) {
    w.byte(tag(2, LEN))
    w.string(message)
  }
  w.byte(tag(3, 0))
  w.varint(errors.length > 0 ? statusError : statusUnset)
  w.end(status)
  w.end(start)
  return w.written()
}

// ---------------------------------------------------------------------------
// The span and the tracer.
// ---------------------------------------------------------------------------

const spanWriter = new Writer()
const arena = new Arena()
let writing = false

// The span's bytes, kept in the arena. The shared writer is reset whatever
// happens (an attribute's `toString` may throw); a span ended while another
// is being written (by such code) gets a writer of its own.
const encode = (span: OtlpSpan, endTime: bigint, exit: Exit.Exit<unknown, unknown>): Uint8Array => {
  if (writing) return writeSpan(new Writer(1024), span, endTime, exit).slice()
  writing = true
  try {
    return arena.keep(writeSpan(spanWriter, span, endTime, exit))
  } finally {
    spanWriter.pos = 0
    // One huge span does not keep a huge buffer.
    if (spanWriter.buf.length > maxKeptWriter) spanWriter.reset()
    writing = false
  }
}

const maxKeptWriter = 1024 * 1024

class OtlpSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly name: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly links: Array<Tracer.SpanLink>
  readonly kind: Tracer.SpanKind
  readonly sampled: boolean
  readonly startTime: bigint
  status: Tracer.SpanStatus
  _traceId: string | undefined = undefined
  _spanId: string | undefined = undefined
  _attributes: Map<string, unknown> | undefined = undefined
  _events: Array<Event> | undefined = undefined
  readonly push: (bytes: Uint8Array) => void

  constructor(options: Parameters<Tracer.Tracer["span"]>[0], push: (bytes: Uint8Array) => void) {
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.links = options.links
    this.kind = options.kind
    this.sampled = options.sampled
    this.startTime = options.startTime
    this.status = { _tag: "Started", startTime: options.startTime }
    this.push = push
  }

  get traceId(): string {
    if (this._traceId === undefined) {
      this._traceId = Option.isSome(this.parent) ? this.parent.value.traceId : Hex.random(32)
    }
    return this._traceId
  }

  get spanId(): string {
    if (this._spanId === undefined) this._spanId = Hex.random(16)
    return this._spanId
  }

  get attributes(): ReadonlyMap<string, unknown> {
    if (this._attributes === undefined) this._attributes = new Map()
    return this._attributes
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    this.status = { _tag: "Ended", startTime: this.startTime, endTime, exit }
    if (this.sampled) this.push(encode(this, endTime, exit))
  }

  attribute(key: string, value: unknown): void {
    if (this.status._tag === "Ended") return
    if (this._attributes === undefined) this._attributes = new Map()
    this._attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.status._tag === "Ended") return
    if (this._events === undefined) this._events = []
    this._events.push([name, startTime, attributes])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.status._tag === "Ended") return
    this.links.push(...links)
  }
}

/** `ExportTraceServiceRequest` around encoded spans: resource, scope, then the spans as they are. */
const request = (resource: Uint8Array, scope: Uint8Array, spans: ReadonlyArray<Uint8Array>): Uint8Array => {
  let spansLength = 0
  for (const span of spans) spansLength += span.length
  // Every length is known first, so the spans are copied once, into place.
  const scopeSpansLength = 1 + varintLength(scope.length) + scope.length + spansLength
  const resourceSpansLength =
    1 +
    varintLength(resource.length) +
    resource.length +
    1 +
    varintLength(scopeSpansLength) +
    scopeSpansLength
  const w = new Writer(1 + varintLength(resourceSpansLength) + resourceSpansLength)
  w.byte(tag(1, LEN))
  w.varint(resourceSpansLength)
  w.byte(tag(1, LEN))
  w.bytes(resource)
  w.byte(tag(2, LEN))
  w.varint(scopeSpansLength)
  w.byte(tag(1, LEN))
  w.bytes(scope)
  for (const span of spans) w.raw(span)
  return w.buf
}

const varintLength = (n: number): number => {
  let length = 1
  while (n > 0x7f) {
    n = Math.floor(n / 0x80)
    length++
  }
  return length
}

const encodeResource = (resource: OtlpResource.Resource): Uint8Array => {
  const w = new Writer()
  for (const { key, value } of resource.attributes) {
    w.byte(tag(1, LEN))
    const start = w.begin()
    w.byte(tag(1, LEN))
    w.string(key)
    w.byte(tag(2, LEN))
    const inner = w.begin()
    writeAnyValue(w, value)
    w.end(inner)
    w.end(start)
  }
  if (resource.droppedAttributesCount > 0) {
    w.byte(tag(2, 0))
    w.varint(resource.droppedAttributesCount)
  }
  return w.take()
}

const encodeScope = (): Uint8Array => {
  const w = new Writer()
  w.byte(tag(1, LEN))
  w.string("effect")
  w.byte(tag(2, LEN))
  w.string(Version.getCurrentVersion())
  return w.take()
}

/**
 * `OtlpTracer.make`'s options that the kit uses, with its defaults.
 */
export interface Options {
  readonly url: string
  readonly resource?:
    | {
        readonly serviceName?: string | undefined
        readonly serviceVersion?: string | undefined
        readonly attributes?: Record<string, unknown> | undefined
      }
    | undefined
  readonly headers?: Record<string, string> | undefined
  readonly exportInterval?: Duration.Input | undefined
  readonly maxBatchSize?: number | undefined
  readonly shutdownTimeout?: Duration.Input | undefined
}

/** A `Tracer` exporting ended sampled spans as OTLP protobuf to `options.url`. */
export const make: (
  options: Options
) => Effect.Effect<Tracer.Tracer, never, OtlpExporter.Flusher | HttpClient.HttpClient | Scope.Scope> =
  Effect.fnUntraced(function* (options: Options) {
    const resource = encodeResource(yield* OtlpResource.fromConfig(options.resource))
    const scope = encodeScope()
    const exporter = yield* OtlpExporter.make({
      label: "OtlpTracer",
      url: options.url,
      headers: options.headers,
      exportInterval: options.exportInterval ?? Duration.seconds(5),
      maxBatchSize: options.maxBatchSize ?? 1000,
      body: (spans: Array<Uint8Array>) =>
        [
          HttpBody.uint8Array(request(resource, scope, spans), "application/x-protobuf"),
          Effect.void
        ] as const,
      shutdownTimeout: options.shutdownTimeout ?? Duration.seconds(3)
    })
    const push = (bytes: Uint8Array) => exporter.push(bytes)
    return Tracer.make({ span: (spanOptions) => new OtlpSpan(spanOptions, push) })
  })
