/**
 * `verify` against the real Postgres and S3 server: cold storage written by `compact`, then damaged
 * on purpose (an object deleted, one corrupted, one added, a range left out, hot rows added back).
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { parseManifest } from "../src/core/manifest.ts"
import type { ObjectStore } from "../src/store/store.ts"
import type { VerifyReport } from "../src/verify.ts"
import { cli, closeDatabases, s3Flags, seededWorld } from "./helpers.ts"

const CHAIN = "10143" // threshold 100
after(closeDatabases)

/** Blocks and logs 0..1199 in a fresh database, a fresh bucket, and CLI argument builders. */
async function setup() {
  const db = await seededWorld(BigInt(CHAIN), 1199n)
  const { bucket, store } = db
  const common = ["--chain-id", CHAIN, "--dest", `s3://${bucket}/cold`, "--database-url", db.url, ...s3Flags]
  const compact = async (dataset: string, first: number, last: number, ...more: string[]) => {
    const run = await cli([
      "compact",
      ...common,
      "--dataset",
      dataset,
      "--start-block",
      `${first}`,
      "--end-block",
      `${last}`,
      "--partition-size",
      "500",
      "--chunk-size",
      "200",
      ...more,
    ])
    assert.equal(run.code, 0, run.stderr.join("\n"))
  }
  const verify = async (dataset: string, ...more: string[]) => {
    const run = await cli(["verify", ...common, "--dataset", dataset, "--json", ...more])
    return { ...run, report: JSON.parse(run.stdout[0] ?? "null") as VerifyReport }
  }
  return { ...db, bucket, store, compact, verify, common }
}

async function manifestOf(store: ObjectStore, dataset: string) {
  const object = await store.get(`cold/${CHAIN}/${dataset}/manifest.json`)
  assert.ok(object, `manifest of ${dataset} exists`)
  return parseManifest(new TextDecoder().decode(object.bytes))
}

describe("verify", () => {
  it("passes a clean dataset with exit 0, having hashed every byte", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 999)
    const run = await t.verify("blocks", "--against-hot")
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.equal(run.report.ok, true)
    assert.deepEqual(run.report.problems, [])
    assert.deepEqual(run.report.partitions.map((p) => p.partition), ["0-499", "500-999"])
    assert.equal(run.report.rows, 1000)
    assert.equal(run.report.bytes_hashed, run.report.bytes)
    assert.equal(run.report.objects, run.report.files + 1)
    // compacted without deleting: hot still holds the same rows, which is fine
    assert.deepEqual(run.report.notes.map((n) => n.partition), ["0-499", "500-999"])
    const text = await cli(["verify", ...t.common, "--dataset", "blocks"])
    assert.equal(text.code, 0)
    assert.match(text.stdout.join("\n"), /0-499 +3 +500 .* ok\n/)
    assert.match(text.stdout.join("\n"), /OK: no problems/)
  })

  it("finds a deleted object (exit 4)", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 999)
    const gone = (await manifestOf(t.store, "blocks")).partitions[1]!.files[1]!.key
    await t.store.delete(gone)
    const run = await t.verify("blocks")
    assert.equal(run.code, 4)
    assert.deepEqual(run.report.problems, [{ kind: "missing_file", partition: "500-999", key: gone }])
    assert.match(run.stderr.at(-1)!, /1 problem \(1 missing_file\)/)
  })

  it("finds a corrupted object of the same size (exit 4)", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 999)
    const file = (await manifestOf(t.store, "blocks")).partitions[0]!.files[0]!
    const bytes = new Uint8Array((await t.store.get(file.key))!.bytes)
    bytes[200] = bytes[200]! ^ 0xff // inside the first column chunk: the footer still reads
    await t.store.put(file.key, bytes)
    const run = await t.verify("blocks")
    assert.equal(run.code, 4)
    assert.equal(run.report.problems.length, 1)
    const [p] = run.report.problems
    assert.equal(p?.kind, "sha256_mismatch")
    assert.ok(p?.kind === "sha256_mismatch" && p.key === file.key && p.expected === file.sha256)
    const text = await cli(["verify", ...t.common, "--dataset", "blocks"])
    assert.match(text.stdout.join("\n"), /0-499 .* 1 problem\n[^]*has sha256 .* \(corrupted or overwritten\)/)
    assert.match(text.stdout.join("\n"), /FAILED: 1 problem \(1 sha256_mismatch\)/)
  })

  it("checks each footer's row count and block span against the manifest (exit 4)", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 499)
    const key = `cold/${CHAIN}/blocks/manifest.json`
    const json = JSON.parse(new TextDecoder().decode((await t.store.get(key))!.bytes))
    const [first, second] = json.partitions[0].files
    first.min_block = "1" // the file starts at block 0
    // move a row from one file's count to the other's: the partition total still adds up
    first.rows += 1
    second.rows -= 1
    await t.store.put(key, new TextEncoder().encode(JSON.stringify(json)))
    const run = await t.verify("blocks")
    assert.equal(run.code, 4)
    assert.deepEqual(run.report.problems, [
      { kind: "row_count_mismatch", partition: "0-499", key: first.key, expected: 201, actual: 200 },
      {
        kind: "block_range_mismatch",
        partition: "0-499",
        key: first.key,
        expected: "1-199",
        actual: "0-199",
      },
      { kind: "row_count_mismatch", partition: "0-499", key: second.key, expected: 199, actual: 200 },
    ])
  })

  it("finds an object that no manifest names (exit 4)", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 499)
    const orphan = `cold/${CHAIN}/blocks/blocks_0_499_0007_0123abcd.parquet`
    await t.store.put(orphan, new Uint8Array(123))
    const run = await t.verify("blocks")
    assert.equal(run.code, 4)
    assert.deepEqual(run.report.problems, [{ kind: "orphan", key: orphan, bytes: 123 }])
  })

  it("lists a gap between partitions (exit 4)", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 299)
    await t.compact("blocks", 600, 999)
    const run = await t.verify("blocks")
    assert.equal(run.code, 4)
    assert.deepEqual(run.report.problems, [{ kind: "gap", first: "300", last: "599", blocks: "300" }])
  })

  it("finds late rows in a compacted and deleted range with --against-hot (exit 4)", async () => {
    const t = await setup()
    await t.compact("logs", 0, 999, "--delete-after-compact")
    const clean = await t.verify("logs", "--against-hot")
    assert.equal(clean.code, 0, clean.stderr.join("\n"))
    assert.deepEqual(clean.report.notes, [])
    assert.deepEqual(clean.report.partitions.map((p) => p.hot_rows), ["0", "0"])
    // three rows arrive late for block 700, after its partition was archived
    await t.sql`INSERT INTO hot_logs SELECT chain_id, 700, log_index, transaction_hash, transaction_index,
      address, topic0, topic1, topic2, topic3, data FROM hot_logs WHERE block_number = 1010 LIMIT 3`
    const cold = (await manifestOf(t.store, "logs")).partitions[1]!.row_count
    const run = await t.verify("logs", "--against-hot")
    assert.equal(run.code, 4)
    assert.deepEqual(run.report.problems, [
      { kind: "late_rows", partition: "500-999", cold_rows: cold, hot_rows: "3" },
    ])
    assert.equal(run.report.against_hot, "public.hot_logs")
    // cold storage itself is sound: without the hot side there is nothing to report
    assert.equal((await t.verify("logs")).code, 0)
  })

  it("reports overlapping partitions instead of failing to read the manifest, and still checks their files", async () => {
    const t = await setup()
    await t.compact("blocks", 0, 999)
    const key = `cold/${CHAIN}/blocks/manifest.json`
    const json = JSON.parse(new TextDecoder().decode((await t.store.get(key))!.bytes))
    Object.assign(json.partitions[1], { partition_key: "400-999", start_block: "400" })
    await t.store.put(key, new TextEncoder().encode(JSON.stringify(json)))
    const gone = json.partitions[1].files[0].key
    await t.store.delete(gone)
    const run = await t.verify("blocks")
    assert.equal(run.code, 4)
    assert.deepEqual(run.report.problems.map((p) => p.kind), ["manifest_invalid", "overlap", "missing_file"])
    assert.deepEqual(run.report.problems[1], { kind: "overlap", partition: "400-999", other: "0-499" })
    assert.deepEqual(run.report.problems[2], { kind: "missing_file", partition: "400-999", key: gone })
  })

  it("refuses a dataset with nothing in cold storage with exit 2", async () => {
    const t = await setup()
    const run = await t.verify("blocks")
    assert.equal(run.code, 2)
    assert.match(run.stderr.at(-1)!, /holds nothing; check --dest, --chain-id and --dataset/)
    const missing = await cli(["verify", "--dest", "file:///tmp/x", "--dataset", "blocks"])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr.at(-1)!, /--chain-id is required/)
  })
})
