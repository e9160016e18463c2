/**
 * The run loop's safety rules against the real Postgres and radosgw, driven in-process so that a test
 * can act at a named step (the `checkpoint` hook): committed objects are never overwritten, the hot
 * delete removes exactly the archived row versions, late rows are reported and can be merged, and
 * files no manifest names are removed by the next run of their partition.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { compact } from "../src/compact.ts"
import { validateConfig } from "../src/config.ts"
import { parseManifest } from "../src/core/manifest.ts"
import { CompactError } from "../src/errors.ts"
import { lineLogger } from "../src/log.ts"
import type { Sql } from "../src/pg/hot.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { closeDatabases, seededWorld } from "./helpers.ts"
import { testServices } from "./env.ts"

const CHAIN = 10143n
after(closeDatabases)

async function setup() {
  const db = await seededWorld(CHAIN, 1199n)
  const { store } = db
  const run = (
    dataset: string,
    last: number,
    more: Record<string, unknown> = {},
    checkpoint?: (step: string) => void | Promise<void>,
  ) =>
    compact(
      validateConfig({
        chainId: CHAIN,
        dataset,
        startBlock: 0n,
        endBlock: BigInt(last),
        dest: "s3://unused/cold",
        databaseUrl: db.url,
        chunkSize: 300,
        ...more,
      }),
      { sql: db.sql, databaseUrl: db.url, store, prefix: "cold", log: lineLogger(() => {}), checkpoint },
    )
  return { ...db, store, run }
}

async function manifest(store: ObjectStore, dataset: string) {
  const object = await store.get(`cold/${CHAIN}/${dataset}/manifest.json`)
  return object && parseManifest(new TextDecoder().decode(object.bytes))
}

/** Every file the manifest names has its recorded size and sha256; no other object is in the folder. */
async function assertConsistent(store: ObjectStore, dataset: string) {
  const m = (await manifest(store, dataset))!
  const named = new Set([`cold/${CHAIN}/${dataset}/manifest.json`])
  for (const f of m.partitions.flatMap((p) => p.files)) {
    named.add(f.key)
    const bytes = (await store.get(f.key))?.bytes
    assert.ok(bytes, `${f.key} exists`)
    assert.equal(bytes.length, f.bytes)
    assert.equal(createHash("sha256").update(bytes).digest("hex"), f.sha256, f.key)
  }
  assert.deepEqual((await store.list(`cold/${CHAIN}/${dataset}/`)).filter((k) => !named.has(k)), [])
  return m
}

const stopAt = (wanted: string) => (step: string) => {
  if (step === wanted) throw new Error(`stopped at ${wanted}`)
}
const hotCount = async (sql: Sql, table: string, last = 1199) =>
  (await sql.unsafe(`SELECT count(*)::int AS n FROM ${table} WHERE block_number <= ${last}`))[0]!.n as number

describe("safety of the run loop", () => {
  it("a replace stopped before its commit leaves the committed files untouched and removes its own", async () => {
    const t = await setup()
    await t.run("blocks", 999)
    const before = await assertConsistent(t.store, "blocks")
    for (const step of ["uploaded-file", "uploaded"]) {
      await assert.rejects(t.run("blocks", 999, { chunkSize: 450 }, stopAt(step)), /stopped at/)
      assert.deepEqual(await assertConsistent(t.store, "blocks"), before)
    }
    const replaced = await t.run("blocks", 999, { chunkSize: 450 })
    assert.equal(replaced.partitions[0]!.action, "compacted")
    const after_ = await assertConsistent(t.store, "blocks")
    assert.equal(after_.partitions[0]!.files.length, 3)
    assert.ok(
      after_.partitions[0]!.files.every((f) => !before.partitions[0]!.files.some((g) => g.key === f.key)),
    )
  })

  it("removes files that no manifest names on the next run of their partition, also when it refuses", async () => {
    const t = await setup()
    const orphan = `cold/${CHAIN}/blocks/blocks_0_99_0000_${"ab".repeat(8)}.parquet`
    await t.store.put(orphan, new Uint8Array([1, 2, 3]))
    await t.run("blocks", 99)
    assert.equal(await t.store.head(orphan), undefined)
    await assertConsistent(t.store, "blocks")
    // a losing run of an overlapping range left its files; its rerun refuses and still cleans up
    const loser = `cold/${CHAIN}/blocks/blocks_50_149_0000_${"cd".repeat(8)}.parquet`
    await t.store.put(loser, new Uint8Array([4]))
    const config = { startBlock: 50n }
    await assert.rejects(
      t.run("blocks", 149, config),
      (e) => e instanceof CompactError && e.code === "INTEGRITY",
    )
    assert.equal(await t.store.head(loser), undefined)
    await assertConsistent(t.store, "blocks")
  })

  it("deletes nothing when a row was updated after the copy, then archives the new version", async () => {
    const t = await setup()
    const update = async (step: string) => {
      if (step === "committed") await t.sql`UPDATE hot_logs SET data = '\\xbeef' WHERE block_number = 42`
    }
    const error = await t.run("logs", 99, { deleteAfterCompact: true }, update).catch((e) => e)
    assert.ok(error instanceof CompactError && error.code === "INTEGRITY", String(error))
    assert.match(
      error.message,
      /changed after they were copied.*rows written since in blocks 42.*nothing was deleted/,
    )
    const hot = await hotCount(t.sql, "hot_logs", 99)
    assert.ok(hot > 0)
    const rerun = await t.run("logs", 99, { deleteAfterCompact: true })
    assert.equal(rerun.partitions[0]!.action, "compacted")
    assert.equal(rerun.partitions[0]!.hot_rows_deleted, hot)
    assert.equal(await hotCount(t.sql, "hot_logs", 99), 0)
    await assertConsistent(t.store, "logs")
  })

  it("deletes nothing after a delete and insert of as many rows", async () => {
    const t = await setup()
    const swap = async (step: string) => {
      if (step !== "verified") return
      await t.sql`CREATE TEMP TABLE x AS SELECT * FROM hot_logs WHERE block_number = 7`
      await t.sql`DELETE FROM hot_logs WHERE block_number = 7`
      await t.sql`INSERT INTO hot_logs SELECT * FROM x`
    }
    await assert.rejects(
      t.run("logs", 99, { deleteAfterCompact: true }, swap),
      (e) => e instanceof CompactError && /changed after they were copied/.test(e.message),
    )
    assert.ok((await hotCount(t.sql, "hot_logs", 99)) > 0)
  })

  it("reports late rows of a committed partition with exit 4, and merges them with --merge-late", async () => {
    const t = await setup()
    await t.run("logs", 99, { deleteAfterCompact: true })
    const archived = (await manifest(t.store, "logs"))!.partitions[0]!.row_count
    await t.sql`INSERT INTO hot_logs (chain_id, block_number, log_index, transaction_hash, transaction_index,
      address, topic0, data) VALUES (${CHAIN.toString()}, 57, 900, '\\x01', 0, '\\x02', '\\x03', '\\x04'),
      (${CHAIN.toString()}, 58, 900, '\\x05', 0, '\\x02', '\\x03', '\\x04')`
    const error = await t.run("logs", 99, { deleteAfterCompact: true }).catch((e) => e)
    assert.ok(error instanceof CompactError && error.code === "INTEGRITY")
    assert.match(error.message, /2 late rows \(blocks 57, 58\).*--merge-late/)
    const merged = await t.run("logs", 99, { deleteAfterCompact: true, mergeLate: true })
    assert.equal(merged.partitions[0]!.action, "merged")
    assert.equal(merged.partitions[0]!.hot_rows_deleted, 2)
    const m = await assertConsistent(t.store, "logs")
    assert.equal(m.partitions[0]!.row_count, archived + 2)
    assert.equal(await hotCount(t.sql, "hot_logs", 99), 0)
    const again = await t.run("logs", 99, { deleteAfterCompact: true })
    assert.equal(again.partitions[0]!.action, "kept")
  })

  it("rewrites a committed file lost from the store while hot still holds its rows, else refuses", async () => {
    const t = await setup()
    await t.run("blocks", 99)
    const lost = (await manifest(t.store, "blocks"))!.partitions[0]!.files[0]!.key
    await t.store.delete(lost)
    const repaired = await t.run("blocks", 99, { deleteAfterCompact: true })
    assert.equal(repaired.partitions[0]!.action, "compacted")
    assert.equal(repaired.partitions[0]!.hot_rows_deleted, 100)
    const m = await assertConsistent(t.store, "blocks")
    await t.store.delete(m.partitions[0]!.files[0]!.key)
    await assert.rejects(
      t.run("blocks", 99),
      (e) =>
        e instanceof CompactError && e.code === "INTEGRITY" &&
        /names 1 files the store lacks/.test(e.message),
    )
  })

  it("does not replace from hot rows that changed between its decision and its copy", async () => {
    const t = await setup()
    await t.run("logs", 99)
    const before = await assertConsistent(t.store, "logs")
    await t.sql`UPDATE hot_logs SET data = '\xbeef' WHERE block_number = 3` // a repair: replace from hot
    const vanish = async (step: string) => {
      if (step === "cleaned") await t.sql`DELETE FROM hot_logs WHERE block_number = 5` // archived rows leave hot
    }
    await assert.rejects(
      t.run("logs", 99, {}, vanish),
      (e) =>
        e instanceof CompactError && e.code === "RETRYABLE" &&
        /changed while it was being compacted/.test(e.message),
    )
    assert.deepEqual(await assertConsistent(t.store, "logs"), before) // block 5's rows are still in cold
  })

  it("deletes no hot row of a damaged committed file, and rewrites it once the damaged object is removed", async () => {
    const t = await setup()
    await t.run("blocks", 99)
    const file = (await manifest(t.store, "blocks"))!.partitions[0]!.files[0]!
    const bytes = (await t.store.get(file.key))!.bytes
    await t.store.put(file.key, bytes.map((b, i) => (i === 100 ? b ^ 0xff : b))) // same size, other bytes
    const error = await t.run("blocks", 99, { deleteAfterCompact: true }).catch((e) => e)
    assert.ok(error instanceof CompactError && error.code === "INTEGRITY", String(error))
    assert.match(error.message, /does not have the recorded sha256.*delete the damaged object and rerun/)
    assert.equal(await hotCount(t.sql, "hot_blocks", 99), 100)
    await t.store.delete(file.key)
    const repaired = await t.run("blocks", 99, { deleteAfterCompact: true })
    assert.equal(repaired.partitions[0]!.hot_rows_deleted, 100)
    await assertConsistent(t.store, "blocks")
  })

  it("an unchanged rerun neither copies nor uploads, and deletes the proven rows", async () => {
    const t = await setup()
    await t.run("logs", 99)
    const steps: string[] = []
    const rerun = await t.run("logs", 99, { deleteAfterCompact: true }, (s) => void steps.push(s))
    assert.equal(rerun.partitions[0]!.action, "unchanged")
    assert.deepEqual(steps, ["locked", "cleaned", "deleted-hot"])
    assert.equal(await hotCount(t.sql, "hot_logs", 99), 0)
  })
})

testServices()
