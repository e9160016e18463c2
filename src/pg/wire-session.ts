/**
 * The session of wire.ts' client once logged in: simple queries and a COPY streamed into one
 * reusable buffer, with backpressure (the socket pauses while the consumer is behind) and every
 * wait for the server's bytes bounded (START_MS for a statement's first answer, IDLE_MS between
 * rows).
 */
import type net from "node:net"
import postgres from "postgres"
import { isConnectionLoss } from "../errors.ts"
import { CONSUMED, copyLost } from "./copyout.ts"
import { dataRow, errorFields, WireReader } from "./wire-reader.ts"
import { frame, type Link, type Message } from "./wire-auth.ts"

/** Bytes of COPY payload per chunk handed to the consumer. */
const CHUNK = 1 << 20
/** Socket bytes queued (unparsed) before the socket is paused: the consumer is behind. */
const HIGH_WATER = 2 << 20
/** Milliseconds without a byte from the server, while a COPY streams rows, before giving up (RETRYABLE). */
export const IDLE_MS = 30_000
/**
 * Milliseconds to wait for a statement's first answer (and a COPY's first row) before giving up: a
 * COPY whose query sorts sends nothing until the sort is done, so this is longer than IDLE_MS.
 */
export const START_MS = 600_000

/** The bounds of a session's waits, in milliseconds (see IDLE_MS, START_MS). */
export interface WireLimits {
  readonly idleMs?: number
  readonly startMs?: number
}

const TERMINATE = frame("X")

/** An error with a `code` as postgres.js gives its own (errors.ts counts these as a lost connection). */
export const coded = (code: string, message: string) => Object.assign(new Error(message), { code })

/** An ErrorResponse as postgres.js reports it: a PostgresError with `code`, `message`, `detail`, … */
export function postgresError(body: Buffer): Error {
  const Ctor = postgres.PostgresError as unknown as new (fields: Record<string, string>) => Error
  return new Ctor(errorFields(body))
}

/**
 * One session, opened by openWire() of wire.ts. Socket chunks are queued as they come (the socket is
 * paused above HIGH_WATER) and parsed when the session's user asks for more: messages into
 * `messages`, and, during a COPY, CopyData payloads into `sink`.
 */
export class WireConnection implements Link {
  private readonly reader = new WireReader()
  private failure: Error | undefined
  private paused = false
  private wake: (() => void) | undefined
  private waitMs: number // the bound of the current wait for bytes: START_MS, or IDLE_MS once rows flow
  private readonly idleMs: number
  private readonly startMs: number

  constructor(private readonly socket: net.Socket, limits: WireLimits = {}) {
    this.idleMs = limits.idleMs ?? IDLE_MS
    this.startMs = limits.startMs ?? START_MS
    this.waitMs = this.startMs
    socket.on("data", (chunk: Buffer) => {
      this.reader.push(chunk)
      if (this.reader.queued >= HIGH_WATER && !this.paused) {
        this.paused = true
        socket.pause()
      }
      this.notify()
    })
    socket.on("error", (error: Error) => this.fail(error))
    socket.on(
      "close",
      () => this.fail(coded("CONNECTION_CLOSED", "Cannot read from Postgres: the connection was closed")),
    )
  }

  /** Sends one message. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** The next message that is not CopyData (during a COPY); throws once the connection is lost. */
  async next(): Promise<Message> {
    for (;;) {
      this.pump()
      const message = this.reader.messages.shift()
      if (message) return message
      if (this.failure) throw this.failure
      await this.more()
    }
  }

  /** Runs a simple query; returns its rows as text (null for NULL); throws its ErrorResponse. */
  async query(text: string): Promise<(string | null)[][]> {
    this.write(frame("Q", text))
    this.waitMs = this.startMs
    const rows: (string | null)[][] = []
    let error: Error | undefined
    for (;;) {
      const m = await this.next()
      if (m.type === 0x44 /* D */) rows.push(dataRow(m.body))
      else if (m.type === 0x45 /* E */) error ??= postgresError(m.body)
      else if (m.type === 0x5a /* Z */) {
        if (error) throw error
        return rows
      }
    }
  }

  /**
   * Streams a `COPY … TO STDOUT` statement's bytes in chunks of up to CHUNK bytes, each yielded when
   * full or when the bytes received so far are used up. A consumer that passes CONSUMED to next()
   * gets the next chunk in the same buffer. Throws the statement's error; a lost connection becomes
   * RETRYABLE. Leaving early closes the connection (the rest of the COPY is not drained).
   */
  async *copy(statement: string): AsyncGenerator<Uint8Array, void, typeof CONSUMED | undefined> {
    let out = new Uint8Array(CHUNK)
    let done = false
    try {
      this.write(frame("Q", statement))
      this.waitMs = this.startMs
      const reader = this.reader
      reader.sink = out
      reader.sinkFill = 0
      for (;;) {
        this.pump()
        for (let m = reader.messages.shift(); m; m = reader.messages.shift()) {
          if (m.type === 0x45 /* E */) throw postgresError(m.body)
          if (m.type === 0x5a /* Z */) done = true
          else if (m.type === 0x44 /* D */ || m.type === 0x54 /* T */ || m.type === 0x47 /* G */) {
            throw new Error(`Cannot stream rows: the statement is not a COPY … TO STDOUT`)
          }
        }
        const fill = reader.sinkFill
        if (fill > 0) this.waitMs = this.idleMs // rows flow: from now on a silence means a stall
        if (fill === out.length || (fill > 0 && (done || reader.queued === 0))) {
          const reply = yield out.subarray(0, fill)
          if (reply !== CONSUMED) out = new Uint8Array(CHUNK) // the consumer keeps the chunk
          reader.sink = out
          reader.sinkFill = 0
        } else if (done) return
        else if (this.failure) throw this.failure
        else await this.more()
      }
    } catch (error) {
      throw isConnectionLoss(error) ? copyLost(error) : error
    } finally {
      this.reader.sink = undefined
      if (!done) this.close(true)
    }
  }

  /** Ends the session (Terminate, then FIN), or drops the socket at once with `abort`. */
  close(abort = false): void {
    this.fail(coded("CONNECTION_ENDED", "Cannot use the Postgres connection: it was closed"))
    if (abort || this.socket.destroyed) {
      this.socket.destroy()
      return
    }
    this.socket.end(TERMINATE)
    this.socket.setTimeout(5_000, () => this.socket.destroy()) // a server that never closes its end
  }

  /** Parses what has come; resumes the socket once the queue is below HIGH_WATER again. */
  private pump(): void {
    const reader = this.reader
    if (!reader.pump()) {
      this.fail(coded("08P01", "Cannot read from Postgres: a message has a negative length"))
      this.socket.destroy()
    }
    if (this.paused && reader.queued < HIGH_WATER) {
      this.paused = false
      this.socket.resume()
    }
  }

  private fail(error: Error): void {
    this.failure ??= error
    this.notify()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** Waits for the server's next bytes, at most the idle timeout (then the connection is dropped). */
  private more(): Promise<void> {
    if (this.paused) {
      this.paused = false
      this.socket.resume()
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.fail(coded("ETIMEDOUT", `Cannot read from Postgres: nothing came for ${this.waitMs / 1000} s`))
        this.socket.destroy()
      }, this.waitMs)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}
