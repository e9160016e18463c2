import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { decidePartition } from "../../src/core/decide.ts"
import { mergeRanges } from "../../src/core/range.ts"
import {
  classify,
  finalUncompactedBlocks,
  missingIn,
  type PartitionFacts,
  planStart,
  planWindow,
  type ReadinessContext,
  wholePartitions,
} from "../../src/readiness.ts"

const RUNS = { numRuns: 1000 }
const size = fc.bigInt({ min: 1n, max: 50n })
const small = fc.bigInt({ min: 0n, max: 400n })
const rangeIn = (lo: bigint, hi: bigint) =>
  fc.tuple(fc.bigInt({ min: lo, max: hi }), fc.bigInt({ min: lo, max: hi }))
    .map(([a, b]) => (a <= b ? { first: a, last: b } : { first: b, last: a }))
const ranges = fc.array(rangeIn(0n, 400n), { maxLength: 5 }).map(mergeRanges)

// few distinct values, so that equal fingerprints and empty key sets come up often
const rows = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4 }))
const fp = fc.constantFrom("0", "7")
const facts = (range: { first: bigint; last: bigint }): fc.Arbitrary<PartitionFacts> =>
  fc.record({
    range: fc.constant(range),
    hot: fc.record({ rows, fingerprint: fp }),
    committed: fc.option(
      fc.record({
        rows,
        schemaHash: fc.constantFrom("s1", "s2"),
        source: fc.option(fc.record({ rows, fingerprint: fp, encoding: fc.constant("e") }), {
          nil: undefined,
        }),
      }),
      { nil: undefined },
    ),
    overlapping: fc.option(fc.constant("0-5"), { nil: undefined }),
    keys: fc.record({
      coldOnly: fc.integer({ min: 0, max: 2 }),
      hotOnly: fc.integer({ min: 0, max: 2 }),
      shared: fc.integer({ min: 0, max: 2 }),
      hotOnlyBlocks: fc.constant([range.first]),
    }),
    missing: fc.oneof(fc.constant([]), fc.constant([{ first: range.first, last: range.first }])),
    locked: fc.boolean(),
  })
const context = fc.record({
  dataset: fc.constant("logs"),
  tip: fc.bigInt({ min: 0n, max: 300n }),
  threshold: fc.bigInt({ min: 0n, max: 100n }),
  schemaHash: fc.constantFrom("s1", "s2"),
  encoding: fc.constant("e"),
  deleteHot: fc.boolean(),
  mergeLate: fc.boolean(),
}) as fc.Arbitrary<ReadinessContext>
const partition = fc.tuple(size, fc.bigInt({ min: 0n, max: 20n })).map(([s, i]) => ({
  first: i * s,
  last: i * s + s - 1n,
}))

describe("whole partitions", () => {
  it("are aligned, whole, contiguous and hold both ends of the request", () => {
    fc.assert(
      fc.property(size, rangeIn(0n, 2000n), (s, req) => {
        const parts = wholePartitions(req, s)
        assert.ok(parts[0]!.first <= req.first && req.last <= parts.at(-1)!.last)
        for (const [i, p] of parts.entries()) {
          assert.equal(p.first % s, 0n)
          assert.equal(p.last - p.first + 1n, s)
          if (i > 0) assert.equal(p.first, parts[i - 1]!.last + 1n)
        }
        assert.ok(parts[0]!.first + s > req.first, "no partition wholly below the request")
        assert.ok(parts.at(-1)!.first <= req.last, "no partition wholly above the request")
      }),
      RUNS,
    )
  })

  it("the plan window lists partitions up to the tip's bucket and leaves the rest as one range above it", () => {
    fc.assert(
      fc.property(size, rangeIn(0n, 2000n), fc.bigInt({ min: -5n, max: 2500n }), (s, req, tip) => {
        const { partitions, beyond } = planWindow(req, s, tip)
        const whole = wholePartitions(req, s)
        const end = beyond ? beyond.last : partitions.at(-1)!.last
        assert.equal(end, whole.at(-1)!.last)
        assert.deepEqual(partitions, whole.slice(0, partitions.length))
        if (beyond) {
          assert.ok(beyond.first > tip, "what is not listed is above the tip")
          assert.equal(beyond.first, partitions.length > 0 ? partitions.at(-1)!.last + 1n : whole[0]!.first)
        }
        for (const p of partitions) assert.ok(p.first <= (tip < 0n ? 0n : tip) || p.first === whole[0]!.first)
      }),
      RUNS,
    )
  })
})

describe("classify", () => {
  it("is ready only when final, unlocked, complete when it must write, and never what the run loop refuses", () => {
    fc.assert(
      fc.property(partition.chain((r) => facts(r)), context, (f, ctx) => {
        const v = classify(f, ctx)
        const finalTip = ctx.tip - ctx.threshold
        assert.equal(v.key, `${f.range.first}-${f.range.last}`)
        if (f.range.last > finalTip) {
          assert.equal(v.status, "not-final")
          assert.equal(v.blocksToFinality, f.range.last - finalTip)
          return
        }
        if (f.locked) return assert.equal(v.status, "locked")
        const plan = decidePartition({
          range: f.range,
          dataset: ctx.dataset,
          committed: f.committed,
          overlapping: f.overlapping,
          orphans: [],
          missingFiles: [],
          hot: f.hot!,
          keys: f.keys,
          schemaHash: ctx.schemaHash,
          encoding: ctx.encoding,
        }, ctx)
        if (v.status === "ready") {
          assert.notEqual(plan.action, "refuse")
          if (plan.action === "keep") {
            assert.ok(ctx.deleteHot && f.hot!.rows > 0, "kept partitions are ready only to delete hot rows")
          }
          if (plan.action === "write" && plan.checkComplete) assert.deepEqual(f.missing, [])
        }
        if (plan.action === "refuse") assert.ok(["late-rows", "conflict"].includes(v.status), v.status)
        if (plan.action === "write" && !(plan.checkComplete && f.missing.length > 0)) {
          assert.equal(v.status, "ready")
        }
        if (plan.action === "write" && plan.checkComplete && f.missing.length > 0) {
          assert.equal(v.status, "gap")
          assert.equal(v.firstMissing, f.missing[0]!.first)
        }
      }),
      RUNS,
    )
  })

  it("examples: late rows, unchanged, gap, not final, locked", () => {
    const ctx: ReadinessContext = {
      dataset: "logs",
      tip: 1000n,
      threshold: 100n,
      schemaHash: "s",
      encoding: "e",
      deleteHot: false,
      mergeLate: false,
    }
    const range = { first: 0n, last: 99n }
    const committed = { rows: 5, schemaHash: "s", source: { rows: 5, fingerprint: "1", encoding: "e" } }
    const lateFacts: PartitionFacts = {
      range,
      hot: { rows: 1, fingerprint: "9" },
      committed,
      keys: { coldOnly: 5, hotOnly: 1, shared: 0, hotOnlyBlocks: [42n] },
      missing: [],
      locked: false,
    }
    const late = classify(lateFacts, ctx)
    assert.equal(late.status, "late-rows")
    assert.match(late.reason, /1 late rows \(blocks 42\)/)
    assert.equal(classify(lateFacts, { ...ctx, mergeLate: true }).status, "ready") // merged as new files
    const unchanged = classify({
      range,
      hot: { rows: 5, fingerprint: "1" },
      committed,
      missing: [],
      locked: false,
    }, ctx)
    assert.equal(unchanged.status, "committed")
    assert.equal(
      classify({ range, hot: { rows: 5, fingerprint: "1" }, committed, missing: [], locked: false }, {
        ...ctx,
        deleteHot: true,
      })
        .status,
      "ready",
    )
    const gap = classify({
      range,
      hot: { rows: 3, fingerprint: "2" },
      missing: [{ first: 7n, last: 8n }],
      locked: false,
    }, ctx)
    assert.deepEqual([gap.status, gap.reason], ["gap", "gap at block 7 (2 blocks missing: 7-8)"])
    const tail = classify({ range: { first: 900n, last: 999n }, missing: [], locked: false }, ctx)
    assert.deepEqual([tail.status, tail.reason], ["not-final", "99 blocks to finality (final tip 900)"])
    assert.equal(
      classify({ range, hot: { rows: 3, fingerprint: "2" }, missing: [], locked: true }, ctx).status,
      "locked",
    )
  })
})

describe("plan start and the threshold", () => {
  it("final uncompacted blocks are the final blocks from the start that no partition covers", () => {
    fc.assert(
      fc.property(small, fc.bigInt({ min: -10n, max: 400n }), ranges, (first, finalTip, covered) => {
        let n = 0n
        for (let b = first; b <= finalTip; b++) if (!covered.some((r) => r.first <= b && b <= r.last)) n++
        assert.equal(finalUncompactedBlocks(first, finalTip, covered), n)
      }),
      { numRuns: 300 },
    )
  })

  it("starts at the lower of the lowest hot block and the first uncompacted block", () => {
    assert.equal(planStart(undefined, undefined, []), undefined)
    assert.equal(planStart(500n, 0n, []), 0n) // no manifest: the blocks table's lowest block
    assert.equal(planStart(500n, undefined, [{ first: 0n, last: 299n }]), 300n)
    assert.equal(planStart(120n, undefined, [{ first: 0n, last: 299n }]), 120n) // late rows below
    assert.equal(planStart(undefined, 7n, [{ first: 100n, last: 199n }]), 200n)
  })

  it("missingIn keeps the parts of the missing blocks inside the range", () => {
    fc.assert(
      fc.property(rangeIn(0n, 400n), ranges, (range, missing) => {
        const inside = missingIn(range, missing)
        for (let b = range.first; b <= range.last; b++) {
          assert.equal(
            inside.some((r) => r.first <= b && b <= r.last),
            missing.some((r) => r.first <= b && b <= r.last),
          )
        }
        for (const r of inside) assert.ok(range.first <= r.first && r.last <= range.last)
      }),
      { numRuns: 300 },
    )
  })
})
