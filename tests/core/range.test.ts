import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { CompactError } from "../../src/errors.ts"
import {
  type BlockRange,
  blockRange,
  contains,
  formatRange,
  mergeRanges,
  overlaps,
  partitionRange,
  planFinalPartitions,
  rangeLength,
  subtractRanges,
} from "../../src/core/range.ts"

const RUNS = { numRuns: 500 }
const U64 = 2n ** 64n - 1n

/** A request and a partition size; small sizes with short requests, huge ones near 2^64. */
const request = fc.oneof(
  fc.record({ first: fc.bigInt(0n, 100_000n), len: fc.bigInt(1n, 3_000n), size: fc.bigInt(1n, 1_000n) }),
  fc.record({
    first: fc.bigInt(0n, U64 / 2n),
    len: fc.bigInt(1n, U64 / 2n),
    size: fc.bigInt(U64 / 64n, U64),
  }),
).map(({ first, len, size }) => ({ req: blockRange(first, first + len - 1n), size }))

/** Ranges inside 0..SMALL, so that membership can be checked block by block. */
const SMALL = 120n
const smallRange = fc.tuple(fc.bigInt(0n, SMALL), fc.bigInt(0n, 15n))
  .map(([first, len]) => blockRange(first, first + len))
const inAny = (b: bigint, rs: readonly BlockRange[]) => rs.some((r) => contains(r, b))

function assertSortedDisjoint(rs: readonly BlockRange[], gapNeeded: boolean): void {
  for (const [i, r] of rs.entries()) {
    assert.ok(r.first <= r.last)
    const prev = rs[i - 1]
    if (prev !== undefined) {
      assert.ok(prev.last + (gapNeeded ? 1n : 0n) < r.first, `${formatRange(prev)} ${formatRange(r)}`)
    }
  }
}

describe("blockRange", () => {
  it("accepts first <= last and refuses the rest with BAD_INPUT", () => {
    const table: [bigint, bigint, boolean][] = [[0n, 0n, true], [5n, 9n, true], [9n, 5n, false], [
      -1n,
      3n,
      false,
    ]]
    for (const [first, last, ok] of table) {
      if (ok) assert.deepEqual(blockRange(first, last), { first, last })
      else {assert.throws(() =>
          blockRange(first, last), (e) =>
          e instanceof CompactError && e.code === "BAD_INPUT")}
    }
  })
  it("formats, measures, compares", () => {
    const r = blockRange(100n, 199n)
    assert.equal(formatRange(r), "100-199")
    assert.equal(rangeLength(r), 100n)
    assert.ok(
      contains(r, 100n) && contains(r, 199n) && !contains(r, 200n) && contains(r, blockRange(150n, 199n)),
    )
    assert.ok(overlaps(r, blockRange(199n, 300n)) && !overlaps(r, blockRange(200n, 300n)))
  })
})

describe("partitionRange", () => {
  it("splits at aligned boundaries (examples)", () => {
    const table: [BlockRange, bigint, string[]][] = [
      [blockRange(5000n, 25000n), 10000n, ["5000-9999", "10000-19999", "20000-25000"]],
      [blockRange(0n, 9999n), 10000n, ["0-9999"]],
      [blockRange(10000n, 10000n), 10000n, ["10000-10000"]],
      [blockRange(9999n, 10000n), 10000n, ["9999-9999", "10000-10000"]],
      [blockRange(3n, 7n), 1n, ["3-3", "4-4", "5-5", "6-6", "7-7"]],
    ]
    for (const [req, size, want] of table) assert.deepEqual(partitionRange(req, size).map(formatRange), want)
  })
  it("refuses a size below 1 with BAD_INPUT", () => {
    for (const size of [0n, -10n]) {
      assert.throws(
        () => partitionRange(blockRange(0n, 1n), size),
        (e) => e instanceof CompactError && e.code === "BAD_INPUT",
      )
    }
  })
  it("tiles the request exactly, without overlap", () => {
    fc.assert(
      fc.property(request, ({ req, size }) => {
        const pieces = partitionRange(req, size)
        assert.equal(pieces[0]?.first, req.first)
        assert.equal(pieces[pieces.length - 1]?.last, req.last)
        for (const [i, p] of pieces.entries()) {
          assert.ok(p.first <= p.last)
          const prev = pieces[i - 1]
          if (prev !== undefined) assert.equal(p.first, prev.last + 1n)
        }
        assertSortedDisjoint(pieces, false)
      }),
      RUNS,
    )
  })
  it("puts each piece in one aligned bucket and cuts only at bucket boundaries", () => {
    fc.assert(
      fc.property(request, ({ req, size }) => {
        const pieces = partitionRange(req, size)
        for (const [i, p] of pieces.entries()) {
          const k = p.first / size
          assert.ok(k * size <= p.first && p.last <= (k + 1n) * size - 1n, `${formatRange(p)} size ${size}`)
          if (i > 0) assert.equal(p.first % size, 0n)
        }
      }),
      RUNS,
    )
  })
})

describe("planFinalPartitions", () => {
  const withTip = request.chain(({ req, size }) =>
    fc.record({
      req: fc.constant(req),
      size: fc.constant(size),
      tip: fc.bigInt(req.first - 3n * size, req.last + size),
    })
  )
  it("returns exactly the aligned pieces at or below the final tip", () => {
    fc.assert(
      fc.property(withTip, ({ req, size, tip }) => {
        const planned = planFinalPartitions(req, size, tip)
        assert.deepEqual(planned, partitionRange(req, size).filter((p) => p.last <= tip))
        for (const p of planned) assert.ok(p.last <= tip)
      }),
      RUNS,
    )
  })
  it("leaves out a bucket that straddles the final tip (example)", () => {
    assert.deepEqual(planFinalPartitions(blockRange(0n, 30000n), 10000n, 25400n).map(formatRange), [
      "0-9999",
      "10000-19999",
    ])
    assert.deepEqual(planFinalPartitions(blockRange(0n, 30000n), 10000n, -1n), [])
    assert.deepEqual(planFinalPartitions(blockRange(0n, U64), 10n, 25n).map(formatRange), ["0-9", "10-19"])
  })
})

describe("mergeRanges and subtractRanges", () => {
  it("merge keeps the same blocks, sorted, disjoint and not adjacent", () => {
    fc.assert(
      fc.property(fc.array(smallRange, { maxLength: 8 }), (ranges) => {
        const merged = mergeRanges(ranges)
        assertSortedDisjoint(merged, true)
        for (let b = 0n; b <= SMALL + 16n; b++) assert.equal(inAny(b, merged), inAny(b, ranges), `block ${b}`)
      }),
      RUNS,
    )
  })
  it("subtract leaves exactly the blocks of the range outside the covered ones", () => {
    fc.assert(
      fc.property(smallRange, fc.array(smallRange, { maxLength: 8 }), (range, covered) => {
        const gaps = subtractRanges(range, covered)
        assertSortedDisjoint(gaps, true)
        for (let b = 0n; b <= SMALL + 16n; b++) {
          assert.equal(inAny(b, gaps), contains(range, b) && !inAny(b, covered), `block ${b}`)
        }
      }),
      RUNS,
    )
  })
  it("examples", () => {
    const r = (s: string) => {
      const [a, b] = s.split("-").map(BigInt)
      return blockRange(a ?? 0n, b ?? 0n)
    }
    assert.deepEqual(mergeRanges([r("10-19"), r("0-9"), r("30-40"), r("35-36")]), [r("0-19"), r("30-40")])
    assert.deepEqual(subtractRanges(r("0-99"), [r("10-19"), r("50-120")]), [r("0-9"), r("20-49")])
    assert.deepEqual(subtractRanges(r("0-99"), []), [r("0-99")])
    assert.deepEqual(subtractRanges(r("10-20"), [r("0-30")]), [])
  })
})
