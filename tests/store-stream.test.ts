/**
 * ObjectStore.create(): objects streamed in pieces before their key is known, on radosgw and in a
 * folder. The bytes arrive whole under the final key, nothing else is left (no staging object, no
 * incomplete upload, no temporary file), an abort removes everything, and objects past S3's
 * single-copy limit are copied in ranges.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3"
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LocalStore, TEMP_FOLDER } from "../src/store/local.ts"
import type { Send } from "../src/store/s3-multipart.ts"
import { S3Writer } from "../src/store/s3-stream.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { freshBucket } from "./helpers.ts"
import { smallPartStore, testS3Client, testServices } from "./env.ts"

const services = testServices()
const client = testS3Client(services)
const send: Send = (_action, run) => run(client)
const folders: string[] = []
after(async () => {
  client.destroy()
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })))
})

const MIB = 1024 * 1024
/** `size` bytes of a pattern, cut into pieces of uneven sizes (as row groups come). */
function pieces(size: number, seed: number): { whole: Uint8Array; pieces: Uint8Array[] } {
  const whole = new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff)
  const out: Uint8Array[] = []
  for (let o = 0, n = 0; o < size; n++) {
    const len = Math.min(size - o, [700_000, 2_300_001, 1, 4_000_000][n % 4]!)
    out.push(whole.slice(o, o + len))
    o += len
  }
  return { whole, pieces: out }
}

async function uploadsUnder(bucket: string, prefix: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))
  return (out.Uploads ?? []).map((u) => u.Key!)
}

async function stream(store: ObjectStore, near: string, parts: Uint8Array[], key: string) {
  const writer = store.create!(near)
  for (const p of parts) await writer.write(p)
  await writer.finish(key)
}

const smallParts = (bucket: string) => smallPartStore(bucket, services)

describe("S3Store.create (radosgw)", () => {
  it("puts the pieces whole under the final key, in parts, and leaves nothing else", async () => {
    const { bucket } = await freshBucket()
    const store = smallParts(bucket)
    const { whole, pieces: parts } = pieces(12 * MIB + 5, 1)
    await stream(store, "c/1/logs/logs_0_9_0000", parts, "c/1/logs/logs_0_9_0000_aaaa.parquet")
    assert.deepEqual(await store.list("c/"), ["c/1/logs/logs_0_9_0000_aaaa.parquet"])
    assert.deepEqual((await store.get("c/1/logs/logs_0_9_0000_aaaa.parquet"))?.bytes, whole)
    assert.deepEqual(await uploadsUnder(bucket, "c/"), [])
    // an empty object and one smaller than a part go as a single part
    await stream(store, "c/1/logs/logs_0_9_0001", [], "c/1/logs/empty.parquet")
    await stream(store, "c/1/logs/logs_0_9_0002", [new Uint8Array([1, 2, 3])], "c/1/logs/small.parquet")
    assert.equal((await store.head("c/1/logs/empty.parquet"))?.size, 0)
    assert.deepEqual((await store.get("c/1/logs/small.parquet"))?.bytes, new Uint8Array([1, 2, 3]))
    assert.equal((await store.list("c/")).length, 3)
    store.close()
  })

  it("copies in ranges past the single-copy limit, with the same bytes", async () => {
    const { bucket, store } = await freshBucket()
    const { whole, pieces: parts } = pieces(13 * MIB, 2)
    const writer = new S3Writer(send, {
      bucket,
      near: "p/x_0001",
      contentType: "application/octet-stream",
      partSize: 5 * MIB,
      concurrency: 2,
      copyLimit: 6 * MIB, // 3 ranges: 6, 6 and 1 MiB
    })
    assert.ok(writer.key.startsWith("p/x_0001~") && writer.key.endsWith(".tmp"), writer.key)
    for (const p of parts) await writer.write(p)
    await writer.finish("p/x_0001_bbbb.parquet")
    assert.deepEqual(await store.list("p/"), ["p/x_0001_bbbb.parquet"])
    assert.deepEqual((await store.get("p/x_0001_bbbb.parquet"))?.bytes, whole)
    assert.deepEqual(await uploadsUnder(bucket, "p/"), [])
    store.close()
  })

  it("abort() mid-stream leaves no upload and no object; finish() replaces like put()", async () => {
    const { bucket } = await freshBucket()
    const store = smallParts(bucket)
    const { pieces: parts } = pieces(11 * MIB, 3)
    const writer = store.create("q/x_0000")
    for (const p of parts) await writer.write(p) // two parts going in the background, the rest pending
    for (let i = 0; i < 50 && (await uploadsUnder(bucket, "q/")).length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal((await uploadsUnder(bucket, "q/")).length, 1)
    await writer.abort()
    await writer.abort() // twice is fine
    assert.deepEqual(await uploadsUnder(bucket, "q/"), [])
    assert.deepEqual(await store.list("q/"), [])
    // finish() replaces like put(): a content-addressed key only ever gets the same bytes again
    await store.put("q/x_0000_cccc.parquet", new Uint8Array([9]))
    const again = store.create("q/x_0000")
    for (const p of parts) await again.write(p)
    await again.finish("q/x_0000_cccc.parquet")
    assert.equal((await store.head("q/x_0000_cccc.parquet"))?.size, 11 * MIB)
    assert.deepEqual(await store.list("q/"), ["q/x_0000_cccc.parquet"])
    assert.deepEqual(await uploadsUnder(bucket, "q/"), [])
    store.close()
  })
})

describe("LocalStore.create", () => {
  it("streams into a temporary file outside the dataset folders, then publishes it; abort removes it", async () => {
    const root = await mkdtemp(join(tmpdir(), "stream-"))
    folders.push(root)
    const store = new LocalStore(root)
    const { whole, pieces: parts } = pieces(3 * MIB, 4)
    const writer = store.create("c/1/logs/logs_0_9_0000")
    for (const p of parts) await writer.write(p)
    const temps = await readdir(join(root, TEMP_FOLDER, "c/1/logs"))
    assert.equal(temps.length, 1)
    assert.match(temps[0]!, /^logs_0_9_0000~\d+-[0-9a-f]+\.tmp$/)
    assert.deepEqual(await store.list("c/"), [])
    await writer.finish("c/1/logs/logs_0_9_0000_aaaa.parquet")
    assert.deepEqual(await store.list("c/"), ["c/1/logs/logs_0_9_0000_aaaa.parquet"])
    assert.deepEqual((await store.get("c/1/logs/logs_0_9_0000_aaaa.parquet"))?.bytes, whole)
    assert.deepEqual(await readdir(join(root, TEMP_FOLDER, "c/1/logs")), [])

    const dropped = store.create("c/1/logs/logs_0_9_0001")
    await dropped.write(new Uint8Array(10))
    await dropped.abort()
    assert.deepEqual(await readdir(join(root, TEMP_FOLDER, "c/1/logs")), [])
    const again = store.create("c/1/logs/logs_0_9_0000")
    await again.write(new Uint8Array(10))
    await again.finish("c/1/logs/logs_0_9_0000_aaaa.parquet")
    assert.equal((await store.head("c/1/logs/logs_0_9_0000_aaaa.parquet"))?.size, 10)
    assert.deepEqual(await readdir(join(root, TEMP_FOLDER, "c/1/logs")), [])
    assert.throws(() => store.create("../outside"), /leaves the store folder/)
  })
})
