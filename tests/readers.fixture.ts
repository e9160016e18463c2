/**
 * The reader matrix's helpers: run tests/readers.py under the venv of `make setup`
 * (scripts/install-python.sh), read files with hyparquet and DuckDB, and the documented lossy
 * mappings of fastparquet (docs/READING.md) that its values are held to.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { parquetMetadata, parquetReadObjects } from "hyparquet"
import type { FileMetaData, SchemaElement } from "hyparquet"
import type { ColumnKind, ColumnSpec } from "../src/pg/schema.ts"
import { floatHex, renderValue } from "./alltypes.fixture.ts"

const PYTHON = resolve(".venv/bin/python")

/** Column name → rendered values, as tests/readers.py prints them. */
export type Rendered = Record<string, unknown[]>

/** Reads `paths` with a Python reader (tests/readers.py); fails with the reader's error. */
export function readPython(reader: string, paths: string[]): Rendered {
  if (!existsSync(PYTHON)) {
    throw new Error(`Cannot find ${PYTHON}: run make setup (scripts/install-python.sh)`)
  }
  const out = spawnSync(PYTHON, [resolve("tests/readers.py"), reader, ...paths], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
    timeout: 60_000,
  })
  if (out.status !== 0) throw new Error(`Cannot read with ${reader}: ${out.stderr || out.error}`)
  return JSON.parse(out.stdout) as Rendered
}

/** DuckDB SQL rendering a column (or list element) like pgRef() renders Postgres' value. */
export function duckRef(kind: ColumnKind, e: string, element?: ColumnKind): string {
  switch (kind) {
    case "bytea":
      return `lower(hex(${e}))`
    case "uuid":
      return `replace(${e}::VARCHAR, '-', '')`
    case "float4":
    case "float8":
      return `${e}::DOUBLE` // compared by bits in JS
    case "timestamptz":
    case "timestamp":
      return `epoch_us(${e})::VARCHAR`
    case "date":
      return `(${e} - DATE '1970-01-01')::VARCHAR`
    case "bool":
      return `CASE WHEN ${e} THEN 'true' WHEN NOT ${e} THEN 'false' END`
    case "array":
      return `list_transform(${e}, x -> ${duckRef(element!, "x")})`
    default:
      return `${e}::VARCHAR`
  }
}

function normalizeDuck(kind: ColumnKind, v: unknown, element?: ColumnKind): unknown {
  if (v === null || v === undefined) return null
  if (kind === "array") return (v as unknown[]).map((x) => normalizeDuck(element!, x))
  if (kind === "float4" || kind === "float8") return floatHex(v as number)
  return String(v)
}

/** Runs `from` (a DuckDB table expression) ordered by `order` (SQL) and renders each column. */
export async function readDuck(
  columns: readonly ColumnSpec[],
  from: string,
  order: string,
): Promise<Rendered> {
  const db = await DuckDBInstance.create(":memory:")
  const con = await db.connect()
  try {
    const select = columns.map((c) => `${duckRef(c.kind, c.name, c.element)} AS "${c.name}"`).join(", ")
    const rows = (await con.runAndReadAll(`SELECT ${select} FROM ${from} AS src ORDER BY ${order}`))
      .getRowObjectsJS()
    return Object.fromEntries(
      columns.map((c) => [c.name, rows.map((r) => normalizeDuck(c.kind, r[c.name], c.element))]),
    )
  } finally {
    con.closeSync()
  }
}

/** Reads files with hyparquet (DECIMAL as raw unscaled values, nothing parsed) and renders each column. */
export async function readHyparquet(columns: readonly ColumnSpec[], files: Uint8Array[]): Promise<Rendered> {
  const got: Rendered = Object.fromEntries(columns.map((c) => [c.name, []]))
  for (const bytes of files) {
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    const metadata = withoutDecimal(parquetMetadata(file))
    const rows = await parquetReadObjects({
      file,
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
    for (const row of rows) {
      for (const c of columns) {
        let v = row[c.name]
        if (c.kind === "numeric_decimal") v = rawDecimal(v)
        if (c.kind === "array" && c.element === "numeric_decimal" && Array.isArray(v)) v = v.map(rawDecimal)
        got[c.name]!.push(renderValue(c, v))
      }
    }
  }
  return got
}

/** Metadata with DECIMAL annotations removed, so hyparquet returns the raw physical values. */
export function withoutDecimal(meta: FileMetaData): FileMetaData {
  const schema = meta.schema.map((e): SchemaElement => {
    if (e.converted_type !== "DECIMAL") return e
    const { converted_type: _c, logical_type: _l, ...rest } = e
    return rest
  })
  return { ...meta, schema }
}

/** A raw DECIMAL physical value (INT32, INT64 or big-endian two's complement bytes) as a bigint. */
export function rawDecimal(v: unknown): bigint | null {
  if (v === null || v === undefined) return null
  if (typeof v === "number" || typeof v === "bigint") return BigInt(v)
  const bytes = v as Uint8Array
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return bytes.length > 0 && bytes[0]! >= 0x80 ? n - (1n << BigInt(8 * bytes.length)) : n
}

const NAN = "7ff8000000000000"
const utf8 = new TextEncoder()

/** Decimal text → its unscaled integer at `scale` digits, as text. */
function unscaledText(text: string, scale: number): string {
  const [whole = "", frac = ""] = text.split(".")
  return BigInt(whole + frac.padEnd(scale, "0").slice(0, scale)).toString()
}

/** Hex without its trailing zero bytes, as numpy's fixed-width bytes (dtype S16) hold a UUID. */
const stripZeros = (hex: string) => hex.replace(/(00)+$/, "")

/**
 * What fastparquet returns for a Postgres value, by its documented mappings (docs/READING.md):
 * DECIMAL as float64 (unscaled integers inside lists), NULL of a float or DECIMAL column as NaN,
 * DATE as datetime64[ns] (wrapping outside 1677-2262; days inside lists), JSON parsed (raw bytes
 * inside lists), UUID bytes without trailing zero bytes. Everything else exactly as Postgres
 * holds it.
 */
export function fastparquetExpected(c: ColumnSpec, pg: unknown): unknown {
  const floatLike = c.kind === "numeric_decimal" || c.kind === "float4" || c.kind === "float8"
  if (pg === null) return floatLike ? NAN : null
  const text = pg as string
  switch (c.kind) {
    case "numeric_decimal":
      return floatHex(Number(text))
    case "date":
      return `ns:${BigInt.asIntN(64, BigInt(text) * 86_400_000_000_000n)}`
    case "json":
    case "jsonb":
      return JSON.parse(text)
    case "uuid":
      return stripZeros(text)
    case "array":
      return (pg as (string | null)[]).map((x) => {
        if (x === null) return null
        if (c.element === "numeric_decimal") return unscaledText(x, c.scale ?? 0)
        if (c.element === "json" || c.element === "jsonb") return Buffer.from(utf8.encode(x)).toString("hex")
        if (c.element === "uuid") return stripZeros(x)
        return x
      })
    default:
      return pg
  }
}

/**
 * fastparquet's rendered value made comparable with fastparquetExpected(): a DECIMAL within 4 ulps
 * of the correctly rounded float counts as it (fastparquet divides the unscaled value in floats).
 */
export function fastparquetGot(c: ColumnSpec, v: unknown, pg: unknown): unknown {
  if (c.kind === "numeric_decimal" && typeof v === "string" && typeof pg === "string") {
    const want = Number(pg)
    const got = new DataView(Buffer.from(v, "hex").buffer).getFloat64(0)
    const ulp = Math.max(Number.MIN_VALUE, Math.abs(want) * Number.EPSILON)
    return Math.abs(got - want) <= 4 * ulp ? floatHex(want) : v
  }
  if ((c.kind === "json" || c.kind === "jsonb") && typeof v === "string") {
    return v.startsWith("json:") ? JSON.parse(v.slice(5)) : v
  }
  return v
}

/** polars reads JSON as Binary: the UTF-8 bytes of the text, as hex. */
export function polarsExpected(c: ColumnSpec, pg: unknown): unknown {
  const json = (k: ColumnKind | undefined) => k === "json" || k === "jsonb"
  const hex = (s: string | null) => (s === null ? null : Buffer.from(utf8.encode(s)).toString("hex"))
  if (json(c.kind)) return hex(pg as string | null)
  if (c.kind === "array" && json(c.element) && pg !== null) return (pg as (string | null)[]).map(hex)
  return pg
}
