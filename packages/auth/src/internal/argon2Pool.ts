/**
 * A fixed pool of worker threads that compute Argon2id with hash-wasm, so a
 * burst of logins costs CPU on other cores instead of stalling the event
 * loop. One job per worker at a time; jobs beyond the pool size wait in FIFO
 * order.
 *
 * The slot of a job is given back by the worker's reply, not by the fiber
 * that asked: an interrupted job keeps its worker busy until the worker is
 * done (a computation inside WebAssembly cannot be stopped), so the pool
 * never runs more than `size` hashes at once, whatever callers do.
 *
 * @internal
 */
import { Worker } from "node:worker_threads"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

/**
 * A worker thread exited while it was computing a job (out of memory, a
 * crash in WebAssembly). The job dies with this defect; the worker is
 * replaced.
 *
 * @internal
 */
export class Argon2WorkerCrashed extends Schema.TaggedError<Argon2WorkerCrashed>()("Argon2WorkerCrashed", {
  exitCode: Schema.Number,
  message: Schema.String
}) {}

/**
 * hash-wasm refused a job (a bug on our side: parameters are validated
 * before they reach a worker).
 *
 * @internal
 */
export class Argon2JobFailed extends Schema.TaggedError<Argon2JobFailed>()("Argon2JobFailed", {
  message: Schema.String
}) {}

/** @internal */
export interface Job {
  /** UTF-8 bytes; the buffer is transferred to the worker, which zeroes it. */
  readonly password: Uint8Array<ArrayBuffer>
  readonly salt: Uint8Array
  readonly memoryKiB: number
  readonly iterations: number
  readonly parallelism: number
  readonly hashLength: number
}

/** @internal */
export interface Pool {
  readonly size: number
  /** Computes one raw Argon2id hash; fails only with defects. */
  readonly run: (job: Job) => Effect.Effect<Uint8Array>
  /**
   * Test hook: the worker that takes the next job exits instead of
   * computing it (that job dies with `Argon2WorkerCrashed`).
   */
  readonly crashNext: Effect.Effect<void>
  /** Jobs being computed and jobs waiting, for tests and gauges. */
  readonly stats: Effect.Effect<{ readonly running: number; readonly queued: number }>
  /** How many worker threads are alive (tests check the scope ends them). */
  readonly liveWorkers: Effect.Effect<number>
}

// Evaluated by `new Worker(..., { eval: true })`: the same text works from
// `src/*.ts` (type stripping, vitest) and from `dist/*.js`, with no worker
// file to locate next to the compiled module. Only dynamic imports, so it
// runs whether Node treats it as CommonJS (the default) or as a module (a
// host started with --input-type=module). hash-wasm is imported by the
// URL the host resolved, so the worker loads the host's copy; if it cannot
// load, every job fails instead of the worker crashing in a respawn loop.
const workerSource = `
import("node:worker_threads").then(({ parentPort, workerData }) => {
  const lib = import(workerData.hashWasm)
  lib.catch(() => {})
  parentPort.on("message", (message) => {
    if (message.crash === true) process.exit(70)
    const password = message.password
    lib
      .then((hashWasm) => hashWasm.argon2id({
        password,
        salt: message.salt,
        memorySize: message.memoryKiB,
        iterations: message.iterations,
        parallelism: message.parallelism,
        hashLength: message.hashLength,
        outputType: "binary"
      }))
      .then(
        (hash) => {
          password.fill(0)
          parentPort.postMessage({ ok: true, hash }, [hash.buffer])
        },
        (error) => {
          password.fill(0)
          parentPort.postMessage({ ok: false, message: String(error && error.message ? error.message : error) })
        }
      )
  })
})
`

interface Pending {
  readonly job: Job
  /** Cleared when the caller has gone (interrupted): the reply is dropped. */
  resume: ((effect: Effect.Effect<Uint8Array>) => void) | undefined
}

interface Slot {
  worker: Worker
  current: Pending | undefined
}

type Reply =
  | { readonly ok: true; readonly hash: Uint8Array }
  | { readonly ok: false; readonly message: string }

/**
 * Starts `size` workers; they are terminated when the scope closes (jobs
 * still waiting are interrupted).
 *
 * @internal
 */
export const make = (options: {
  readonly size: number
  readonly hashWasmUrl: string
}): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const queue: Array<Pending> = []
      const slots: Array<Slot> = []
      let closed = false
      let live = 0

      const settle = (pending: Pending, effect: Effect.Effect<Uint8Array>) => {
        const resume = pending.resume
        pending.resume = undefined
        resume?.(effect)
      }

      let crashNextJob = false

      const dispatch = () => {
        for (const slot of slots) {
          if (closed || queue.length === 0) return
          if (slot.current !== undefined) continue
          const next = queue.shift()
          if (next === undefined) return
          slot.current = next
          if (crashNextJob) {
            crashNextJob = false
            slot.worker.postMessage({ crash: true })
            continue
          }
          const { job } = next
          slot.worker.postMessage(
            {
              password: job.password,
              salt: job.salt,
              memoryKiB: job.memoryKiB,
              iterations: job.iterations,
              parallelism: job.parallelism,
              hashLength: job.hashLength
            },
            [job.password.buffer]
          )
        }
      }

      const startWorker = () => {
        live++
        return new Worker(workerSource, { eval: true, workerData: { hashWasm: options.hashWasmUrl } })
      }

      const attach = (slot: Slot) => {
        let lastError = ""
        // Settling resumes the caller's fiber synchronously, and it may close
        // the pool or submit more work: the pool's own state is updated (and
        // the freed worker handed the next job) before.
        slot.worker.on("message", (reply: Reply) => {
          const pending = slot.current
          slot.current = undefined
          dispatch()
          if (pending !== undefined) {
            settle(
              pending,
              reply.ok
                ? Effect.succeed(reply.hash)
                : Effect.die(new Argon2JobFailed({ message: reply.message }))
            )
          }
        })
        // An uncaught error in the worker is followed by "exit"; listening
        // here keeps it from becoming an uncaught exception of the host.
        slot.worker.on("error", (error) => {
          lastError = String(error)
        })
        slot.worker.once("exit", (exitCode) => {
          live--
          if (closed) return
          const pending = slot.current
          slot.current = undefined
          slot.worker = startWorker()
          attach(slot)
          dispatch()
          if (pending !== undefined) {
            settle(pending, Effect.die(new Argon2WorkerCrashed({ exitCode, message: lastError })))
          }
        })
      }

      for (let i = 0; i < options.size; i++) {
        const slot: Slot = { worker: startWorker(), current: undefined }
        attach(slot)
        slots.push(slot)
      }

      const run = (job: Job): Effect.Effect<Uint8Array> =>
        Effect.callback<Uint8Array>((resume) => {
          if (closed) {
            resume(Effect.interrupt)
            return
          }
          const pending: Pending = { job, resume }
          queue.push(pending)
          dispatch()
          return Effect.sync(() => {
            pending.resume = undefined
            const index = queue.indexOf(pending)
            if (index >= 0) queue.splice(index, 1)
          })
        })

      const crashNext = Effect.sync(() => {
        crashNextJob = true
      })

      const close = Effect.promise(() => {
        closed = true
        for (const pending of queue.splice(0)) settle(pending, Effect.interrupt)
        for (const slot of slots) {
          if (slot.current !== undefined) settle(slot.current, Effect.interrupt)
          slot.current = undefined
        }
        return Promise.all(slots.map((slot) => slot.worker.terminate()))
      })

      return {
        pool: {
          size: options.size,
          run,
          crashNext,
          stats: Effect.sync(() => ({
            running: slots.filter((slot) => slot.current !== undefined).length,
            queued: queue.length
          })),
          liveWorkers: Effect.sync(() => live)
        } satisfies Pool,
        close
      }
    }),
    ({ close }) => Effect.asVoid(close)
  ).pipe(Effect.map(({ pool }) => pool))
