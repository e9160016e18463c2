/**
 * src/parquet/encode.ts and src/parquet/schema.ts without Postgres: hand-built batches, read
 * back with hyparquet.
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { parquetMetadata, parquetReadObjects } from "hyparquet"
import { CompactError } from "../src/errors.ts"
import type { ColumnBatch, ColumnValues } from "../src/pg/copy.ts"
import type { ColumnSpec } from "../src/pg/schema.ts"
import {
  type EncodedFile,
  type EncodeOptions,
  encodeParquetFiles,
  schemaHash,
} from "../src/parquet/encode.ts"
import { decimalByteLength, parquetSchema, parquetTypeName } from "../src/parquet/schema.ts"
import { col } from "./identity.fixture.ts"

const COLUMNS: ColumnSpec[] = [
  col("block", "int8", true),
  col("hash", "bytea", false),
  col("small", "int4", true),
  col("flag", "bool", false),
]

interface Row {
  block: bigint
  hash: Uint8Array | null
  small: number
  flag: boolean | null
}

/** Rows split into batches of the given sizes (cycled), in the decoder's representation. */
function toBatches(rows: Row[], sizes: number[]): ColumnBatch[] {
  const batches: ColumnBatch[] = []
  for (let o = 0, i = 0; o < rows.length; i++) {
    const part = rows.slice(o, o + sizes[i % sizes.length]!)
    batches.push({
      rows: part.length,
      columns: [
        BigInt64Array.from(part, (r) => r.block),
        part.map((r) => r.hash),
        Int32Array.from(part, (r) => r.small),
        part.map((r) => r.flag),
      ],
    })
    o += part.length
  }
  return batches
}

async function encodeAll(batches: ColumnBatch[], opts: Partial<EncodeOptions> = {}): Promise<EncodedFile[]> {
  async function* source() {
    yield* batches
  }
  const files: EncodedFile[] = []
  const options: EncodeOptions = {
    columns: COLUMNS,
    chunkSize: 10,
    rowGroupSize: 4,
    blockColumn: "block",
    kvMetadata: [{ key: "k", value: "v" }],
    createdBy: "encode test",
    ...opts,
  }
  for await (const f of encodeParquetFiles(source(), options)) files.push(f)
  return files
}

const arrayBuffer = (b: Uint8Array) =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer

async function readRows(file: EncodedFile): Promise<Row[]> {
  const rows = await parquetReadObjects({ file: arrayBuffer(file.bytes), utf8: false })
  return rows.map((r) => ({
    block: r.block as bigint,
    hash: (r.hash ?? null) as Uint8Array | null,
    small: r.small as number,
    flag: (r.flag ?? null) as boolean | null,
  }))
}

const rowArb: fc.Arbitrary<Row> = fc.record({
  block: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  hash: fc.option(fc.uint8Array({ maxLength: 5 }), { nil: null }),
  small: fc.integer({ min: -3, max: 3 }),
  flag: fc.option(fc.boolean(), { nil: null }),
})

const plain = (r: Row) => ({ ...r, hash: r.hash && Array.from(r.hash) })

describe("encodeParquetFiles", () => {
  it("splits exactly at chunkSize: consecutive parts, full files but the last, rows in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        async (rows, sizes, chunkSize, rowGroupSize) => {
          const files = await encodeAll(toBatches(rows, sizes), { chunkSize, rowGroupSize })
          assert.equal(files.length, Math.ceil(rows.length / chunkSize))
          const back: Row[] = []
          for (const [i, f] of files.entries()) {
            assert.equal(f.part, i)
            assert.ok(f.rows <= chunkSize)
            if (i < files.length - 1) assert.equal(f.rows, chunkSize)
            const mine = rows.slice(i * chunkSize, i * chunkSize + f.rows)
            const blocks = mine.map((r) => r.block)
            assert.equal(f.minBlock, blocks.reduce((a, b) => (b < a ? b : a)))
            assert.equal(f.maxBlock, blocks.reduce((a, b) => (b > a ? b : a)))
            const meta = parquetMetadata(arrayBuffer(f.bytes))
            const groups = meta.row_groups.map((g) => Number(g.num_rows))
            assert.ok(groups.slice(0, -1).every((n) => n === rowGroupSize))
            assert.ok(groups.at(-1)! <= rowGroupSize)
            assert.equal(groups.reduce((a, b) => a + b), f.rows)
            back.push(...await readRows(f))
          }
          assert.deepEqual(back.map(plain), rows.map(plain))
        },
      ),
      { numRuns: 150 },
    )
  })

  it("writes the same bytes for the same rows whatever the batch boundaries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 1, maxLength: 4 }),
        async (rows, a, b) => {
          const one = await encodeAll(toBatches(rows, a), { chunkSize: 7, rowGroupSize: 3 })
          const two = await encodeAll(toBatches(rows, b), { chunkSize: 7, rowGroupSize: 3 })
          assert.deepEqual(
            two.map((f) => Buffer.from(f.bytes).toString("hex")),
            one.map((f) => Buffer.from(f.bytes).toString("hex")),
          )
        },
      ),
      { numRuns: 50 },
    )
  })

  it("writes no file for no rows", async () => {
    assert.deepEqual(await encodeAll([]), [])
    assert.deepEqual(
      await encodeAll([{ rows: 0, columns: [new BigInt64Array(0), [], new Int32Array(0), []] }]),
      [],
    )
  })

  it("writes key/value metadata and created_by exactly as given, snappy-compressed", async () => {
    const rows = Array.from(
      { length: 5 },
      (_, i): Row => ({ block: BigInt(i), hash: null, small: 1, flag: true }),
    )
    const [file] = await encodeAll(toBatches(rows, [5]), {
      kvMetadata: [{ key: "b", value: "2" }, { key: "a", value: "1" }],
      createdBy: "me 1.0",
    })
    const meta = parquetMetadata(arrayBuffer(file!.bytes))
    assert.deepEqual(meta.key_value_metadata, [{ key: "b", value: "2" }, { key: "a", value: "1" }])
    assert.equal(meta.created_by, "me 1.0")
    assert.ok(meta.row_groups[0]!.columns.every((c) => c.meta_data?.codec === "SNAPPY"))
    assert.ok(meta.row_groups[0]!.columns.every((c) => c.meta_data?.statistics !== undefined))
  })

  it("keeps dictionaries where the file's first row group took one, PLAIN elsewhere", async () => {
    const hash = (i: number) => Uint8Array.from({ length: 32 }, (_, k) => (i * 31 + k * 7 + i * k) & 0xff)
    const address = (i: number) => new Uint8Array(20).fill(i % 3)
    const rows = Array.from({ length: 300 }, (_, i) => i)
    const late = rows.map((i) => (i < 100 ? hash(i + 1000) : address(i))) // unique at first, then 3 values
    const columns = [
      col("block", "int8", true),
      col("tx_hash", "bytea", true),
      col("address", "bytea", true),
      col(
        "late",
        "bytea",
        true,
      ),
      col("flag", "bool", true),
    ]
    const batch: ColumnBatch = {
      rows: rows.length,
      columns: [
        BigInt64Array.from(rows, BigInt),
        rows.map(hash),
        rows.map(address),
        late,
        rows.map((i) => i % 2 === 0),
      ],
    }
    const [file] = await encodeAllWith(columns, [batch], { chunkSize: 300, rowGroupSize: 100 })
    const meta = parquetMetadata(arrayBuffer(file!.bytes))
    const encodings = (j: number) => meta.row_groups.map((g) => g.columns[j]!.meta_data!.encodings)
    const dict = (j: number) => encodings(j).map((e) => e.includes("RLE_DICTIONARY"))
    assert.deepEqual(dict(1), [false, false, false])
    assert.deepEqual(dict(2), [true, true, true])
    assert.deepEqual(dict(3), [false, false, false]) // would take a dictionary in groups 2 and 3 on its own
    assert.deepEqual(encodings(4), [["PLAIN"], ["PLAIN"], ["PLAIN"]]) // booleans: bit-packed PLAIN, no dictionary
    const back = await parquetReadObjects({ file: arrayBuffer(file!.bytes), utf8: false })
    assert.deepEqual(back.map((r) => Array.from(r.late as Uint8Array)), late.map((v) => Array.from(v)))
    // on its own (a file starting at row 100), "late" does take a dictionary
    const tail: ColumnBatch = { rows: 200, columns: batch.columns.map((v) => v.slice(100) as ColumnValues) }
    const [alone] = await encodeAllWith(columns, [tail], { chunkSize: 300, rowGroupSize: 100 })
    const aloneMeta = parquetMetadata(arrayBuffer(alone!.bytes))
    assert.ok(
      aloneMeta.row_groups.every((g) => g.columns[3]!.meta_data!.encodings.includes("RLE_DICTIONARY")),
    )
  })

  it("refuses bad options with BAD_INPUT", async () => {
    const batches = toBatches([{ block: 1n, hash: null, small: 0, flag: null }], [1])
    for (const opts of [{ chunkSize: 0 }, { rowGroupSize: 1.5 }, { chunkSize: Number.NaN }]) {
      await assert.rejects(
        encodeAll(batches, opts),
        (e: unknown) => e instanceof CompactError && e.code === "BAD_INPUT",
      )
    }
    await assert.rejects(
      encodeAll(batches, { blockColumn: "nope" }),
      /Cannot use block column "nope": no such column/,
    )
    await assert.rejects(
      encodeAll(batches, { blockColumn: "hash" }),
      /Cannot use block column "hash": its type "bytea"/,
    )
  })

  it("refuses NULL blocks and malformed batches with INTEGRITY", async () => {
    const columns = [col("block", "int8", false), col("x", "int4", true)]
    const nullBlock: ColumnBatch = { rows: 1, columns: [[null], new Int32Array(1)] }
    await assert.rejects(encodeAllWith(columns, [nullBlock]), /NULL in block column "block"/)
    const short: ColumnBatch = { rows: 2, columns: [[1n, 2n], new Int32Array(1)] }
    await assert.rejects(encodeAllWith(columns, [short]), /column "x": it has 1 values in a batch of 2 rows/)
    const narrow: ColumnBatch = { rows: 1, columns: [[1n]] }
    await assert.rejects(encodeAllWith(columns, [narrow]), /batch of 1 columns: expected 2/)
  })

  it("accepts int4 block columns and mixed typed/plain batches of one column", async () => {
    const columns = [col("block", "int4", true), col("v", "int8", false)]
    const batches: ColumnBatch[] = [
      { rows: 2, columns: [Int32Array.from([5, 3]), [1n, null]] },
      { rows: 2, columns: [[9, 4] as ColumnValues, [null, 2n]] },
    ]
    const [file] = await encodeAllWith(columns, batches, { chunkSize: 10, rowGroupSize: 10 })
    assert.deepEqual([file!.minBlock, file!.maxBlock, file!.rows], [3n, 9n, 4])
    const back = await parquetReadObjects({ file: arrayBuffer(file!.bytes) })
    assert.deepEqual(back.map((r) => [r.block, r.v ?? null]), [[5, 1n], [3, null], [9, null], [4, 2n]])
  })
})

async function encodeAllWith(
  columns: ColumnSpec[],
  batches: ColumnBatch[],
  opts: Partial<EncodeOptions> = {},
) {
  return await encodeAll(batches, { columns, ...opts })
}

describe("parquetSchema", () => {
  it("maps kinds to lossless Parquet types, REQUIRED for NOT NULL, 3-level LISTs", () => {
    const schema = parquetSchema([
      col("a", "int8", true),
      col("b", "numeric_decimal", false, { precision: 9, scale: 2 }),
      col("c", "numeric_decimal", false, { precision: 18, scale: 0 }),
      col("d", "numeric_decimal", false, { precision: 38, scale: 10 }),
      col("e", "array", false, { element: "uuid" }),
      col("f", "json", false),
    ])
    assert.deepEqual(schema[0], { name: "root", num_children: 6 })
    assert.deepEqual(schema[1], { name: "a", repetition_type: "REQUIRED", type: "INT64" })
    assert.equal(schema[2]!.type, "INT32")
    assert.equal(schema[3]!.type, "INT64")
    assert.deepEqual([schema[4]!.type, schema[4]!.type_length, schema[4]!.precision, schema[4]!.scale], [
      "FIXED_LEN_BYTE_ARRAY",
      16,
      38,
      10,
    ])
    assert.deepEqual(
      schema.slice(5, 8).map((e) => [e.name, e.repetition_type, e.converted_type, e.num_children]),
      [
        ["e", "OPTIONAL", "LIST", 1],
        ["list", "REPEATED", undefined, 1],
        ["element", "OPTIONAL", undefined, undefined],
      ],
    )
    assert.deepEqual(schema[7]!.logical_type, { type: "UUID" })
    assert.deepEqual([schema[8]!.converted_type, schema[8]!.logical_type], ["JSON", { type: "JSON" }])
  })

  it("sizes DECIMAL byte arrays for their precision", () => {
    assert.deepEqual([1, 2, 9, 10, 18, 19, 38].map(decimalByteLength), [1, 1, 4, 5, 8, 9, 16])
    for (let p = 1; p <= 38; p++) {
      const bytes = decimalByteLength(p)
      assert.ok(2n ** BigInt(8 * bytes - 1) > 10n ** BigInt(p) - 1n)
      assert.ok(bytes === 1 || 2n ** BigInt(8 * (bytes - 1) - 1) <= 10n ** BigInt(p) - 1n)
    }
  })

  it("names Parquet types for the manifest", () => {
    assert.equal(parquetTypeName(col("a", "int8", true)), "INT64")
    assert.equal(
      parquetTypeName(col("a", "numeric_decimal", true, { precision: 10, scale: 2 })),
      "DECIMAL(10,2)",
    )
    assert.equal(parquetTypeName(col("a", "numeric_string", true)), "STRING")
    assert.equal(parquetTypeName(col("a", "timestamptz", true)), "TIMESTAMP(MICROS,UTC)")
    assert.equal(parquetTypeName(col("a", "array", false, { element: "bytea" })), "LIST<BYTE_ARRAY>")
  })
})

describe("schemaHash", () => {
  it("is a stable sha256 that changes with any name, type or nullability", () => {
    const base = schemaHash(COLUMNS)
    assert.match(base, /^[0-9a-f]{64}$/)
    assert.equal(schemaHash(COLUMNS.map((c) => ({ ...c }))), base)
    const variants = [
      COLUMNS.map((c, i) => (i === 1 ? { ...c, name: "hash2" } : c)),
      COLUMNS.map((c, i) => (i === 1 ? { ...c, notNull: true } : c)),
      COLUMNS.map((c, i) => (i === 2 ? { ...c, kind: "int8" as const, pgType: "int8" } : c)),
      [...COLUMNS].reverse(),
      COLUMNS.slice(1),
    ]
    const hashes = new Set([base, ...variants.map(schemaHash)])
    assert.equal(hashes.size, variants.length + 1)
  })
})
