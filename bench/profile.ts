/**
 * Where the client's CPU goes, in CPU-seconds (user + sys of this process, not wall time, so it
 * holds on a shared machine): binary COPY (read by the same wire client as the CLI) decode alone, then decode + Parquet encode + sha256 of
 * each file on this one thread, for the flat logs table and for the same logs with `topics bytea[]`.
 *
 *   PARQUET_COMPACT_BENCH_PG_URL=postgres://… bun [--cpu-prof-md] bench/profile.ts [--blocks 200000]
 *     [--chunk-size 100000] [--page-version 1|2]
 *
 * Seeds (once) the database `bench_profile` with bench/datagen.ts. With --cpu-prof-md Bun writes a
 * per-function profile (self time) to read beside the totals.
 */
import { createHash } from "node:crypto"
import postgres from "postgres"
import { BufferPool } from "../src/buffer-pool.ts"
import { decodeCopyBinary } from "../src/pg/copy.ts"
import { copyInSnapshot } from "../src/pg/fingerprint.ts"
import { describeTable } from "../src/pg/schema.ts"
import { encodeParquetFiles } from "../src/parquet/encode.ts"
import { transferList } from "../src/parquet/threaded.ts"
import { createArrayLogs, createHotTables, seedChain } from "./datagen.ts"

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const BLOCKS = flag("--blocks", 200_000)
const CHUNK = flag("--chunk-size", 100_000)
const PAGE_VERSION = flag("--page-version", 1) as 1 | 2
const base = process.env.PARQUET_COMPACT_BENCH_PG_URL ?? process.env.PARQUET_COMPACT_TEST_PG_URL
if (!base) throw new Error("Cannot profile: set PARQUET_COMPACT_BENCH_PG_URL to a postgres:// URL")

const admin = postgres(base, { max: 1, onnotice: () => {} })
const name = `bench_profile_${BLOCKS}`
const [exists] = await admin`SELECT 1 AS x FROM pg_database WHERE datname = ${name}`
if (!exists) await admin.unsafe(`CREATE DATABASE ${name}`)
await admin.end()
const url = new URL(base)
url.pathname = `/${name}`
const sql = postgres(url.toString(), { max: 1, onnotice: () => {} })
if (!exists) {
  await createHotTables(sql)
  await seedChain(sql, { chainId: 10143n, first: 0n, last: BigInt(BLOCKS - 1) })
  await createArrayLogs(sql)
  await sql.unsafe("VACUUM ANALYZE")
}

const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

for (const table of ["hot_logs", "hot_logs_topics"]) {
  const { columns, primaryKey } = await describeTable(sql, table)
  const copy = `COPY (SELECT * FROM ${table} ORDER BY ${primaryKey.join(", ")}) TO STDOUT (FORMAT binary)`
  const rowGroupSize = Math.min(CHUNK, 100_000)
  const pool = new BufferPool()

  let t = cpu()
  let rows = 0
  for await (
    const batch of decodeCopyBinary(copyInSnapshot(url.toString(), copy).chunks, columns, rowGroupSize, {
      pool,
    })
  ) {
    rows += batch.rows
    pool.give(transferList(batch))
  }
  const decode = cpu() - t

  t = cpu()
  let bytes = 0
  let files = 0
  const batches = decodeCopyBinary(copyInSnapshot(url.toString(), copy).chunks, columns, rowGroupSize, {
    restartEvery: CHUNK,
    pool,
  })
  const options = {
    columns,
    chunkSize: CHUNK,
    rowGroupSize,
    blockColumn: "block_number",
    kvMetadata: [],
    pageVersion: PAGE_VERSION,
  }
  for await (const f of encodeParquetFiles(batches, options, (b) => pool.give(transferList(b)))) {
    createHash("sha256").update(f.bytes).digest("hex")
    bytes += f.bytes.length
    files++
  }
  const total = cpu() - t
  console.log(
    `${table}: ${rows} rows, ${files} files, ${(bytes / 2 ** 20).toFixed(1)} MiB | CPU-s decode ${
      decode.toFixed(2)
    }, decode+encode+sha256 ${total.toFixed(2)} (encode ${(total - decode).toFixed(2)}, ${
      ((total - decode) / rows * 1e6).toFixed(2)
    } µs/row) | peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  )
}
await sql.end()
