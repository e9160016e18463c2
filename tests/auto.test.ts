/**
 * `plan` and `compact --auto` against the real Postgres and radosgw: the verdicts on a hot table with
 * a gap, late rows, a locked partition and an unfinal tail; auto doing exactly the ready partitions,
 * then nothing; the --min-blocks threshold; a range that ends above the final tip.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import postgres from "postgres"
import { seedChain } from "../bench/datagen.ts"
import { parseManifest } from "../src/core/manifest.ts"
import type { RunReport } from "../src/report.ts"
import type { PlanLine } from "../src/cli/plan.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { cli, closeDatabases, s3Flags, seededWorld } from "./helpers.ts"

const CHAIN = "10143" // threshold 100; seeded tip 1299, so the final tip is 1199
after(closeDatabases)

async function setup() {
  const db = await seededWorld(BigInt(CHAIN), 1299n)
  const { bucket, store } = db
  const common = [
    "--chain-id",
    CHAIN,
    "--dataset",
    "logs",
    "--dest",
    `s3://${bucket}/cold`,
    "--database-url",
    db.url,
    ...s3Flags,
    "--log-format",
    "json",
  ]
  const plan = async (...more: string[]) => {
    const run = await cli(["plan", ...common, "--partition-size", "100", "--json", ...more])
    assert.equal(run.code, 0, run.stderr.join("\n"))
    return run.stdout.map((l) => JSON.parse(l) as PlanLine)
  }
  const auto = async (...more: string[]) => {
    const run = await cli(["compact", "--auto", ...common, "--partition-size", "100", "--json", ...more])
    return { ...run, report: JSON.parse(run.stdout.at(-1)!) as RunReport }
  }
  const compact = (first: number, last: number, ...more: string[]) =>
    cli(["compact", ...common, "--start-block", `${first}`, "--end-block", `${last}`, "--json", ...more])
  return { ...db, store, common, plan, auto, compact }
}

async function committedKeys(store: ObjectStore): Promise<string[]> {
  const object = await store.get(`cold/${CHAIN}/logs/manifest.json`)
  if (!object) return []
  return parseManifest(new TextDecoder().decode(object.bytes)).partitions.map((p) => p.partition_key)
}

const byKey = (lines: PlanLine[]) => new Map(lines.map((l) => [l.partition_key, l]))

describe("plan", () => {
  it("judges each whole partition: late rows, committed, ready, gap, locked, not final", async () => {
    const t = await setup()
    assert.equal((await t.compact(0, 99, "--delete-after-compact")).code, 0)
    assert.equal((await t.compact(100, 199)).code, 0)
    // a late log for block 50, after its partition was compacted and its hot rows deleted
    await t.sql.unsafe(`INSERT INTO hot_logs SELECT chain_id, 50, 99, transaction_hash, transaction_index,
      address, topic0, topic1, topic2, topic3, data FROM hot_logs WHERE block_number = 150 AND log_index = 0`)
    await t.sql.unsafe(`DELETE FROM hot_blocks WHERE block_number IN (450, 451)`)
    const holder = postgres(t.url, { max: 1, onnotice: () => {} })
    const name = `parquet_compact:${CHAIN}:logs:600-699`
    await holder`SELECT pg_advisory_lock(hashtextextended(${name}, 0))`
    try {
      const before = await t.store.get(`cold/${CHAIN}/logs/manifest.json`)
      const lines = byKey(await t.plan())
      assert.deepEqual([...lines.keys()], Array.from({ length: 13 }, (_, i) => `${i * 100}-${i * 100 + 99}`))
      const status = (key: string) => lines.get(key)!.status
      assert.equal(status("0-99"), "late-rows")
      assert.match(lines.get("0-99")!.reason, /1 late rows \(blocks 50\)/)
      assert.equal(status("100-199"), "committed")
      assert.equal(status("200-299"), "ready")
      assert.equal(lines.get("200-299")!.ready, true)
      assert.equal(status("400-499"), "gap")
      assert.equal(lines.get("400-499")!.first_missing_block, "450")
      assert.match(lines.get("400-499")!.reason, /gap at block 450 \(2 blocks missing: 450-451\)/)
      assert.equal(status("600-699"), "locked")
      assert.equal(status("1200-1299"), "not-final")
      assert.equal(lines.get("1200-1299")!.blocks_to_finality, "100")
      assert.deepEqual(
        [...lines.values()].filter((l) => l.ready).map((l) => l.partition_key),
        ["200-299", "300-399", "500-599", "700-799", "800-899", "900-999", "1000-1099", "1100-1199"],
      )
      // a table for people, and nothing written
      const table = await cli(["plan", ...t.common, "--partition-size", "100"])
      assert.equal(table.code, 0, table.stderr.join("\n"))
      assert.match(table.stdout.join("\n"), /400-499 +gap +\d+ +gap at block 450/)
      assert.match(table.stdout[0]!, /tip 1299, final tip 1199 .*8 ready, 5 not/)
      assert.deepEqual((await t.store.get(`cold/${CHAIN}/logs/manifest.json`))!.etag, before!.etag)
      // --from/--to pick whole partitions holding those blocks, above the tip folded into one line
      const window = await t.plan("--from", "250", "--to", "5000")
      assert.equal(window[0]!.partition_key, "200-299")
      assert.deepEqual(window.at(-1), {
        ...window.at(-1)!,
        partition_key: "1300-5099",
        status: "not-final",
        ready: false,
      })
    } finally {
      await holder.end()
    }
  })
})

describe("compact --auto", () => {
  it("compacts exactly the ready partitions, then finds nothing to do", async () => {
    const t = await setup()
    await t.sql.unsafe(`DELETE FROM hot_blocks WHERE block_number = 450`)
    const ready = (await t.plan()).filter((l) => l.ready).map((l) => l.partition_key)
    assert.equal(ready.length, 11)
    const first = await t.auto("--concurrency", "3")
    assert.equal(first.code, 0, first.stderr.join("\n"))
    const compacted = first.report.partitions.filter((p) => p.status === "compacted").map((p) =>
      p.partition_key
    )
    assert.deepEqual(compacted, ready)
    assert.deepEqual((await committedKeys(t.store)).sort(), [...ready].sort())
    assert.deepEqual(first.report.counts, { compacted: 11, gap: 1, "not-final": 1 })
    const second = await t.auto()
    assert.equal(second.code, 0, second.stderr.join("\n"))
    assert.equal(second.report.note, "nothing to do: no partition is ready")
    assert.equal(second.report.counts.compacted, undefined)
    assert.ok(second.stderr.some((l) => /Nothing to do/.test(l)))
    assert.deepEqual((await committedKeys(t.store)).sort(), [...ready].sort())
  })

  it("does nothing until --min-blocks final blocks are uncompacted", async () => {
    const t = await setup()
    const waiting = await t.auto("--min-blocks", "1201")
    assert.equal(waiting.code, 0)
    assert.match(waiting.report.note!, /1200 final blocks are uncompacted, fewer than --min-blocks 1201/)
    assert.deepEqual(await committedKeys(t.store), [])
    const going = await t.auto("--min-blocks", "1200")
    assert.equal(going.code, 0, going.stderr.join("\n"))
    assert.equal(going.report.counts.compacted, 12)
    // one more final partition's worth of blocks is needed before the next run does anything
    await seedChain(t.sql, { chainId: BigInt(CHAIN), first: 1300n, last: 1350n })
    const next = await t.auto("--min-blocks", "100")
    assert.match(next.report.note!, /51 final blocks are uncompacted, fewer than --min-blocks 100/)
  })

  it("starts no partition after --timeout-seconds; the next run goes on from there", async () => {
    const t = await setup()
    const first = await t.auto("--timeout-seconds", "1", "--partition-size", "50")
    assert.equal(first.code, 0, first.stderr.join("\n"))
    assert.equal(first.report.stopped_by, "deadline")
    const started = first.report.counts.compacted ?? 0
    const left = first.report.counts["not-started"] ?? 0
    assert.ok(left > 0, JSON.stringify(first.report.counts))
    assert.equal(started + left, 24) // 0-1199 in partitions of 50 blocks
    const second = await t.auto("--partition-size", "50")
    assert.equal(second.code, 0, second.stderr.join("\n"))
    assert.equal(second.report.counts.compacted, left)
    assert.equal((await committedKeys(t.store)).length, 24)
  })

  it("with a range ending above the final tip, does the final part and reports the rest", async () => {
    const t = await setup()
    const run = await t.auto("--start-block", "1000", "--end-block", "1999")
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.deepEqual(
      run.report.partitions.map((p) => [p.partition_key, p.status]),
      [["1000-1099", "compacted"], ["1100-1199", "compacted"], ["1200-1299", "not-final"], [
        "1300-1999",
        "not-final",
      ]],
    )
    assert.deepEqual(await committedKeys(t.store), ["1000-1099", "1100-1199"])
  })
})
