/**
 * Review of the signed-fetch path (src/store/s3-direct.ts, commit 6e84a81) against the real radosgw:
 * a direct PUT or tail must name, sign and fail like the SDK's request it replaces. The tests marked
 * FINDING fail on 6e84a81; the others pin what was checked and found sound.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { createServer, request, type Server } from "node:http"
import { parquetWriteBuffer } from "hyparquet-writer"
import { type ManifestTarget, verifyPartition } from "../src/commit.ts"
import {
  emptyManifest,
  type ManifestPartition,
  putPartition,
  serializeManifest,
} from "../src/core/manifest.ts"
import { manifestKey, objectKey } from "../src/core/naming.ts"
import { parseDestination } from "../src/destination.ts"
import { CompactError, exitCodeOf } from "../src/errors.ts"
import { S3Store } from "../src/store/s3.ts"
import { cli, closeDatabases, freshBucket, s3Flags, seededWorld } from "./helpers.ts"
import { testS3Client, testServices } from "./env.ts"
import { DeleteBucketCommand } from "@aws-sdk/client-s3"

const services = testServices()
const sha256 = (body: Uint8Array) => createHash("sha256").update(body).digest("hex")
const bytes = (text: string) => new TextEncoder().encode(text)
const outcome = (error: unknown) => `exit ${exitCodeOf(error)}: ${(error as Error).message}`
after(closeDatabases)

describe("FINDING: key segments '.' and '..' (fetch normalizes the URL path, the SDK does not)", () => {
  it("a direct PUT and tail name the object the SDK's GET and LIST name", async () => {
    const { store } = await freshBucket()
    for (const key of ["d/./x.bin", "d/e/../y.bin"]) {
      const body = bytes(`body of ${key}`)
      assert.equal(await store.putIfAbsent(key, body, sha256(body)), "created", key)
      assert.deepEqual((await store.get(key))?.bytes, body, `the SDK reads back "${key}"`)
    }
    assert.deepEqual(await store.list("d/"), ["d/./x.bin", "d/e/../y.bin"])
  })

  it("a '..' segment never sends a file into another bucket (path-style)", async () => {
    const { store } = await freshBucket()
    const other = await freshBucket()
    const body = bytes("a Parquet file")
    await store.putIfAbsent(`../${other.bucket}/escaped.bin`, body, sha256(body)).catch(() => {})
    assert.deepEqual(await other.store.list(""), [], "nothing lands in the other bucket")
  })

  it("compact --dest s3://BUCKET/. commits files that the manifest's keys name (exit 0, then readable)", async () => {
    assert.equal(parseDestination("s3://b/.").kind === "s3" && parseDestination("s3://b/.").prefix, ".")
    assert.equal(manifestKey(".", 10143n, "blocks"), "./10143/blocks/manifest.json") // accepted, not BAD_INPUT
    const world = await seededWorld(10143n, 700n)
    const run = await cli([
      "compact",
      ...["--chain-id", "10143", "--dataset", "blocks", "--start-block", "0", "--end-block", "499"],
      ...["--dest", `s3://${world.bucket}/.`, "--database-url", world.url, "--partition-size", "500"],
      "--delete-after-compact",
      ...s3Flags,
    ])
    assert.equal(run.code, 0, run.stderr.join("\n"))
    const [hot] = await world.sql`SELECT count(*)::int AS n FROM hot_blocks WHERE block_number <= 499`
    assert.equal(hot!.n, 0, "the run verified its files and deleted the hot rows")
    const manifest = await world.store.get("./10143/blocks/manifest.json")
    assert.ok(manifest, "the manifest is where the SDK put it")
    const keys = [...new TextDecoder().decode(manifest.bytes).matchAll(/"key": "([^"]+)"/g)].map((m) => m[1]!)
    assert.ok(keys.length > 0)
    for (const key of keys) {
      assert.ok(await world.store.head(key), `the manifest names "${key}": it must exist`)
    }
  })
})

/** Runs `run` with this process's clock 20 minutes ahead (radosgw allows 15). */
async function withSkewedClock<T>(run: () => Promise<T>): Promise<T> {
  const RealDate = Date
  const skew = 20 * 60_000
  class Skewed extends RealDate {
    constructor(...args: unknown[]) {
      // with no argument, now; any other form as given (the SDK parses the server's Date)
      super(...((args.length === 0 ? [RealDate.now() + skew] : args) as [number]))
    }
    static override now() {
      return RealDate.now() + skew
    }
  }
  globalThis.Date = Skewed as DateConstructor
  try {
    return await run()
  } finally {
    globalThis.Date = RealDate
  }
}

describe("FINDING: a client clock off by more than 15 minutes", () => {
  it("the SDK corrects it from the server's Date; the direct PUT and tail must too", async () => {
    const { store } = await freshBucket()
    await withSkewedClock(async () => {
      const body = bytes("x")
      await store.put("sdk.bin", body) // the SDK: 403 RequestTimeTooSkewed, offset corrected, retried
      const put = await store.putIfAbsent("direct.bin", body, sha256(body)).catch(outcome)
      const tail = await store.tail("sdk.bin", 1).then((t) => t?.size, outcome)
      // on 6e84a81: exit 2 "access denied; grant these credentials s3:ListBucket, …" for both
      assert.deepEqual([put, tail], ["created", 1])
    })
  })

  it("a clock that jumps during a run: the direct PUT corrects it and retries, as the SDK does", async () => {
    const { store } = await freshBucket()
    await store.put("sdk.bin", bytes("x")) // the bucket check and a PUT with the clock right
    const body = bytes("y")
    const put = await withSkewedClock(() =>
      store.putIfAbsent("direct.bin", body, sha256(body)).catch(outcome)
    )
    assert.equal(put, "created")
  })
})

describe("FINDING: an endpoint from the SDK's configuration (AWS_ENDPOINT_URL_S3, endpoint_url)", () => {
  it("a direct request goes where the SDK's requests go, also as the store's first request", async () => {
    const { bucket } = await freshBucket()
    process.env.AWS_ENDPOINT_URL_S3 = services.s3.endpoint
    try {
      const bounds = {
        region: services.s3.region,
        forcePathStyle: true,
        maxAttempts: 1,
        requestTimeout: 3_000,
      }
      const body = bytes("x")
      // on 6e84a81 both go to https://s3.us-east-1.amazonaws.com (ENOTFOUND here; AWS where online)
      const put = await new S3Store({ bucket, ...bounds }).putIfAbsent("a.bin", body, sha256(body))
        .catch(outcome)
      const tail = await new S3Store({ bucket, ...bounds }).tail("a.bin", 1).then((t) => t?.size, outcome)
      assert.deepEqual([put, tail], ["created", 1])
    } finally {
      delete process.env.AWS_ENDPOINT_URL_S3
    }
  })
})

/** A proxy to radosgw that answers requests whose path holds "redirect-me" with a 307 to `elsewhere`. */
async function redirectingProxy(elsewhere: Server) {
  const upstream = new URL(services.s3.endpoint)
  const to = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}`
  const proxy = createServer((req, res) => {
    if (req.url!.includes("redirect-me")) {
      req.resume()
      res.writeHead(307, { location: `${to}${req.url}`, "content-type": "application/xml" })
      res.end("<Error><Code>TemporaryRedirect</Code><Message>Please re-send</Message></Error>")
      return
    }
    const headers = req.headers
    const forward = request({ ...hostOf(upstream), method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers)
      answer.pipe(res)
    })
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
  return { proxy, endpoint: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` }
}
const hostOf = (url: URL) => ({ host: url.hostname, port: Number(url.port) })

describe("FINDING: a 3xx answer (S3's 307 TemporaryRedirect)", () => {
  it("is not followed (the body goes nowhere else) and fails as on the SDK path: RETRYABLE", async () => {
    const seen: string[] = []
    const elsewhere = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      req.resume()
      res.writeHead(403).end()
    })
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve))
    const { proxy, endpoint } = await redirectingProxy(elsewhere)
    try {
      const { bucket } = await freshBucket()
      const results: Record<string, string> = {}
      for (const direct of [false, true]) {
        const store = new S3Store({
          bucket,
          endpoint,
          region: services.s3.region,
          forcePathStyle: true,
          maxAttempts: 1,
          directRequests: direct,
        })
        const body = bytes("x")
        const put = await store.putIfAbsent("redirect-me.bin", body, sha256(body)).catch((e) => e)
        const tail = await store.tail("redirect-me.bin", 1).catch((e) => e)
        results[direct ? "direct" : "sdk"] = `${exitCodeOf(put)} ${exitCodeOf(tail)}`
        store.close()
      }
      assert.deepEqual(seen, [], "nothing reached the redirect's target")
      // on 6e84a81: sdk "1 1", direct "2 2" (access denied, from the redirect's target)
      assert.deepEqual(results, { sdk: "1 1", direct: "1 1" })
    } finally {
      for (const server of [proxy, elsewhere]) {
        server.closeAllConnections()
        server.close()
      }
    }
  })
})

describe("FINDING: HTTP_PROXY in the environment (the SDK's node:http ignores it, fetch honours it)", () => {
  it("the direct PUT and tail take the SDK's route: straight to the endpoint", async () => {
    const seen: string[] = []
    const upstream = new URL(services.s3.endpoint)
    const forwarder = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      const path = new URL(req.url!, "http://x").pathname
      const forward = request(
        { ...hostOf(upstream), method: req.method, path, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode!, r.headers)
          r.pipe(res)
        },
      )
      req.pipe(forward)
    })
    await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve))
    process.env.HTTP_PROXY = `http://127.0.0.1:${(forwarder.address() as { port: number }).port}`
    try {
      const { bucket } = await freshBucket()
      // "localhost": a name, as an endpoint usually is (not a loopback address a proxy might skip)
      const endpoint = services.s3.endpoint.replace("127.0.0.1", "localhost")
      const store = new S3Store({ bucket, endpoint, region: services.s3.region, forcePathStyle: true })
      const body = bytes("x")
      await store.put("sdk.bin", body)
      assert.equal(await store.putIfAbsent("direct.bin", body, sha256(body)), "created")
      assert.equal((await store.tail("direct.bin", 1))?.size, 1)
      store.close()
      // on 6e84a81: the proxy saw "PUT http://localhost:…/direct.bin" and "GET …/direct.bin"
      assert.deepEqual(seen, [])
    } finally {
      delete process.env.HTTP_PROXY
      forwarder.closeAllConnections()
      forwarder.close()
    }
  })
})

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
