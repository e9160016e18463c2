/**
 * The completeness check and the COPY must see the same rows: a check run beside the COPY, on
 * another connection, may take a LATER snapshot than the COPY's, and a block (with its logs)
 * backfilled in between would pass the check although the COPY never saw it, committing an
 * incomplete range (found by review of a change that did just that, now reverted). Timing is forced
 * by holding the check's read of the blocks manifest (a slow S3 GET) until the first file of the
 * write is put, i.e. until the COPY's snapshot surely exists; the backfill lands then.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { parquetReadObjects } from "hyparquet"
import { parseManifest } from "../src/core/manifest.ts"
import { S3Store } from "../src/store/s3.ts"
import { cli, closeDatabases, s3Flags, seededWorld } from "./helpers.ts"

const CHAIN = "10143"
after(closeDatabases)

describe("the completeness check and the COPY", () => {
  for (const more of [[], ["--delete-after-compact"]]) {
    it(`never commits a logs range whose block arrived after the COPY's snapshot ${more.join(" ")}`, async () => {
      const db = await seededWorld(BigInt(CHAIN), 1199n)
      const { sql, store, bucket, url } = db
      // block 40 not ingested yet: keep its rows aside for the backfill
      await sql.unsafe(`CREATE TABLE saved_blocks AS SELECT * FROM hot_blocks WHERE block_number = 40`)
      await sql.unsafe(`CREATE TABLE saved_logs AS SELECT * FROM hot_logs WHERE block_number = 40`)
      const logs40 = Number((await sql.unsafe(`SELECT count(*)::int AS n FROM saved_logs`))[0]!.n)
      assert.ok(logs40 > 0, "block 40 has logs")
      await sql.unsafe(
        `DELETE FROM hot_logs WHERE block_number = 40; DELETE FROM hot_blocks WHERE block_number = 40`,
      )

      const get = S3Store.prototype.get
      const putIfAbsent = S3Store.prototype.putIfAbsent
      const abortIncomplete = S3Store.prototype.abortIncompleteUploads
      let armed = false
      let open!: () => void
      const gate = new Promise<void>((resolve) => (open = resolve))
      let backfilled = false
      S3Store.prototype.abortIncompleteUploads = async function (prefix) {
        armed = true // from here on, the next blocks-manifest read is checkComplete's
        return await abortIncomplete.call(this, prefix)
      }
      S3Store.prototype.get = async function (key) {
        if (armed && key.endsWith("/blocks/manifest.json")) {
          armed = false
          await Promise.race([gate, new Promise((r) => setTimeout(r, 3_000))])
        }
        return await get.call(this, key)
      }
      S3Store.prototype.putIfAbsent = async function (key, body, sha256) {
        if (!backfilled && key.endsWith(".parquet")) {
          backfilled = true // the COPY has produced a file: its snapshot is taken; the backfill lands now
          await sql.begin(async (tx) => {
            await tx.unsafe(`INSERT INTO hot_blocks SELECT * FROM saved_blocks`)
            await tx.unsafe(`INSERT INTO hot_logs SELECT * FROM saved_logs`)
          })
          open()
        }
        return await putIfAbsent.call(this, key, body, sha256)
      }
      let run
      try {
        run = await cli([
          "compact",
          "--chain-id",
          CHAIN,
          "--dataset",
          "logs",
          "--start-block",
          "0",
          "--end-block",
          "99",
          "--dest",
          `s3://${bucket}/cold`,
          "--database-url",
          url,
          ...s3Flags,
          "--json",
          ...more,
        ])
      } finally {
        S3Store.prototype.get = get
        S3Store.prototype.putIfAbsent = putIfAbsent
        S3Store.prototype.abortIncompleteUploads = abortIncomplete
      }
      const manifest = await store.get(`cold/${CHAIN}/logs/manifest.json`)
      if (!manifest) {
        // refused before committing (the pre-afc1ba4 order: the check ran before the COPY)
        assert.equal(run.code, 4, run.stderr.join("\n"))
        return
      }
      // committed (whatever the exit code): then it must hold block 40's logs
      const m = parseManifest(new TextDecoder().decode(manifest.bytes))
      let cold40 = 0
      let total = 0
      for (const f of m.partitions.flatMap((p) => p.files)) {
        const bytes = (await store.get(f.key))!.bytes
        const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
        for (const r of await parquetReadObjects({ file, utf8: false })) {
          total++
          if (BigInt(r.block_number as bigint) === 40n) cold40++
        }
      }
      const hot = Number(
        (await sql.unsafe(
          `SELECT count(*)::int AS n FROM hot_logs WHERE chain_id = ${CHAIN} AND block_number BETWEEN 0 AND 99`,
        ))[0]!.n,
      )
      assert.equal(
        cold40,
        logs40,
        `exit ${run.code}: committed logs 0-99 (${total} rows, hot has ${hot}) lack block 40's ${logs40} logs`,
      )
    })
  }
})
