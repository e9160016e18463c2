import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { CompactError } from "../src/errors.ts"
import { planCompaction, resolveTip } from "../src/plan.ts"

const RUNS = { numRuns: 500 }
const block = fc.bigInt({ min: 0n, max: 1n << 40n })
const request = fc.tuple(block, fc.bigInt({ min: 0n, max: 100_000n })).map(([first, span]) => ({
  first,
  last: first + span,
}))

describe("planCompaction", () => {
  it("tiles a final request exactly with partitions that never pass the final tip", () => {
    fc.assert(
      fc.property(
        request,
        fc.option(fc.bigInt({ min: 1n, max: 50_000n }), { nil: undefined }),
        fc.bigInt({ min: 0n, max: 1000n }),
        fc.bigInt({ min: 0n, max: 1000n }),
        (req, partitionSize, threshold, slack) => {
          const tip = req.last + threshold + slack
          const plan = planCompaction({ request: req, partitionSize, tip, threshold })
          assert.equal(plan.finalTip, tip - threshold)
          assert.equal(plan.partitions[0]!.first, req.first)
          assert.equal(plan.partitions.at(-1)!.last, req.last)
          for (const [i, p] of plan.partitions.entries()) {
            assert.ok(p.first <= p.last)
            assert.ok(p.last <= plan.finalTip)
            if (i > 0) assert.equal(p.first, plan.partitions[i - 1]!.last + 1n)
          }
          if (partitionSize === undefined) assert.equal(plan.partitions.length, 1)
        },
      ),
      RUNS,
    )
  })

  it("refuses with NOT_FINAL, planning nothing, when any block is above the final tip", () => {
    fc.assert(
      fc.property(
        request,
        fc.bigInt({ min: 0n, max: 1000n }),
        fc.bigInt({ min: 1n, max: 1000n }),
        (req, t, over) => {
          const tip = req.last + t - over
          assert.throws(
            () => planCompaction({ request: req, tip, threshold: t }),
            (e) =>
              e instanceof CompactError && e.code === "NOT_FINAL" &&
              /wait for \d+ more blocks/.test(e.message),
          )
        },
      ),
      RUNS,
    )
  })
})

describe("resolveTip", () => {
  it("prefers --tip, else the highest of the hot tip and the committed partitions' last blocks", () => {
    fc.assert(
      fc.property(
        fc.option(block, { nil: undefined }),
        fc.option(block, { nil: undefined }),
        fc.array(block),
        (f, h, c) => {
          if (f === undefined && h === undefined && c.length === 0) {
            assert.throws(
              () => resolveTip(f, h, c),
              (e) => e instanceof CompactError && e.code === "NOT_FINAL",
            )
            return
          }
          const tip = resolveTip(f, h, c)
          if (f !== undefined) return assert.equal(tip, f)
          const all = [...c, ...(h === undefined ? [] : [h])]
          assert.ok(all.includes(tip))
          assert.ok(all.every((x) => x <= tip))
        },
      ),
      RUNS,
    )
  })
})
