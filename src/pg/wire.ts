/**
 * A minimal Postgres client for one job: the COPY connection of a snapshot (see copyInSnapshot()).
 * postgres.js makes several objects and a stream event per COPY row and copies every socket chunk
 * that ends inside a message: on a million log rows ≈0.25 of the decoding thread's ≈0.9 CPU-s. Here
 * the protocol messages are parsed straight out of each socket chunk and the CopyData payloads
 * appended to one reusable ≈1 MiB buffer: no object and no event per row.
 *
 * It speaks only the simple query protocol, is opened with postgres.js' own parsed settings (see
 * wire-auth.ts) and is closed after its COPY. Every wait is bounded: the connect timeout covers
 * connecting and logging in, and an idle timeout any wait for the server's next bytes.
 */
import type net from "node:net"
import postgres from "postgres"
import { withDeadline } from "../deadline.ts"
import { isConnectionLoss } from "../errors.ts"
import { connect } from "./connect.ts"
import { CONSUMED, copyLost } from "./copyout.ts"
import { dataRow, errorFields, WireReader } from "./wire-reader.ts"
import { authenticate, frame, type Link, type Message, openSocket, startupMessage } from "./wire-auth.ts"
import type { WireOptions } from "./wire-auth.ts"

export type { WireOptions } from "./wire-auth.ts"

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
const coded = (code: string, message: string) => Object.assign(new Error(message), { code })

/** An ErrorResponse as postgres.js reports it: a PostgresError with `code`, `message`, `detail`, … */
function postgresError(body: Buffer): Error {
  const Ctor = postgres.PostgresError as unknown as new (fields: Record<string, string>) => Error
  return new Ctor(errorFields(body))
}

/**
 * One session, opened by {@link openWire}. Socket chunks are queued as they come (the socket is
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

/**
 * Opens a session with postgres.js' parsed settings (`sql.options`), trying each host in turn.
 * Connecting and logging in take at most `connect_timeout` seconds (CONNECT_TIMEOUT, RETRYABLE);
 * a refused login throws the server's error (e.g. 28P01, a wrong password).
 */
export async function openWire(
  options: WireOptions & { readonly connect_timeout?: number | null },
  limits: WireLimits = {},
): Promise<WireConnection> {
  const timeoutS = options.connect_timeout || 30
  let lastError: unknown = coded("CONNECTION_CLOSED", "Cannot connect to Postgres: no host given")
  for (let i = 0; i < Math.max(1, options.host.length); i++) {
    const host = options.host[i] ?? "localhost"
    const port = options.port[i] ?? options.port[0] ?? 5432
    let socket: net.Socket | undefined
    const attempt = async () => {
      const wire = new WireConnection(await openSocket(options, host, port, (s) => (socket = s)), limits)
      wire.write(startupMessage(options))
      const refused = await authenticate(wire, options)
      if (refused) throw refused.type === 0x45 ? postgresError(refused.body) : unexpected(refused)
      for (let m = await wire.next(); m.type !== 0x5a /* Z */; m = await wire.next()) {
        if (m.type === 0x45) throw postgresError(m.body)
      }
      return wire
    }
    try {
      return await withDeadline(attempt(), timeoutS * 1000, () => {
        socket?.destroy()
        return coded("CONNECT_TIMEOUT", `Cannot connect to Postgres at "${host}" within ${timeoutS} s`)
      })
    } catch (error) {
      socket?.destroy()
      if (!isConnectionLoss(error)) throw error // a refused login: the next host would refuse too
      lastError = error
    }
  }
  throw lastError
}

function unexpected(m: Message): Error {
  return coded("08P01", `Cannot log in to Postgres: unexpected message "${String.fromCharCode(m.type)}"`)
}

/**
 * The settings postgres.js parses from `url` (or the PG* variables when undefined) plus connect.ts'
 * timeouts, for {@link openWire}: one parser, so both clients reach the same server as the same
 * user. Throws connect()'s BAD_INPUT for a bad URL, without repeating it. Opens no connection.
 */
export function wireOptions(
  url: string | undefined,
  applicationName: string,
  extra: postgres.Options<Record<string, postgres.PostgresType>> = {},
): WireOptions & { readonly connect_timeout?: number | null } {
  const parsed = connect(url, { ...extra, max: 1, connection: { application_name: applicationName } })
  return parsed.options as unknown as WireOptions
}
