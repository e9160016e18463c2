/**
 * The sum of the per-row hashes of a COPY (see ROW_HASH in fingerprint.ts), exactly as Postgres
 * prints `sum(int8)` (a numeric, so it never overflows). Each int8 is added as its signed high and
 * unsigned low 32-bit words in doubles, which stay exact for 2^20 rows (2^20 × 2^32 < 2^53), and
 * are folded into a BigInt every 2^20 rows: no BigInt per row.
 *
 * The COPY sends each row's version in one of two forms (RowHashForm): "server", the int8 hash
 * itself as one last column; or "client", the raw `ctid, xmin` as two last columns, hashed here
 * with the same function (tidHash()). Both sum to the same fingerprint; the client form spares
 * Postgres, the producer of the whole pipeline, the xid-to-text-to-int8 cast and the hash per row
 * (the COPY of 1M blocks: 1.19× a plain COPY's wall time with the server's hash, 1.08× with ctid
 * and xmin). The client form is used only where checkRowHash() saw this server compute the same
 * hashes as tidHash() (hashtidextended() hashes the tid's bytes as they lie in memory, so a
 * big-endian server hashes differently).
 */
const FOLD_EVERY = 1 << 20

/** "server": the COPY sends ROW_HASH (one int8); "client": it sends `ctid, xmin`, hashed here. */
export type RowHashForm = "server" | "client"

/** What the COPY selects after the columns for each form. */
export const ROW_VERSION_COLUMNS: Readonly<Record<RowHashForm, string>> = {
  server: "hashtidextended(ctid, xmin::text::int8)",
  client: "ctid, xmin",
}

/** Bob Jenkins' lookup3 start for a 6-byte key, as Postgres' hash_bytes_extended() sets it. */
const INIT = (0x9e3779b9 + 6 + 3923095) | 0

/** Hashes of the last tidHash() call: [0] the high word (signed), [1] the low word (unsigned). */
export const tidHashOut = new Float64Array(2)

/**
 * hashtidextended(ctid, xmin::text::int8) of a little-endian server (hash_bytes_extended() over the
 * tid's 6 bytes, bi_hi, bi_lo and the offset, each a little-endian uint16, seeded with xmin), into
 * tidHashOut: the int8 is tidHashOut[0] × 2^32 + tidHashOut[1].
 */
export function tidHash(block: number, offset: number, xmin: number): void {
  let a = INIT
  let b = INIT
  let c = INIT
  if (xmin !== 0) {
    // the seed's high word (0: xmin is 32 bits) goes to a, its low word to b, then mix()
    b = (b + xmin) | 0
    a = (a - c) ^ ((c << 4) | (c >>> 28))
    c = (c + b) | 0
    b = (b - a) ^ ((a << 6) | (a >>> 26))
    a = (a + c) | 0
    c = (c - b) ^ ((b << 8) | (b >>> 24))
    b = (b + a) | 0
    a = (a - c) ^ ((c << 16) | (c >>> 16))
    c = (c + b) | 0
    b = (b - a) ^ ((a << 19) | (a >>> 13))
    a = (a + c) | 0
    c = (c - b) ^ ((b << 4) | (b >>> 28))
    b = (b + a) | 0
  }
  // the key: a += the first 4 bytes (bi_hi | bi_lo << 16), b += the offset
  a = (a + ((block >>> 16) | ((block & 0xffff) << 16))) | 0
  b = (b + offset) | 0
  // final()
  c = (c ^ b) - ((b << 14) | (b >>> 18))
  a = (a ^ c) - ((c << 11) | (c >>> 21))
  b = (b ^ a) - ((a << 25) | (a >>> 7))
  c = (c ^ b) - ((b << 16) | (b >>> 16))
  a = (a ^ c) - ((c << 4) | (c >>> 28))
  b = (b ^ a) - ((a << 14) | (a >>> 18))
  c = (c ^ b) - ((b << 24) | (b >>> 8))
  tidHashOut[0] = b | 0
  tidHashOut[1] = c >>> 0
}

/** Accumulates the rows of a COPY and the sum of their int8 row hashes. */
export class RowHashSum {
  #rows = 0
  #pending = 0 // rows added since the last fold
  #high = 0
  #low = 0
  #total = 0n

  constructor(readonly form: RowHashForm = "server") {}

  /** Fields each row carries after its columns: the hash, or ctid and xmin. */
  get fields(): number {
    return this.form === "server" ? 1 : 2
  }

  /**
   * Adds one row from its last fields, the first of them at index `at` of fieldStart/fieldLen:
   * false when they are not what the form sends (a non-null int8; a tid and an xid).
   */
  addFields(dv: DataView, fieldStart: Int32Array, fieldLen: Int32Array, at: number): boolean {
    const p = fieldStart[at]!
    if (this.form === "server") {
      if (fieldLen[at] !== 8) return false
      this.add(dv, p)
      return true
    }
    if (fieldLen[at] !== 6 || fieldLen[at + 1] !== 4) return false
    tidHash(dv.getUint32(p), dv.getUint16(p + 4), dv.getUint32(fieldStart[at + 1]!))
    this.#addWords(tidHashOut[0]!, tidHashOut[1]!)
    return true
  }

  /** Adds one row whose hash is the big-endian int8 at `dv[pos]`. */
  add(dv: DataView, pos: number): void {
    this.#addWords(dv.getInt32(pos), dv.getUint32(pos + 4))
  }

  #addWords(high: number, low: number): void {
    this.#high += high
    this.#low += low
    this.#rows++
    if (++this.#pending === FOLD_EVERY) this.#fold()
  }

  #fold(): void {
    this.#total += (BigInt(this.#high) << 32n) + BigInt(this.#low)
    this.#high = 0
    this.#low = 0
    this.#pending = 0
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows
  }

  /** The sum as Postgres prints it ("0" for no rows). */
  get sum(): string {
    this.#fold()
    return this.#total.toString()
  }
}
