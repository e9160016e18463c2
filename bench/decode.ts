/**
 * Micro-benchmark of the binary COPY decoder on synthetic EVM logs, against the COPY read floor
 * and a postgres.js cursor:
 *
 *   PARQUET_COMPACT_BENCH_PG_URL=postgres://postgres@127.0.0.1:54329/postgres bun bench/decode.ts [--rows 1000000] [--runs 3] [--encode] [--drop]
 *
 * --encode adds COPY → decode → Parquet, on this thread and with encoding on a worker thread.
 *
 * Creates (once) the table bench_decode_logs_<rows> and reuses it on later runs; --drop removes it
 * at the end. Prints the median of --runs runs per pipeline.
 */
import postgres from "postgres"
import { decodeCopyBinary } from "../src/pg/copy.ts"
import { BufferPool } from "../src/buffer-pool.ts"
import { copyOut } from "../src/pg/copyout.ts"
import { describeTable } from "../src/pg/schema.ts"
import { type EncodeOptions, encodeParquetFiles } from "../src/parquet/encode.ts"
import { encodeParquetFilesThreaded } from "../src/parquet/threaded.ts"

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const ROWS = flag("--rows", 1_000_000)
const RUNS = flag("--runs", 3)
const url = process.env.PARQUET_COMPACT_BENCH_PG_URL ?? process.env.PARQUET_COMPACT_TEST_PG_URL
if (!url) throw new Error("Cannot run the benchmark: set PARQUET_COMPACT_BENCH_PG_URL to a postgres:// URL")
const table = `bench_decode_logs_${ROWS}`
const sql = postgres(url, { max: 1, onnotice: () => {} })

const [exists] = await sql`select to_regclass(${table}) is not null as present`
if (!exists?.present) {
  console.log(`creating ${table} with ${ROWS} rows…`)
  await sql.unsafe(`
    CREATE TABLE ${table} (
      block_number int8 NOT NULL, log_index int4 NOT NULL, tx_hash bytea NOT NULL, address bytea NOT NULL,
      topic0 bytea, topic1 bytea, topic2 bytea, topic3 bytea, data bytea NOT NULL,
      PRIMARY KEY (block_number, log_index))`)
  // ~5 logs per block, 2 per tx, 1000 addresses, 20 event signatures, topics often NULL, data 0..160 bytes
  await sql.unsafe(`
    INSERT INTO ${table}
    SELECT g / 5, g % 5, sha256(int8send(g / 2)), substr(sha256(int4send(g % 1000)), 1, 20),
      sha256(int4send(g % 20)),
      CASE WHEN g % 7 = 0 THEN NULL ELSE sha256(int8send(g % 5000)) END,
      CASE WHEN g % 3 = 0 THEN NULL ELSE sha256(int8send(g)) END,
      CASE WHEN g % 2 = 0 THEN NULL ELSE sha256(int8send(-g)) END,
      decode(repeat(md5(g::text), g % 6), 'hex')
    FROM generate_series(0, ${ROWS - 1}) g`)
  await sql.unsafe(`VACUUM ANALYZE ${table}`)
}
const { columns } = await describeTable(sql, table)
const select = `SELECT * FROM ${table} ORDER BY block_number, log_index`
const copy = `COPY (${select}) TO STDOUT (FORMAT binary)`

async function timed(name: string, run: () => Promise<number>): Promise<void> {
  const times: number[] = []
  let rows = 0
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    rows = await run()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  const ms = times[Math.floor(times.length / 2)]!
  const rate = Math.round(rows / (ms / 1000)).toLocaleString("en-US")
  console.log(
    `${name.padEnd(52)} ${(ms / 1000).toFixed(2).padStart(6)} s  ${rate.padStart(11)} rows/s  (${rows} rows)`,
  )
}

// The raw COPY bytes in 64 KiB chunks, to time the decoder alone
const captured: Uint8Array[] = []
{
  const parts: Uint8Array[] = []
  for await (const chunk of copyOut(sql, copy)) parts.push(chunk)
  const all = Buffer.concat(parts)
  for (let o = 0; o < all.length; o += 65536) captured.push(all.subarray(o, o + 65536))
  console.log(`COPY binary: ${(all.length / 2 ** 20).toFixed(1)} MiB for ${ROWS} rows`)
}
async function* replay(): AsyncGenerator<Uint8Array> {
  yield* captured
}

await timed("COPY binary → /dev/null (copyOut: the read floor)", async () => {
  let bytes = 0
  for await (const chunk of copyOut(sql, copy)) bytes += chunk.length
  return bytes > 0 ? ROWS : 0
})
await timed("decodeCopyBinary alone, in-memory 64 KiB chunks", async () => {
  let rows = 0
  for await (const b of decodeCopyBinary(replay(), columns, 65536)) rows += b.rows
  return rows
})
await timed("copyOut → decodeCopyBinary (batches of 65536)", async () => {
  let rows = 0
  for await (const b of decodeCopyBinary(copyOut(sql, copy), columns, 65536)) rows += b.rows
  return rows
})
await timed("readable() for-await → decodeCopyBinary", async () => {
  let rows = 0
  const stream = await sql.unsafe(copy).readable()
  for await (const b of decodeCopyBinary(stream as AsyncIterable<Uint8Array>, columns, 65536)) rows += b.rows
  ;(stream as unknown as { _read(n: number): void })._read(0) // see src/pg/copyout.ts: the socket may stay paused
  return rows
})
await timed("postgres.js cursor(10000) → row objects", async () => {
  let rows = 0
  for await (const batch of sql.unsafe(select).cursor(10000)) rows += batch.length
  return rows
})
if (process.argv.includes("--encode")) {
  const opts: EncodeOptions = {
    columns,
    chunkSize: ROWS,
    rowGroupSize: 100_000,
    blockColumn: "block_number",
    kvMetadata: [],
    createdBy: "bench",
  }
  const pool = new BufferPool()
  const batches = () =>
    decodeCopyBinary(copyOut(sql, copy), columns, opts.rowGroupSize, { restartEvery: opts.chunkSize, pool })
  await timed("COPY → decode → encodeParquetFiles (1 file, rg 100k)", async () => {
    let rows = 0
    for await (const f of encodeParquetFiles(batches(), opts)) rows += f.rows
    return rows
  })
  await timed("the same, encoding on a worker thread", async () => {
    let rows = 0
    const recycle = (buffers: ArrayBuffer[]) => pool.give(buffers)
    for await (const f of encodeParquetFilesThreaded(batches(), opts, { onFallback: console.log, recycle })) {
      rows += f.rows
    }
    return rows
  })
}
if (process.argv.includes("--drop")) await sql.unsafe(`DROP TABLE ${table}`)
await sql.end()
