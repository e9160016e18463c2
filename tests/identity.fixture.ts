/**
 * Deterministic (seeded) rows of every column kind for byte-identity tests of the Parquet
 * encoder: NULLs, empty values, dictionaries kept and dropped, multi-page column chunks and
 * statistics truncation.
 */
import { createHash } from "node:crypto"
import { ByteColumn, type ColumnBatch, type ColumnValues } from "../src/pg/batch.ts"
import type { ColumnSpec } from "../src/pg/schema.ts"
import { type EncodeOptions, encodeParquetFiles } from "../src/parquet/encode.ts"

/** A ColumnSpec for tests: pgType is the kind, no type oid. */
export const col = (
  name: string,
  kind: ColumnSpec["kind"],
  notNull: boolean,
  extra: Partial<ColumnSpec> = {},
): ColumnSpec => ({
  name,
  pgType: kind,
  typeOid: 0,
  kind,
  notNull,
  ...extra,
})

/** mulberry32: a small seeded PRNG, so the rows are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Columns of every kind the encoder sees, logs-like first. */
export const IDENTITY_COLUMNS: ColumnSpec[] = [
  col("chain_id", "int8", true),
  col("block_number", "int8", true),
  col("log_index", "int4", true),
  col("transaction_hash", "bytea", true),
  col("address", "bytea", true),
  col("topic0", "bytea", false),
  col("topic1", "bytea", false),
  col("data", "bytea", true),
  col("note", "text", false),
  col("memo", "text", true),
  col("id", "uuid", false),
  col("meta", "jsonb", false),
  col("amount", "numeric_string", true),
  col("v", "int8", false),
  col("flag", "bool", false),
  col("f", "float8", true),
  col("ts", "timestamptz", true),
  col("d", "date", true),
  col("tags", "array", false, { element: "int4" }),
  col("blob", "bytea", false),
  col("empty", "bytea", true),
  col("late", "bytea", true),
  col("small", "int2", false),
  col("half", "bytea", true),
  col("nonce", "int8", true),
  col("never_null", "bytea", false),
]

/**
 * `rows` deterministic rows, one value array per column: Uint8Array (or null) for byte kinds,
 * typed arrays for NOT NULL fixed-width kinds, arrays with null otherwise.
 */
export function identityColumns(rows: number, seed = 1): ColumnValues[] {
  const rand = prng(seed)
  const int = (n: number) => Math.floor(rand() * n)
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256))
  const seeded = (n: number, s: number) => {
    const r = prng(s)
    return Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
  }
  const utf8 = new TextEncoder()
  const words = ["", "a", "transfer", "Ünïcödé ✓", "swap 🚀 exact", "x".repeat(40)]
  const out: ColumnValues[] = IDENTITY_COLUMNS.map((c) => {
    if (!c.notNull) return []
    if (c.kind === "int8" || c.kind === "timestamptz") return new BigInt64Array(rows)
    if (c.kind === "int4" || c.kind === "date") return new Int32Array(rows)
    if (c.kind === "float8") return new Float64Array(rows)
    return []
  })
  const set = (j: number, i: number, v: unknown) => ((out[j] as unknown[])[i] = v)
  for (let i = 0; i < rows; i++) {
    const nul = (p: number) => rand() < p
    set(0, i, 10143n)
    set(1, i, BigInt(1_000_000 + Math.floor(i / 5)))
    set(2, i, i % 5)
    set(3, i, seeded(32, 1000 + (i >> 1)))
    set(4, i, seeded(20, int(40)))
    set(5, i, nul(1 / 7) ? null : seeded(32, 5000 + int(12)))
    set(6, i, nul(1 / 3) ? null : bytes(32))
    set(7, i, nul(0.05) ? new Uint8Array(0) : bytes(int(4000)))
    set(8, i, nul(0.2) ? null : utf8.encode(words[int(words.length)]!))
    set(9, i, utf8.encode(`memo ${int(1e9)} ✓ ${"é".repeat(int(12))}`))
    set(10, i, nul(0.1) ? null : bytes(16))
    set(11, i, nul(0.3) ? null : utf8.encode(JSON.stringify({ i, k: words[int(3)], n: [int(9)] })))
    set(12, i, utf8.encode(`${int(1e9)}${int(1e9)}.${int(100)}`))
    set(13, i, nul(0.25) ? null : BigInt(int(1e6)) - 500_000n)
    set(14, i, nul(0.1) ? null : rand() < 0.5)
    set(15, i, rand() * 1e6 - 5e5)
    set(16, i, 1_700_000_000_000_000n + BigInt(i) * 12_000_000n)
    set(17, i, 19_000 + Math.floor(i / 100))
    set(18, i, nul(0.2) ? null : Array.from({ length: int(4) }, () => (rand() < 0.1 ? null : int(100))))
    set(19, i, null)
    set(20, i, new Uint8Array(0))
    set(21, i, i < 700 ? bytes(24) : seeded(24, int(3)))
    set(22, i, nul(0.5) ? null : int(7) - 3)
    set(23, i, rand() < 0.6 ? bytes(8) : seeded(8, int(3))) // passes the sample, fails the full check
    set(24, i, BigInt(int(2 ** 30)) * 4096n + BigInt(int(4096)))
    set(25, i, seeded(20, int(5))) // nullable, never NULL: no null flags at all
  }
  return out
}

const BYTE_KINDS = new Set(["bytea", "text", "json", "jsonb", "uuid", "numeric_string"])

/**
 * The columns cut into batches of `size` rows (the last may be shorter). Byte kinds become
 * ByteColumns, as the decoder gives them, when `packed(batchIndex)` says so; otherwise they stay
 * arrays of Uint8Array.
 */
export function identityBatches(
  columns: ColumnValues[],
  size: number,
  packed: (batch: number) => boolean = () => false,
): ColumnBatch[] {
  const rows = columns[0]!.length
  const batches: ColumnBatch[] = []
  for (let o = 0; o < rows; o += size) {
    const end = Math.min(rows, o + size)
    const pack = packed(batches.length)
    batches.push({
      rows: end - o,
      columns: columns.map((v, j) => {
        const part = v.slice(o, end) as ColumnValues
        return pack && BYTE_KINDS.has(IDENTITY_COLUMNS[j]!.kind)
          ? ByteColumn.from(part as (Uint8Array | null)[])
          : part
      }),
    })
  }
  return batches
}

/** encodeParquetFiles() options of the identity fixture, but for the chunking. */
export const IDENTITY_OPTIONS = {
  columns: IDENTITY_COLUMNS,
  blockColumn: "block_number",
  kvMetadata: [{ key: "parquet_compact.test", value: "identity" }],
  createdBy: "parquet_compact version 0.0.0 (build identity)",
}

/** sha256 (hex) of each file encodeParquetFiles() writes for the batches. */
export async function identityHashes(
  batches: ColumnBatch[],
  opts: Pick<EncodeOptions, "chunkSize" | "rowGroupSize" | "pageVersion">,
): Promise<string[]> {
  async function* source() {
    yield* batches
  }
  const hashes: string[] = []
  const files = encodeParquetFiles(source(), { ...IDENTITY_OPTIONS, ...opts })
  for await (const f of files) hashes.push(createHash("sha256").update(f.bytes).digest("hex"))
  return hashes
}
