/**
 * The signed-fetch path (src/store/s3-direct.ts) against the real radosgw: a direct PUT or tail must
 * name, sign, route and fail like the SDK's request it replaces. Each test is a finding of the review
 * of its first version, and failed on it; what the review found sound is in s3-direct-sound.test.ts.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { createServer, request, type Server } from "node:http"
import { exitCodeOf } from "../src/errors.ts"
import { S3Store } from "../src/store/s3.ts"
import { cli, closeDatabases, freshBucket, s3Flags, seededWorld } from "./helpers.ts"
import { testServices } from "./env.ts"

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

  it("compact --dest s3://BUCKET/. is refused (exit 2, one line), before anything is written or deleted", async () => {
    const world = await seededWorld(10143n, 700n)
    const run = await cli([
      "compact",
      ...["--chain-id", "10143", "--dataset", "blocks", "--start-block", "0", "--end-block", "499"],
      ...["--dest", `s3://${world.bucket}/.`, "--database-url", world.url, "--partition-size", "500"],
      "--delete-after-compact",
      ...s3Flags,
    ])
    assert.equal(run.code, 2, run.stderr.join("\n"))
    assert.match(run.stderr.join("\n"), /Cannot use key prefix "\.": it has a "\." or "\.\." segment/)
    const [hot] = await world.sql`SELECT count(*)::int AS n FROM hot_blocks WHERE block_number <= 499`
    assert.equal(hot!.n, 500, "no hot row was deleted")
    assert.deepEqual(await world.store.list(""), [], "nothing was written")
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
      // in the first version: exit 2 "access denied; grant these credentials s3:ListBucket, …" for both
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
      // in the first version both go to https://s3.us-east-1.amazonaws.com (ENOTFOUND here; AWS where online)
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
      // in the first version: sdk "1 1", direct "2 2" (access denied, from the redirect's target)
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
      // in the first version: the proxy saw "PUT http://localhost:…/direct.bin" and "GET …/direct.bin"
      assert.deepEqual(seen, [])
    } finally {
      delete process.env.HTTP_PROXY
      forwarder.closeAllConnections()
      forwarder.close()
    }
  })
})
