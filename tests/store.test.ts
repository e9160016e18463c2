/** The ObjectStore contract, held by the local folder store and by S3 on the real radosgw. */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CompactError } from "../src/errors.ts"
import { LocalStore, TEMP_FOLDER } from "../src/store/local.ts"
import { S3Store } from "../src/store/s3.ts"
import { ConditionFailed, type ObjectStore, readTail } from "../src/store/store.ts"
import { createHash } from "node:crypto"
import { freshBucket } from "./helpers.ts"
import { smallPartStore, testServices } from "./env.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const sha256 = (body: Uint8Array) => createHash("sha256").update(body).digest("hex")

const stores: [string, () => Promise<ObjectStore>][] = [
  ["local folder", async () => new LocalStore(await mkdtemp(join(tmpdir(), "store-")))],
  ["S3 (radosgw)", async () => (await freshBucket()).store],
  ["S3 (radosgw), SDK requests only", async () => {
    const { bucket } = await freshBucket()
    const { endpoint, region } = testServices().s3
    return new S3Store({ bucket, endpoint, region, forcePathStyle: true, directRequests: false })
  }],
]

for (const [name, open] of stores) {
  describe(`ObjectStore: ${name}`, () => {
    it("puts, reads, ranges, lists and deletes", async () => {
      const store = await open()
      assert.equal(await store.get("a/b.txt"), undefined)
      assert.equal(await store.head("a/b.txt"), undefined)
      const { etag } = await store.put("a/b.txt", bytes("hello world"))
      const got = await store.get("a/b.txt")
      assert.deepEqual(got?.bytes, bytes("hello world"))
      assert.equal(got?.etag, etag)
      assert.deepEqual(await store.head("a/b.txt"), { size: 11, etag })
      assert.deepEqual(await store.getRange("a/b.txt", 6, 11), bytes("world"))
      await store.put("a/c.txt", bytes("x"))
      await store.put("a/bb/d.txt", bytes("y"))
      assert.deepEqual(await store.list("a/b"), ["a/b.txt", "a/bb/d.txt"])
      assert.deepEqual(await store.list(""), ["a/b.txt", "a/bb/d.txt", "a/c.txt"])
      await store.delete("a/b.txt")
      await store.delete("a/missing.txt")
      assert.deepEqual(await store.list("a/"), ["a/bb/d.txt", "a/c.txt"])
      assert.equal(await store.abortIncompleteUploads("a/"), 0)
    })

    it("reads an object's size and last bytes at once, for any size against the length asked", async () => {
      const store = await open()
      for (const size of [0, 1, 9, 10, 11, 70_000]) {
        const body = new Uint8Array(size).map((_, i) => (i * 37 + size) & 0xff)
        await store.put(`t/${size}.bin`, body)
        for (const length of [1, 10, 65_536]) {
          const tail = await readTail(store, `t/${size}.bin`, length)
          assert.equal(tail?.size, size, `size ${size}, last ${length}`)
          assert.deepEqual(
            tail?.bytes,
            body.subarray(Math.max(0, size - length)),
            `size ${size}, last ${length}`,
          )
        }
      }
      assert.equal(await readTail(store, "t/missing.bin", 10), undefined)
    })

    it("keeps keys with spaces, non-ASCII and reserved characters apart, by every request", async () => {
      const store = await open()
      const key = "p re/ü!'()*~+=,;@$&:/f x(1).parquet"
      const body = bytes("content-addressed")
      assert.equal(await store.putIfAbsent(key, body, sha256(body)), "created")
      assert.equal(await store.putIfAbsent(key, body, sha256(body)), "exists")
      assert.deepEqual((await store.get(key))?.bytes, body)
      assert.deepEqual((await readTail(store, key, 5))?.bytes, bytes("essed"))
      await store.put("p re/ü!'()*~+=,;@$&:/f x(2).parquet", bytes("other"))
      assert.deepEqual(await store.list("p re/"), [key, "p re/ü!'()*~+=,;@$&:/f x(2).parquet"])
      assert.equal((await store.head("p re/ü!'()*~+=,;@$&:/f x(1)"))?.size, undefined)
    })

    it("honours If-None-Match and If-Match", async () => {
      const store = await open()
      const first = await store.put("m.json", bytes("1"), { ifNoneMatch: "*" })
      await assert.rejects(store.put("m.json", bytes("2"), { ifNoneMatch: "*" }), ConditionFailed)
      const second = await store.put("m.json", bytes("2"), { ifMatch: first.etag })
      await assert.rejects(store.put("m.json", bytes("3"), { ifMatch: first.etag }), ConditionFailed)
      assert.deepEqual((await store.get("m.json"))?.bytes, bytes("2"))
      assert.equal((await store.get("m.json"))?.etag, second.etag)
    })
  })
}

describe("S3Store multipart", () => {
  it("uploads a body above the threshold in verified parts", async () => {
    const big = smallPartStore((await freshBucket()).bucket)
    const body = new Uint8Array(11 * 1024 * 1024).map((_, i) => (i * 7) & 0xff)
    const { etag } = await big.put("big.bin", body)
    assert.match(etag, /-3$/) // a multipart ETag names its part count
    assert.deepEqual((await big.get("big.bin"))?.bytes, body)
    big.close()
  })
})

describe("LocalStore temporary files", () => {
  it("keeps them out of every dataset folder, out of list(), and removes leftovers by prefix", async () => {
    const root = await mkdtemp(join(tmpdir(), "store-"))
    const store = new LocalStore(root)
    await store.put("c/1/logs/logs_0_9_0000.parquet", bytes("data"))
    // what a put killed before its rename leaves behind, and what versions before TEMP_FOLDER left
    await mkdir(join(root, TEMP_FOLDER, "c/1/logs"), { recursive: true })
    await writeFile(join(root, TEMP_FOLDER, "c/1/logs/logs_0_9_0001.parquet~123-abcdef.tmp"), "x")
    await mkdir(join(root, TEMP_FOLDER, "c/1/blocks"), { recursive: true })
    await writeFile(join(root, TEMP_FOLDER, "c/1/blocks/blocks_0_9_0000.parquet~123-abcdef.tmp"), "x")
    await writeFile(join(root, "c/1/logs/logs_0_9_0002.parquet.tmp-77-0a1b2c"), "x")
    assert.deepEqual(await readdir(join(root, "c/1/logs")), [
      "logs_0_9_0000.parquet",
      "logs_0_9_0002.parquet.tmp-77-0a1b2c",
    ])
    assert.deepEqual(await store.list(""), ["c/1/logs/logs_0_9_0000.parquet"])
    assert.deepEqual(await store.list("c/1/logs/"), ["c/1/logs/logs_0_9_0000.parquet"])
    assert.equal(await store.abortIncompleteUploads("c/1/logs/logs_0_9_"), 2)
    assert.deepEqual(await readdir(join(root, "c/1/logs")), ["logs_0_9_0000.parquet"])
    assert.deepEqual(await readdir(join(root, TEMP_FOLDER, "c/1/blocks")), [
      "blocks_0_9_0000.parquet~123-abcdef.tmp",
    ])
    assert.equal(await store.abortIncompleteUploads("c/1/logs/"), 0)
    await assert.rejects(store.put(`${TEMP_FOLDER}/x`, bytes("x")), /leaves the store folder/)
  })

  it("leaves no temporary file after puts, conditional or not", async () => {
    const root = await mkdtemp(join(tmpdir(), "store-"))
    const store = new LocalStore(root)
    const first = await store.put("a/m.json", bytes("1"), { ifNoneMatch: "*" })
    await assert.rejects(store.put("a/m.json", bytes("2"), { ifNoneMatch: "*" }), ConditionFailed)
    await store.put("a/m.json", bytes("3"), { ifMatch: first.etag })
    await store.put("a/b/c.bin", bytes("4"))
    const left: string[] = []
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name))
        else left.push(e.name)
      }
    }
    await walk(join(root, TEMP_FOLDER))
    assert.deepEqual(left, [])
  })

  it("says BAD_INPUT, naming the folder, when the folder cannot be written", async () => {
    const root = await mkdtemp(join(tmpdir(), "store-"))
    await writeFile(join(root, "file"), "not a folder")
    const store = new LocalStore(join(root, "file", "cold"))
    const error = await store.put("a/b.bin", bytes("x")).catch((e) => e)
    assert.ok(error instanceof CompactError, String(error))
    assert.equal(error.code, "BAD_INPUT")
    assert.match(
      error.message,
      /^Cannot write "a\/b\.bin" in folder ".*\/file\/cold": a part of the path is a file/,
    )
  })
})

describe("S3Store errors", () => {
  it("names a missing bucket and a wrong secret key as BAD_INPUT", async () => {
    const env = process.env
    const base = {
      endpoint: env.PARQUET_COMPACT_TEST_S3_ENDPOINT!,
      region: env.PARQUET_COMPACT_TEST_S3_REGION ?? "us-east-1",
      forcePathStyle: true,
    }
    const missing = new S3Store({ ...base, bucket: "no-such-bucket-at-all" })
    const e1 = await missing.head("x").catch((e) => e)
    assert.ok(e1 instanceof CompactError && e1.code === "BAD_INPUT", String(e1))
    assert.match(e1.message, /bucket "no-such-bucket-at-all": it does not exist/)
    const { bucket } = await freshBucket()
    const wrong = new S3Store({
      ...base,
      bucket,
      credentials: {
        accessKeyId: env.PARQUET_COMPACT_TEST_S3_ACCESS_KEY_ID!,
        secretAccessKey: "not-the-secret",
      },
    })
    const e2 = await wrong.get("x").catch((e) => e)
    assert.ok(e2 instanceof CompactError && e2.code === "BAD_INPUT", String(e2))
    assert.match(e2.message, /the S3 secret key or access key id is wrong/)
    assert.doesNotMatch(e2.message, /not-the-secret/)
    missing.close()
    wrong.close()
  })
})
