/**
 * Review of the changes since 27965a1 (review-s2): each finding as a test that fails until it is
 * fixed ("FINDING" in its title), and what was checked and found sound.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp, open, rm } from "node:fs/promises"
import { readlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import fc from "fast-check"
import { parquetReadObjects, snappyUncompress } from "hyparquet"
import { uncompress } from "snappyjs"
import { type ColumnBatch, decodeCopyBinary } from "../src/pg/copy.ts"
import { copyOut } from "../src/pg/copyout.ts"
import { hotTable, missingBlocks, type Sql } from "../src/pg/hot.ts"
import { RowHashSum } from "../src/pg/rowhash.ts"
import { describeTable } from "../src/pg/schema.ts"
import { type EncodeOptions, encodeParquetFiles } from "../src/parquet/encode.ts"
import { maxCompressedLength, snappyCompressValues } from "../src/parquet/snappy.ts"
import { compressValuesJs } from "../src/parquet/snappy-values-js.ts"
import { compressPage } from "../src/parquet/snappy-values.ts"
import { encodeParquetPiecesThreaded } from "../src/parquet/threaded.ts"
import { LocalStore } from "../src/store/local.ts"
import { leafType, toLeaf } from "../src/parquet/leaf.ts"
import { statistics } from "../src/parquet/stats.ts"
import type { ColumnSpec } from "../src/pg/schema.ts"
import { gatherColumns } from "./alltypes.fixture.ts"
import { closeDatabases, freshDatabase, seededWorld } from "./helpers.ts"
import { compact } from "../src/compact.ts"
import { validateConfig } from "../src/config.ts"
import { parseManifest } from "../src/core/manifest.ts"
import { lineLogger } from "../src/log.ts"
import { IDENTITY_COLUMNS, identityBatches, identityColumns } from "./identity.fixture.ts"

let sql: Sql
before(async () => {
  sql = (await freshDatabase()).sql
})
after(async () => {
  await sql?.end()
  await closeDatabases()
})

const CHAIN = 10143n

/** Seeded bytes: the same on every run. */
function random(length: number, seed: number): Uint8Array {
  let s = seed >>> 0
  return Uint8Array.from({ length }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s >>> 24
  })
}

/** A page of PLAIN BYTE_ARRAY values: each after its little-endian uint32 length. */
function page(values: Uint8Array[]): Uint8Array {
  const data = new Uint8Array(values.reduce((n, v) => n + 4 + v.length, 0))
  const view = new DataView(data.buffer)
  let o = 0
  for (const v of values) {
    view.setUint32(o, v.length, true)
    data.set(v, o + 4)
    o += 4 + v.length
  }
  return data
}

const compressed = (f: (out: Uint8Array) => number, length: number) => {
  const out = new Uint8Array(maxCompressedLength(length))
  return out.slice(0, f(out))
}

describe("review-s2: snappy of pages of values (d76dd30)", () => {
  it("fixed (review): three empty values in a row make compress_values (WebAssembly) write an invalid literal tag, which no decoder reads", () => {
    // hashes, and once three empty values (a log's empty `data`) outside the three samples
    const values = Array.from({ length: 1200 }, (_, i) => random(32, i + 1))
    values.splice(300, 0, new Uint8Array(0), new Uint8Array(0), new Uint8Array(0))
    const data = page(values)
    const bytes = compressed((out) => compressPage(data, 0, out), data.length)
    const wasm = compressed((out) => snappyCompressValues(data, 0, out), data.length)
    assert.deepEqual(bytes, wasm, "compressPage() chose the values stream")
    assert.deepEqual(new Uint8Array(uncompress(bytes)), data, "snappyjs reads the page back")
    assert.deepEqual(
      bytes,
      compressed((out) => compressValuesJs(data, 0, out), data.length),
      "WebAssembly and TypeScript write the same bytes",
    )
    const viaHyparquet = new Uint8Array(data.length)
    snappyUncompress(bytes, viaHyparquet)
    assert.deepEqual(viaHyparquet, data, "hyparquet reads the page back")
  })

  it("fixed (review): a bytea column of hashes with three empty values in a row is written to a Parquet file that hyparquet cannot read", async () => {
    await sql.unsafe(`CREATE TABLE empties (block_number int8 PRIMARY KEY, data bytea)`)
    await sql.unsafe(`INSERT INTO empties SELECT g, CASE WHEN g BETWEEN 300 AND 302 THEN ''::bytea
      ELSE sha256(int8send(g)) END FROM generate_series(0, 1999) g`)
    const { columns } = await describeTable(sql, "empties")
    const copy = `COPY (SELECT block_number, data FROM empties ORDER BY 1) TO STDOUT (FORMAT binary)`
    const options = {
      columns,
      chunkSize: 10_000,
      rowGroupSize: 10_000,
      blockColumn: "block_number",
      kvMetadata: [],
    }
    const files: Uint8Array[] = []
    for await (
      const f of encodeParquetFiles(decodeCopyBinary(copyOut(sql, copy), columns, 10_000), options)
    ) {
      files.push(f.bytes)
    }
    assert.equal(files.length, 1)
    const file = files[0]!.slice().buffer
    const rows = await parquetReadObjects({ file, utf8: false })
    assert.equal(rows.length, 2000)
    assert.deepEqual([...(rows[301]!.data as Uint8Array)], [])
  })

  it("fixed (review): compact --delete-after-compact commits such a file and deletes its hot rows; verification reads only the footer, and no reader reads the file", async () => {
    const db = await seededWorld(CHAIN, 1199n)
    await db.sql.unsafe(`CREATE TABLE hot_sigs (chain_id int8 NOT NULL, block_number int8 NOT NULL,
      idx int4 NOT NULL, sig bytea NOT NULL, PRIMARY KEY (chain_id, block_number, idx))`)
    await db.sql.unsafe(`INSERT INTO hot_sigs SELECT ${CHAIN}, b, i,
        CASE WHEN b = 300 THEN ''::bytea ELSE sha256(int8send(b * 2 + i)) END
      FROM generate_series(0, 999) b, generate_series(0, 1) i`)
    await db.sql.unsafe(`INSERT INTO hot_sigs VALUES (${CHAIN}, 300, 2, ''::bytea)`)
    const config = validateConfig({
      chainId: CHAIN,
      dataset: "sigs",
      startBlock: 0n,
      endBlock: 999n,
      dest: "s3://unused/cold",
      databaseUrl: db.url,
      chunkSize: 10_000,
      deleteAfterCompact: true,
    })
    const deps = {
      sql: db.sql,
      databaseUrl: db.url,
      store: db.store,
      prefix: "cold",
      log: lineLogger(() => {}),
    }
    const result = await compact(config, deps)
    assert.equal(result.partitions[0]!.action, "compacted")
    const [left] = await db.sql`SELECT count(*)::int AS n FROM hot_sigs`
    assert.equal(left!.n, 0, "the hot rows were deleted")
    const m = parseManifest(
      new TextDecoder().decode((await db.store.get(`cold/${CHAIN}/sigs/manifest.json`))!.bytes),
    )
    const key = m.partitions[0]!.files[0]!.key
    const bytes = (await db.store.get(key))!.bytes
    const file = bytes.slice().buffer
    const rows = await parquetReadObjects({ file, utf8: false })
    assert.equal(rows.length, 2001, "the committed file reads back")
  })

  it("sound: values whose lengths straddle 64 KiB fragments and 1 MiB slices, after levels, round-trip and the twins agree", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(32), fc.constant(1), fc.integer({ min: 60_000, max: 70_000 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (lengths, levels, seed) => {
          // v1 levels before the values: valuesAt past them
          const values = page(lengths.map((n, i) => random(n, seed + i)))
          const data = new Uint8Array(levels + values.length)
          data.set(random(levels, seed), 0)
          data.set(values, levels)
          const valuesAt = levels
          const wasm = compressed((out) => snappyCompressValues(data, valuesAt, out), data.length)
          assert.deepEqual(compressed((out) => compressValuesJs(data, valuesAt, out), data.length), wasm)
          assert.deepEqual(new Uint8Array(uncompress(wasm)), data)
        },
      ),
      { numRuns: 40 },
    )
  })
})

describe("review-s2: the threaded encoder's early first pull (e1845a8)", () => {
  it("fixed (review): when the worker cannot start and the main-thread encoder refuses its options, the source already pulled is never ended (the COPY stays open)", async () => {
    let ended = false
    async function* source(): AsyncGenerator<ColumnBatch> {
      try {
        yield* identityBatches(identityColumns(900), 450, () => true)
      } finally {
        ended = true
      }
    }
    const global = globalThis as unknown as { Worker: unknown }
    const real = global.Worker
    global.Worker = class {
      constructor() {
        throw new Error("no threads here")
      }
    }
    const options: EncodeOptions = {
      columns: IDENTITY_COLUMNS,
      chunkSize: 2000,
      rowGroupSize: 700,
      blockColumn: "no_such_column",
      kvMetadata: [],
    }
    try {
      await assert.rejects(async () => {
        for await (const _ of encodeParquetPiecesThreaded(source(), options)) { /* none */ }
      }, /Cannot use block column/)
    } finally {
      global.Worker = real
    }
    assert.ok(ended, "the source was ended (return() called), as before the first pull moved up")
  })
})

describe("review-s2: missingBlocks' count(*) (3fd7322)", () => {
  it("fixed (review): a blocks table whose primary key is the block column, with an inheritance child, lets a duplicated block hide a missing one", async () => {
    await sql.unsafe(`CREATE TABLE inh_blocks (block_number int8 PRIMARY KEY, hash bytea)`)
    // a child (legacy partitioning by inheritance): the parent's key does not cover its rows
    await sql.unsafe(`CREATE TABLE inh_blocks_old () INHERITS (inh_blocks)`)
    await sql.unsafe(
      `INSERT INTO inh_blocks SELECT g, int8send(g) FROM generate_series(0, 99) g WHERE g <> 33`,
    )
    await sql.unsafe(`INSERT INTO inh_blocks_old VALUES (34, '\\x01')`)
    const t = hotTable(await describeTable(sql, "inh_blocks"), "block_number", 1n)
    assert.deepEqual(await missingBlocks(sql, t, { first: 0n, last: 99n }), { missing: 1n, first: [33n] })
  })

  it("sound: a declaratively partitioned table keyed by (block, chain) and partitioned by chain counts right", async () => {
    await sql.unsafe(
      `CREATE TABLE part_blocks (block_number int8, chain_id int8, PRIMARY KEY (block_number, chain_id))
      PARTITION BY LIST (chain_id)`,
    )
    await sql.unsafe(`CREATE TABLE part_blocks_1 PARTITION OF part_blocks FOR VALUES IN (1)`)
    await sql.unsafe(`CREATE TABLE part_blocks_2 PARTITION OF part_blocks FOR VALUES IN (2)`)
    await sql.unsafe(
      `INSERT INTO part_blocks SELECT g, c FROM generate_series(0, 99) g, (VALUES (1), (2)) v(c)
      WHERE NOT (c = 1 AND g = 50)`,
    )
    const t = hotTable(await describeTable(sql, "part_blocks"), "block_number", 1n)
    assert.deepEqual(await missingBlocks(sql, t, { first: 0n, last: 99n }), { missing: 1n, first: [50n] })
    // a view over it has no key: count(DISTINCT)
    await sql.unsafe(`CREATE VIEW part_view AS SELECT * FROM part_blocks UNION ALL SELECT 51, 1`)
    const v = hotTable(await describeTable(sql, "part_view"), "block_number", 1n)
    assert.deepEqual(await missingBlocks(sql, v, { first: 0n, last: 99n }), { missing: 1n, first: [50n] })
  })
})

/** Folders fsynced while `run` runs (FileHandle.sync() on a folder's handle). */
async function syncedFolders(run: () => Promise<void>): Promise<string[]> {
  const probe = await open(tmpdir(), "r")
  const proto = Object.getPrototypeOf(probe) as { sync: (this: { fd: number }) => Promise<void> }
  await probe.close()
  const real = proto.sync
  const synced: string[] = []
  proto.sync = function (this: { fd: number }) {
    synced.push(readlinkSync(`/proc/self/fd/${this.fd}`))
    return real.call(this)
  }
  try {
    await run()
  } finally {
    proto.sync = real
  }
  return synced
}

describe("review-s2: LocalStore leaves a data file's folder to sync() (8b49589, reverted; writers)", () => {
  it("a file a crashed run finished (its folder never synced) is synced by the rerun's sync(keys) before the manifest names it", async () => {
    const root = await mkdtemp(join(tmpdir(), "review-s2-"))
    try {
      const body = random(1000, 7)
      // the crashed run: a writer finished the file (its folder left to sync()), then the run died
      const crashed = new LocalStore(root)
      const writer = crashed.create("d/f_0000")
      await writer.write(body)
      await writer.finish("d/f_0000_aa.parquet")
      // the rerun reuses the file (write.ts: head() matches, nothing written) and syncs the keys it
      // is about to name, as write.ts does before the commit
      const rerun = new LocalStore(root)
      const without = await syncedFolders(() => rerun.sync())
      assert.ok(!without.includes(join(root, "d")), "sync() alone knows nothing of the crashed run's folder")
      const synced = await syncedFolders(() => rerun.sync(["d/f_0000_aa.parquet"]))
      assert.ok(synced.includes(join(root, "d")), `folder "d" synced (synced: ${synced.join(", ")})`)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it("sound: created files' folders are synced once by sync(), also when two partitions sync at once", async () => {
    const root = await mkdtemp(join(tmpdir(), "review-s2-"))
    try {
      const store = new LocalStore(root)
      const synced = await syncedFolders(async () => {
        await store.putIfAbsent("a/x_1.parquet", random(10, 1), "")
        await store.putIfAbsent("b/x_2.parquet", random(10, 2), "")
        const first = store.sync()
        await store.putIfAbsent("b/x_3.parquet", random(10, 3), "")
        await Promise.all([first, store.sync()])
      })
      for (const folder of ["a", "b"]) assert.ok(synced.includes(join(root, folder)), folder)
      // b's third file came after the first sync() took the set: the second synced b again
      assert.equal(synced.filter((f) => f === join(root, "b")).length >= 2, true)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe("review-s2: COPY stitching (081ac97)", () => {
  it("sound: unpacked array columns (views of the stitched buffer) decode alike at tiny and odd chunk sizes with a reused source buffer", async () => {
    await sql.unsafe(`CREATE TABLE stitch_arr (id int8 PRIMARY KEY, n numeric[], t text[], b bytea)`)
    await sql.unsafe(`INSERT INTO stitch_arr SELECT g,
        CASE WHEN g % 4 = 0 THEN NULL ELSE array_fill((g * 1.5)::numeric, ARRAY[(g * 7) % 90]) END,
        array_fill(repeat('y', g % 40), ARRAY[(g * 3) % 50]), decode(repeat('ab', (g * 29) % 1500), 'hex')
      FROM generate_series(1, 40) g`)
    const { columns } = await describeTable(sql, "stitch_arr")
    const parts: Uint8Array[] = []
    const copy = `COPY (SELECT id, n, t, b, ctid, xmin FROM stitch_arr ORDER BY id) TO STDOUT (FORMAT binary)`
    for await (const chunk of copyOut(sql, copy)) parts.push(chunk.slice())
    const bytes = Buffer.concat(parts)
    async function* pieces(sizes: number[]): AsyncGenerator<Uint8Array> {
      const shared = new Uint8Array(Math.max(...sizes))
      for (let o = 0, i = 0; o < bytes.length; i++) {
        const n = Math.min(sizes[i % sizes.length]!, bytes.length - o)
        shared.fill(0xee)
        shared.set(bytes.subarray(o, o + n))
        yield shared.subarray(0, n)
        o += n
      }
    }
    const decode = async (sizes: number[]) => {
      const rowHash = new RowHashSum("client")
      const batches: ColumnBatch[] = []
      for await (const b of decodeCopyBinary(pieces(sizes), columns, 3, { rowHash })) batches.push(b)
      return { values: gatherColumns(batches, columns), sum: rowHash.sum }
    }
    const whole = await decode([bytes.length])
    // every size up to past the first stitch, and sizes that put the trailer in a stitched part
    for (const sizes of [[1], [2], [3], [7], [1024], [1025], [bytes.length - 1], [bytes.length - 2, 1]]) {
      assert.deepEqual(await decode(sizes), whole, `pieces of ${sizes}`)
    }
  })
})

describe("review-s2: byte statistics a word at a time (fa6539b)", () => {
  it("sound: min and max of byte values with shared prefixes, ties and lengths 0 to 13 are the unsigned lexicographic ones", () => {
    const t = leafType(
      { name: "b", kind: "bytea", pgType: "bytea", typeOid: 17, notNull: false } satisfies ColumnSpec,
    )
    const value = fc.oneof(
      fc.constant(null),
      fc.uint8Array({ maxLength: 13 }).map((v) => v.map((b) => [0, 1, 0x7f, 0x80, 0xff][b % 5]!)),
    )
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 40 }), (values) => {
        const stats = statistics(t, toLeaf(t, values))
        const defined = values.filter((v) => v !== null).map((v) => v!).sort((x, y) => Buffer.compare(x, y))
        assert.equal(stats.null_count, BigInt(values.length - defined.length))
        if (defined.length === 0) return assert.equal(stats.min_value, undefined)
        assert.deepEqual([...(stats.min_value as Uint8Array)], [...defined[0]!])
        assert.deepEqual([...(stats.max_value as Uint8Array)], [...defined.at(-1)!])
      }),
      { numRuns: 400 },
    )
  })
})
