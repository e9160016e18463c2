import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { BlockTally } from "../../src/core/blocktally.ts"

/** A range near 0 or near 2^53, and a sorted stream of its blocks with repeats and holes. */
const streams = fc.tuple(
  fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(2 ** 53 - 60)),
  fc.integer({ min: 0, max: 40 }),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 45 }), fc.integer({ min: 1, max: 3 })), { maxLength: 60 }),
).map(([first, length, picks]) => {
  const last = first + length
  // offsets may fall outside the range by a few: the COPY never sends those, the tally ignores them
  const blocks = picks.flatMap(([o, n]) => Array<number>(n).fill(first + o - 2)).sort((a, b) => a - b)
  return { first, last, blocks }
})

describe("BlockTally", () => {
  it("finds the blocks of the range the ascending stream lacks: how many, and the first five", () => {
    fc.assert(
      fc.property(streams, ({ first, last, blocks }) => {
        const tally = new BlockTally({ first: BigInt(first), last: BigInt(last) })
        for (const b of blocks) tally.see(b)
        const seen = new Set(blocks)
        const lacking: number[] = []
        for (let b = first; b <= last; b++) if (!seen.has(b)) lacking.push(b)
        assert.deepEqual(tally.finish(), {
          missing: BigInt(lacking.length),
          first: lacking.slice(0, 5).map(BigInt),
        })
      }),
      { numRuns: 1000 },
    )
  })

  it("gives no answer for a stream out of order, a NULL or a value past 2^53", () => {
    for (const bad of [[3, 2], [1, Number.NaN, 2], [1, 2 ** 53 + 2]]) {
      const tally = new BlockTally({ first: 0n, last: 5n })
      for (const b of bad) tally.see(b)
      assert.equal(tally.finish(), undefined, String(bad))
    }
  })

  it("counts a whole range missing when nothing came", () => {
    const tally = new BlockTally({ first: 10n, last: 1_000_000n }, 3)
    assert.deepEqual(tally.finish(), { missing: 999_991n, first: [10n, 11n, 12n] })
  })

  it("refuses a range past 2^53", () => {
    assert.throws(() => new BlockTally({ first: 0n, last: 2n ** 53n }), RangeError)
  })
})
