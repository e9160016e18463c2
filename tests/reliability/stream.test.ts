/**
 * Files streamed to the store row group by row group (write.ts with ObjectStore.create()), against
 * the real Postgres and radosgw: the same names and bytes as files held whole and put, a correct
 * manifest and nothing unnamed left, on file:// and S3; a run stopped mid-file removes what it
 * wrote; a run killed mid-file leaves only what the next run of the partition removes.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { seedChain } from "../../bench/datagen.ts"
import { compact, type Summary } from "../../src/compact.ts"
import { validateConfig } from "../../src/config.ts"
import { lineLogger } from "../../src/log.ts"
import { TEMP_FOLDER } from "../../src/store/local.ts"
import { S3Store } from "../../src/store/s3.ts"
import type { ObjectStore } from "../../src/store/store.ts"
import { smallPartStore as smallParts, testS3Client, testServices } from "../env.ts"
import { checkInvariants } from "./invariants.ts"
import { CHAIN, closeLib, hotRows, makeWorld, runCli, spawnCli, withDeadline, type World } from "./lib.ts"

const services = testServices()
const s3 = testS3Client(services)
const worlds: World[] = []
const stores: S3Store[] = []
after(async () => {
  await Promise.all(worlds.map((w) => w.close()))
  for (const s of stores) s.close()
  s3.destroy()
  await closeLib()
})

const MIB = 1024 * 1024
const BIG = { first: 0n, last: 19_999n } // ~100,000 log rows: files of 60,000 rows are ~6.8 MB

const world = async (kind: "file" | "s3") => {
  const w = await makeWorld(kind)
  worlds.push(w)
  return w
}

/** The world's bucket (S3 worlds' dest is s3://BUCKET/cold). */
const bucketOf = (w: World) => w.dest.slice("s3://".length).split("/")[0]!

/** S3 with S3's smallest parts, so files past 5 MiB stream in several parts. */
function smallPartStore(w: World): S3Store {
  const store = smallParts(bucketOf(w), services)
  stores.push(store)
  return store
}

/** The store's methods but create(): every file is held whole and put, as before streaming. */
function wholeFiles(store: ObjectStore): ObjectStore {
  return {
    description: store.description,
    get: (k) => store.get(k),
    getRange: (k, s, e) => store.getRange(k, s, e),
    head: (k) => store.head(k),
    put: (k, b, o) => store.put(k, b, o),
    putIfAbsent: (k, b, h) => store.putIfAbsent(k, b, h),
    delete: (k) => store.delete(k),
    list: (p) => store.list(p),
    abortIncompleteUploads: (p) => store.abortIncompleteUploads(p),
    ...(store.sync ? { sync: () => store.sync!() } : {}),
  }
}

/** The store, recording the keys of files it publishes and how many it streams. */
function recording(store: ObjectStore): ObjectStore & { published: string[]; streamed: number } {
  const published: string[] = []
  const out = {
    ...wholeFiles(store),
    streamAbove: store.streamAbove ?? 64 * MIB,
    published,
    streamed: 0,
    put: async (k: string, b: Uint8Array, o?: Parameters<ObjectStore["put"]>[2]) => {
      const done = await store.put(k, b, o)
      if (k.endsWith(".parquet")) published.push(k)
      return done
    },
    putIfAbsent: async (k: string, b: Uint8Array, h: string) => {
      const done = await store.putIfAbsent(k, b, h)
      if (done === "created" && k.endsWith(".parquet")) published.push(k)
      return done
    },
    create: (near: string) => {
      out.streamed++
      const writer = store.create!(near)
      return {
        write: (bytes: Uint8Array) => writer.write(bytes),
        abort: () => writer.abort(),
        finish: async (key: string) => {
          await writer.finish(key)
          published.push(key)
        },
      }
    },
  }
  return out
}

const run = (
  w: World,
  range: { first: bigint; last: bigint },
  more: Record<string, unknown>,
  store: ObjectStore = w.store,
  checkpoint?: (step: string) => void,
): Promise<Summary> =>
  compact(
    validateConfig({
      chainId: CHAIN,
      dataset: "logs",
      sourceTable: "hot_logs",
      startBlock: range.first,
      endBlock: range.last,
      dest: "s3://unused/cold",
      databaseUrl: w.url,
      ...more,
    }),
    { sql: w.sql, databaseUrl: w.url, store, prefix: w.prefix, log: lineLogger(() => {}), checkpoint },
  )

/** The manifest's files as `name sha256 bytes rows` (names without the store's prefix). */
async function committedFiles(w: World): Promise<string[]> {
  const check = await checkInvariants(w, { range: BIG, rows: await hotRows(w.sql, BIG), final: true })
  assert.deepEqual(check.problems, [])
  return check.manifest!.partitions.flatMap((p) =>
    p.files.map((f) => `${f.key.split("/").at(-1)} ${f.sha256} ${f.bytes} ${f.rows}`)
  )
}

/** Temporary files of a file:// world and incomplete uploads of an S3 one. */
async function leftovers(w: World): Promise<string[]> {
  if (w.root) {
    const walk = async (dir: string): Promise<string[]> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
      const out = await Promise.all(
        entries.map((e) => e.isDirectory() ? walk(join(dir, e.name)) : Promise.resolve([e.name])),
      )
      return out.flat()
    }
    return await walk(join(w.root, TEMP_FOLDER))
  }
  const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucketOf(w) }))
  return (out.Uploads ?? []).map((u) => `upload of ${u.Key}`)
}

describe("streamed files", () => {
  it("file://: are durable before the manifest names them, with one folder sync for them all", async () => {
    const w = await world("file")
    await seedChain(w.sql, { chainId: CHAIN, first: 600n, last: BIG.last + 100n })
    const events: string[] = []
    const inner = w.store
    const store: ObjectStore = {
      ...wholeFiles(inner),
      streamAbove: inner.streamAbove ?? 0,
      create: (near) => {
        const writer = inner.create!(near)
        return {
          ...(writer.doneOnWrite ? { doneOnWrite: true } : {}),
          write: (bytes) => writer.write(bytes),
          abort: () => writer.abort(),
          finish: async (key) => {
            await writer.finish(key)
            events.push("finish")
          },
        }
      },
      put: async (k, b, o) => {
        const done = await inner.put(k, b, o)
        if (k.endsWith("manifest.json")) events.push("manifest")
        return done
      },
      sync: async () => {
        await inner.sync!()
        events.push("sync")
      },
    }
    await run(w, BIG, { chunkSize: 10_000 }, store)
    const manifest = events.indexOf("manifest")
    assert.deepEqual(events.slice(0, manifest + 1), [
      ...Array(events.indexOf("sync")).fill("finish"),
      "sync",
      "manifest",
    ])
    assert.ok(events.indexOf("sync") >= 2, `several files: ${events.join(" ")}`)
  })

  it("have the names and bytes of whole files, on file:// and S3, with nothing unnamed left", async () => {
    const options = { chunkSize: 60_000, rowGroupSize: 10_000 }
    const reference = await world("file")
    await seedChain(reference.sql, { chainId: CHAIN, first: 600n, last: BIG.last + 100n })
    const whole = await run(reference, BIG, options, wholeFiles(reference.store))
    const expected = await committedFiles(reference)
    assert.equal(expected.length, 2) // 60,000 rows and the rest
    assert.equal(whole.rows, (await hotRows(reference.sql, BIG)).size)

    const local = await world("file")
    await seedChain(local.sql, { chainId: CHAIN, first: 600n, last: BIG.last + 100n })
    assert.equal(local.store.streamAbove, 0) // every file streams into its temp file
    const streamed = await run(local, BIG, options)
    assert.deepEqual(await committedFiles(local), expected)
    assert.equal(streamed.partitions[0]!.uploaded_files, 2)
    assert.deepEqual(await leftovers(local), [])

    const remote = await world("s3")
    await seedChain(remote.sql, { chainId: CHAIN, first: 600n, last: BIG.last + 100n })
    // the 60,000-row file (> 5 MiB) streams in parts to a staging key, the other goes in one put
    const spy = recording(smallPartStore(remote))
    await run(remote, BIG, options, spy)
    assert.deepEqual({ streamed: spy.streamed, published: spy.published.length }, {
      streamed: 1,
      published: 2,
    })
    assert.deepEqual(await committedFiles(remote), expected)
    assert.deepEqual(await leftovers(remote), [])

    // a rerun writes the same files again and finds them there: nothing uploaded, nothing left
    const again = await run(remote, BIG, options, smallPartStore(remote))
    assert.equal(again.partitions[0]!.action, "unchanged")
    assert.deepEqual(await committedFiles(remote), expected)
    assert.deepEqual(await leftovers(remote), [])
  })

  for (const kind of ["file", "s3"] as const) {
    it(`${kind}: a run stopped mid-file removes every object, temporary file and upload it made`, async () => {
      const w = await world(kind)
      await seedChain(w.sql, { chainId: CHAIN, first: 600n, last: BIG.last + 100n })
      const store = recording(kind === "s3" ? smallPartStore(w) : w.store)
      // files of 50,000 rows (~5.6 MB) in row groups of 2,500, the last with the footer: file://
      // streams all 20 pieces of a file, so piece 24 is the second file's fourth; on S3 a file
      // streams once past 5 MiB, its last three pieces, so piece 4 is the second file's first
      const at = kind === "file" ? 24 : 4
      let pieces = 0
      const stop = (step: string) => {
        if (step === "streamed-piece" && ++pieces === at) throw new Error("stopped mid-file")
      }
      const error = await run(w, BIG, { chunkSize: 50_000, rowGroupSize: 2_500 }, store, stop).catch((e) => e)
      assert.match(String(error), /stopped mid-file/)
      assert.equal(pieces, at)
      assert.ok(store.published.length >= 1, "the first file was published, then removed")
      assert.equal(store.streamed, 2, "the second file was streaming")
      const folder = w.prefix ? `${w.prefix}/${CHAIN}/logs/` : `${CHAIN}/logs/`
      assert.deepEqual(await w.store.list(folder), [])
      assert.deepEqual(await leftovers(w), [])
    })
  }

  it("file://: a run killed mid-file leaves a temporary file only, which the next run removes", async () => {
    const w = await world("file")
    const range = { first: 0n, last: 299n }
    const rows = await hotRows(w.sql, range)
    // files of 200 rows in row groups of 50: pieces 1-4 are the first file (the last one with its
    // footer), 5 starts the second
    const killed = await withDeadline(
      spawnCli(w, { range, chunkSize: 200, rowGroupSize: 50, crashAt: "streamed-piece:5" }),
      120_000,
    )
    assert.equal(killed.signal, "SIGKILL", killed.stderr)
    assert.ok((await leftovers(w)).length >= 1, "a temporary file of the second file")
    const check = await checkInvariants(w, { range, rows })
    assert.deepEqual(check.problems, [])
    assert.equal(check.manifest, undefined)
    const rerun = await runCli(w, { range, chunkSize: 200 })
    assert.equal(rerun.code, 0, rerun.stderr)
    const final = await checkInvariants(w, { range, rows, final: true })
    assert.deepEqual(final.problems, [])
    assert.equal(final.cold.size, rows.size)
    assert.deepEqual(await leftovers(w), [])
  })

  it("S3: what a run killed mid-file leaves (an upload, a staging object) goes with the next run", async () => {
    const w = await world("s3")
    const range = { first: 0n, last: 299n }
    const rows = await hotRows(w.sql, range)
    const near = `cold/${CHAIN}/logs/logs_0_299_0001`
    // a writer killed while sending parts, and one killed between its upload and its copy
    const store = smallPartStore(w)
    const upload = store.create(near)
    await upload.write(new Uint8Array(6 * MIB))
    for (let i = 0; i < 50 && (await leftovers(w)).length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await w.store.put(`${near}~4242-0123456789ab.tmp`, new Uint8Array(100))
    assert.equal((await leftovers(w)).length, 1)
    const result = await runCli(w, { range, chunkSize: 200 })
    assert.equal(result.code, 0, result.stderr)
    const final = await checkInvariants(w, { range, rows, final: true })
    assert.deepEqual(final.problems, [])
    assert.deepEqual(await leftovers(w), [])
  })
})
