/**
 * Streaming decoder of `COPY … TO STDOUT (FORMAT binary)` into column batches in the exact
 * form hyparquet-writer takes for the schema of parquetSchema().
 *
 * Stream layout: 11-byte signature, int32 flags, int32 extension length + extension, then
 * per row int16 field count and per field int32 length (-1 = NULL) + bytes, then int16 -1.
 * All integers are big-endian. Rows may be split anywhere between chunks.
 */
import { CompactError } from "../errors.ts"
import type { ColumnSpec } from "./schema.ts"
import { Arena } from "./values.ts"
import { CONSUMED } from "./copyout.ts"
import { packsList } from "./lists.ts"
import { BatchBuilder, type BatchOptions, type ColumnBatch } from "./batch.ts"
import type { RowHashSum } from "./rowhash.ts"

export type { ScalarValue } from "./values.ts"
export type { BatchOptions, ColumnBatch, ColumnValues } from "./batch.ts"

/** Bytes of the next chunk first stitched to a split row (most rows are shorter). */
const STITCH = 1024

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00] // PGCOPY\n\377\r\n\0

/** What the decoder takes beyond how batches are cut. */
export interface DecodeOptions extends BatchOptions {
  /**
   * Each row carries its version after the columns (the int8 hash, or ctid and xmin: see
   * RowHashSum's form): it is added here, not decoded into the batch.
   */
  rowHash?: RowHashSum
}

/**
 * Decodes a binary COPY byte stream into batches of at most batchRows rows (the last may be
 * shorter); see BatchOptions for batches that line up with files, and for reused buffers.
 */
export async function* decodeCopyBinary(
  chunks: AsyncIterable<Uint8Array>,
  columns: readonly ColumnSpec[],
  batchRows: number,
  options: DecodeOptions = {},
): AsyncGenerator<ColumnBatch> {
  const decoder = new CopyDecoder(columns, batchRows, options)
  // as for-await, but telling the source (copyOut()) that each chunk is consumed once pushed: the
  // decoder copies what it keeps, so the source may build its next chunk in the same buffer
  const source = chunks[Symbol.asyncIterator]() as AsyncIterator<Uint8Array, unknown, unknown>
  let done = false
  try {
    for (let next = await source.next(); !next.done; next = await source.next(CONSUMED)) {
      decoder.push(next.value)
      yield* decoder.drain()
    }
    done = true
  } finally {
    if (!done) await source.return?.()
  }
  yield* decoder.end()
}

/** Push-style decoder behind decodeCopyBinary(): feed bytes with push(), collect with drain()/end(). */
export class CopyDecoder {
  readonly #width: number
  /** Fields per row: the columns, plus the row version's fields when asked for. */
  readonly #fields: number
  readonly #rowHash: RowHashSum | undefined
  readonly #arena = new Arena()
  /** Whether values may be views of the input (array elements): then the input is copied first. */
  readonly #viewsInput: boolean
  readonly #batches: BatchBuilder
  #ready: ColumnBatch[] = []
  #headerDone = false
  #done = false
  #pending: Uint8Array[] = [] // copies of the bytes of an incomplete unit
  #pendingBytes = 0
  #need = 0 // bytes from the start of the pending unit needed before it can be parsed
  readonly #fieldStart: Int32Array
  readonly #fieldLen: Int32Array

  constructor(columns: readonly ColumnSpec[], batchRows: number, options: DecodeOptions = {}) {
    for (
      const [name, value] of [["batchRows", batchRows], ["restartEvery", options.restartEvery ?? 1]] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new CompactError(
          "BAD_INPUT",
          `Cannot decode COPY with ${name} ${value}: use a positive integer`,
        )
      }
    }
    for (const c of columns) {
      if (c.kind === "array" && (c.element === undefined || c.element === "array")) {
        throw new CompactError(
          "BAD_INPUT",
          `Cannot decode array column "${c.name}": it has no scalar element kind`,
        )
      }
    }
    this.#width = columns.length
    this.#rowHash = options.rowHash
    this.#fields = columns.length + (options.rowHash?.fields ?? 0)
    // array columns the decoder packs copy their elements; others hold views of the input
    this.#viewsInput = columns.some((c) => c.kind === "array" && !packsList(c))
    this.#batches = new BatchBuilder(columns, batchRows, this.#arena, options)
    this.#fieldStart = new Int32Array(this.#fields)
    this.#fieldLen = new Int32Array(this.#fields)
  }

  /** Batches completed so far (each returned once). */
  drain(): ColumnBatch[] {
    const ready = this.#ready
    this.#ready = []
    return ready
  }

  /** Checks that the stream ended with its trailer; returns the remaining batches. */
  end(): ColumnBatch[] {
    if (!this.#done) {
      throw new CompactError("INTEGRITY", `Cannot decode COPY stream: it ended before its trailer`)
    }
    const last = this.#batches.finish()
    if (last) this.#ready.push(last)
    return this.drain()
  }

  /**
   * Decodes every complete row in `chunk` and keeps a copy of an incomplete tail for the next push.
   * Byte columns get copies of their values (see ByteColumn), so the source may reuse its buffer.
   * Array elements are views instead: with array columns, the chunk is copied once, whole, first.
   */
  push(source: Uint8Array): void {
    if (source.length === 0) return
    if (this.#done) throw trailingData()
    const chunk = this.#viewsInput ? this.#arena.copyOf(source) : source
    let start = 0
    if (this.#pendingBytes > 0) {
      const pendingBytes = this.#pendingBytes
      if (pendingBytes + chunk.length < this.#need) {
        this.#keep(chunk, 0)
        return
      }
      // Stitch the pending unit with enough of this chunk to parse it, then go on in the chunk. A row
      // reports what it lacks field by field: ask for STITCH bytes at least, doubling, so a row
      // split across chunks costs one or two copies, not one per field.
      let take = Math.min(chunk.length, Math.max(this.#need - pendingBytes, STITCH))
      for (;;) {
        const stitched = concat(this.#pending, pendingBytes, chunk, take)
        const end = this.#step(stitched, view(stitched), 0)
        if (end >= 0) {
          start = end - pendingBytes
          break
        }
        if (this.#need > pendingBytes + chunk.length) {
          this.#keep(chunk, 0)
          return
        }
        take = Math.min(chunk.length, Math.max(this.#need - pendingBytes, 2 * take))
      }
      this.#pending = []
      this.#pendingBytes = 0
    }
    const dv = view(chunk)
    let pos = start
    while (pos < chunk.length) {
      if (this.#done) throw trailingData()
      const end = this.#step(chunk, dv, pos)
      if (end < 0) {
        this.#keep(chunk, pos)
        return
      }
      pos = end
    }
  }

  #keep(chunk: Uint8Array, from: number): void {
    // a view when chunk is already the decoder's own copy
    this.#pending.push(this.#viewsInput ? chunk.subarray(from) : chunk.slice(from))
    this.#pendingBytes += chunk.length - from
  }

  /** Parses one unit (header, row or trailer) at pos; returns its end, or -1 after setting #need. */
  #step(buf: Uint8Array, dv: DataView, pos: number): number {
    const avail = buf.length - pos
    if (!this.#headerDone) {
      if (avail < 19) return this.#needs(19)
      for (let i = 0; i < SIGNATURE.length; i++) {
        if (buf[pos + i] !== SIGNATURE[i]) {
          throw new CompactError("INTEGRITY", `Cannot decode COPY stream: bad signature; use FORMAT binary`)
        }
      }
      if ((dv.getInt32(pos + 11) & 0x10000) !== 0) {
        throw new CompactError("INTEGRITY", `Cannot decode COPY stream: it includes OIDs`)
      }
      const extension = dv.getInt32(pos + 15)
      if (avail < 19 + extension) return this.#needs(19 + extension)
      this.#headerDone = true
      return pos + 19 + extension
    }
    if (avail < 2) return this.#needs(2)
    const fields = dv.getInt16(pos)
    if (fields === -1) {
      this.#done = true
      return pos + 2
    }
    const n = this.#fields
    if (fields !== n) {
      throw new CompactError("INTEGRITY", `Cannot decode COPY row: it has ${fields} fields, expected ${n}`)
    }
    // All field lengths must be present before anything is decoded.
    const fieldStart = this.#fieldStart
    const fieldLen = this.#fieldLen
    const limit = buf.length
    let p = pos + 2
    for (let c = 0; c < n; c++) {
      if (p + 4 > limit) return this.#needs(p + 4 - pos)
      const len = dv.getInt32(p)
      p += 4
      fieldStart[c] = p
      fieldLen[c] = len
      if (len > 0) {
        p += len
        if (p > limit) return this.#needs(p - pos)
      } else if (len < -1) {
        throw new CompactError("INTEGRITY", `Cannot decode COPY row: field length ${len}`)
      }
    }
    if (this.#rowHash && !this.#rowHash.addFields(dv, fieldStart, fieldLen, this.#width)) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot decode COPY row: its last fields are not the row version (${this.#rowHash.form} form)`,
      )
    }
    const full = this.#batches.addRow(buf, dv, fieldStart, fieldLen)
    if (full) this.#ready.push(full)
    return p
  }

  #needs(bytes: number): number {
    this.#need = bytes
    return -1
  }
}

function trailingData(): CompactError {
  return new CompactError("INTEGRITY", `Cannot decode COPY stream: data after its trailer`)
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
}

/** The pending chunks plus the first `take` bytes of chunk, as one new buffer. */
function concat(pending: Uint8Array[], pendingBytes: number, chunk: Uint8Array, take: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(pendingBytes + take)) // values become views of it
  let o = 0
  for (const part of pending) {
    out.set(part, o)
    o += part.length
  }
  out.set(chunk.subarray(0, take), o)
  return out
}
