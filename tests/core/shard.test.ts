import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { partitionsOfShard, shardFromSettings, shardOf } from "../../src/core/shard.ts"
import { CompactError } from "../../src/errors.ts"
import { wholePartitions } from "../../src/readiness.ts"

const RUNS = { numRuns: 500 }
const size = fc.bigInt({ min: 1n, max: 100_000n })
const count = fc.integer({ min: 1, max: 12 })

describe("shards", () => {
  it("give every partition to exactly one shard, the same on every call, balanced within one", () => {
    fc.assert(
      fc.property(
        size,
        count,
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.integer({ min: 1, max: 200 }),
        (s, n, start, k) => {
          const first = start * s
          const partitions = wholePartitions({ first, last: first + BigInt(k) * s - 1n }, s)
          const shares = Array.from(
            { length: n },
            (_, i) => partitionsOfShard(partitions, s, { index: i, count: n }),
          )
          // exactly one shard each: the shares are disjoint and together are all partitions
          const all = shares.flat().map((p) => p.first).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
          assert.deepEqual(all, partitions.map((p) => p.first))
          for (const p of partitions) {
            assert.equal(shares.filter((share) => share.some((q) => q.first === p.first)).length, 1)
            assert.equal(shardOf(p, s, n), shardOf({ ...p }, s, n)) // deterministic
          }
          const sizes = shares.map((share) => share.length)
          assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`)
          // each share keeps the oldest-first order
          for (const share of shares) {
            for (let i = 1; i < share.length; i++) {
              assert.ok(share[i - 1]!.first < share[i]!.first)
            }
          }
        },
      ),
      RUNS,
    )
  })

  it("without a shard, keeps every partition", () => {
    const parts = wholePartitions({ first: 0n, last: 99n }, 10n)
    assert.deepEqual(partitionsOfShard(parts, 10n, undefined), parts)
    assert.equal(shardFromSettings({}), undefined)
    assert.deepEqual(shardFromSettings({ shardIndex: 2, shardCount: 3 }), { index: 2, count: 3 })
  })

  it("refuses an index outside the count and a count below one", () => {
    const parts = wholePartitions({ first: 0n, last: 99n }, 10n)
    assert.throws(() => partitionsOfShard(parts, 10n, { index: 3, count: 3 }), CompactError)
    assert.throws(() => shardOf(parts[0]!, 10n, 0), /shard count/)
  })

  it("examples", () => {
    assert.equal(shardOf({ first: 20000n, last: 29999n }, 10000n, 3), 2)
    assert.equal(shardOf({ first: 30000n, last: 39999n }, 10000n, 3), 0)
  })
})
