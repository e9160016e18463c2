/**
 * The sum of the per-row hashes a COPY sends as its last column (see ROW_HASH in fingerprint.ts),
 * exactly as Postgres prints `sum(int8)` (a numeric, so it never overflows). Each int8 is added as
 * its signed high and unsigned low 32-bit words in doubles, which stay exact for 2^20 rows (2^20 ×
 * 2^32 < 2^53), and are folded into a BigInt every 2^20 rows: no BigInt per row.
 */
const FOLD_EVERY = 1 << 20

/** Accumulates the rows of a COPY and the sum of their int8 row hashes. */
export class RowHashSum {
  #rows = 0
  #pending = 0 // rows added since the last fold
  #high = 0
  #low = 0
  #total = 0n

  /** Adds one row whose hash is the big-endian int8 at `dv[pos]`. */
  add(dv: DataView, pos: number): void {
    this.#high += dv.getInt32(pos)
    this.#low += dv.getUint32(pos + 4)
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
