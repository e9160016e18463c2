/**
 * Postgres → binary COPY → encodeParquetFiles() → read back with hyparquet and with DuckDB:
 * every supported type comes back exactly as Postgres prints it.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { parquetMetadata, parquetReadObjects } from "hyparquet"
import type { SchemaElement } from "hyparquet"
import postgres from "postgres"
import { type ColumnBatch, decodeCopyBinary } from "../src/pg/copy.ts"
import { type ColumnKind, type ColumnSpec, describeTable, quoteIdent } from "../src/pg/schema.ts"
import { type EncodedFile, encodeParquetFiles } from "../src/parquet/encode.ts"
import { testServices } from "./env.ts"
import { duckRef, rawDecimal, withoutDecimal } from "./readers.fixture.ts"
import {
  createAllTypes,
  floatHex,
  normalizeRef,
  referenceRows,
  renderValue,
  uniqueSchema,
} from "./alltypes.fixture.ts"

const sql = postgres(testServices().pgUrl, { max: 1, onnotice: () => {} })
const schema = uniqueSchema("roundtrip")
const dir = mkdtempSync(join(tmpdir(), "roundtrip-"))
const KV = [
  { key: "parquet_compact.chain_id", value: "1" },
  { key: "parquet_compact.schema_hash", value: "abc" },
]

let columns: ColumnSpec[]
let expected: Map<string, unknown[]> // column name → normalized Postgres values ordered by id

before(async () => {
  await createAllTypes(sql, schema)
  columns = (await describeTable(sql, `${schema}.t`)).columns
  const ref = await referenceRows(sql, schema, columns)
  expected = new Map(columns.map((c) => [c.name, ref.map((row) => normalizeRef(c, row[c.name] ?? null))]))
})

after(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await sql.end()
  rmSync(dir, { recursive: true, force: true })
})

async function decoded(batchRows: number): Promise<ColumnBatch[]> {
  const select = columns.map((c) => quoteIdent(c.name)).join(", ")
  const stream = await sql.unsafe(
    `COPY (SELECT ${select} FROM ${schema}.t ORDER BY id) TO STDOUT (FORMAT binary)`,
  )
    .readable()
  const out: ColumnBatch[] = []
  for await (const b of decodeCopyBinary(stream as AsyncIterable<Uint8Array>, columns, batchRows)) out.push(b)
  return out
}

async function encode(
  batches: ColumnBatch[],
  chunkSize: number,
  rowGroupSize: number,
): Promise<EncodedFile[]> {
  async function* source() {
    yield* batches
  }
  const files: EncodedFile[] = []
  const opts = {
    columns,
    chunkSize,
    rowGroupSize,
    blockColumn: "id",
    kvMetadata: KV,
    createdBy: "roundtrip test",
  }
  for await (const f of encodeParquetFiles(source(), opts)) files.push(f)
  return files
}

function save(files: EncodedFile[], name: string): string[] {
  return files.map((f) => {
    const path = join(dir, `${name}-${f.part}.parquet`)
    writeFileSync(path, f.bytes)
    return path
  })
}

const arrayBuffer = (b: Uint8Array) =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer

function normalizeDuck(kind: ColumnKind, v: unknown, element?: ColumnKind): unknown {
  if (v === null || v === undefined) return null
  if (kind === "array") return (v as unknown[]).map((x) => normalizeDuck(element!, x))
  if (kind === "float4" || kind === "float8") return floatHex(v as number)
  return String(v)
}

describe("encodeParquetFiles on every supported type", () => {
  let batches: ColumnBatch[]
  let files: EncodedFile[]

  before(async () => {
    batches = await decoded(4)
    files = await encode(batches, 3, 2)
  })

  it("splits 10 rows at chunkSize 3 into parts 0..3 of 3, 3, 3 and 1 rows with their block range", () => {
    assert.deepEqual(files.map((f) => f.part), [0, 1, 2, 3])
    assert.deepEqual(files.map((f) => f.rows), [3, 3, 3, 1])
    assert.deepEqual(files.map((f) => [f.minBlock, f.maxBlock]), [[1n, 3n], [4n, 6n], [7n, 9n], [10n, 10n]])
    for (const f of files) {
      const meta = parquetMetadata(arrayBuffer(f.bytes))
      assert.equal(meta.num_rows, BigInt(f.rows))
      assert.deepEqual(meta.row_groups.map((g) => g.num_rows), f.rows === 3 ? [2n, 1n] : [1n])
      assert.deepEqual(meta.key_value_metadata, KV)
      assert.equal(meta.created_by, "roundtrip test")
      for (const g of meta.row_groups) for (const c of g.columns) assert.equal(c.meta_data?.codec, "SNAPPY")
    }
  })

  it("is read back by DuckDB exactly as Postgres prints each value", async () => {
    const paths = save(files, "duck")
    const db = await DuckDBInstance.create(":memory:")
    const con = await db.connect()
    const select = columns.map((c) => `${duckRef(c.kind, c.name, c.element)} AS ${c.name}`).join(", ")
    const list = paths.map((p) => `'${p}'`).join(", ")
    const result = await con.runAndReadAll(
      `SELECT ${select} FROM read_parquet([${list}]) AS src ORDER BY src.id`,
    )
    const rows = result.getRowObjectsJS()
    assert.equal(rows.length, 10)
    for (const c of columns) {
      const got = rows.map((r) => normalizeDuck(c.kind, r[c.name], c.element))
      assert.deepEqual(got, expected.get(c.name), `column ${c.name}`)
    }
    con.closeSync()
  })

  it("has the Parquet types DuckDB expects: DECIMAL, JSON, UUID, timestamps, lists", async () => {
    const [path] = save(files.slice(0, 1), "types")
    const db = await DuckDBInstance.create(":memory:")
    const con = await db.connect()
    const described = (await con.runAndReadAll(`DESCRIBE SELECT * FROM '${path}'`)).getRowObjectsJS()
    const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]))
    const want: Record<string, string> = {
      id: "BIGINT",
      c_int2: "SMALLINT",
      c_int4: "INTEGER",
      c_uint256: "VARCHAR",
      c_numeric: "VARCHAR",
      c_dec5: "DECIMAL(5,0)",
      c_dec10: "DECIMAL(10,2)",
      c_dec18: "DECIMAL(18,4)",
      c_dec19: "DECIMAL(19,0)",
      c_dec38: "DECIMAL(38,6)",
      c_bytea: "BLOB",
      c_text: "VARCHAR",
      c_bool: "BOOLEAN",
      c_float4: "FLOAT",
      c_float8: "DOUBLE",
      c_tstz: "TIMESTAMP WITH TIME ZONE",
      c_ts: "TIMESTAMP",
      c_date: "DATE",
      c_json: "JSON",
      c_jsonb: "JSON",
      c_uuid: "UUID",
      a_int4: "INTEGER[]",
      a_dec: "DECIMAL(12,3)[]",
      a_bytea: "BLOB[]",
      a_numeric: "VARCHAR[]",
    }
    for (const [name, type] of Object.entries(want)) assert.equal(types.get(name), type, name)
    con.closeSync()
  })

  it("gives exact DECIMAL arithmetic in DuckDB", async () => {
    const paths = save(files, "sum")
    const db = await DuckDBInstance.create(":memory:")
    const con = await db.connect()
    const list = paths.map((p) => `'${p}'`).join(", ")
    const duck = (await con.runAndReadAll(
      `SELECT sum(c_dec18)::VARCHAR AS a, sum(c_dec10)::VARCHAR AS b, max(c_dec38)::VARCHAR AS c FROM read_parquet([${list}])`,
    )).getRowObjectsJS()[0]
    const [pg] = await sql.unsafe(
      `SELECT sum(c_dec18)::text AS a, sum(c_dec10)::text AS b, max(c_dec38)::text AS c FROM ${schema}.t`,
    )
    assert.deepEqual({ ...duck }, { ...pg })
    con.closeSync()
  })

  it("is read back by hyparquet value for value (DECIMAL physical values exact)", async () => {
    const got = new Map<string, unknown[]>(columns.map((c) => [c.name, []]))
    for (const f of files) {
      const buffer = arrayBuffer(f.bytes)
      const metadata = withoutDecimal(parquetMetadata(buffer))
      const rows = await parquetReadObjects({
        file: buffer,
        metadata,
        utf8: false,
        parsers: {
          stringFromBytes: (b) => b,
          jsonFromBytes: (b) => b,
          uuidFromBytes: (b) => b,
          timestampFromMicroseconds: (v) => v,
          dateFromDays: (d) => d,
        },
      })
      const leaves = metadata.schema.filter((e) => e.type !== undefined)
      for (const row of rows) {
        columns.forEach((c, j) => got.get(c.name)!.push(unscaled(c, leaves[j]!, row[c.name])))
      }
    }
    for (const c of columns) {
      assert.deepEqual(
        got.get(c.name)!.map((v) => renderValue(c, v)),
        expected.get(c.name),
        `column ${c.name}`,
      )
    }
  })

  it("writes byte-identical files for the same rows, whatever the batch boundaries", async () => {
    const again = await encode(await decoded(1), 3, 2)
    const once = await encode(await decoded(10), 3, 2)
    for (const other of [again, once]) {
      assert.equal(other.length, files.length)
      other.forEach((f, i) =>
        assert.ok(Buffer.from(f.bytes).equals(Buffer.from(files[i]!.bytes)), `part ${i}`)
      )
    }
    const single = await encode(batches, 100, 100)
    assert.equal(single.length, 1)
    assert.deepEqual([single[0]!.rows, single[0]!.minBlock, single[0]!.maxBlock], [10, 1n, 10n])
  })
})

function unscaled(c: ColumnSpec, _leaf: SchemaElement, v: unknown): unknown {
  if (c.kind === "numeric_decimal") return rawDecimal(v)
  if (c.kind === "array" && c.element === "numeric_decimal" && Array.isArray(v)) return v.map(rawDecimal)
  return v
}
