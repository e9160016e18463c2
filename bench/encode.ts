/**
 * The encoder alone, in CPU-seconds: decodes a table once into memory (bench/profile.ts seeds it),
 * then encodes the same batches --runs times on this thread and prints the best run, so that
 * encoder changes can be compared without Postgres or the decoder in the numbers.
 *
 *   PARQUET_COMPACT_BENCH_PG_URL=postgres://… bun bench/encode.ts [--blocks 200000] [--rows 500000]
 *     [--table hot_logs] [--chunk-size 100000] [--runs 5] [--page-version 1|2]
 */
import postgres from "postgres"
import type { ColumnBatch } from "../src/pg/batch.ts"
import { decodeCopyBinary } from "../src/pg/copy.ts"
import { copyOut } from "../src/pg/copyout.ts"
import { describeTable } from "../src/pg/schema.ts"
import { encodeParquetFiles } from "../src/parquet/encode.ts"

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1]! : fallback
}
const BLOCKS = Number(flag("--blocks", "200000"))
const ROWS = Number(flag("--rows", "500000"))
const TABLE = flag("--table", "hot_logs")
const CHUNK = Number(flag("--chunk-size", "100000"))
const RUNS = Number(flag("--runs", "5"))
const PAGE_VERSION = Number(flag("--page-version", "1")) as 1 | 2
const base = process.env.PARQUET_COMPACT_BENCH_PG_URL ?? process.env.PARQUET_COMPACT_TEST_PG_URL
if (!base) throw new Error("Cannot benchmark: set PARQUET_COMPACT_BENCH_PG_URL to a postgres:// URL")
const url = new URL(base)
url.pathname = `/bench_profile_${BLOCKS}`
const sql = postgres(url.toString(), { max: 1, onnotice: () => {} })
const { columns, primaryKey } = await describeTable(sql, TABLE)
const rowGroupSize = Math.min(CHUNK, 100_000)
const copy = `COPY (SELECT * FROM ${TABLE} ORDER BY ${
  primaryKey.join(", ")
} LIMIT ${ROWS}) TO STDOUT (FORMAT binary)`
const batches: ColumnBatch[] = []
for await (const b of decodeCopyBinary(copyOut(sql, copy), columns, rowGroupSize, { restartEvery: CHUNK })) {
  batches.push(b)
}
await sql.end()

const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const times: number[] = []
let bytes = 0
for (let r = 0; r < RUNS; r++) {
  const source = async function* () {
    yield* batches
  }
  const options = { columns, chunkSize: CHUNK, rowGroupSize, blockColumn: "block_number", kvMetadata: [] }
  const t = cpu()
  bytes = 0
  for await (const f of encodeParquetFiles(source(), { ...options, pageVersion: PAGE_VERSION })) {
    bytes += f.bytes.length
  }
  times.push(cpu() - t)
}
const rows = batches.reduce((n, b) => n + b.rows, 0)
const best = Math.min(...times)
console.log(
  `${TABLE}: ${rows} rows → ${(bytes / 2 ** 20).toFixed(1)} MiB; encode CPU-s best ${best.toFixed(3)} ` +
    `(${(best / rows * 1e6).toFixed(2)} µs/row) of ${times.map((t) => t.toFixed(2)).join(", ")}`,
)
