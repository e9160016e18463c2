/**
 * The signed-fetch path (src/store/s3-direct.ts) against the real radosgw, where a review found it
 * sound: a footer longer than the tail read, a body that is a view into a larger buffer, a wrong
 * sha256, a bucket removed mid-run (the review's findings: tests/s3-direct.test.ts).
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { DeleteBucketCommand } from "@aws-sdk/client-s3"
import { parquetWriteBuffer } from "hyparquet-writer"
import { type ManifestTarget, verifyPartition } from "../src/commit.ts"
import {
  emptyManifest,
  type ManifestPartition,
  putPartition,
  serializeManifest,
} from "../src/core/manifest.ts"
import { manifestKey, objectKey } from "../src/core/naming.ts"
import { CompactError, exitCodeOf } from "../src/errors.ts"
import { S3Store } from "../src/store/s3.ts"
import { freshBucket } from "./helpers.ts"
import { testS3Client, testServices } from "./env.ts"

const services = testServices()
const sha256 = (body: Uint8Array) => createHash("sha256").update(body).digest("hex")
const bytes = (text: string) => new TextEncoder().encode(text)
describe("sound: the read-back of a file whose footer is longer than the 64 KiB tail", () => {
  it("verifyPartition reads the rest of the footer and checks its row count", async () => {
    const { store } = await freshBucket()
    const file = new Uint8Array(parquetWriteBuffer({
      columnData: [{ name: "block_number", data: [5n, 6n, 7n], type: "INT64" }],
      kvMetadata: [{ key: "padding", value: "p".repeat(100_000) }],
    }))
    const key = objectKey("cold", 1n, "blocks", { first: 0n, last: 9n }, 0, sha256(file))
    assert.equal(await store.putIfAbsent(key, file, sha256(file)), "created")
    const partition = (rows: number): ManifestPartition => ({
      partition_key: "0-9",
      start_block: 0n,
      end_block: 9n,
      row_count: rows,
      tip: 1000n,
      finality_threshold: 10n,
      schema_hash: "h",
      files: [{ key, part: 0, rows, bytes: file.length, sha256: sha256(file), min_block: 5n, max_block: 7n }],
    })
    const target = { store, prefix: "cold", chainId: 1n, dataset: "blocks" } as unknown as ManifestTarget
    for (const rows of [3, 4]) {
      const { manifest } = putPartition(emptyManifest(1n, "blocks"), partition(rows))
      await store.put(manifestKey("cold", 1n, "blocks"), bytes(serializeManifest(manifest)))
      const error = await verifyPartition(target, partition(rows), new Set()).catch((e) => e)
      if (rows === 3) assert.equal(error, undefined)
      else assert.match((error as CompactError).message, /holds 3 rows by its footer, not 4/)
    }
  })
})

describe("sound: what the direct PUT sends", () => {
  it("a body that is a view into a larger buffer is sent as the view (the server checks its sha256)", async () => {
    const { store } = await freshBucket()
    const backing = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff)
    const view = backing.subarray(1_000, 201_000)
    assert.equal(await store.putIfAbsent("v.bin", view, sha256(view)), "created")
    assert.deepEqual((await store.get("v.bin"))?.bytes, view)
  })

  it("a wrong sha256 is refused by the server and leaves no object; a retry cannot fix it", async () => {
    const { store } = await freshBucket()
    const error = await store.putIfAbsent("w.bin", bytes("abc"), sha256(bytes("abd"))).catch((e) => e)
    assert.ok(error instanceof CompactError)
    assert.match(error.message, /XAmzContentSHA256Mismatch/)
    assert.equal(await store.head("w.bin"), undefined)
  })
})

describe("sound: errors of the direct requests read as the SDK's", () => {
  it("a bucket removed during a run: exit 2, one line naming it", async () => {
    const lines: Record<string, string[]> = {}
    for (const direct of [false, true]) {
      const { bucket } = await freshBucket()
      const { endpoint, region } = services.s3
      const store = new S3Store({ bucket, endpoint, region, forcePathStyle: true, directRequests: direct })
      await store.list("") // the bucket check, passed
      await testS3Client().send(new DeleteBucketCommand({ Bucket: bucket }))
      const body = bytes("x")
      const put = await store.putIfAbsent("a.bin", body, sha256(body)).catch((e) => e)
      const tail = await store.tail("a.bin", 1).catch((e) => e)
      lines[direct ? "direct" : "sdk"] = [put, tail].map((e) =>
        e instanceof Error ? `${exitCodeOf(e)} ${e.message.replaceAll(bucket, "B")}` : String(e)
      )
      store.close()
    }
    assert.equal(lines.direct![0], lines.sdk![0], "the PUT fails alike")
    for (const line of lines.direct!) {
      assert.match(line, /^2 Cannot use bucket "B": it does not exist at .*; create it/)
    }
    // the SDK path's tail is a HEAD, whose 404 has no body to tell bucket from key: "no object"
    // (then verifyPartition says INTEGRITY, exit 4); the direct GET reads NoSuchBucket. Not new.
    assert.equal(lines.sdk![1], "undefined")
  })
})
