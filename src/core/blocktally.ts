/**
 * Which blocks of a range an ascending stream of block numbers lacks: the blocks dataset's
 * completeness taken from the very rows its COPY streams (the COPY's own snapshot, and no scan of
 * its own). Pure, no I/O.
 *
 * @example
 * ```ts
 * const tally = new BlockTally({ first: 10n, last: 15n })
 * for (const b of [10, 11, 11, 14]) tally.see(b)
 * tally.finish() // { missing: 3n, first: [12n, 13n, 15n] }
 * ```
 */
import type { BlockRange } from "./range.ts"

/** Blocks a range lacks: how many, and the first few. */
export interface MissingBlocks {
  readonly missing: bigint
  readonly first: bigint[]
}

/** Counts the blocks of `range` missing from the blocks passed to see(), in ascending order. */
export class BlockTally {
  readonly #first: number
  readonly #last: number
  readonly #limit: number
  #expected: number // the lowest block of the range not seen and not counted missing yet
  #previous = -Infinity
  #missing = 0
  readonly #firstMissing: number[] = []
  #unordered = false

  /** `limit`: how many missing blocks to name. The range must lie below 2^53. */
  constructor(range: BlockRange, limit = 5) {
    if (range.last >= 2n ** 53n || range.first < 0n) {
      throw new RangeError(`Cannot tally blocks ${range.first}-${range.last}: beyond 2^53`)
    }
    this.#first = Number(range.first)
    this.#last = Number(range.last)
    this.#limit = limit
    this.#expected = this.#first
  }

  /** Takes the next block of the stream (repeats allowed: a block may have several rows). */
  see(block: number): void {
    if (block === this.#previous) return
    if (!Number.isSafeInteger(block)) {
      this.#unordered = true // NULL or beyond 2^53: no answer
      return
    }
    if (block < this.#previous) this.#unordered = true
    this.#previous = block
    if (block < this.#expected || block > this.#last) return
    if (block > this.#expected) this.#gap(this.#expected, block - 1)
    this.#expected = block + 1
  }

  #gap(from: number, to: number): void {
    this.#missing += to - from + 1
    for (let b = from; b <= to && this.#firstMissing.length < this.#limit; b++) this.#firstMissing.push(b)
  }

  /** What the range lacks, once the stream ended; undefined when it was not ascending (no answer). */
  finish(): MissingBlocks | undefined {
    if (this.#unordered) return undefined
    if (this.#expected <= this.#last) {
      this.#gap(this.#expected, this.#last)
      this.#expected = this.#last + 1
    }
    return { missing: BigInt(this.#missing), first: this.#firstMissing.map(BigInt) }
  }
}
