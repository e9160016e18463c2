import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { RowHashSum, tidHash, tidHashOut } from "../src/pg/rowhash.ts"

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

  it("hashes a row version (ctid, xmin) as Postgres 15's hashtidextended(ctid, xmin::text::int8)", () => {
    // printed by `SELECT hashtidextended('(305419896,4660)'::tid, 4023233417), …` on x86-64; the
    // same comparison against the server, on random versions, is in pgcopy.test.ts
    const known: [number, number, number, bigint][] = [
      [305419896, 4660, 4023233417, 4272644436482127293n],
      [4294967294, 65535, 4294967295, -7221252676680267702n],
      [0, 1, 0, 8203975285254317891n], // seed 0: no mix() of the seed
      [1, 2, 3, -545176994419912979n],
      [7, 0, 2, -180634627340803544n],
    ]
    for (const [block, offset, xmin, want] of known) {
      tidHash(block, offset, xmin)
      assert.equal(
        (BigInt(tidHashOut[0]!) << 32n) + BigInt(tidHashOut[1]!),
        want,
        `(${block},${offset}) ${xmin}`,
      )
    }
  })

  it("sums the client form (ctid, xmin fields) as the server form's int8 hashes", () => {
    const dv = new DataView(new ArrayBuffer(18))
    const start = Int32Array.from([0, 6, 10])
    const client = new RowHashSum("client")
    const server = new RowHashSum("server")
    assert.equal(client.fields, 2)
    assert.equal(server.fields, 1)
    fc.assert(
      fc.property(fc.nat(0xfffffffe), fc.nat(0xffff), fc.nat(0xffffffff), (block, offset, xmin) => {
        dv.setUint32(0, block)
        dv.setUint16(4, offset)
        dv.setUint32(6, xmin)
        assert.ok(client.addFields(dv, start, Int32Array.from([6, 4]), 0))
        tidHash(block, offset, xmin)
        dv.setInt32(10, tidHashOut[0]!)
        dv.setUint32(14, tidHashOut[1]!)
        assert.ok(server.addFields(dv, Int32Array.from([10]), Int32Array.from([8]), 0))
      }),
      { numRuns: 300 },
    )
    assert.equal(client.sum, server.sum)
    assert.equal(client.rows, 300)
    // fields of the other form, or a NULL, are refused
    assert.equal(client.addFields(dv, start, Int32Array.from([8, 4]), 0), false)
    assert.equal(client.addFields(dv, start, Int32Array.from([6, -1]), 0), false)
    assert.equal(server.addFields(dv, start, Int32Array.from([-1]), 0), false)
  })
})
