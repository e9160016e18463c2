/**
 * Reproducers of data-safety bugs the reliability harness found in the run loop, each the smallest
 * in-process run against the real Postgres and radosgw that shows it. They assert the safe
 * behaviour; each failed before its fix (the commit that fixed it names the finding).
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { parquetReadObjects } from "hyparquet"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { compact } from "../../src/compact.ts"
import { validateConfig } from "../../src/config.ts"
import { parseManifest } from "../../src/core/manifest.ts"
import { lineLogger } from "../../src/log.ts"
import { checkInvariants } from "./invariants.ts"
import { closeLib, hotRows, insertLate, makeWorld, type World } from "./lib.ts"
import { seedChain } from "../../bench/datagen.ts"
import type { ObjectStore } from "../../src/store/store.ts"

const CHAIN = 10143n
const worlds: World[] = []
after(async () => {
  await Promise.all(worlds.map((w) => w.close()))
  await closeLib()
})

const run = (
  w: World,
  more: Record<string, unknown>,
  store: ObjectStore = w.store,
  checkpoint?: (step: string) => Promise<void>,
) =>
  compact(
    validateConfig({
      chainId: CHAIN,
      dataset: "txs",
      sourceTable: "hot_txs",
      startBlock: 0n,
      endBlock: 99n,
      dest: "s3://unused/cold",
      databaseUrl: w.url,
      chunkSize: 1000,
      ...more,
    }),
    { sql: w.sql, databaseUrl: w.url, store, prefix: w.prefix, log: lineLogger(() => {}), checkpoint },
  )

describe("findings", () => {
  it("a table keyed by a bytea column: late rows are merged once, archived rows are not archived again", async () => {
    const w = await makeWorld("s3")
    worlds.push(w)
    await w.sql.unsafe(`
      CREATE TABLE hot_txs (chain_id int8 NOT NULL, block_number int8 NOT NULL, hash bytea NOT NULL,
        value int8 NOT NULL, PRIMARY KEY (chain_id, hash));
      INSERT INTO hot_txs SELECT 10143, n, sha256(int8send(n)), n FROM generate_series(0, 99) AS n`)
    await run(w, {})
    // a late row arrives while the archived rows are still hot (compacted without delete)
    await w.sql.unsafe(`INSERT INTO hot_txs VALUES (10143, 50, '\\x00ff', 7)`)
    const error = await run(w, {}).catch((e: Error) => e)
    await run(w, { mergeLate: true, deleteAfterCompact: true }).catch(() => {})
    const m = parseManifest(
      new TextDecoder().decode((await w.store.get(`cold/${CHAIN}/txs/manifest.json`))!.bytes),
    )
    const hashes: string[] = []
    for (const f of m.partitions.flatMap((p) => p.files)) {
      const bytes = (await w.store.get(f.key))!.bytes
      const rows = await parquetReadObjects({
        file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        columns: ["hash"],
        utf8: false,
      })
      hashes.push(...rows.map((r) => Buffer.from(r.hash as Uint8Array).toString("hex")))
    }
    assert.equal(hashes.length, new Set(hashes).size, "no row is in cold storage twice")
    assert.equal(hashes.length, 101)
    // and the run before said "101 late rows" of the 1 there is
    assert.ok(!(error instanceof Error) || !/101 late rows/.test(error.message), String(error))
  })

  it("a manifest put that succeeded but whose answer was lost does not lose the partition", async () => {
    const w = await makeWorld("s3")
    worlds.push(w)
    const logs = { dataset: "logs", sourceTable: "hot_logs", endBlock: 299n, deleteAfterCompact: true }
    const range = { first: 0n, last: 299n }
    const expected = await hotRows(w.sql, range)
    // the server stores the manifest, then the connection drops before the answer (a reset, a timeout)
    const lossy: ObjectStore = {
      ...w.store,
      description: w.store.description,
      get: (k) => w.store.get(k),
      getRange: (k, s, e) => w.store.getRange(k, s, e),
      head: (k) => w.store.head(k),
      delete: (k) => w.store.delete(k),
      list: (p) => w.store.list(p),
      abortIncompleteUploads: (p) => w.store.abortIncompleteUploads(p),
      putIfAbsent: (k, b, s) => w.store.putIfAbsent(k, b, s),
      put: async (k, b, o) => {
        const done = await w.store.put(k, b, o)
        if (k.endsWith("manifest.json")) throw new Error("socket hang up")
        return done
      },
    }
    const first = await run(w, logs, lossy).then(() => "ok", (e: Error) => e.message)
    assert.notEqual(first, "ok")
    const afterFirst = await checkInvariants(w, { range, rows: expected })
    // the orchestrator retries (exit 1 is worth retrying)
    const second = await run(w, logs).then(() => "ok", (e: Error) => e.message)
    const afterSecond = await checkInvariants(w, { range, rows: expected })
    assert.deepEqual({ first, afterFirst: afterFirst.problems, second, afterSecond: afterSecond.problems }, {
      first,
      afterFirst: [],
      second,
      afterSecond: [],
    })
  })

  it("a rerun after a failed verification does not delete hot rows whose files are damaged", async () => {
    const w = await makeWorld("s3")
    worlds.push(w)
    const logs = { dataset: "logs", sourceTable: "hot_logs", endBlock: 299n, deleteAfterCompact: true }
    const range = { first: 0n, last: 299n }
    const expected = await hotRows(w.sql, range)
    // a store path that loses the tail of one upload and still answers 200 (what verify is there for)
    let damaged = 0
    const lossy: ObjectStore = {
      description: w.store.description,
      get: (k) => w.store.get(k),
      getRange: (k, s, e) => w.store.getRange(k, s, e),
      head: (k) => w.store.head(k),
      delete: (k) => w.store.delete(k),
      list: (p) => w.store.list(p),
      abortIncompleteUploads: (p) => w.store.abortIncompleteUploads(p),
      put: (k, b, o) => w.store.put(k, b, o),
      // a damaged body past the server's checks: a plain put of the short bytes
      putIfAbsent: async (k, b, s) =>
        damaged++ === 0
          ? (await w.store.put(k, b.subarray(0, b.length - 100)), "created")
          : w.store.putIfAbsent(k, b, s),
    }
    const first = await run(w, logs, lossy).then(() => "ok", (e: Error) => e.message)
    assert.match(first, /Cannot verify partition/)
    // the message says "nothing was deleted, rerun the range": the operator reruns
    const second = await run(w, logs).then((s) => s.partitions[0]!.action, (e: Error) => e.message)
    const check = await checkInvariants(w, { range, rows: expected })
    // every row still hot or intact in cold; a rerun that only keeps the files must not report success
    assert.equal(check.rowsLost, 0, `${second}: ${check.problems.join("; ")}`)
    assert.ok(second !== "unchanged" && second !== "kept", second)
  })

  it("file://: a temp file left by a run killed mid-write is removed by the next run of its partition", async () => {
    const w = await makeWorld("file")
    worlds.push(w)
    const range = { first: 0n, last: 299n }
    // what LocalStore.put leaves in the dataset folder when the process dies inside writeFile
    const folder = join(w.root!, `${CHAIN}/logs`)
    await mkdir(folder, { recursive: true })
    const temp = join(folder, `logs_0_299_0000_${"ab".repeat(8)}.parquet.tmp-4242-0123456789ab`)
    await writeFile(temp, new Uint8Array(1000))
    await run(w, { dataset: "logs", sourceTable: "hot_logs", endBlock: 299n })
    const check = await checkInvariants(w, { range, rows: await hotRows(w.sql, range), final: true })
    assert.deepEqual(check.problems, [])
  })

  it("rows that come back to hot between the decision and the copy are not appended twice", async () => {
    const w = await makeWorld("s3")
    worlds.push(w)
    const logs = { dataset: "logs", sourceTable: "hot_logs", endBlock: 299n, deleteAfterCompact: true }
    const range = { first: 0n, last: 299n }
    await run(w, logs)
    await insertLate(w.sql, range, 5)
    const start = await checkInvariants(w, { range, rows: new Map() })
    const expected = new Map([...start.cold, ...start.hot])
    // decided "merge 5 late rows"; then a re-backfill writes blocks 0-9 again, before the COPY starts
    const outcome = await run(w, { ...logs, mergeLate: true }, w.store, async (step) => {
      if (step === "cleaned") await seedChain(w.sql, { chainId: CHAIN, first: 0n, last: 9n })
    }).then((s) => s.partitions[0]!.action, (e: Error) => e.message)
    const check = await checkInvariants(w, { range, rows: expected })
    assert.deepEqual(check.problems.slice(0, 3), [], outcome)
  })

  it("a rerun with another chunk size after --merge-late keeps the archived rows (found by model.test.ts)", async () => {
    const w = await makeWorld("file")
    worlds.push(w)
    const logs = { dataset: "logs", sourceTable: "hot_logs", endBlock: 299n, chunkSize: 200 }
    const range = { first: 0n, last: 299n }
    await run(w, { ...logs, deleteAfterCompact: true })
    await insertLate(w.sql, range, 20)
    const start = await checkInvariants(w, { range, rows: new Map() })
    const expected = new Map([...start.cold, ...start.hot])
    // the late rows are merged and left hot; the source the manifest records is now those 20 rows only
    assert.equal((await run(w, { ...logs, mergeLate: true })).partitions[0]!.action, "merged")
    // an operator reruns with another --chunk-size: "same rows, other encoding options: re-encoding"
    const rerun = await run(w, { ...logs, chunkSize: 300 }).then(
      (s) => s.partitions[0]!.action,
      (e: Error) => e.message,
    )
    const check = await checkInvariants(w, { range, rows: expected })
    assert.deepEqual(check.problems.slice(0, 3), [], `${rerun}; ${check.rowsLost} rows lost`)
  })
})
