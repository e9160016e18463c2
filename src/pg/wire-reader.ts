/**
 * The protocol framing of wire.ts: socket chunks in, whole messages and (during a COPY) CopyData
 * payloads out. Payloads are copied straight from the chunk into the sink, so a row split between
 * chunks costs nothing more, and no object is made per CopyData message. Also the bodies of
 * DataRow and ErrorResponse messages.
 */
import type { Message } from "./wire-auth.ts"

const COPY_DATA = 0x64 // 'd'

/** Parses the Postgres messages of the chunks pushed into it; see the module doc. */
export class WireReader {
  private readonly queue: Buffer[] = []
  /** Bytes of the queued chunks, counted whole until a chunk is parsed through. */
  queued = 0
  private offset = 0 // parsed bytes of queue[0]
  private readonly header = Buffer.alloc(5) // a message header split between chunks
  private headerFill = 0
  private type = 0
  private remaining = -1 // body bytes of the current message still to come; -1: in a header
  private body = Buffer.alloc(0)
  private bodyFill = 0
  /** Whole messages parsed and not yet taken, CopyData excepted while there is a sink. */
  readonly messages: Message[] = []
  /** Where CopyData payloads go (from `sinkFill` on), when set. */
  sink: Uint8Array | undefined
  sinkFill = 0

  /** Queues a socket chunk (parsed by the next pump()). */
  push(chunk: Buffer): void {
    this.queue.push(chunk)
    this.queued += chunk.length
  }

  /**
   * Parses the queued chunks: whole messages into `messages`, CopyData payloads into `sink` while
   * there is one (stopping when it is full). No object is made per CopyData message. Returns false
   * on a malformed message (the stream cannot be followed any further).
   */
  pump(): boolean {
    const queue = this.queue
    while (queue.length > 0) {
      const chunk = queue[0]!
      const end = chunk.length
      let p = this.offset
      while (p < end) {
        if (this.remaining < 0) {
          let length: number
          if (this.headerFill === 0 && end - p >= 5) {
            this.type = chunk[p]!
            length = ((chunk[p + 1]! << 24) | (chunk[p + 2]! << 16) | (chunk[p + 3]! << 8) | chunk[p + 4]!) -
              4
            p += 5
          } else {
            const n = Math.min(5 - this.headerFill, end - p)
            chunk.copy(this.header, this.headerFill, p, p + n)
            this.headerFill += n
            p += n
            if (this.headerFill < 5) break
            this.headerFill = 0
            this.type = this.header[0]!
            length = this.header.readInt32BE(1) - 4
          }
          if (length < 0) {
            queue.length = 0
            return false
          }
          this.remaining = length
          if (this.type !== COPY_DATA || !this.sink) {
            this.body = Buffer.allocUnsafe(length)
            this.bodyFill = 0
          }
        }
        if (this.type === COPY_DATA && this.sink) {
          const room = this.sink.length - this.sinkFill
          if (room === 0) {
            this.offset = p // the sink is full: go on after the consumer took it
            return true
          }
          const n = Math.min(this.remaining, end - p, room)
          chunk.copy(this.sink, this.sinkFill, p, p + n)
          this.sinkFill += n
          p += n
          this.remaining -= n
        } else {
          const n = Math.min(this.remaining, end - p)
          chunk.copy(this.body, this.bodyFill, p, p + n)
          this.bodyFill += n
          p += n
          this.remaining -= n
          if (this.remaining === 0) this.messages.push({ type: this.type, body: this.body })
        }
        if (this.remaining === 0) this.remaining = -1
      }
      queue.shift()
      this.offset = 0
      this.queued -= end
    }
    return true
  }
}

/** A DataRow's values as text. */
export function dataRow(body: Buffer): (string | null)[] {
  const values: (string | null)[] = []
  let p = 2
  for (let i = body.readInt16BE(0); i > 0; i--) {
    const n = body.readInt32BE(p)
    p += 4
    values.push(n < 0 ? null : body.toString("utf8", p, p + n))
    if (n > 0) p += n
  }
  return values
}

/** Reads an ErrorResponse body into postgres.js' field names (code, message, detail, …). */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {}
  let start = 0
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 0) continue
    if (i === start) break
    const name = FIELD_NAMES[body[start]!]
    if (name !== undefined) fields[name] = body.toString("utf8", start + 1, i)
    start = i + 1
  }
  return fields
}

const FIELD_NAMES: Record<number, string> = {
  83: "severity_local",
  86: "severity",
  67: "code",
  77: "message",
  68: "detail",
  72: "hint",
  80: "position",
  112: "internal_position",
  113: "internal_query",
  87: "where",
  115: "schema_name",
  116: "table_name",
  99: "column_name",
  100: "data type_name",
  110: "constraint_name",
  70: "file",
  76: "line",
  82: "routine",
}
