/**
 * The byte sink of a file encoded piece by piece: ParquetWriter and chunk.ts append to it and read
 * `offset` (the file's length so far, which goes into the footer's offsets), and take() hands out
 * what was appended since the last take() as a buffer of its own. So a file leaves the encoder row
 * group by row group and is never held whole; the bytes, once joined, are those a single buffer
 * would have held.
 */
import { ByteWriter } from "hyparquet-writer"
import type { BufferPool } from "../buffer-pool.ts"

/** What a file's last piece says about the whole file. */
export interface FileEnd {
  rows: number
  /** Smallest and largest value of the block column in the file (inclusive). */
  minBlock: bigint
  maxBlock: bigint
}

/**
 * Consecutive bytes of file `part`: the pieces of a file, joined in order, are the file. The last
 * piece of each file (its last row group and the footer) carries `end`; the next piece starts
 * part + 1.
 */
export interface FilePiece {
  /** 0-based, consecutive within one encoding. */
  part: number
  bytes: Uint8Array
  end?: FileEnd
  /**
   * Hands the piece's buffer back to the encoder, to write later pieces into (set by the threaded
   * encoder). Call it only once nothing reads `bytes` any more: they are gone afterwards.
   */
  release?: () => void
}

/** One finished Parquet file, whole. */
export interface EncodedFile extends FileEnd {
  part: number
  bytes: Uint8Array
}

/** The pieces joined into whole files (for callers that want a file in one buffer). */
export async function* joinPieces(pieces: AsyncIterable<FilePiece>): AsyncGenerator<EncodedFile> {
  let held: Uint8Array[] = []
  for await (const piece of pieces) {
    held.push(piece.bytes)
    if (!piece.end) continue
    const bytes = concatBytes(held)
    held = []
    yield { part: piece.part, bytes, ...piece.end }
  }
}

/** Byte arrays joined into one (no copy for one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Bytes of each further block when a piece outgrows its first one. */
const BLOCK_BYTES = 1 << 23

/**
 * A ByteWriter whose bytes are taken away in pieces. It grows by adding blocks (the first as big as
 * the size hint, then 8 MiB each) instead of doubling and copying; a piece within the hint (1.1 × the
 * largest piece so far) is handed out without a copy.
 */
export class PieceWriter extends ByteWriter {
  readonly #blocks: Uint8Array<ArrayBuffer>[] = []
  #hint: number
  readonly #buffers: BufferPool | undefined

  /** `hint`: bytes of a piece, about (the first buffer's size); `buffers`: where buffers come from. */
  constructor(hint = 1 << 20, buffers?: BufferPool) {
    super(0)
    this.#hint = hint
    this.#buffers = buffers
    this.buffer = this.#fresh(hint)
    this.view = new DataView(this.buffer)
  }

  #fresh(bytes: number): ArrayBuffer {
    return this.#buffers?.take(bytes) ?? new ArrayBuffer(bytes)
  }

  override ensure(size: number): void {
    if (this.index + size <= this.buffer.byteLength) return
    this.#blocks.push(new Uint8Array(this.buffer, 0, this.index))
    this.buffer = new ArrayBuffer(Math.max(size, BLOCK_BYTES))
    this.view = new DataView(this.buffer)
    this.index = 0
  }

  /**
   * The bytes appended since the last take(), in one buffer of their own; `offset` runs on. `final`:
   * nothing more will be appended (no new buffer).
   */
  take(final = false): Uint8Array<ArrayBuffer> {
    const last = new Uint8Array(this.buffer, 0, this.index)
    let piece = last
    if (this.#blocks.length > 0) {
      let size = last.length
      for (const block of this.#blocks) size += block.length
      piece = new Uint8Array(size)
      let o = 0
      for (const block of [...this.#blocks, last]) {
        piece.set(block, o)
        o += block.length
      }
      this.#blocks.length = 0
    }
    this.#hint = Math.max(this.#hint, Math.ceil(piece.length * 1.1))
    // another buffer: the piece's may be transferred to another thread
    this.buffer = final ? new ArrayBuffer(0) : this.#fresh(this.#hint)
    this.view = new DataView(this.buffer)
    this.index = 0
    return piece
  }

  /** The hint for the next file's sink: pieces of a dataset come out about the same size. */
  get hint(): number {
    return this.#hint
  }

  override getBytes(): Uint8Array<ArrayBuffer> {
    throw new Error("Cannot read a PieceWriter whole: take() its pieces")
  }
}
