/**
 * Review of 30bd70b, whole runs: a partitioned hot table archived by the client form (ctid and xmin
 * hashed here), found unchanged on a rerun (the manifest's fingerprint against the server's) and
 * deleted; and a server whose hashtidextended() differs from tidHash(), archived by the server form.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { compact } from "../src/compact.ts"
import { validateConfig } from "../src/config.ts"
import { lineLogger } from "../src/log.ts"
import { checkRowHash } from "../src/pg/fingerprint.ts"
import { openDatabase, type Sql } from "../src/pg/hot.ts"
import { closeDatabases, seededWorld } from "./helpers.ts"

const CHAIN = 10143n
after(closeDatabases)

describe("review of the client-side row hash, whole runs", () => {
  it("archives and deletes a partitioned hot table, and finds it unchanged on a rerun", async () => {
    const db = await seededWorld(CHAIN, 1199n)
    await db.sql.unsafe(`ALTER TABLE hot_logs RENAME TO hot_logs_flat;
      CREATE TABLE hot_logs (LIKE hot_logs_flat INCLUDING ALL) PARTITION BY RANGE (block_number);
      CREATE TABLE hot_logs_a PARTITION OF hot_logs FOR VALUES FROM (0) TO (50);
      CREATE TABLE hot_logs_b PARTITION OF hot_logs FOR VALUES FROM (50) TO (MAXVALUE);
      INSERT INTO hot_logs SELECT * FROM hot_logs_flat;`)
    const run = (deleteAfterCompact: boolean) => runOn(db, db.sql, deleteAfterCompact)
    assert.equal((await run(false)).partitions[0]!.action, "compacted")
    assert.equal(await checkRowHash(db.sql), "client")
    const hot = await hotCount(db.sql)
    const again = await run(true)
    assert.equal(again.partitions[0]!.action, "unchanged")
    assert.equal(again.partitions[0]!.hot_rows_deleted, hot)
    assert.equal(await hotCount(db.sql), 0)
  })

  it("archives and deletes by the server form where the server's hashtidextended differs", async () => {
    const db = await seededWorld(CHAIN, 1199n)
    const name = new URL(db.url).pathname.slice(1)
    await db.sql.unsafe(`CREATE FUNCTION public.hashtidextended(tid, int8) RETURNS int8 IMMUTABLE
      LANGUAGE sql AS 'SELECT pg_catalog.hashtidextended($1, $2 + 1)';
      ALTER DATABASE ${name} SET search_path = public, pg_catalog`)
    const sql = openDatabase(db.url) // new sessions take the search_path
    try {
      assert.equal(await checkRowHash(sql), "server")
      const hot = await hotCount(sql)
      const first = await runOn(db, sql, true)
      assert.equal(first.partitions[0]!.action, "compacted")
      assert.equal(first.partitions[0]!.hot_rows_deleted, hot)
      assert.equal(await hotCount(sql), 0)
    } finally {
      await sql.end()
    }
  })
})

const hotCount = async (sql: Sql) =>
  (await sql.unsafe(`SELECT count(*)::int AS n FROM hot_logs WHERE block_number <= 99`))[0]!.n as number

function runOn(db: Awaited<ReturnType<typeof seededWorld>>, sql: Sql, deleteAfterCompact: boolean) {
  return compact(
    validateConfig({
      chainId: CHAIN,
      dataset: "logs",
      startBlock: 0n,
      endBlock: 99n,
      dest: "s3://unused/cold",
      databaseUrl: db.url,
      chunkSize: 300,
      deleteAfterCompact,
    }),
    { sql, databaseUrl: db.url, store: db.store, prefix: "cold", log: lineLogger(() => {}) },
  )
}
