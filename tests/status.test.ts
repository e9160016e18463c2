/**
 * `status` against the real Postgres and S3 server: a chain whose blocks have a gap (compacted on
 * both sides, the hot rows between lost) and whose logs have late rows.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import type { StatusReport } from "../src/status.ts"
import { cli, closeDatabases, s3Flags, seededWorld } from "./helpers.ts"

const CHAIN = "10143" // threshold 100
after(closeDatabases)

/**
 * Blocks and logs 0..1199; logs 0-999 compacted and deleted, then 3 late rows for block 700; blocks
 * 0-299 and 600-999 compacted and deleted, then the hot blocks 300-599 lost: a gap.
 */
async function setup() {
  const db = await seededWorld(BigInt(CHAIN), 1199n)
  const { bucket, store } = db
  const common = ["--chain-id", CHAIN, "--dest", `s3://${bucket}/cold`, "--database-url", db.url, ...s3Flags]
  const compact = async (dataset: string, first: number, last: number) => {
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
      "--delete-after-compact",
    ])
    assert.equal(run.code, 0, run.stderr.join("\n"))
  }
  await compact("logs", 0, 999)
  await compact("blocks", 0, 299)
  await compact("blocks", 600, 999)
  await db.sql`DELETE FROM hot_blocks WHERE block_number BETWEEN 300 AND 599`
  await db.sql`INSERT INTO hot_logs SELECT chain_id, 700, log_index, transaction_hash, transaction_index,
    address, topic0, topic1, topic2, topic3, data FROM hot_logs WHERE block_number = 1010 LIMIT 3`
  const status = async (...more: string[]) => {
    const run = await cli(["status", ...common, ...more])
    assert.equal(run.code, 0, run.stderr.join("\n"))
    return run
  }
  return { ...db, store, common, status }
}

const kinds = (d: StatusReport["datasets"][number]) => d.segments.map((s) => `${s.kind} ${s.first}-${s.last}`)

describe("status", () => {
  it("reports a gap, the hot range, the tips and late rows as JSON, and draws the gap", async () => {
    const t = await setup()
    const run = await t.status("--json")
    const report = JSON.parse(run.stdout[0]!) as StatusReport
    assert.equal(report.tip, "1199")
    assert.equal(report.tip_source, "hot blocks table")
    assert.equal(report.finality_threshold, "100")
    assert.equal(report.final_tip, "1099")
    assert.deepEqual(report.domain, { first: "0", last: "1199", blocks: "1200" })
    assert.deepEqual(report.datasets.map((d) => d.dataset), ["blocks", "logs"])
    const [blocks, logs] = report.datasets
    assert.ok(blocks && logs)
    assert.deepEqual(blocks.gaps, [{ first: "300", last: "599", blocks: "300" }])
    assert.deepEqual(blocks.hot, { table: "hot_blocks", first: "1000", last: "1199", blocks: "200" })
    assert.deepEqual(kinds(blocks), [
      "cold 0-299",
      "gap 300-599",
      "cold 600-999",
      "hot 1000-1099",
      "not_final 1100-1199",
    ])
    assert.equal(blocks.partitions, 2)
    assert.equal(blocks.rows, 700)
    assert.deepEqual(blocks.late_rows, [])
    assert.deepEqual(logs.gaps, [])
    assert.deepEqual(kinds(logs), ["cold 0-999", "hot 1000-1099", "not_final 1100-1199"])
    const [late, ...more] = logs.late_rows
    assert.deepEqual(more, [])
    assert.ok(late)
    assert.equal(late.partition, "500-999")
    assert.equal(late.hot_rows, "3")
    assert.ok(late.cold_rows > 1000, `${late.cold_rows} rows of logs 500-999 in cold storage`)

    // 12 cells of 100 blocks: 0-299 cold, 300-599 gap, 600-999 cold, 1000-1099 hot, 1100-1199 not final
    const text = (await t.status("--width", "12")).stdout.join("\n")
    assert.match(text, /tip 1,199 \(from hot blocks table\), final tip 1,099 \(threshold 100\)/)
    assert.match(text, /\n {2}blocks {2}███!!!████▒░\n/)
    assert.match(text, /\n {2}logs {4}██████████▒░\n/)
    assert.match(text, /! gap: final, in neither/)
    assert.match(text, /\n {2}blocks .* 0-299, 600-999 +1000-1199 +300-599 +none\n/)
    assert.match(
      text,
      /Gaps:\n {2}blocks: blocks 300-599 \(300 blocks\) are final and neither compacted nor in hot storage/,
    )
    assert.match(
      text,
      /Late rows:\n {2}logs: partition 500-999 holds [\d,]+ rows in cold storage, 3 in hot storage/,
    )
  })

  it("shows one dataset, and cold storage alone when Postgres is not consulted or not reachable", async () => {
    const t = await setup()
    const one = JSON.parse((await t.status("--dataset", "blocks", "--json")).stdout[0]!) as StatusReport
    assert.deepEqual(one.datasets.map((d) => d.dataset), ["blocks"])

    const cold = JSON.parse((await t.status("--no-hot", "--json")).stdout[0]!) as StatusReport
    assert.equal(cold.hot_available, false)
    assert.equal(cold.tip_source, "committed partitions")
    assert.deepEqual(kinds(cold.datasets[0]!), ["cold 0-299", "unknown 300-599", "cold 600-999"])
    assert.deepEqual(cold.datasets[0]!.gaps, [])

    const args = ["status", ...t.common, "--database-url", "postgres://nobody@127.0.0.1:1/none"]
    const unreachable = await cli(args)
    assert.equal(unreachable.code, 0, unreachable.stderr.join("\n"))
    assert.match(unreachable.stdout.join("\n"), /Cannot reach Postgres \(.*\): showing cold storage only/)
    assert.match(unreachable.stdout.join("\n"), /\? not cold, hot not consulted/)
  })
})
