/**
 * The compaction job end to end against the real Postgres and the real S3 server (radosgw):
 * each test gets its own database and bucket.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { parquetReadObjects } from "hyparquet"
import { seedChain } from "../bench/datagen.ts"
import { parseManifest } from "../src/core/manifest.ts"
import type { Sql } from "../src/pg/hot.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { cli, closeDatabases, s3Flags, seededWorld } from "./helpers.ts"

const CHAIN = "10143" // threshold 100
after(closeDatabases)

/** A database seeded with blocks 0..last of chain 10143, and a bucket. */
async function setup(last = 1199n) {
  const db = await seededWorld(BigInt(CHAIN), last)
  const { bucket, store } = db
  const base = (dataset: string, first: number, lastBlock: number, ...more: string[]) => [
    "compact",
    "--chain-id",
    CHAIN,
    "--dataset",
    dataset,
    "--start-block",
    `${first}`,
    "--end-block",
    `${lastBlock}`,
    "--dest",
    `s3://${bucket}/cold`,
    "--database-url",
    db.url,
    ...s3Flags,
    "--json",
    ...more,
  ]
  return { ...db, bucket, store, args: base }
}

async function manifestOf(store: ObjectStore, dataset: string) {
  const object = await store.get(`cold/${CHAIN}/${dataset}/manifest.json`)
  assert.ok(object, `manifest of ${dataset} exists`)
  return { ...parseManifest(new TextDecoder().decode(object.bytes)), etag: object.etag }
}

/** Every row of a dataset held in cold storage, as "block:log_index:hash-hex" strings. */
async function coldRows(store: ObjectStore, dataset: string): Promise<string[]> {
  const manifest = await manifestOf(store, dataset)
  const rows: string[] = []
  for (const p of manifest.partitions) {
    for (const f of p.files) {
      const bytes = (await store.get(f.key))!.bytes
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
      for (const r of await parquetReadObjects({ file: buffer, utf8: false })) rows.push(rowKey(dataset, r))
    }
  }
  return rows
}

function rowKey(dataset: string, r: Record<string, unknown>): string {
  const hash = (dataset === "logs" ? r.transaction_hash : r.block_hash) as Uint8Array
  return `${r.block_number}:${dataset === "logs" ? r.log_index : "-"}:${Buffer.from(hash).toString("hex")}`
}

async function hotRows(sql: Sql, dataset: string, first = 0, last = 1_000_000_000): Promise<string[]> {
  const rows = await sql.unsafe(
    dataset === "logs"
      ? `SELECT block_number::text AS b, log_index::text AS i, encode(transaction_hash, 'hex') AS h FROM hot_logs
         WHERE chain_id = ${CHAIN} AND block_number BETWEEN ${first} AND ${last} ORDER BY block_number, log_index`
      : `SELECT block_number::text AS b, '-' AS i, encode(block_hash, 'hex') AS h FROM hot_blocks
         WHERE chain_id = ${CHAIN} AND block_number BETWEEN ${first} AND ${last} ORDER BY block_number`,
  )
  return rows.map((r) => `${r.b}:${r.i}:${r.h}`)
}

describe("compact", () => {
  it("writes a multi-file partition and a manifest that hold exactly the hot rows", async () => {
    const t = await setup()
    const expected = await hotRows(t.sql, "logs", 0, 999)
    const run = await cli(t.args("logs", 0, 999, "--chunk-size", "1000"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.equal(run.json.rows, expected.length)
    assert.equal(run.json.partitions[0]!.action, "compacted")
    const m = await manifestOf(t.store, "logs")
    assert.equal(m.partitions.length, 1)
    const p = m.partitions[0]!
    assert.equal(p.partition_key, "0-999")
    assert.equal(p.row_count, expected.length)
    assert.equal(p.files.length, Math.ceil(expected.length / 1000))
    assert.deepEqual(
      p.files.map((f) => f.key),
      p.files.map((f, i) =>
        `cold/${CHAIN}/logs/logs_0_999_${String(i).padStart(4, "0")}_${f.sha256.slice(0, 16)}.parquet`
      ),
    )
    assert.ok(
      p.files.every((f, i, all) => f.rows === (i < all.length - 1 ? 1000 : expected.length - 1000 * i)),
    )
    assert.equal(p.tip, 1199n)
    assert.equal(p.finality_threshold, 100n)
    assert.deepEqual(await coldRows(t.store, "logs"), expected)
    for (const f of p.files) assert.equal((await t.store.head(f.key))?.size, f.bytes)
    assert.deepEqual((await t.store.list(`cold/${CHAIN}/logs/`)).length, p.files.length + 1)
  })

  it("reruns byte-identically: same objects, same manifest, nothing uploaded", async () => {
    const t = await setup()
    const first = await cli(t.args("blocks", 0, 999, "--chunk-size", "300"))
    assert.equal(first.code, 0, first.stderr.join("\n"))
    const before = await manifestOf(t.store, "blocks")
    const bytes = await Promise.all(
      before.partitions[0]!.files.map(async (f) => (await t.store.get(f.key))!.bytes),
    )
    const second = await cli(t.args("blocks", 0, 999, "--chunk-size", "300"))
    assert.equal(second.code, 0)
    assert.equal(second.json.partitions[0]!.action, "unchanged")
    assert.equal(second.json.partitions[0]!.uploaded_files, 0)
    const after_ = await manifestOf(t.store, "blocks")
    assert.equal(after_.etag, before.etag)
    for (const [i, f] of after_.partitions[0]!.files.entries()) {
      assert.deepEqual((await t.store.get(f.key))!.bytes, bytes[i])
    }
  })

  it("replaces a partition and deletes the files it no longer names", async () => {
    const t = await setup()
    assert.equal((await cli(t.args("blocks", 0, 999, "--chunk-size", "300"))).code, 0)
    assert.equal((await manifestOf(t.store, "blocks")).partitions[0]!.files.length, 4)
    const run = await cli(t.args("blocks", 0, 999, "--chunk-size", "500"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    // other bytes get other names: all four old files are superseded, none was overwritten
    assert.equal(run.json.partitions[0]!.stale_files_deleted, 4)
    const files = (await manifestOf(t.store, "blocks")).partitions[0]!.files
    const keys = await t.store.list(`cold/${CHAIN}/blocks/`)
    assert.deepEqual(keys, [
      `cold/${CHAIN}/blocks/blocks_0_999_0000_${files[0]!.sha256.slice(0, 16)}.parquet`,
      `cold/${CHAIN}/blocks/blocks_0_999_0001_${files[1]!.sha256.slice(0, 16)}.parquet`,
      `cold/${CHAIN}/blocks/manifest.json`,
    ])
    assert.deepEqual(await coldRows(t.store, "blocks"), await hotRows(t.sql, "blocks", 0, 999))
  })

  it("refuses a range that is not final with exit 3, writing nothing", async () => {
    const t = await setup()
    const run = await cli(t.args("blocks", 1000, 1100))
    assert.equal(run.code, 3)
    assert.match(run.stderr.at(-1)!, /final tip "1099".*wait for 1 more blocks/)
    assert.deepEqual(await t.store.list(""), [])
  })

  it("refuses a range with missing blocks with exit 4, naming the first ones", async () => {
    const t = await setup()
    await t.sql`DELETE FROM hot_blocks WHERE block_number IN (17, 18, 40)`
    for (const dataset of ["blocks", "logs"]) {
      const run = await cli(t.args(dataset, 0, 99))
      assert.equal(run.code, 4)
      assert.match(run.stderr.at(-1)!, /3 blocks are missing .*first 17, 18, 40/)
    }
    assert.deepEqual(await t.store.list(""), [])
  })

  it("refuses blocks missing at either end of the range, from the blocks dataset's own COPY", async () => {
    const t = await setup()
    await t.sql`DELETE FROM hot_blocks WHERE block_number IN (100, 101, 399)`
    const run = await cli(t.args("blocks", 100, 399, "--chunk-size", "100"))
    assert.equal(run.code, 4, run.stderr.join("\n"))
    assert.match(run.stderr.at(-1)!, /blocks 100-399 .*3 blocks are missing .*first 100, 101, 399;/)
    assert.deepEqual(await t.store.list(""), [], "the files written before the refusal are removed")
    assert.equal((await cli(t.args("blocks", 102, 398))).code, 0, "a complete range within it compacts")
  })

  it("deletes hot rows only after verification, and a rerun then keeps cold data", async () => {
    const t = await setup()
    const expected = await hotRows(t.sql, "blocks", 0, 499)
    const run = await cli(t.args("blocks", 0, 499, "--chunk-size", "200", "--delete-after-compact"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.equal(run.json.partitions[0]!.hot_rows_deleted, 500)
    assert.deepEqual(await hotRows(t.sql, "blocks", 0, 499), [])
    assert.deepEqual(await coldRows(t.store, "blocks"), expected)
    const before = await manifestOf(t.store, "blocks")
    const rerun = await cli(t.args("blocks", 0, 499, "--chunk-size", "200"))
    assert.equal(rerun.code, 0)
    assert.equal(rerun.json.partitions[0]!.action, "kept")
    assert.match(
      rerun.stderr.join("\n"),
      /already compacted with 500 rows and no hot rows left: nothing to do/,
    )
    assert.equal((await manifestOf(t.store, "blocks")).etag, before.etag)
    // logs of those blocks are complete because cold storage covers the deleted blocks
    const logs = await cli(t.args("logs", 0, 499, "--delete-after-compact"))
    assert.equal(logs.code, 0, logs.stderr.join("\n"))
  })

  it("deletes nothing when the read-back does not match (exit 4)", async () => {
    const t = await setup()
    // a later run rewrote part 0 under the same name with other bytes before this one verified
    const { S3Store } = await import("../src/store/s3.ts")
    const original = S3Store.prototype.putIfAbsent
    S3Store.prototype.putIfAbsent = async function (key, body, sha256) {
      const result = await original.call(this, key, body, sha256)
      if (/_0000_[0-9a-f]{16}\.parquet$/.test(key)) await this.put(key, body.subarray(0, body.length - 1))
      return result
    }
    try {
      const run = await cli(t.args("blocks", 0, 99, "--delete-after-compact"))
      assert.equal(run.code, 4)
      assert.match(run.stderr.at(-1)!, /Cannot verify partition 0-99 .*nothing was deleted/)
    } finally {
      S3Store.prototype.putIfAbsent = original
    }
    assert.equal((await hotRows(t.sql, "blocks", 0, 99)).length, 100)
  })

  it("exits 5 when another run holds the partition", async () => {
    const t = await setup()
    const holder = await t.sql.reserve()
    await holder`SELECT pg_advisory_lock(hashtextextended(${`parquet_compact:${CHAIN}:blocks:0-99`}, 0))`
    try {
      const run = await cli(t.args("blocks", 0, 99))
      assert.equal(run.code, 5)
      assert.match(run.stderr.at(-1)!, /another parquet_compact run holds it/)
    } finally {
      holder.release()
    }
  })

  it("commits concurrent runs on different partitions into one manifest", async () => {
    const t = await setup()
    const runs = await Promise.all(
      [0, 200, 400, 600, 800].map((first) => cli(t.args("logs", first, first + 199, "--chunk-size", "400"))),
    )
    assert.deepEqual(
      runs.map((r) => r.code),
      [0, 0, 0, 0, 0],
      runs.map((r) => r.stderr.join("\n")).join("\n"),
    )
    const m = await manifestOf(t.store, "logs")
    assert.deepEqual(m.partitions.map((p) => p.partition_key), [
      "0-199",
      "200-399",
      "400-599",
      "600-799",
      "800-999",
    ])
    assert.deepEqual(await coldRows(t.store, "logs"), await hotRows(t.sql, "logs", 0, 999))
  })

  it("splits a backfill into aligned partitions", async () => {
    const t = await setup()
    const run = await cli(t.args("blocks", 150, 1049, "--partition-size", "300"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    const m = await manifestOf(t.store, "blocks")
    assert.deepEqual(m.partitions.map((p) => p.partition_key), ["150-299", "300-599", "600-899", "900-1049"])
  })

  it("refuses a partition that overlaps another with exit 4", async () => {
    const t = await setup()
    assert.equal((await cli(t.args("blocks", 0, 499))).code, 0)
    const run = await cli(t.args("blocks", 400, 899))
    assert.equal(run.code, 4)
    assert.match(run.stderr.at(-1)!, /overlaps committed partition "0-499"/)
    assert.deepEqual(await t.store.list(`cold/${CHAIN}/blocks/blocks_400_`), []) // refused before writing
  })

  it("refuses to replace a partition when hot storage lacks rows that cold storage holds", async () => {
    const t = await setup()
    assert.equal((await cli(t.args("logs", 0, 999, "--delete-after-compact"))).code, 0)
    const cold = await coldRows(t.store, "logs")
    // a partial re-backfill: more rows than before in all, but only for blocks 500-999
    await seedChain(t.sql, { chainId: BigInt(CHAIN), first: 500n, last: 999n })
    await t.sql`INSERT INTO hot_logs SELECT chain_id, block_number, log_index + 100, transaction_hash,
      transaction_index, address, topic0, topic1, topic2, topic3, data FROM hot_logs WHERE block_number >= 500`
    const run = await cli(t.args("logs", 0, 999, "--delete-after-compact"))
    assert.equal(run.code, 4, run.stderr.join("\n"))
    assert.match(run.stderr.at(-1)!, /hot storage holds \d+ late rows \(blocks 500, 501, .*--merge-late/)
    assert.deepEqual(await coldRows(t.store, "logs"), cold)
    // merging is refused too: hot also holds some archived rows (blocks 500-999) but not the others
    const merge = await cli(t.args("logs", 0, 999, "--delete-after-compact", "--merge-late"))
    assert.equal(merge.code, 4, merge.stderr.join("\n"))
    assert.match(merge.stderr.at(-1)!, /Cannot merge .* also holds \d+ of its archived rows/)
    assert.deepEqual(await coldRows(t.store, "logs"), cold)
  })

  it("refuses to replace a partition whose table schema changed", async () => {
    const t = await setup()
    assert.equal((await cli(t.args("logs", 0, 99))).code, 0)
    await t.sql`ALTER TABLE hot_logs DROP COLUMN data`
    await t.sql`UPDATE hot_logs SET log_index = log_index WHERE block_number = 7` // new row versions
    const run = await cli(t.args("logs", 0, 99, "--delete-after-compact"))
    assert.equal(run.code, 4)
    assert.match(run.stderr.at(-1)!, /schema changed since it was compacted/)
    assert.ok((await hotRows(t.sql, "logs", 0, 99)).length > 0)
  })

  it("keeps the files of unchanged rows after a schema change, and may delete those rows", async () => {
    const t = await setup()
    assert.equal((await cli(t.args("logs", 0, 99))).code, 0)
    const cold = await coldRows(t.store, "logs")
    await t.sql`ALTER TABLE hot_logs DROP COLUMN data` // no row is rewritten
    const run = await cli(t.args("logs", 0, 99, "--delete-after-compact"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.equal(run.json.partitions[0]!.action, "unchanged")
    assert.equal(run.json.partitions[0]!.hot_rows_deleted, cold.length)
    assert.deepEqual(await coldRows(t.store, "logs"), cold) // still with the dropped column
    assert.equal((await hotRows(t.sql, "logs", 0, 99)).length, 0)
  })

  it("refuses --delete-after-compact when deleting would cascade to other tables", async () => {
    const t = await setup()
    await t.sql`ALTER TABLE hot_logs ADD FOREIGN KEY (chain_id, block_number)
      REFERENCES hot_blocks (chain_id, block_number) ON DELETE CASCADE`
    const logs = await hotRows(t.sql, "logs", 0, 99)
    const run = await cli(t.args("blocks", 0, 99, "--delete-after-compact"))
    assert.equal(run.code, 2)
    assert.match(run.stderr.at(-1)!, /deleting would also fire foreign key .* on hot_logs/)
    assert.deepEqual(await hotRows(t.sql, "logs", 0, 99), logs)
    assert.deepEqual(await t.store.list(""), [])
  })

  it("judges finality by the hot tip, not by a tip recorded from an earlier --tip", async () => {
    const t = await setup()
    assert.equal((await cli(t.args("blocks", 0, 99, "--tip", "1000000"))).code, 0)
    const run = await cli(t.args("blocks", 1150, 1199, "--delete-after-compact"))
    assert.equal(run.code, 3)
    assert.equal((await hotRows(t.sql, "blocks", 1150, 1199)).length, 50)
  })

  it("filters a multi-chain table by its chain_id column", async () => {
    const t = await setup(300n)
    await seedChain(t.sql, { chainId: 1n, first: 0n, last: 300n })
    const run = await cli(t.args("blocks", 0, 99))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.equal(run.json.rows, 100)
    assert.deepEqual(
      await coldRows(t.store, "blocks"),
      await hotRows(t.sql, "blocks", 0, 99),
    )
  })

  it("filters by --chain-column, and refuses one the table lacks", async () => {
    const t = await setup(300n)
    await t.sql`ALTER TABLE hot_blocks RENAME COLUMN chain_id TO network`
    await t.sql`ALTER TABLE hot_logs RENAME COLUMN chain_id TO network`
    await seedChain(t.sql, { chainId: 1n, first: 0n, last: 300n }) // inserts by position: lands in "network"
    const run = await cli(t.args("blocks", 0, 99, "--chain-column", "network", "--delete-after-compact"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.equal(run.json.rows, 100)
    const [left] = await t
      .sql`SELECT count(*)::int AS n FROM hot_blocks WHERE network = 1 AND block_number <= 99`
    assert.equal(left?.n, 100) // the other chain's rows are untouched
    const bad = await cli(t.args("blocks", 100, 199, "--chain-column", "chain"))
    assert.equal(bad.code, 2)
    assert.match(bad.stderr.at(-1)!, /has no column "chain"; fix --chain-column/)
  })

  it("plans without writing under --dry-run", async () => {
    const t = await setup()
    const run = await cli(t.args("blocks", 0, 999, "--dry-run"))
    assert.equal(run.code, 0)
    assert.equal(run.json.partitions[0]!.action, "planned")
    assert.equal(run.json.partitions[0]!.rows, 1000)
    assert.deepEqual(await t.store.list(""), [])
  })

  it("refuses bad input with exit 2 and one line", async () => {
    const t = await setup(10n)
    await t.sql`CREATE TABLE hot_points (block_number int8 PRIMARY KEY, p point)`
    const cases: [string[], RegExp][] = [
      [t.args("points", 0, 1, "--finality-threshold", "0"), /column "p" of type "point"/],
      [t.args("nothing", 0, 1, "--finality-threshold", "0"), /hot_nothing/],
      [t.args("blocks", 0, 1, "--block-column", "nope"), /no column "nope"/],
      [["compact", "--dataset", "blocks"], /--chain-id is required/],
      [["compact", "--bogus"], /unknown option '--bogus'/],
    ]
    for (const [argv, pattern] of cases) {
      const run = await cli(argv)
      assert.equal(run.code, 2, `${argv.join(" ")}: ${run.stderr.join("\n")}`)
      assert.match(run.stderr.join("\n"), pattern)
    }
    assert.deepEqual(await t.store.list(""), [])
  })
})
