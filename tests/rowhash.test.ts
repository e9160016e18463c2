import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { RowHashSum } from "../src/pg/rowhash.ts"

/** Sums int8 row hashes through RowHashSum, as the COPY decoder does, each from its big-endian bytes. */
function sumOf(values: Iterable<bigint>): RowHashSum {
  const dv = new DataView(new ArrayBuffer(8))
  const sum = new RowHashSum()
  for (const v of values) {
    dv.setBigInt64(0, v)
    sum.add(dv, 0)
  }
  return sum
}

const MIN = -(2n ** 63n)
const MAX = 2n ** 63n - 1n

describe("RowHashSum", () => {
  it("sums int8 values exactly as Postgres' sum(int8) prints them", () => {
    const int8 = fc.oneof(
      fc.bigInt(MIN, MAX),
      fc.constantFrom(MIN, MAX, -1n, 0n, 1n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n)),
    )
    fc.assert(
      fc.property(fc.array(int8, { maxLength: 200 }), (values) => {
        const sum = sumOf(values)
        assert.equal(sum.sum, values.reduce((a, b) => a + b, 0n).toString())
        assert.equal(sum.rows, values.length)
      }),
      { numRuns: 500 },
    )
  })

  it("stays exact over more rows than doubles could sum unfolded (2^22 of the largest words)", () => {
    const n = (1 << 22) + 3 // low words of 2^32 - 1 sum past 2^53 after 2^21 rows
    for (const v of [MAX, MIN]) {
      const sum = sumOf(function* () {
        for (let i = 0; i < n; i++) yield v
      }())
      assert.equal(sum.sum, (v * BigInt(n)).toString())
      assert.equal(sum.rows, n)
    }
  })

  it("reads a sum more than once without counting twice", () => {
    const sum = sumOf([5n, -7n])
    assert.equal(sum.sum, "-2")
    assert.equal(sum.sum, "-2")
    assert.equal(new RowHashSum().sum, "0")
  })
})
