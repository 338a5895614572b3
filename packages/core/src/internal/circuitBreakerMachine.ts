/**
 * The breaker's state machine as plain mutable state. Every method is
 * synchronous, so a call from a fiber is atomic with respect to every other
 * fiber of the runtime; `CircuitBreaker.ts` wires it to effects, the clock,
 * metrics and the shared store.
 *
 * @internal
 */

/** Status codes double as the values of the `circuit_breaker_state` gauge. */
export const CLOSED = 0
export const HALF_OPEN = 1
export const OPEN = 2

/** Outcome codes of one call. */
export const SUCCESS = 0
export const FAILURE = 1
export const IGNORED = 2
export const INTERRUPTED = 3
export const REJECTED = 4

/** Returned by `admit` when the call is rejected. */
export const REJECT = -1

export interface Config {
  /** Consecutive failures that trip a closed circuit; 0 under the rate policy. */
  readonly consecutiveFailures: number
  readonly failureRate: number
  readonly minimumCalls: number
  readonly bucketMillis: number
  readonly buckets: number
  readonly probes: number
  readonly initialMillis: number
  readonly maxMillis: number
  readonly factor: number
}

export interface Transition {
  readonly from: number
  readonly to: number
  /** The open duration of an opening, 0 for other transitions. */
  readonly openForMillis: number
  readonly openUntil: number
  readonly openings: number
  /** True when the transition adopted the shared store's state. */
  readonly adopted: boolean
}

export class Machine {
  readonly config: Config
  status = CLOSED
  /**
   * Changes on every transition. A call remembers the generation it was
   * admitted in; an outcome from another generation only feeds the counters,
   * never the state machine (a closed call that ends during half-open is no
   * probe).
   */
  generation = 0
  openUntil = 0
  /** Openings since the circuit last closed: the backoff exponent plus one. */
  openings = 0
  streak = 0
  inFlight = 0
  succeeded = 0
  /** Set by `admit` when it moved an open circuit to half-open. */
  transition: Transition | undefined = undefined
  /** Per-outcome call counts, indexed by outcome code (metrics read these). */
  readonly counts = [0, 0, 0, 0, 0]
  // The rate policy's window: `buckets` slots of `bucketMillis`, a ring.
  readonly bucketSuccesses: Array<number>
  readonly bucketFailures: Array<number>
  lastBucket = 0
  windowSuccesses = 0
  windowFailures = 0

  constructor(config: Config) {
    this.config = config
    this.bucketSuccesses = new Array<number>(config.buckets).fill(0)
    this.bucketFailures = new Array<number>(config.buckets).fill(0)
  }

  /**
   * Admits a call that found the circuit not closed (closed calls take the
   * inline fast path in `CircuitBreaker.ts`). Returns the generation to record
   * the outcome with, or `REJECT`; `transition` is set when an open circuit
   * moved to half-open.
   */
  admit(now: number): number {
    this.transition = undefined
    if (this.status === CLOSED) return this.generation
    if (this.status === OPEN) {
      if (now < this.openUntil) return this.reject()
      this.status = HALF_OPEN
      this.generation++
      this.inFlight = 0
      this.succeeded = 0
      this.transition = {
        from: OPEN,
        to: HALF_OPEN,
        openForMillis: 0,
        openUntil: this.openUntil,
        openings: this.openings,
        adopted: false
      }
    }
    if (this.inFlight + this.succeeded >= this.config.probes) return this.reject()
    this.inFlight++
    return this.generation
  }

  private reject(): number {
    this.counts[REJECTED]!++
    return REJECT
  }

  /** Milliseconds a rejected caller should wait (0 while probes run). */
  retryAfter(now: number): number {
    return this.status === OPEN ? Math.max(0, this.openUntil - now) : 0
  }

  /**
   * Records the outcome of a call admitted in `generation`. Returns the
   * transition it caused, if any.
   */
  record(generation: number, outcome: number, now: number): Transition | undefined {
    this.counts[outcome]!++
    if (generation !== this.generation) return undefined
    if (this.status === CLOSED) {
      if (outcome === SUCCESS) {
        this.streak = 0
        if (this.config.consecutiveFailures === 0) {
          this.windowAdd(now, false)
          if (this.rateTrips()) return this.open(now)
        }
      } else if (outcome === FAILURE) {
        this.streak++
        if (this.config.consecutiveFailures === 0) {
          this.windowAdd(now, true)
          if (this.rateTrips()) return this.open(now)
        } else if (this.streak >= this.config.consecutiveFailures) {
          return this.open(now)
        }
      }
      return undefined
    }
    if (this.status === HALF_OPEN) {
      if (outcome === FAILURE) return this.open(now)
      this.inFlight--
      if (outcome === SUCCESS && ++this.succeeded >= this.config.probes) return this.close(false)
    }
    return undefined
  }

  /** The open duration of the next opening: capped exponential backoff. */
  openFor(openings: number): number {
    const { factor, initialMillis, maxMillis } = this.config
    return Math.min(maxMillis, initialMillis * factor ** (openings - 1))
  }

  private open(now: number): Transition {
    const from = this.status
    this.openings++
    const openFor = this.openFor(this.openings)
    this.enter(OPEN)
    this.openUntil = now + openFor
    return {
      from,
      to: OPEN,
      openForMillis: openFor,
      openUntil: this.openUntil,
      openings: this.openings,
      adopted: false
    }
  }

  private close(adopted: boolean): Transition {
    const from = this.status
    this.enter(CLOSED)
    this.openings = 0
    this.openUntil = 0
    return { from, to: CLOSED, openForMillis: 0, openUntil: 0, openings: 0, adopted }
  }

  private enter(status: number) {
    this.status = status
    this.generation++
    this.streak = 0
    this.inFlight = 0
    this.succeeded = 0
    this.bucketSuccesses.fill(0)
    this.bucketFailures.fill(0)
    this.windowSuccesses = 0
    this.windowFailures = 0
  }

  /**
   * Adopts a state another instance wrote to the shared store: an opening
   * (its deadline and backoff count) or a close.
   */
  adopt(status: "open" | "closed", openUntil: number, openings: number): Transition | undefined {
    if (status === "closed") return this.status === CLOSED ? undefined : this.close(true)
    if (this.status === OPEN && this.openUntil === openUntil) return undefined
    const from = this.status
    this.enter(OPEN)
    this.openUntil = openUntil
    this.openings = openings
    return { from, to: OPEN, openForMillis: 0, openUntil, openings, adopted: true }
  }

  // Slides the window to `now`, clearing the slots that fell out of it, so
  // the running totals only ever cover the last `buckets` slots.
  private windowAdd(now: number, failed: boolean) {
    const { bucketMillis, buckets } = this.config
    const bucket = Math.floor(now / bucketMillis)
    if (bucket > this.lastBucket) {
      const steps = Math.min(bucket - this.lastBucket, buckets)
      for (let k = 1; k <= steps; k++) {
        const slot = (this.lastBucket + k) % buckets
        this.windowSuccesses -= this.bucketSuccesses[slot]!
        this.windowFailures -= this.bucketFailures[slot]!
        this.bucketSuccesses[slot] = 0
        this.bucketFailures[slot] = 0
      }
      this.lastBucket = bucket
    }
    const slot = this.lastBucket % buckets
    if (failed) {
      this.bucketFailures[slot]!++
      this.windowFailures++
    } else {
      this.bucketSuccesses[slot]!++
      this.windowSuccesses++
    }
  }

  private rateTrips(): boolean {
    const total = this.windowSuccesses + this.windowFailures
    return (
      total >= this.config.minimumCalls &&
      this.windowFailures > 0 &&
      this.windowFailures >= this.config.failureRate * total
    )
  }
}
