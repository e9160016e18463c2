/**
 * `backfill` as real processes against the real Postgres and radosgw: 60 partitions stopped with
 * SIGTERM midway and resumed to completion, with every hot row in cold storage exactly once and no
 * object that the manifest does not name; three shards (AWS Batch, Kubernetes, flags) at once ending
 * with one correct manifest.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parquetReadObjects } from "hyparquet"
import { type Manifest, parseManifest } from "../src/core/manifest.ts"
import type { Sql } from "../src/pg/hot.ts"
import type { RunReport } from "../src/report.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { cli, closeDatabases, s3Flags, seededWorld } from "./helpers.ts"

const CHAIN = "10143" // threshold 100; seeded tip 1299, so blocks 0-1199 are final
const REPO = fileURLToPath(new URL("..", import.meta.url))
const BUN = `${REPO}node_modules/.bin/bun`
after(closeDatabases)

async function setup() {
  const db = await seededWorld(BigInt(CHAIN), 1299n)
  const { bucket, store } = db
  // 60 partitions of 20 blocks, about 100 log rows each
  const args = [
    "backfill",
    "--chain-id",
    CHAIN,
    "--dataset",
    "logs",
    "--from",
    "0",
    "--to",
    "1199",
    "--partition-size",
    "20",
    "--dest",
    `s3://${bucket}/cold`,
    "--database-url",
    db.url,
    ...s3Flags,
    "--log-format",
    "json",
    "--json",
  ]
  return { ...db, store, args }
}

/** What a child process printed and how it ended. */
interface ChildRun {
  readonly code: number | null
  readonly signal: string | null
  readonly stderr: string[]
  /** The --json report; undefined when the process printed none (killed, or exited at once). */
  readonly report: RunReport | undefined
}

/**
 * Runs `bun cli.ts ...argv` as a process, with no shard variables but those given; `onLine` sees each
 * stderr line as it comes and may signal the process.
 */
function runChild(
  argv: string[],
  env: Record<string, string> = {},
  onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<ChildRun> {
  const base = { ...process.env }
  for (const k of ["AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", "JOB_COMPLETION_INDEX"]) {
    delete base[k]
  }
  for (const k of Object.keys(base)) {
    if (k.startsWith("PARQUET_COMPACT_") && !k.includes("_TEST_")) delete base[k]
  }
  const child = spawn(BUN, ["cli.ts", ...argv], {
    cwd: REPO,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  const stdout: string[] = []
  const stderr: string[] = []
  let pending = ""
  child.stdout.setEncoding("utf8").on("data", (c: string) => stdout.push(c))
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    const lines = (pending + c).split("\n")
    pending = lines.pop()!
    for (const line of lines) {
      stderr.push(line)
      onLine?.(line, (s) => child.kill(s))
    }
  })
  const timer = setTimeout(() => child.kill("SIGKILL"), 100_000)
  return new Promise((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const last = stdout.join("").trim().split("\n").at(-1)!
      resolve({
        code,
        signal,
        stderr,
        report: last.startsWith("{") ? JSON.parse(last) as RunReport : undefined,
      })
    })
  })
}

async function manifestOf(store: ObjectStore): Promise<Manifest> {
  const object = await store.get(`cold/${CHAIN}/logs/manifest.json`)
  assert.ok(object, "the manifest exists")
  return parseManifest(new TextDecoder().decode(object.bytes))
}

/** Every object under the dataset's folder is manifest.json or a file the manifest names. */
async function assertNoUnnamedObject(store: ObjectStore, m: Manifest) {
  const named = new Set([
    `cold/${CHAIN}/logs/manifest.json`,
    ...m.partitions.flatMap((p) => p.files.map((f) => f.key)),
  ])
  assert.deepEqual((await store.list(`cold/${CHAIN}/logs/`)).filter((k) => !named.has(k)), [])
}

const COLUMNS = [
  "chain_id",
  "block_number",
  "log_index",
  "transaction_hash",
  "transaction_index",
  "address",
  "topic0",
  "topic1",
  "topic2",
  "topic3",
  "data",
]
const BYTEA = new Set(["transaction_hash", "address", "topic0", "topic1", "topic2", "topic3", "data"])

/** Every log row of blocks 0-1199, all columns, as sorted text (duplicates kept). */
async function hotRows(sql: Sql): Promise<string[]> {
  const select = COLUMNS.map((c) => (BYTEA.has(c) ? `encode(${c}, 'hex')` : `${c}::text`) + ` AS ${c}`).join(
    ", ",
  )
  const rows = await sql.unsafe(`SELECT ${select} FROM hot_logs WHERE block_number <= 1199`)
  return rows.map((r) => COLUMNS.map((c) => r[c] ?? "∅").join("|")).sort()
}

/** Every row in the manifest's files, as {@link hotRows} prints them. */
async function coldRows(store: ObjectStore, m: Manifest): Promise<string[]> {
  const out: string[] = []
  for (const f of m.partitions.flatMap((p) => p.files)) {
    const bytes = (await store.get(f.key))!.bytes
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    for (const r of await parquetReadObjects({ file, utf8: false })) {
      out.push(
        COLUMNS.map((c) => {
          const v = r[c]
          return v === null || v === undefined
            ? "∅"
            : v instanceof Uint8Array
            ? Buffer.from(v).toString("hex")
            : String(v)
        }).join("|"),
      )
    }
  }
  return out.sort()
}

/** The manifest tiles 0-1199 with the 60 partitions of 20 blocks, in order. */
function assertTiled(m: Manifest) {
  assert.deepEqual(
    m.partitions.map((p) => p.partition_key),
    Array.from({ length: 60 }, (_, i) => `${i * 20}-${i * 20 + 19}`),
  )
}

describe("backfill", () => {
  it("stopped by SIGTERM midway, exits 143 leaving nothing unnamed, and a rerun completes it exactly", async () => {
    const t = await setup()
    let compacted = 0
    let sent = false
    const stoppedRun = await runChild([...t.args, "--concurrency", "2"], {}, (line, kill) => {
      if (line.includes('"action":"compacted"')) compacted++
      if (compacted >= 12 && !sent) {
        sent = true
        kill("SIGTERM")
      }
    })
    assert.equal(stoppedRun.code, 143, stoppedRun.stderr.join("\n"))
    const stopped = { ...stoppedRun, report: stoppedRun.report! }
    assert.equal(stopped.report.stopped_by, "signal")
    assert.equal(stopped.report.exit_code, 143)
    const left = stopped.report.counts["not-started"] ?? 0
    assert.ok(left > 0 && left < 48, `stopped midway: ${JSON.stringify(stopped.report.counts)}`)
    assert.ok(stopped.stderr.some((l) => /Stopping: SIGTERM received/.test(l)))
    assert.equal(stopped.report.counts.failed, undefined, "a stopped partition is not a failed one")
    const partial = await manifestOf(t.store)
    const done = stopped.report.partitions.filter((p) => p.status === "compacted").map((p) => p.partition_key)
    assert.deepEqual(partial.partitions.map((p) => p.partition_key), done)
    await assertNoUnnamedObject(t.store, partial)
    // no lock is left behind
    const [locks] = await t.sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
    assert.equal(locks!.n, 0)

    const resumed = await cli([...t.args, "--concurrency", "3"])
    assert.equal(resumed.code, 0, resumed.stderr.join("\n"))
    const report = JSON.parse(resumed.stdout.at(-1)!) as RunReport
    assert.equal(report.counts.unchanged, done.length, "committed partitions are skipped")
    assert.equal(report.counts.compacted, 60 - done.length)
    const m = await manifestOf(t.store)
    assertTiled(m)
    await assertNoUnnamedObject(t.store, m)
    const hot = await hotRows(t.sql)
    assert.ok(hot.length > 5000)
    assert.deepEqual(await coldRows(t.store, m), hot, "every hot row once in cold storage, no other")
  })

  it("exits 130 on SIGINT (so says the report), at once on a second signal; a rerun completes", async () => {
    const t = await setup()
    const args = t.args.map((a) => (a === "1199" ? "399" : a)) // 20 partitions
    let interrupted = false
    const once = await runChild(args, {}, (line, kill) => {
      if (!interrupted && line.includes('"action":"compacted"')) {
        interrupted = true // one signal only: a second would exit at once, without the report
        kill("SIGINT")
      }
    })
    assert.equal(once.code, 130, once.stderr.join("\n"))
    assert.deepEqual([once.report?.exit_code, once.report?.stopped_by], [130, "signal"])
    let sent = 0
    const started = Date.now()
    let stoppedAt = 0
    const run = await runChild(args, {}, (line, kill) => {
      if (sent === 0 && line.includes('"action":"compacted"')) {
        sent++
        kill("SIGINT")
      } else if (sent === 1 && line.includes("Stopping: SIGINT received")) {
        sent++
        stoppedAt = Date.now()
        kill("SIGINT")
      }
    })
    assert.equal(run.code, 130, run.stderr.join("\n"))
    assert.ok(run.stderr.some((l) => l.includes("SIGINT received again; exiting at once")))
    assert.equal(run.report, undefined, "no clean stop: no report")
    assert.ok(Date.now() - stoppedAt < 5000, `exited at once (${Date.now() - started} ms in all)`)
    const rerun = await cli(args)
    assert.equal(rerun.code, 0, rerun.stderr.join("\n"))
    const m = await manifestOf(t.store)
    assert.equal(m.partitions.length, 20)
    await assertNoUnnamedObject(t.store, m)
  })

  it("three shards at once (AWS Batch, Kubernetes, flags) end with one correct manifest", async () => {
    const t = await setup()
    const runs = await Promise.all([
      runChild(t.args, { AWS_BATCH_JOB_ARRAY_INDEX: "0", AWS_BATCH_JOB_ARRAY_SIZE: "3" }),
      runChild(t.args, { JOB_COMPLETION_INDEX: "1", PARQUET_COMPACT_SHARD_COUNT: "3" }),
      runChild([...t.args, "--shard-index", "2", "--shard-count", "3"]),
    ])
    for (const [i, { code, stderr, report }] of runs.entries()) {
      assert.equal(code, 0, stderr.join("\n"))
      const run = { report: report! }
      assert.deepEqual(run.report.shard, { index: i, count: 3 })
      assert.equal(run.report.counts.compacted, 20)
      for (const p of run.report.partitions) assert.equal((Number(p.partition_key.split("-")[0]) / 20) % 3, i)
    }
    const m = await manifestOf(t.store)
    assertTiled(m)
    await assertNoUnnamedObject(t.store, m)
    assert.deepEqual(await coldRows(t.store, m), await hotRows(t.sql))
  })
})
