/**
 * `make bench`: generates ≥1,000,000 blocks and ≈5,000,000 logs (deterministic) in a real
 * PostgreSQL 15, plus the same logs with their topics in one `topics bytea[]` column, then times in
 * one run, per table (blocks, logs, logs_topics), on the rows of blocks 0..N-1:
 *   (R)  COPY (SELECT … ORDER BY pk) TO STDOUT (FORMAT binary) to /dev/null — the read floor
 *   (D)  the same rows as CSV piped into DuckDB writing snappy Parquet — the peer to beat
 *   (us) parquet_compact compact to file:// and to S3 (radosgw), per --chunk-sizes
 * printing wall time, rows/s, peak RSS, the client's CPU-seconds (user + sys), output size and the
 * ratios us/R and us/D side by side. Options: --blocks N (default 1000000), --runs K (median of K,
 * default 1), --chunk-sizes LIST (default 100000,10000), --tables LIST (default blocks,logs,logs_topics),
 * --file-only-chunk-sizes LIST (file:// only, for peak RSS at big files; default 1000000), --no-s3.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { openDatabase } from "../src/pg/hot.ts"
import { startPostgres } from "../tests/harness/postgres.ts"
import { startRadosgw } from "../tests/harness/radosgw.ts"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { createArrayLogs, createHotTables, seedChain } from "./datagen.ts"
import { measure, type Measured, median } from "./measure.ts"

const { values: opts } = parseArgs({
  options: {
    blocks: { type: "string", default: "1000000" },
    runs: { type: "string", default: "1" },
    "chunk-sizes": { type: "string", default: "100000,10000" },
    "file-only-chunk-sizes": { type: "string", default: "1000000" },
    tables: { type: "string", default: "blocks,logs,logs_topics" },
    "no-s3": { type: "boolean", default: false },
  },
})
const N = BigInt(opts.blocks)
const RUNS = Number(opts.runs)
const CHUNKS = opts["chunk-sizes"].split(",").map(Number)
const FILE_ONLY = new Set(opts["file-only-chunk-sizes"].split(",").filter((c) => c !== "").map(Number))
const TABLES = opts.tables.split(",")
const CHAIN = 10143n
const PSQL = "/usr/lib/postgresql/15/bin/psql"
/** Each table's primary key, the order its rows are copied in. */
const PK: Record<string, string> = {
  blocks: "chain_id, block_number",
  logs: "chain_id, block_number, log_index",
  logs_topics: "chain_id, block_number, log_index",
}

const services = await Promise.all([startPostgres(), opts["no-s3"] ? undefined : startRadosgw()])
const [pg, s3] = services
const work = await mkdtemp(join(tmpdir(), "parquet_compact-bench-"))
const lines: string[] = []
try {
  const sql = openDatabase(pg.url)
  await createHotTables(sql)
  const t = performance.now()
  // 100 blocks past N so that 0..N-1 is final under chain 10143's threshold of 100
  const seeded = await seedChain(sql, { chainId: CHAIN, first: 0n, last: N + 99n })
  if (TABLES.includes("logs_topics")) await createArrayLogs(sql)
  await sql.unsafe("VACUUM ANALYZE")
  const rowsOf = new Map<string, number>()
  for (const dataset of TABLES) {
    const [{ n }] = await sql.unsafe(
      `SELECT count(*)::int AS n FROM hot_${
        dataset === "blocks" ? "blocks" : "logs"
      } WHERE chain_id = ${CHAIN} ` +
        `AND block_number BETWEEN 0 AND ${N - 1n}`,
    ) as unknown as [{ n: number }]
    rowsOf.set(dataset, n)
  }
  await sql.end()
  console.error(
    `Seeded ${seeded.blocks} blocks, ${seeded.logs} logs in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )
  const binary = existsSync("dist/parquet_compact") ? "dist/parquet_compact" : `${process.execPath} cli.ts`
  const s3Client = s3 &&
    new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    })
  let n = 0
  lines.push(
    `${N.toLocaleString("en-US")} blocks: ${
      [...rowsOf].map(([t, n]) => `${n.toLocaleString("en-US")} rows of ${t}`).join(", ")
    }, ` +
      `median of ${RUNS}, ${binary}; CPU-s: user + sys of the pipeline's processes (for us: the client)`,
    "",
    "| table | pipeline | wall | rows/s | peak RSS | CPU-s | output | /R | /D |",
    "|---|---|---|---|---|---|---|---|---|",
  )
  for (const dataset of TABLES) {
    const table = `hot_${dataset}`
    const select = `SELECT * FROM ${table} WHERE chain_id = ${CHAIN} AND block_number BETWEEN 0 AND ${
      N - 1n
    } ORDER BY ${PK[dataset]}`
    const psql = `${PSQL} -X -q -d ${pg.url}`
    const r = await median(
      RUNS,
      `${dataset} R`,
      () => measure(`${psql} -c "COPY (${select}) TO STDOUT (FORMAT binary)"`),
    )
    const duck = join(work, `${dataset}.duck.parquet`)
    const d = await median(RUNS, `${dataset} D`, async () => ({
      ...await measure(
        `${psql} -c "COPY (${select}) TO STDOUT (FORMAT csv)" | ${process.execPath} bench/duckdb-csv.ts ${duck}`,
      ),
      bytes: (await stat(duck)).size,
    }))
    const row = (name: string, m: Measured) =>
      `| ${dataset} | ${name} | ${m.seconds.toFixed(2)} s | ${
        Math.round(rowsOf.get(dataset)! / m.seconds).toLocaleString("en-US")
      } | ` +
      `${m.rssMb.toFixed(0)} MiB | ${m.cpu.toFixed(1)} | ${
        m.bytes ? `${(m.bytes / 2 ** 20).toFixed(1)} MiB` : "—"
      } | ` +
      `${(m.seconds / r.seconds).toFixed(2)} | ${(m.seconds / d.seconds).toFixed(2)} |`
    lines.push(row("(R) binary COPY to /dev/null", r), row("(D) COPY csv into DuckDB, snappy", d))
    for (const chunk of [...CHUNKS, ...[...FILE_ONLY].filter((c) => !CHUNKS.includes(c))]) {
      const args =
        `compact --chain-id ${CHAIN} --dataset ${dataset} --source-table ${table} --start-block 0 ` +
        `--end-block ${N - 1n} --chunk-size ${chunk} --database-url ${pg.url} --json`
      const file = await median(RUNS, `${dataset} us file:// ${chunk}`, async () => {
        const cold = `${work}/cold${n++}`
        const m = await measure(`${binary} ${args} --dest file://${cold}`, { capture: true })
        await rm(cold, { recursive: true, force: true }) // between runs, untimed, and its discards synced
        spawnSync("sync")
        return { ...m, bytes: JSON.parse(m.stdout).bytes }
      })
      lines.push(row(`(us) file://, ${chunk.toLocaleString("en-US")}-row files`, file))
      if (!s3 || !s3Client || (FILE_ONLY.has(chunk) && !CHUNKS.includes(chunk))) continue
      const env = {
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
      }
      const remote = await median(RUNS, `${dataset} us s3:// ${chunk}`, async () => {
        const bucket = `bench${n++}`
        await s3Client.send(new CreateBucketCommand({ Bucket: bucket }))
        const dest = `--dest s3://${bucket}/cold --s3-endpoint ${s3.endpoint} --s3-force-path-style`
        const m = await measure(`${binary} ${args} ${dest}`, { env, capture: true })
        return { ...m, bytes: JSON.parse(m.stdout).bytes }
      })
      lines.push(
        row(
          `(us) S3, ${chunk.toLocaleString("en-US")}-row files (CPU ${
            (remote.cpu / file.cpu).toFixed(2)
          }× file://)`,
          remote,
        ),
      )
    }
  }
  s3Client?.destroy()
  const table = lines.join("\n")
  console.log(table)
  await writeFile("bench/results.md", table + "\n")
} finally {
  await rm(work, { recursive: true, force: true })
  await Promise.all(services.map((s) => s?.stop()))
}
