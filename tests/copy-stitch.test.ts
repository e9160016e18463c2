/**
 * Rows longer than the first bytes the decoder stitches to a split row (copy.ts, STITCH): split at
 * any size across chunk boundaries, reused chunk buffers and all, they decode as in one chunk.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import postgres from "postgres"
import { type ColumnBatch, decodeCopyBinary } from "../src/pg/copy.ts"
import { copyOut } from "../src/pg/copyout.ts"
import { RowHashSum } from "../src/pg/rowhash.ts"
import { describeTable } from "../src/pg/schema.ts"
import { gatherColumns, uniqueSchema } from "./alltypes.fixture.ts"
import { testServices } from "./env.ts"

const sql = postgres(testServices().pgUrl, { max: 1, onnotice: () => {} })
const schema = uniqueSchema("stitch")
after(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await sql.end()
})

/** The COPY's bytes in pieces of the given sizes (cycled), each in one reused buffer when `reuse`. */
async function* pieces(bytes: Uint8Array, sizes: number[], reuse: boolean): AsyncGenerator<Uint8Array> {
  const shared = new Uint8Array(Math.max(...sizes))
  for (let o = 0, i = 0; o < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, bytes.length - o)
    if (!reuse) yield bytes.subarray(o, o + n)
    else {
      shared.fill(0xee)
      shared.set(bytes.subarray(o, o + n))
      yield shared.subarray(0, n)
    }
    o += n
  }
}

describe("rows split across chunks, longer than the first stitch", () => {
  it("decode as in one chunk, with the same row-hash sum, at any piece sizes", async () => {
    await sql.unsafe(`CREATE SCHEMA ${schema}`)
    await sql.unsafe(`CREATE TABLE ${schema}.big (id int8 PRIMARY KEY, b bytea, t text, a int8[], n numeric)`)
    // values of 0 to ~9,000 bytes: rows shorter and much longer than 1 KiB, some NULL
    await sql.unsafe(`INSERT INTO ${schema}.big
      SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE decode(repeat(md5(g::text), (g * 37) % 280), 'hex') END,
        repeat('x', (g * 53) % 3000), CASE WHEN g % 5 = 0 THEN NULL ELSE array_fill(g, ARRAY[(g * 11) % 400]) END,
        (2::numeric ^ ((g % 60) * 3) + g) / 7
      FROM generate_series(1, 60) g`)
    const { columns } = await describeTable(sql, `${schema}.big`)
    const parts: Uint8Array[] = []
    const copy =
      `COPY (SELECT id, b, t, a, n, ctid, xmin FROM ${schema}.big ORDER BY id) TO STDOUT (FORMAT binary)`
    for await (const chunk of copyOut(sql, copy)) parts.push(chunk)
    const bytes = Buffer.concat(parts)
    const decode = async (sizes: number[], reuse: boolean) => {
      const rowHash = new RowHashSum("client")
      const batches: ColumnBatch[] = []
      for await (const b of decodeCopyBinary(pieces(bytes, sizes, reuse), columns, 7, { rowHash })) {
        batches.push(b)
      }
      return { values: gatherColumns(batches, columns), sum: rowHash.sum, rows: rowHash.rows }
    }
    const whole = await decode([bytes.length], false)
    assert.equal(whole.rows, 60)
    assert.ok(bytes.length > 60 * 2048, "rows average more than twice the first stitch")
    for (const sizes of [[1], [1023, 1], [1025], [2047, 4097], [9000], [3, 5000, 700]]) {
      assert.deepEqual(await decode(sizes, true), whole, `pieces of ${sizes}`)
    }
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 12_000 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (sizes, reuse) => assert.deepEqual(await decode(sizes, reuse), whole),
      ),
      { numRuns: 60 },
    )
  })
})
