/**
 * snappyjs against our compressor, as WebAssembly (src/parquet/snappy.ts, what the encoder runs)
 * and in TypeScript (snappy-js.ts, its fallback), on the pages the encoder really compresses: logs and
 * blocks rows generated as bench/datagen.ts does in SQL (same sha256 recipes), encoded to Parquet
 * v1 pages, whose uncompressed bodies are taken back out through hyparquet's decompressor hook;
 * plus random bytes (the worst case: nothing to find). Prints input MB per CPU-second
 * (process.cpuUsage: user + sys, so it holds on a shared machine), the median of --runs, and the
 * compressed sizes. Every page ours compresses is checked to decompress (snappyjs) to itself.
 *
 *   bun bench/snappy.ts [--blocks 40000] [--runs 7]
 *   deno run --allow-read --allow-env bench/snappy.ts [--blocks 40000] [--runs 7]
 */
import { createHash } from "node:crypto"
import { parquetMetadata, parquetRead } from "hyparquet"
import { uncompress } from "snappyjs"
import { SnappyCompressor } from "snappyjs/snappy_compressor.js"
import type { ColumnBatch } from "../src/pg/batch.ts"
import type { ColumnSpec } from "../src/pg/schema.ts"
import { encodeParquetFiles } from "../src/parquet/encode.ts"
import { maxCompressedLength, snappyCompress } from "../src/parquet/snappy.ts"
import { snappyCompressJs } from "../src/parquet/snappy-js.ts"

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const BLOCKS = flag("--blocks", 40_000)
const RUNS = flag("--runs", 7)

const col = (name: string, kind: ColumnSpec["kind"], notNull: boolean): ColumnSpec => ({
  name,
  pgType: kind,
  typeOid: 0,
  kind,
  notNull,
})
const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
const int8 = (n: number | bigint) => {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigInt64(0, BigInt(n))
  return b
}
const int4 = (n: number) => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setInt32(0, n)
  return b
}

const LOG_COLUMNS = [
  col("chain_id", "int8", true),
  col("block_number", "int8", true),
  col("log_index", "int4", true),
  col("transaction_hash", "bytea", true),
  col("transaction_index", "int4", true),
  col("address", "bytea", true),
  col("topic0", "bytea", false),
  col("topic1", "bytea", false),
  col("topic2", "bytea", false),
  col("topic3", "bytea", false),
  col("data", "bytea", true),
]

/** hot_logs rows of blocks [0, blocks), as bench/datagen.ts's INSERT … SELECT makes them. */
function logs(blocks: number): ColumnBatch {
  const rows: unknown[][] = LOG_COLUMNS.map(() => [])
  const addresses = Array.from({ length: 500 }, (_, k) => sha(int8(k)).subarray(0, 20))
  const topic0 = Array.from({ length: 7 }, (_, k) => sha(int4(k)))
  for (let n = 0; n < blocks; n++) {
    for (let i = 0; i < n % 11; i++) {
      const h = sha(int8(n), int4(i))
      const data = new Uint8Array(256)
      for (let k = 0; k < 8; k++) data.set(h, 32 * k)
      const values = [
        10143n,
        BigInt(n),
        i,
        sha(int8(n), int4(Math.floor(i / 3))),
        Math.floor(i / 3),
        addresses[(n * 31 + i) % 500],
        topic0[i % 7],
        i % 4 === 3 ? null : sha(int8(n % 1000), int4(i)),
        i % 2 === 1 ? null : sha(int8(n), int4(i), Uint8Array.of(1)),
        i % 5 !== 0 ? null : sha(int8(n + i)),
        data.subarray(0, (n * 37 + i * 11) % 257),
      ]
      values.forEach((v, j) => rows[j]!.push(v))
    }
  }
  const count = rows[0]!.length
  return {
    rows: count,
    columns: [
      BigInt64Array.from(rows[0] as bigint[]),
      BigInt64Array.from(rows[1] as bigint[]),
      Int32Array.from(rows[2] as number[]),
      rows[3] as Uint8Array[],
      Int32Array.from(rows[4] as number[]),
      rows[5] as Uint8Array[],
      ...(rows.slice(6) as (Uint8Array | null)[][]),
    ],
  }
}

/** The uncompressed page bodies of the batch's Parquet files (100,000-row files, v1 pages). */
async function pagesOf(batch: ColumnBatch, columns: ColumnSpec[]): Promise<Uint8Array[]> {
  async function* source() {
    yield batch
  }
  const options = {
    columns,
    chunkSize: 100_000,
    rowGroupSize: 100_000,
    blockColumn: "block_number",
    kvMetadata: [],
  }
  const pages: Uint8Array[] = []
  for await (const f of encodeParquetFiles(source(), options)) {
    const file = f.bytes.buffer.slice(f.bytes.byteOffset, f.bytes.byteOffset + f.bytes.length) as ArrayBuffer
    const metadata = parquetMetadata(file)
    const SNAPPY = (input: Uint8Array, length: number) => {
      const page = uncompress(input)
      if (page.length !== length) {
        throw new Error(`Cannot take page: ${page.length} bytes, header says ${length}`)
      }
      pages.push(page)
      return page
    }
    await parquetRead({ file, metadata, compressors: { SNAPPY } })
  }
  return pages
}

type Compress = (input: Uint8Array, out: Uint8Array) => number
const snappyjs: Compress = (input, out) => new SnappyCompressor(input).compressToBuffer(out)
const COMPRESSORS: [string, Compress][] = [
  ["snappyjs 0.7.0", snappyjs],
  ["snappy-js.ts (TS)", snappyCompressJs],
  ["snappy.ts (WASM)", snappyCompress],
]

const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Compresses every page once per run with each compressor, alternating; prints the medians. */
function measure(name: string, pages: Uint8Array[]) {
  const total = pages.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(maxCompressedLength(Math.max(...pages.map((p) => p.length))))
  for (const page of pages) {
    const n = snappyCompress(page, out)
    const back = uncompress(out.slice(0, n))
    if (back.length !== page.length || !back.every((b, i) => b === page[i])) {
      throw new Error(`Cannot trust snappy.ts: a ${page.length}-byte page of ${name} does not round-trip`)
    }
    const js = new Uint8Array(out.length)
    if (snappyCompressJs(page, js) !== n || !js.subarray(0, n).every((b, i) => b === out[i])) {
      throw new Error(
        `Cannot trust snappy-js.ts: a ${page.length}-byte page of ${name} differs from snappy.ts`,
      )
    }
  }
  const times = COMPRESSORS.map(() => [] as number[])
  const sizes = COMPRESSORS.map(() => 0)
  for (let r = 0; r < RUNS; r++) {
    COMPRESSORS.forEach(([, compress], c) => {
      const t = cpu()
      let size = 0
      for (const page of pages) size += compress(page, out)
      times[c]!.push(cpu() - t)
      sizes[c] = size
    })
  }
  console.log(`${name}: ${pages.length} pages, ${(total / 1e6).toFixed(1)} MB`)
  COMPRESSORS.forEach(([label], c) => {
    const t = median(times[c]!)
    console.log(
      `  ${label.padEnd(22)} ${(total / 1e6 / t).toFixed(0).padStart(5)} MB/CPU-s, median ${
        t.toFixed(3)
      } CPU-s ` +
        `(${times[c]!.map((x) => x.toFixed(3)).join(" ")}), ${sizes[c]} bytes (${
          (100 * sizes[c]! / total).toFixed(1)
        } %)`,
    )
  })
}

const runtime = "Deno" in globalThis ? "deno" : "bun"
console.log(`${runtime}, ${BLOCKS} blocks of logs, ${RUNS} runs`)
measure("hot_logs pages", await pagesOf(logs(BLOCKS), LOG_COLUMNS))
let seed = 1
const random = Array.from({ length: 64 }, () => {
  const page = new Uint8Array(1 << 20)
  for (let i = 0; i < page.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    page[i] = seed >>> 24
  }
  return page
})
measure("random bytes", random)
