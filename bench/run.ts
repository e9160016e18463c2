/**
 * `make bench`: generates ≥1,000,000 blocks and ≈5,000,000 logs (deterministic) in a real
 * PostgreSQL 15, then times in one run, on the logs of blocks 0..N-1:
 *   (R)  COPY (SELECT … ORDER BY pk) TO STDOUT (FORMAT binary) to /dev/null — the read floor
 *   (D)  the same rows as CSV piped into DuckDB writing snappy Parquet — the peer to beat
 *   (us) parquet_compact compact to file:// and to S3 (radosgw)
 * printing rows/s, peak RSS and the ratios us/R and us/D. Options: --blocks N (default 1000000),
 * --runs K (median of K, default 1), --chunk-size ROWS (default 1000000), --no-s3.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { openDatabase } from "../src/pg/hot.ts"
import { startPostgres } from "../tests/harness/postgres.ts"
import { startRadosgw } from "../tests/harness/radosgw.ts"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { createHotTables, seedChain } from "./datagen.ts"

const { values: opts } = parseArgs({
  options: {
    blocks: { type: "string", default: "1000000" },
    runs: { type: "string", default: "1" },
    "chunk-size": { type: "string", default: "1000000" },
    "no-s3": { type: "boolean", default: false },
  },
})
const N = BigInt(opts.blocks)
const RUNS = Number(opts.runs)
const CHAIN = 10143n
const PSQL = "/usr/lib/postgresql/15/bin/psql"
const TIME = "/usr/bin/time"
if (!existsSync(TIME)) throw new Error(`Cannot measure peak RSS: ${TIME} is missing; apt-get install -y time`)

interface Measured {
  readonly seconds: number
  readonly rssMb: number // peak RSS of the heaviest process, MiB
}

/** Runs a shell pipeline under GNU time per command; returns wall seconds and the max peak RSS. */
async function measure(script: string, env: Record<string, string> = {}): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), "bench-"))
  const timed = script.split(" | ").map((cmd, i) => `${TIME} -f %M -o ${dir}/rss${i} ${cmd}`).join(" | ")
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", timed], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, ...env },
    })
    child.on(
      "exit",
      (code) => (code === 0 ? resolve() : reject(new Error(`Cannot finish "${script}": exit ${code}`))),
    )
  })
  const seconds = (performance.now() - started) / 1000
  let rssKb = 0
  for (let i = 0; existsSync(`${dir}/rss${i}`); i++) {
    const text = await readFile(`${dir}/rss${i}`, "utf8")
    rssKb = Math.max(rssKb, Number(text.trim().split("\n").at(-1)))
  }
  await rm(dir, { recursive: true, force: true })
  return { seconds, rssMb: rssKb / 1024 }
}

async function median(label: string, f: () => Promise<Measured>): Promise<Measured> {
  const all: Measured[] = []
  for (let i = 0; i < RUNS; i++) {
    const m = await f()
    console.error(`  ${label} run ${i + 1}: ${m.seconds.toFixed(2)} s, ${m.rssMb.toFixed(0)} MiB`)
    all.push(m)
  }
  all.sort((a, b) => a.seconds - b.seconds)
  return all[Math.floor(all.length / 2)]!
}

const services = await Promise.all([startPostgres(), opts["no-s3"] ? undefined : startRadosgw()])
const [pg, s3] = services
const work = await mkdtemp(join(tmpdir(), "parquet_compact-bench-"))
try {
  const sql = openDatabase(pg.url)
  await createHotTables(sql)
  const t = performance.now()
  // 100 blocks past N so that 0..N-1 is final under chain 10143's threshold of 100
  const seeded = await seedChain(sql, { chainId: CHAIN, first: 0n, last: N + 99n })
  await sql.unsafe("VACUUM ANALYZE")
  const [{ n: logs }] = await sql.unsafe(
    `SELECT count(*)::int AS n FROM hot_logs WHERE chain_id = ${CHAIN} AND block_number BETWEEN 0 AND ${
      N - 1n
    }`,
  ) as unknown as [{ n: number }]
  await sql.end()
  console.error(
    `Seeded ${seeded.blocks} blocks, ${seeded.logs} logs in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )

  const select =
    `SELECT * FROM hot_logs WHERE chain_id = ${CHAIN} AND block_number BETWEEN 0 AND ${N - 1n} ` +
    `ORDER BY chain_id, block_number, log_index`
  const psql = `${PSQL} -X -q -d ${pg.url}`
  const r = await median(
    "R  binary COPY",
    () => measure(`${psql} -c "COPY (${select}) TO STDOUT (FORMAT binary)"`),
  )
  const d = await median(
    "D  csv | duckdb",
    () =>
      measure(
        `${psql} -c "COPY (${select}) TO STDOUT (FORMAT csv)" | ${process.execPath} bench/duckdb-csv.ts ${work}/duck.parquet`,
      ),
  )
  const binary = existsSync("dist/parquet_compact") ? "dist/parquet_compact" : `${process.execPath} cli.ts`
  const compactArgs = `compact --chain-id ${CHAIN} --dataset logs --start-block 0 --end-block ${N - 1n} ` +
    `--chunk-size ${opts["chunk-size"]} --database-url ${pg.url}`
  let n = 0
  const usFile = await median("us compact file://", async () => {
    const m = await measure(`${binary} ${compactArgs} --dest file://${work}/cold${n++} --json`)
    return m
  })
  let usS3: Measured | undefined
  if (s3) {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    })
    const env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    }
    usS3 = await median("us compact s3://", async () => {
      const bucket = `bench${n++}`
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      return await measure(
        `${binary} ${compactArgs} --dest s3://${bucket}/cold --s3-endpoint ${s3.endpoint} --s3-force-path-style`,
        env,
      )
    })
    client.destroy()
  }
  const row = (name: string, m: Measured) =>
    `| ${name} | ${m.seconds.toFixed(2)} s | ${Math.round(logs / m.seconds).toLocaleString("en-US")} | ` +
    `${m.rssMb.toFixed(0)} MiB | ${(m.seconds / r.seconds).toFixed(2)} | ${
      (m.seconds / d.seconds).toFixed(2)
    } |`
  const table = [
    `logs of ${N.toLocaleString("en-US")} blocks: ${
      logs.toLocaleString("en-US")
    } rows, median of ${RUNS}, ${binary}`,
    "",
    "| pipeline | wall | rows/s | peak RSS | /R | /D |",
    "|---|---|---|---|---|---|",
    row("(R) binary COPY to /dev/null", r),
    row("(D) COPY csv into DuckDB, snappy Parquet", d),
    row("(us) compact to file://", usFile),
    ...(usS3 ? [row("(us) compact to S3 (radosgw)", usS3)] : []),
  ].join("\n")
  console.log(table)
  await writeFile("bench/results.md", table + "\n")
} finally {
  await rm(work, { recursive: true, force: true })
  await Promise.all(services.map((s) => s?.stop()))
}
