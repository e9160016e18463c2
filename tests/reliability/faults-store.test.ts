/**
 * S3 faults at the store level: radosgw behind a fault-injecting proxy (tests/reliability/s3proxy.ts),
 * with short client timeouts. Each fault kind, once, is retried to success; kept up, it ends the call
 * with RETRYABLE (exit 1) within a time bound: never a hang, never INTEGRITY or advice to restore
 * the manifest. Multipart uploads abort on failure, and abortIncompleteUploads() finds leftovers.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3"
import { CompactError, exitCodeOf } from "../../src/errors.ts"
import { S3Store } from "../../src/store/s3.ts"
import { createHash } from "node:crypto"
import { testServices } from "../env.ts"
import { freshBucket } from "../helpers.ts"
import { faultReport, timed } from "./common.ts"
import { type Fault, FAULTS, S3Proxy } from "./s3proxy.ts"

const services = testServices()
let proxy: S3Proxy
const report = faultReport("faults-store")
before(async () => {
  proxy = await S3Proxy.start(services.s3.endpoint)
})
after(async () => {
  await proxy.close()
  await report.write()
})

/** A store through the proxy with short timeouts, so a stall costs about a second. */
function proxiedStore(
  bucket: string,
  extra: Partial<ConstructorParameters<typeof S3Store>[0]> = {},
): S3Store {
  return new S3Store({
    bucket,
    endpoint: proxy.endpoint,
    region: services.s3.region,
    forcePathStyle: true,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    idleTimeout: 1_000,
    maxAttempts: 4,
    ...extra,
  })
}

const body = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff)
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

describe("S3 faults, one at a time: retried to success", () => {
  const ops: [string, string, string, (s: S3Store) => Promise<unknown>, (v: unknown) => void][] = [
    [
      "get",
      "GET",
      "obj.bin",
      (s) => s.get("f/obj.bin"),
      (v) => assert.deepEqual((v as { bytes: Uint8Array }).bytes, body),
    ],
    [
      "getRange",
      "GET",
      "obj.bin",
      (s) => s.getRange("f/obj.bin", 1000, 151_000),
      (v) => assert.deepEqual(v, body.subarray(1000, 151_000)),
    ],
    [
      "head",
      "HEAD",
      "obj.bin",
      (s) => s.head("f/obj.bin"),
      (v) => assert.equal((v as { size: number }).size, body.length),
    ],
    [
      "put",
      "PUT",
      "obj.bin",
      (s) => s.put("f/obj.bin", body),
      (v) => assert.ok((v as { etag: string }).etag),
    ],
    ["list", "GET", "list-type", (s) => s.list("f/"), (v) => assert.deepEqual(v, ["f/obj.bin"])],
    // the once-per-file requests, sent as signed fetches (s3-direct.ts)
    [
      "tail",
      "GET",
      "obj.bin",
      (s) => s.tail("f/obj.bin", 70_000),
      (v) => {
        assert.equal((v as { size: number }).size, body.length)
        assert.deepEqual((v as { bytes: Uint8Array }).bytes, body.subarray(-70_000))
      },
    ],
    [
      "putIfAbsent",
      "PUT",
      "new.bin",
      async (s) => [await s.putIfAbsent("g/new.bin", body, sha256(body)), await s.get("g/new.bin")],
      (v) => {
        // a PUT that reached S3 before the fault is answered 412 when retried: then it exists
        const [outcome, read] = v as [string, { bytes: Uint8Array }]
        assert.match(outcome, /^(created|exists)$/)
        assert.deepEqual(read.bytes, body)
      },
    ],
  ]
  for (const fault of FAULTS) {
    it(`${fault}: every operation succeeds after a retry, within 8 s`, async () => {
      proxy.reset()
      const { bucket } = await freshBucket()
      const store = proxiedStore(bucket)
      await store.put("f/obj.bin", body)
      for (const [name, method, path, run, check] of ops) {
        if (name === "putIfAbsent") await store.delete("g/new.bin")
        // the answers to HEAD and PUT have no body to stall or cut short
        if (
          (fault === "stallBody" || fault === "truncate") && ["head", "put", "putIfAbsent"].includes(name)
        ) continue
        proxy.reset()
        proxy.script(method, path, [fault])
        const { value, error, ms } = await timed(() => run(store))
        const outcome = error === undefined ? "ok after retry" : `failed: ${(error as Error).message}`
        report.record({ target: `S3 ${name}`, fault, times: "once", outcome, ms, bound_seconds: 8 })
        assert.equal(error, undefined, `${fault} ${name}: ${(error as Error)?.message}`)
        check(value)
        assert.equal(proxy.pending, 0, `${fault} ${name}: the fault was injected`)
        assert.ok(ms < 8_000, `${fault} ${name} took ${ms} ms`)
      }
      store.close()
    })
  }
})

describe("the once-per-file requests", () => {
  it("are one request each: a new file's PUT, and the GET of a file's end that gives its size", async () => {
    const { bucket } = await freshBucket()
    const store = proxiedStore(bucket)
    await store.put("f/obj.bin", body) // the bucket check (a LIST) and one PUT
    proxy.reset()
    assert.equal(await store.putIfAbsent("f/new.bin", body, sha256(body)), "created")
    assert.equal((await store.tail("f/new.bin", 1000))?.size, body.length)
    assert.deepEqual(proxy.seen.map((r) => `${r.method} ${r.path.split("?")[0]}`), [
      `PUT /${bucket}/f/new.bin`,
      `GET /${bucket}/f/new.bin`,
    ])
    store.close()
  })

  it("go through the SDK like every other request where HTTP(S)_PROXY is set (fetch would take it)", async () => {
    const { bucket } = await freshBucket()
    const saved = process.env.HTTP_PROXY
    process.env.HTTP_PROXY = "http://127.0.0.1:1" // nothing listens: a request sent there fails
    try {
      const store = proxiedStore(bucket)
      await store.put("f/obj.bin", body)
      proxy.reset()
      assert.equal(await store.putIfAbsent("f/new.bin", body, sha256(body)), "created")
      assert.equal((await store.tail("f/new.bin", 1000))?.size, body.length)
      assert.deepEqual(proxy.seen.map((r) => r.method), ["PUT", "HEAD", "GET"])
      store.close()
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY
      else process.env.HTTP_PROXY = saved
    }
  })
})

describe("S3 faults that persist: RETRYABLE within a bound", () => {
  for (const fault of FAULTS) {
    // a PUT's answer has no body to break off
    const ops = fault === "stallBody" || fault === "truncate"
      ? ["get", "getRange", "tail"] as const
      : ["get", "getRange", "tail", "put", "putIfAbsent"] as const
    for (const op of ops) {
      it(`${fault} on every ${op}: RETRYABLE (exit 1) within 25 s, no advice to restore`, async () => {
        proxy.reset()
        const { bucket } = await freshBucket()
        const store = proxiedStore(bucket)
        await store.put("f/manifest.json", body)
        proxy.reset()
        const put = op === "put" || op === "putIfAbsent"
        proxy.script(put ? "PUT" : "GET", put ? "json" : "manifest.json", Array(30).fill(fault))
        const { error, ms } = await timed<unknown>(() =>
          op === "get"
            ? store.get("f/manifest.json")
            : op === "getRange"
            ? store.getRange("f/manifest.json", 100, 150_000)
            : op === "tail"
            ? store.tail("f/manifest.json", 65_536) // as verification reads footers
            : op === "put"
            ? store.put("f/manifest.json", body)
            : store.putIfAbsent("f/new.json", body, sha256(body))
        )
        const outcome = error instanceof CompactError
          ? `${error.code} (exit ${exitCodeOf(error)})`
          : String(error)
        report.record({ target: `S3 ${op}`, fault, times: "every request", outcome, ms, bound_seconds: 25 })
        assert.ok(error instanceof CompactError, `${fault} ${op}: ${error}`)
        assert.equal(error.code, "RETRYABLE", error.message)
        assert.equal(exitCodeOf(error), 1)
        assert.doesNotMatch(error.message, /restore|integrity/i)
        assert.doesNotMatch(error.message, /\n/)
        assert.ok(ms < 25_000, `${fault} ${op} took ${ms} ms`)
        store.close()
      })
    }
  }
})

describe("multipart uploads", () => {
  it("a part that keeps failing aborts the upload: RETRYABLE, nothing incomplete left", async () => {
    const { bucket } = await freshBucket()
    const store = proxiedStore(bucket, { multipartThreshold: 5 * 1024 * 1024, maxAttempts: 2 })
    const big = new Uint8Array(11 * 1024 * 1024).map((_, i) => i & 0xff)
    proxy.reset()
    proxy.script("PUT", "partNumber=2", Array(10).fill("error500" as Fault))
    const { error, ms } = await timed(() => store.put("m/big.bin", big))
    const outcome = error instanceof CompactError ? `${error.code}, upload aborted` : String(error)
    report.record({
      target: "S3 multipart part 2",
      fault: "error500",
      times: "every request",
      outcome,
      ms,
      bound_seconds: 20,
    })
    assert.ok(error instanceof CompactError && error.code === "RETRYABLE", String(error))
    assert.ok(ms < 20_000)
    assert.equal(await store.head("m/big.bin"), undefined)
    assert.equal(await store.abortIncompleteUploads("m/"), 0, "the failed upload was aborted already")
    store.close()
  })

  it("uploads parts in parallel and survives one fault per part", async () => {
    const { bucket } = await freshBucket()
    const store = proxiedStore(bucket, { multipartThreshold: 5 * 1024 * 1024 })
    const big = new Uint8Array(16 * 1024 * 1024).map((_, i) => (i * 13) & 0xff)
    proxy.reset()
    for (const [n, fault] of ["slowdown", "reset", "truncate"].entries()) {
      proxy.script("PUT", `partNumber=${n + 1}&`, [fault as Fault])
    }
    const { etag } = await store.put("m/big.bin", big)
    assert.match(etag, /-4$/)
    assert.deepEqual((await store.get("m/big.bin"))?.bytes, big)
    store.close()
  })

  it("abortIncompleteUploads aborts the uploads under a prefix only", async () => {
    const { bucket, store } = await freshBucket()
    const raw = new S3Client({
      endpoint: services.s3.endpoint,
      region: services.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: services.s3.accessKeyId, secretAccessKey: services.s3.secretAccessKey },
    })
    for (const key of ["a/1/x.parquet", "a/1/y.parquet", "a/2/z.parquet"]) {
      await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    }
    assert.equal(await store.abortIncompleteUploads("a/1/"), 2)
    const left = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    assert.deepEqual(left.Uploads?.map((u) => u.Key), ["a/2/z.parquet"])
    assert.equal(await store.abortIncompleteUploads("a/1/"), 0)
    raw.destroy()
  })
})
