import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import {
  BAR_CHARS,
  coldGaps,
  coverageDomain,
  type CoverageInput,
  coverageSegments,
  hotCountState,
  overlappingPartitions,
  renderBar,
  type Segment,
  type SegmentKind,
} from "../../src/core/coverage.ts"
import { type BlockRange, blockRange, contains, overlaps } from "../../src/core/range.ts"

const RUNS = { numRuns: 500 }
const SMALL = 200n // blocks 0..SMALL, small enough to check block by block
const range = fc.tuple(fc.bigInt(0n, SMALL), fc.bigInt(0n, 40n)).map(([a, n]) => blockRange(a, a + n))
const input: fc.Arbitrary<CoverageInput> = fc.record({
  cold: fc.array(range, { maxLength: 6 }),
  hot: fc.oneof(range, fc.constant(null), fc.constant(undefined)),
  finalTip: fc.option(fc.bigInt(-50n, SMALL + 50n), { nil: undefined }),
  tip: fc.option(fc.bigInt(0n, SMALL + 60n), { nil: undefined }),
})

/** The kind of one block by the definition, block by block. */
function kindOf(b: bigint, i: CoverageInput): SegmentKind {
  if (i.cold.some((r) => contains(r, b))) return "cold"
  if (i.finalTip !== undefined && b > i.finalTip) return "not_final"
  if (i.hot === undefined) return "unknown"
  if (i.hot !== null && contains(i.hot, b)) return "hot"
  return "gap"
}

const kindAt = (segments: readonly Segment[], b: bigint) => segments.find((s) => contains(s.range, b))?.kind

describe("coverageSegments", () => {
  it("tiles the domain with sorted segments, neighbours of different kinds", () => {
    fc.assert(
      fc.property(input, (i) => {
        const segments = coverageSegments(i)
        const domain = coverageDomain(i)
        if (domain === undefined) return assert.deepEqual(segments, [])
        assert.equal(segments[0]!.range.first, domain.first)
        assert.equal(segments.at(-1)!.range.last, domain.last)
        for (const [k, s] of segments.entries()) {
          assert.ok(s.range.first <= s.range.last)
          const prev = segments[k - 1]
          if (prev === undefined) continue
          assert.equal(prev.range.last + 1n, s.range.first)
          assert.notEqual(prev.kind, s.kind)
        }
      }),
      RUNS,
    )
  })

  it("gives every block the kind its definition says", () => {
    fc.assert(
      fc.property(input, (i) => {
        const segments = coverageSegments(i)
        const domain = coverageDomain(i)
        if (domain === undefined) return
        for (let b = domain.first; b <= domain.last; b++) {
          assert.equal(kindAt(segments, b), kindOf(b, i), `block ${b}`)
        }
      }),
      RUNS,
    )
  })

  it("spans from the lowest cold or hot block to the tip", () => {
    const segments = coverageSegments({
      cold: [blockRange(0n, 299n), blockRange(500n, 999n)],
      hot: blockRange(900n, 1199n),
      finalTip: 1099n,
      tip: 1199n,
    })
    assert.deepEqual(segments.map((s) => [s.kind, s.range.first, s.range.last]), [
      ["cold", 0n, 299n],
      ["gap", 300n, 499n],
      ["cold", 500n, 999n],
      ["hot", 1000n, 1099n],
      ["not_final", 1100n, 1199n],
    ])
    assert.deepEqual(coverageSegments({ cold: [], tip: 10n }), [])
  })

  it("calls blocks outside cold storage unknown when the hot table was not consulted, gaps when it is empty", () => {
    const cold = [blockRange(0n, 299n), blockRange(500n, 999n)]
    const kinds = (hot: null | undefined) =>
      coverageSegments({ cold, hot, finalTip: 1099n, tip: 1199n }).map((
        s,
      ) => [s.kind, s.range.first, s.range.last])
    assert.deepEqual(kinds(undefined), [
      ["cold", 0n, 299n],
      ["unknown", 300n, 499n],
      ["cold", 500n, 999n],
      ["unknown", 1000n, 1099n],
      ["not_final", 1100n, 1199n],
    ])
    assert.deepEqual(kinds(null).map((k) => k[0]), ["cold", "gap", "cold", "gap", "not_final"])
  })
})

describe("coldGaps and overlappingPartitions", () => {
  it("coldGaps and the partitions tile first..last exactly, the gaps disjoint from every partition", () => {
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 6 }), (parts) => {
        const gaps = coldGaps(parts)
        const lo = parts.reduce((a, r) => (r.first < a ? r.first : a), SMALL * 2n)
        const hi = parts.reduce((a, r) => (r.last > a ? r.last : a), 0n)
        for (let b = lo; b <= hi; b++) {
          const inGap = gaps.some((g) => contains(g, b))
          assert.notEqual(inGap, parts.some((r) => contains(r, b)), `block ${b}`)
        }
        assert.ok(gaps.every((g) => lo <= g.first && g.last <= hi))
      }),
      RUNS,
    )
    assert.deepEqual(coldGaps([]), [])
  })

  it("reports overlaps exactly when two partitions share a block, and only real ones", () => {
    fc.assert(
      fc.property(fc.array(range, { maxLength: 6 }), (ranges) => {
        const keyed = ranges.map((r, k) => ({ key: `p${k}`, range: r }))
        const pairs = overlappingPartitions(keyed)
        const anyOverlap = keyed.some((a, x) => keyed.some((b, y) => x < y && overlaps(a.range, b.range)))
        assert.equal(pairs.length > 0, anyOverlap)
        for (const [a, b] of pairs) {
          assert.notEqual(a.key, b.key)
          assert.ok(overlaps(a.range, b.range))
        }
      }),
      RUNS,
    )
  })
})

describe("hotCountState", () => {
  it("0 hot rows is archived, the same count is not deleted, anything else is late rows", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.bigInt(0n, 10_000n), (cold, hot) => {
        const state = hotCountState(cold, hot)
        assert.equal(state, hot === 0n ? "archived" : hot === BigInt(cold) ? "not_deleted" : "late_rows")
      }),
      RUNS,
    )
  })
})

describe("renderBar", () => {
  const width = fc.integer({ min: 1, max: 80 })

  it("is exactly width characters from the legend", () => {
    fc.assert(
      fc.property(input, width, (i, w) => {
        const domain = coverageDomain(i)
        if (domain === undefined) return
        const bar = [...renderBar(coverageSegments(i), domain, w)]
        assert.equal(bar.length, w)
        const chars = new Set(Object.values(BAR_CHARS))
        assert.ok(bar.every((c) => chars.has(c)))
      }),
      RUNS,
    )
  })

  it("shows every gap, however small, and every kind once the bar has a cell per block", () => {
    fc.assert(
      fc.property(input, width, (i, w) => {
        const domain = coverageDomain(i)
        if (domain === undefined) return
        const segments = coverageSegments(i)
        const bar = renderBar(segments, domain, w)
        if (segments.some((s) => s.kind === "gap")) assert.ok(bar.includes(BAR_CHARS.gap))
        const wide = renderBar(segments, domain, Number(domain.last - domain.first + 1n))
        for (const s of segments) assert.ok(wide.includes(BAR_CHARS[s.kind]), s.kind)
      }),
      RUNS,
    )
  })

  it("draws a cell wholly inside one segment with that segment's character", () => {
    fc.assert(
      fc.property(input, width, (i, w) => {
        const domain = coverageDomain(i)
        if (domain === undefined) return
        const segments = coverageSegments(i)
        const bar = [...renderBar(segments, domain, w)]
        const n = domain.last - domain.first + 1n
        for (const [k, c] of bar.entries()) {
          const first = domain.first + (BigInt(k) * n) / BigInt(w)
          const end = domain.first + (BigInt(k + 1) * n) / BigInt(w) - 1n
          const cell: BlockRange = { first, last: end < first ? first : end }
          const whole = segments.find((s) => contains(s.range, cell))
          if (whole) assert.equal(c, BAR_CHARS[whole.kind])
        }
      }),
      RUNS,
    )
  })

  it("draws the documented example and leaves blocks outside the segments blank", () => {
    const segments = coverageSegments({
      cold: [blockRange(0n, 499n)],
      hot: blockRange(700n, 1199n),
      finalTip: 1099n,
      tip: 1199n,
    })
    assert.equal(renderBar(segments, blockRange(0n, 1199n), 12), "█████!!▒▒▒▒░")
    assert.equal(renderBar(segments, blockRange(0n, 2399n), 4), "!!  ") // a cell with a gap shows it
    const cold = coverageSegments({ cold: [blockRange(0n, 499n)] })
    assert.equal(renderBar(cold, blockRange(0n, 999n), 4), "██  ")
  })
})
