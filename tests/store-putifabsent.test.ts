/**
 * ObjectStore.putIfAbsent, the one call that writes a content-addressed Parquet file: on the local
 * folder store and on S3 against the real radosgw (one conditional PUT whose payload hash the server
 * checks against the sha256 the caller gives).
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CompactError } from "../src/errors.ts"
import { LocalStore } from "../src/store/local.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { freshBucket } from "./helpers.ts"
import { smallPartStore } from "./env.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const sha256 = (body: Uint8Array) => createHash("sha256").update(body).digest("hex")

const stores: [string, () => Promise<ObjectStore>][] = [
  ["local folder", async () => new LocalStore(await mkdtemp(join(tmpdir(), "store-")))],
  ["S3 (radosgw)", async () => (await freshBucket()).store],
]

for (const [name, open] of stores) {
  describe(`putIfAbsent: ${name}`, () => {
    it("creates a missing object, then reports it as there without writing again", async () => {
      const store = await open()
      const body = bytes("parquet bytes")
      assert.equal(await store.putIfAbsent("d/f_0000_aa.parquet", body, sha256(body)), "created")
      assert.deepEqual((await store.get("d/f_0000_aa.parquet"))?.bytes, body)
      const { etag } = (await store.head("d/f_0000_aa.parquet"))!
      assert.equal(await store.putIfAbsent("d/f_0000_aa.parquet", body, sha256(body)), "exists")
      assert.equal((await store.head("d/f_0000_aa.parquet"))?.etag, etag)
    })

    it("never overwrites an object of the body's size: it says exists and keeps those bytes", async () => {
      const store = await open()
      await store.put("d/f_0001_bb.parquet", bytes("committed A"))
      const other = bytes("different B")
      assert.equal(other.length, "committed A".length)
      assert.equal(await store.putIfAbsent("d/f_0001_bb.parquet", other, sha256(other)), "exists")
      assert.deepEqual((await store.get("d/f_0001_bb.parquet"))?.bytes, bytes("committed A"))
    })

    it("replaces an object of another size under the name (a damaged copy) with the body", async () => {
      const store = await open()
      const body = bytes("the whole file")
      await store.put("d/f_0002_cc.parquet", body.subarray(0, 5))
      assert.equal(await store.putIfAbsent("d/f_0002_cc.parquet", body, sha256(body)), "created")
      assert.deepEqual((await store.get("d/f_0002_cc.parquet"))?.bytes, body)
    })
  })
}

describe("putIfAbsent on S3: the server verifies the given sha256", () => {
  it("refuses a body whose sha256 is not the one given, and stores nothing", async () => {
    const { store } = await freshBucket()
    const body = bytes("what the encoder wrote")
    const damaged = bytes("what the encoder wrotE")
    const error = await store.putIfAbsent("d/f_0000_dd.parquet", damaged, sha256(body)).catch((e) => e)
    assert.ok(error instanceof CompactError, String(error))
    assert.match(error.message, /Cannot write "d\/f_0000_dd\.parquet".*XAmzContentSHA256Mismatch/)
    assert.equal(await store.head("d/f_0000_dd.parquet"), undefined)
    // a mismatch on the 412 path's rewrite of a damaged copy is refused the same way
    await store.put("d/f_0000_dd.parquet", bytes("short"))
    await assert.rejects(store.putIfAbsent("d/f_0000_dd.parquet", damaged, sha256(body)), CompactError)
    assert.deepEqual((await store.get("d/f_0000_dd.parquet"))?.bytes, bytes("short"))
    store.close()
  })

  it("refuses a sha256 that is not 64 lowercase hex digits before sending anything", async () => {
    const { store } = await freshBucket()
    const body = bytes("x")
    await assert.rejects(store.putIfAbsent("d/x.parquet", body, sha256(body).toUpperCase()), /not 64 hex/)
    assert.equal(await store.head("d/x.parquet"), undefined)
    store.close()
  })

  it("goes multipart above the threshold (unconditional, after a HEAD) and still reports exists", async () => {
    const store = smallPartStore((await freshBucket()).bucket)
    const body = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 13) & 0xff)
    assert.equal(await store.putIfAbsent("m/big.parquet", body, sha256(body)), "created")
    assert.equal(await store.putIfAbsent("m/big.parquet", body, sha256(body)), "exists")
    assert.equal(sha256((await store.get("m/big.parquet"))!.bytes), sha256(body))
    store.close()
  })
})
