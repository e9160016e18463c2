/** The ObjectStore contract, held by the local folder store and by S3 on the real radosgw. */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LocalStore } from "../src/store/local.ts"
import { S3Store } from "../src/store/s3.ts"
import { ConditionFailed, type ObjectStore } from "../src/store/store.ts"
import { freshBucket } from "./helpers.ts"

const bytes = (text: string) => new TextEncoder().encode(text)

const stores: [string, () => Promise<ObjectStore>][] = [
  ["local folder", async () => new LocalStore(await mkdtemp(join(tmpdir(), "store-")))],
  ["S3 (radosgw)", async () => (await freshBucket()).store],
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
    const { bucket } = await freshBucket()
    const env = process.env
    const big = new S3Store({
      bucket,
      endpoint: env.PARQUET_COMPACT_TEST_S3_ENDPOINT!,
      region: env.PARQUET_COMPACT_TEST_S3_REGION ?? "us-east-1",
      forcePathStyle: true,
      multipartThreshold: 5 * 1024 * 1024, // S3's smallest part
    })
    const body = new Uint8Array(11 * 1024 * 1024).map((_, i) => (i * 7) & 0xff)
    const { etag } = await big.put("big.bin", body)
    assert.match(etag, /-3$/) // a multipart ETag names its part count
    assert.deepEqual((await big.get("big.bin"))?.bytes, body)
    big.close()
  })
})
