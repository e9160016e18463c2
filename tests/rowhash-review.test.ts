/**
 * Review of 30bd70b (the COPY sends `ctid, xmin` and tidHash() hashes them here): tidHash() against
 * an independent port of hash_bytes_extended() and against the server on whole families of versions;
 * the client form's sum over real COPY bytes and over real rows of every kind (subtransactions, HOT
 * updates, TOAST, multixact lockers, frozen rows, partitions sharing (ctid, xmin)) against the
 * server's sum and the hot delete's proof; the old and the new COPY on every kind of source; and
 * checkRowHash()'s fallback and its memo after a failure. Whole runs: rowhash-review-runs.test.ts.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { exitCodeOf } from "../src/errors.ts"
import { decodeCopyBinary } from "../src/pg/copy.ts"
import {
  checkRowHash,
  copyInSnapshot,
  deleteArchived,
  hotFingerprint,
  ROW_HASH,
} from "../src/pg/fingerprint.ts"
import { hotTable, type Sql } from "../src/pg/hot.ts"
import { ROW_VERSION_COLUMNS, type RowHashForm, RowHashSum, tidHash, tidHashOut } from "../src/pg/rowhash.ts"
import { type ColumnSpec, describeTable } from "../src/pg/schema.ts"
import { closeDatabases, freshDatabase } from "./helpers.ts"

const CHAIN = 10143n
after(closeDatabases)

const rot = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0
const u = (x: number) => x >>> 0

/**
 * hash_bytes_extended() of src/common/hashfn.c for a 6-byte key, written apart from tidHash() (uint32
 * arithmetic with >>> 0 throughout): `first` is the key's first 4 bytes as the server loads them,
 * `tail` what its last 2 bytes add to b. Little-endian: the block's halves swapped, the offset;
 * big-endian: the block, the offset << 16.
 */
function lookup6(first: number, tail: number, seed: number): bigint {
  let a = u(0x9e3779b9 + 6 + 3923095), b = a, c = a
  if (seed !== 0) {
    b = u(b + seed) // a += seed >> 32 (0: an xid is 32 bits)
    a = u(a - c) ^ rot(c, 4), c = u(c + b), b = u(b - a) ^ rot(a, 6), a = u(a + c)
    c = u(c - b) ^ rot(b, 8), b = u(b + a), a = u(a - c) ^ rot(c, 16), c = u(c + b)
    b = u(b - a) ^ rot(a, 19), a = u(a + c), c = u(c - b) ^ rot(b, 4), b = u(b + a)
  }
  a = u(a + first), b = u(b + tail)
  c = u((c ^ b) - rot(b, 14)), a = u((a ^ c) - rot(c, 11)), b = u((b ^ a) - rot(a, 25))
  c = u((c ^ b) - rot(b, 16)), a = u((a ^ c) - rot(c, 4)), b = u((b ^ a) - rot(a, 14))
  c = u((c ^ b) - rot(b, 24))
  return BigInt.asIntN(64, (BigInt(u(b)) << 32n) | BigInt(u(c)))
}
const littleEndian = (block: number, offset: number, xmin: number) =>
  lookup6(u((block >>> 16) | (block << 16)), offset, xmin)
const bigEndian = (block: number, offset: number, xmin: number) => lookup6(u(block), u(offset << 16), xmin)
const here = (block: number, offset: number, xmin: number) => {
  tidHash(block, offset, xmin)
  return (BigInt(tidHashOut[0]!) << 32n) + BigInt(tidHashOut[1]!)
}

/** Versions: every offset for corner blocks and xmins, corners crossed, and xorshift-random ones. */
function versions(): [number, number, number][] {
  const out: [number, number, number][] = []
  const blocks = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
  const xmins = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
  for (const [b, x] of [[0, 0], [0xffffffff, 0xffffffff], [0x80000000, 0x80000000], [0x7fffffff, 2]]) {
    for (let o = 0; o <= 0xffff; o++) out.push([b!, o, x!])
  }
  for (const b of blocks) {
    for (const x of xmins) for (const o of [0, 1, 0x7fff, 0x8000, 0xffff]) out.push([b, o, x])
  }
  let s = 0x2545f491
  const next = () => (s ^= s << 13, s ^= s >>> 17, s ^= s << 5, s >>> 0)
  for (let i = 0; i < 65536; i++) out.push([next(), next() & 0xffff, next()])
  return out
}

/** The count and sum RowHashSum takes from a COPY statement of `form`, through the run's own path. */
async function fingerprintOfCopy(
  url: string,
  statement: string,
  columns: ColumnSpec[],
  form: RowHashForm = "client",
) {
  const rowHash = new RowHashSum(form)
  for await (const _ of decodeCopyBinary(copyInSnapshot(url, statement).chunks, columns, 1000, { rowHash }));
  return { rows: rowHash.rows, fingerprint: rowHash.sum }
}

/** A result as text, or the SQLSTATE it failed with: what differs between the two forms shows. */
const outcome = (p: Promise<{ rows: number; fingerprint: string }>) =>
  p.then((f) => `${f.rows}/${f.fingerprint}`, (e) => `error ${e.code}`)

describe("review of the client-side row hash", () => {
  it("tidHash equals an independent port of hash_bytes_extended and the server's hashtidextended on 330k versions", async () => {
    const { sql } = await freshDatabase()
    const all = versions()
    for (const [b, o, x] of all) assert.equal(here(b, o, x), littleEndian(b, o, x), `(${b},${o}) ${x}`)
    for (let from = 0; from < all.length; from += 65536) {
      const part = all.slice(from, from + 65536)
      const rows = await sql.unsafe(
        `SELECT hashtidextended(format('(%s,%s)', b, o)::tid, x::text::xid::text::int8)::text AS h
         FROM unnest($1::int8[], $2::int4[], $3::int8[]) WITH ORDINALITY AS v(b, o, x, i) ORDER BY i`,
        [part.map((v) => v[0]), part.map((v) => v[1]), part.map((v) => v[2])] as never,
      )
      part.forEach(([b, o, x], i) => assert.equal(here(b, o, x).toString(), rows[i]!.h, `(${b},${o}) ${x}`))
    }
  })

  it("sums the server's own binary ctid and xid bytes of corner versions (blocks and xmins >= 2^31) as it does", async () => {
    const { sql, url } = await freshDatabase()
    await sql.unsafe(`CREATE TABLE v (i int8 NOT NULL)`)
    const { columns } = await describeTable(sql, "v")
    const all = versions().filter((_, i) => i % 17 === 0)
    const list = (k: number) => `'{${all.map((v) => v[k]).join(",")}}'`
    const from = `FROM unnest(${list(0)}::int8[], ${list(1)}::int4[], ${list(2)}::int8[])
      WITH ORDINALITY AS s(b, o, x, i)`
    const tid = `format('(%s,%s)', b, o)::tid`
    const got = await fingerprintOfCopy(
      url,
      `COPY (SELECT i, ${tid}, x::text::xid ${from}) TO STDOUT (FORMAT binary)`,
      columns,
    )
    const [want] = await sql.unsafe(
      `SELECT count(*)::int AS n, sum(hashtidextended(${tid}, x::text::xid::text::int8))::text AS fp ${from}`,
    )
    assert.deepEqual(got, { rows: want!.n, fingerprint: want!.fp })
  })

  for (const partitioned of [false, true]) {
    it(`proves and deletes real rows of every kind by the client form${partitioned ? " (partitioned, shared (ctid, xmin))" : ""}`, async () => {
      const { sql, url } = await freshDatabase()
      await sql.unsafe(
        `CREATE TABLE hot (chain_id int8 NOT NULL, block_number int8 NOT NULL, payload text)
         ${partitioned ? "PARTITION BY RANGE (block_number)" : "WITH (fillfactor = 50)"}`,
      )
      if (partitioned) {
        for (const [n, lo, hi] of [["a", "0", "100"], ["b", "100", "200"], ["c", "200", "MAXVALUE"]]) {
          await sql.unsafe(
            `CREATE TABLE hot_${n} PARTITION OF hot FOR VALUES FROM (${lo}) TO (${hi}) WITH (fillfactor = 50)`,
          )
        }
      }
      const ins = (lo: number, hi: number) =>
        `INSERT INTO hot SELECT ${CHAIN}, g, md5(g::text) FROM generate_series(${lo}, ${hi}) g`
      // one statement fills every partition: the same xmin and the same ctids in each of them
      await sql.unsafe(`INSERT INTO hot SELECT ${CHAIN}, g + p, md5(g::text) FROM generate_series(0, 49) g,
        unnest('{0,100,200}'::int8[]) p`)
      await sql.begin(async (tx) => {
        await tx.savepoint((s) => s.unsafe(ins(60, 69)))
        await tx.savepoint((s) => s.unsafe(ins(70, 79)).then(() => Promise.reject(new Error("undo")))).catch(
          () => {},
        )
        await tx.savepoint((s) => s.savepoint((s2) => s2.unsafe(ins(80, 89))))
      })
      await sql.unsafe(`UPDATE hot SET payload = payload || 'x' WHERE block_number % 5 = 0`) // HOT
      await sql.unsafe(`UPDATE hot SET payload = (SELECT string_agg(md5(k::text || block_number), '')
        FROM generate_series(1, 4000) k) WHERE block_number % 7 = 0`) // TOASTed
      const [r1, r2] = [await sql.reserve(), await sql.reserve()]
      await r1.unsafe(`BEGIN; SELECT 1 FROM hot WHERE block_number % 3 = 0 FOR SHARE`)
      await r2.unsafe(`BEGIN; SELECT 1 FROM hot WHERE block_number % 3 = 0 FOR SHARE`) // multixact xmax
      await r1.unsafe(`COMMIT`), await r2.unsafe(`COMMIT`), r1.release(), r2.release()
      await sql.unsafe(`VACUUM (FREEZE) hot`)
      const [kinds] = await sql.unsafe(`SELECT count(*)::int AS n,
        count(DISTINCT ctid::text || '/' || xmin::text)::int AS versions,
        count(DISTINCT xmin::text)::int AS xmins FROM hot`)
      if (partitioned) assert.ok(kinds!.versions < kinds!.n, "some rows share ctid and xmin")
      assert.ok(kinds!.xmins >= 5, `rows of ${kinds!.xmins} transactions`)
      const info = await describeTable(sql, "hot")
      const table = hotTable(info, "block_number", CHAIN)
      const range = { first: 0n, last: 1000n }
      const select = info.columns.map((c) => c.name).join(", ")
      const copied = await fingerprintOfCopy(
        url,
        `COPY (SELECT ${select}, ${ROW_VERSION_COLUMNS.client} FROM hot ORDER BY block_number) TO STDOUT (FORMAT binary)`,
        info.columns,
      )
      assert.equal(await checkRowHash(sql), "client")
      assert.deepEqual(copied, await hotFingerprint(sql, table, range))
      assert.equal(copied.rows, kinds!.n)
      assert.equal(await deleteArchived(sql, table, range, copied), kinds!.n)
      assert.equal((await sql.unsafe(`SELECT count(*)::int AS n FROM hot`))[0]!.n, 0)
    })
  }

  it("the old and new COPY agree, or fail alike, on every source kind (view, matview, foreign, partitioned)", async () => {
    const [{ sql, url }, remote] = [await freshDatabase(), await freshDatabase()]
    const at = new URL(remote.url)
    const base = `CREATE TABLE base (b int8 NOT NULL, p text);
      INSERT INTO base SELECT g, md5(g::text) FROM generate_series(0, 99) g; UPDATE base SET p = 'x' WHERE b % 3 = 0;`
    await remote.sql.unsafe(base)
    await sql.unsafe(`${base} CREATE VIEW v AS SELECT * FROM base;
      CREATE MATERIALIZED VIEW mv AS SELECT * FROM base; CREATE EXTENSION postgres_fdw;
      CREATE SERVER far FOREIGN DATA WRAPPER postgres_fdw
        OPTIONS (host '${at.hostname}', port '${at.port}', dbname '${at.pathname.slice(1)}');
      CREATE USER MAPPING FOR CURRENT_USER SERVER far OPTIONS (user '${at.username}');
      CREATE FOREIGN TABLE ft (b int8 NOT NULL, p text) SERVER far OPTIONS (table_name 'base');
      CREATE TABLE pt (b int8 NOT NULL, p text) PARTITION BY RANGE (b);
      CREATE TABLE pt_a PARTITION OF pt FOR VALUES FROM (0) TO (50);
      CREATE FOREIGN TABLE pt_f PARTITION OF pt FOR VALUES FROM (50) TO (MAXVALUE) SERVER far
        OPTIONS (table_name 'base');
      INSERT INTO pt_a SELECT * FROM base WHERE b < 50;`)
    await remote.sql.unsafe(`DELETE FROM base WHERE b < 50`)
    const got: Record<string, string[]> = {}
    for (const rel of ["base", "v", "mv", "ft", "pt"]) {
      const { columns } = await describeTable(sql, rel)
      const copy = (form: RowHashForm) =>
        outcome(fingerprintOfCopy(
          url,
          `COPY (SELECT b, p, ${ROW_VERSION_COLUMNS[form]} FROM ${rel} ORDER BY b) TO STDOUT (FORMAT binary)`,
          columns,
          form,
        ))
      const table = hotTable(await describeTable(sql, rel), "b", CHAIN)
      const range = { first: 0n, last: 1000n }
      const deleted = sql.begin(async (tx) => {
        const [row] = await tx.unsafe(`WITH d AS (DELETE FROM ${rel} RETURNING xmin, ctid)
          SELECT count(*)::int AS n, coalesce(sum(${ROW_HASH}), 0)::text AS fp FROM d`)
        throw Object.assign(new Error("roll back"), { code: `${row!.n}/${row!.fp}` })
      }).catch((e) => e.code as string)
      got[rel] = [
        await copy("server"),
        await copy("client"),
        await outcome(hotFingerprint(sql, table, range)),
        await deleted,
      ]
    }
    for (const [rel, [old, now]] of Object.entries(got)) assert.equal(now, old, `${rel}: ${got[rel]}`)
    for (const rel of ["base", "ft", "pt"]) assert.deepEqual(new Set(got[rel]).size, 1, `${rel}: ${got[rel]}`)
    assert.deepEqual(got.v, ["error 42703", "error 42703", "error 42703", "42703"])
    // no source can put a user column "ctid" or "xmin" before the version columns: a table refuses
    // the name, a view exposing the system columns is refused for their types (tid, xid)
    await assert.rejects(sql.unsafe(`CREATE TABLE c (b int8, xmin int8)`), { code: "42701" })
    await sql.unsafe(`CREATE VIEW vc AS SELECT b, p, ctid, xmin FROM base`)
    await assert.rejects(describeTable(sql, "vc"), /Cannot compact column "ctid" of type "tid"/)
    assert.deepEqual([got.mv![0] === got.mv![2], got.mv![3]], [true, "42809"])
  })

  it("falls back to the server form for a big-endian server's hashes, and queries again after a failed probe", async () => {
    const { sql } = await freshDatabase()
    const probe = /hashtidextended\('\((\d+),(\d+)\)'::tid, (\d+)\)::text AS (h\d)/g
    const bigServer = {
      unsafe: (q: string) =>
        Promise.resolve([Object.fromEntries(
          [...q.matchAll(probe)].map((m) => [m[4], bigEndian(+m[1]!, +m[2]!, +m[3]!).toString()]),
        )]),
    }
    assert.equal(await checkRowHash(bigServer as unknown as Sql), "server")
    let calls = 0
    const flaky = {
      unsafe: (q: string) =>
        ++calls === 1
          ? Promise.reject(Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" }))
          : sql.unsafe(q),
    } as unknown as Sql
    const failed = await checkRowHash(flaky).catch((e) => e)
    assert.equal(exitCodeOf(failed), 1, "a lost connection stays worth retrying (exit 1)")
    assert.deepEqual(await Promise.all([checkRowHash(flaky), checkRowHash(flaky)]), ["client", "client"])
    assert.equal(calls, 2, "the failure was not kept; the second probe was shared")
  })
})
