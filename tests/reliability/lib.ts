/**
 * Shared set-up of the reliability harness: a fresh database cloned from a seeded template, a fresh
 * destination (a folder for `file://`, a bucket on radosgw for S3), the CLI run as a real child
 * process (so SIGKILL is a real kill), and the rows of a range as `key → content` maps, read from
 * hot storage here and from cold storage in tests/reliability/invariants.ts.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import postgres from "postgres"
import { createHotTables, seedChain } from "../../bench/datagen.ts"
import type { BlockRange } from "../../src/core/range.ts"
import { openDatabase, type Sql } from "../../src/pg/hot.ts"
import { LocalStore } from "../../src/store/local.ts"
import type { ObjectStore } from "../../src/store/store.ts"
import { freshBucket, uniqueName } from "../helpers.ts"
import { testServices } from "../env.ts"

/** The chain every reliability test uses (finality 100 blocks). */
export const CHAIN = 10143n
/** Blocks 0..SEEDED of the template database hold blocks and logs. */
export const SEEDED = 599n
/** Whether the full campaign runs (`make reliability`), or the bounded default subset. */
export const FULL = process.env.REL_FULL === "1"

const REPO = fileURLToPath(new URL("../..", import.meta.url))
const services = testServices()
// reopened on demand: bun runs every test file in one process, and each file closes it when done
let adminPool: postgres.Sql | undefined
const admin = () => (adminPool ??= postgres(services.pgUrl, { max: 1, onnotice: () => {} }))
let template: Promise<string> | undefined

/** One database seeded once per test process; cloned per case (CREATE DATABASE … TEMPLATE). */
function seededTemplate(): Promise<string> {
  template ??= (async () => {
    const name = uniqueName("rel_tpl_")
    await admin().unsafe(`CREATE DATABASE ${name}`)
    const sql = openDatabase(dbUrl(name), 1)
    try {
      await createHotTables(sql)
      await seedChain(sql, { chainId: CHAIN, first: 0n, last: SEEDED })
    } finally {
      await sql.end()
    }
    return name
  })()
  return template
}

function dbUrl(name: string): string {
  const url = new URL(services.pgUrl)
  url.pathname = "/" + name
  return url.toString()
}

/** A fresh database and destination for one case. */
export interface World {
  readonly kind: "file" | "s3"
  readonly url: string
  readonly sql: Sql
  readonly store: ObjectStore
  /** The CLI's --dest. */
  readonly dest: string
  /** Prefix of `{chain}/{dataset}/` in the store ("" for file://). */
  readonly prefix: string
  /** The folder behind a file:// destination (to look for temp files the store hides). */
  readonly root?: string
  close(): Promise<void>
}

/** A fresh database (a clone of the seeded template) and an empty destination of `kind`. */
export async function makeWorld(kind: "file" | "s3"): Promise<World> {
  const name = uniqueName("rel_")
  await admin().unsafe(`CREATE DATABASE ${name} TEMPLATE ${await seededTemplate()}`)
  const url = dbUrl(name)
  const sql = openDatabase(url, 4)
  const close = async () => {
    await sql.end({ timeout: 1 })
    await admin().unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
  }
  if (kind === "file") {
    const root = await mkdtemp(join(tmpdir(), "rel-"))
    const closeAll = async () => {
      await close()
      await rm(root, { recursive: true, force: true })
    }
    return {
      kind,
      url,
      sql,
      store: new LocalStore(root),
      dest: `file://${root}`,
      prefix: "",
      root,
      close: closeAll,
    }
  }
  const { bucket, store } = await freshBucket()
  return { kind, url, sql, store, dest: `s3://${bucket}/cold`, prefix: "cold", close }
}

/** How a child run ended. */
export interface ChildResult {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  readonly ms: number
}

/** A CLI run in a child process. */
export interface ChildRun {
  readonly child: ChildProcess
  readonly done: Promise<ChildResult>
}

/** The CLI command: dist/parquet_compact with REL_CLI=dist (make reliability builds it), else bun cli.ts. */
function command(): [string, string[]] {
  const dist = join(REPO, "dist", "parquet_compact")
  if (process.env.REL_CLI === "dist") {
    if (!existsSync(dist)) throw new Error(`Cannot find "${dist}": run make build first`)
    return [dist, []]
  }
  const bun = process.versions.bun !== undefined ? process.execPath : join(REPO, "node_modules/.bin/bun")
  return [bun, [join(REPO, "cli.ts")]]
}

/** Options of one compaction as CLI flags. */
export interface RunOptions {
  readonly dataset?: string
  readonly range: BlockRange
  readonly chunkSize?: number
  readonly rowGroupSize?: number
  readonly partitionSize?: number
  readonly deleteAfterCompact?: boolean
  readonly mergeLate?: boolean
  /** `STEP[:N]`: the child kills itself the Nth time it reaches STEP. */
  readonly crashAt?: string
  readonly lockTimeout?: number
}

/** Runs `parquet_compact compact …` on `world` in a child process. */
export function spawnCli(world: Pick<World, "url" | "dest">, o: RunOptions): ChildRun {
  const args = [
    "compact",
    "--chain-id",
    CHAIN.toString(),
    "--dataset",
    o.dataset ?? "logs",
    "--start-block",
    o.range.first.toString(),
    "--end-block",
    o.range.last.toString(),
    "--chunk-size",
    String(o.chunkSize ?? 200),
    "--dest",
    world.dest,
    "--lock-timeout",
    String(o.lockTimeout ?? 30),
    "--json",
    ...(o.rowGroupSize ? ["--row-group-size", String(o.rowGroupSize)] : []),
    ...(o.partitionSize ? ["--partition-size", String(o.partitionSize)] : []),
    ...(o.deleteAfterCompact ? ["--delete-after-compact"] : []),
    ...(o.mergeLate ? ["--merge-late"] : []),
    ...(world.dest.startsWith("s3:") ? ["--s3-endpoint", services.s3.endpoint, "--s3-force-path-style"] : []),
  ]
  const [cmd, pre] = command()
  const started = performance.now()
  const child = spawn(cmd, [...pre, ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      DATABASE_URL: world.url,
      AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
      AWS_REGION: services.s3.region,
      ...(o.crashAt ? { PARQUET_COMPACT_TEST_CRASH_AT: o.crashAt } : {}),
    },
  })
  let stderr = ""
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString("utf8")))
  child.stdout!.on("data", () => {})
  const done = new Promise<ChildResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stderr, ms: performance.now() - started }))
  })
  return { child, done }
}

/** Runs the CLI to the end; a run refused as LOCKED (exit 5: a killed run's session not yet gone) is retried. */
export async function runCli(world: Pick<World, "url" | "dest">, o: RunOptions): Promise<ChildResult> {
  for (let attempt = 1;; attempt++) {
    const result = await withDeadline(spawnCli(world, o), 120_000)
    if (result.code !== 5 || attempt >= 5) return result
    await new Promise((resolve) => setTimeout(resolve, 300 * attempt))
  }
}

/** Waits for a child, killing it (and failing) after `ms`: no test hangs. */
export async function withDeadline(run: ChildRun, ms: number): Promise<ChildResult> {
  const timer = setTimeout(() => run.child.kill("SIGKILL"), ms)
  try {
    const result = await run.done
    if (result.signal === "SIGKILL" && result.ms >= ms) {
      throw new Error(`Cannot finish a CLI run within ${ms} ms: it hung; stderr:\n${result.stderr}`)
    }
    return result
  } finally {
    clearTimeout(timer)
  }
}

/** The identity of a logs row (`block|log_index`) and its content (the columns tests change). */
export const LOGS = {
  table: "hot_logs",
  key: ["block_number", "log_index"],
  content: ["data", "topic0", "transaction_hash"],
} as const

/** A row set: key → content. */
export type Rows = Map<string, string>

/** The hot rows of `range` now, as key → content. */
export async function hotRows(sql: Sql, range: BlockRange): Promise<Rows> {
  const k = LOGS.key.map((c) => `${c}::text`).join(", ")
  const v = LOGS.content.map((c) => `coalesce(encode(${c}, 'hex'), '-')`).join(", ")
  const rows = await sql.unsafe(
    `SELECT concat_ws('|', ${k}) AS k, concat_ws('|', ${v}) AS v FROM ${LOGS.table}
     WHERE chain_id = ${CHAIN} AND block_number BETWEEN ${range.first} AND ${range.last}`,
  )
  return new Map(rows.map((r) => [r.k as string, r.v as string]))
}

/** Inserts `n` late rows (log_index 900+, new content) into blocks of `range`; returns them. */
export async function insertLate(sql: Sql, range: BlockRange, n: number, seed = 0): Promise<void> {
  const span = Number(range.last - range.first) + 1
  const values = Array.from({ length: n }, (_, i) => {
    const block = range.first + BigInt((i * 37 + seed * 11) % span)
    const tag = (seed * 1000 + i).toString(16).padStart(8, "0")
    return `(${CHAIN}, ${block}, ${900 + seed * 50 + i}, '\\x${tag}', 0, '\\x02', '\\x03', '\\x${tag}ff')`
  })
  await sql.unsafe(
    `INSERT INTO hot_logs (chain_id, block_number, log_index, transaction_hash, transaction_index,
      address, topic0, data) VALUES ${values.join(", ")} ON CONFLICT DO NOTHING`,
  )
}

/** A deterministic pseudo-random generator (mulberry32), so a campaign can be replayed by seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Closes the admin connection (call from `after`). */
export async function closeLib(): Promise<void> {
  const pool = adminPool
  adminPool = undefined
  await pool?.end({ timeout: 1 })
}
