/**
 * Faults against the real services: radosgw behind a fault-injecting proxy (tests/reliability/s3proxy.ts)
 * and the real Postgres with its backends terminated mid-run. Each fault either is retried to success
 * or ends the call (or the run) with RETRYABLE (exit 1) within a time bound: never a hang, never an
 * INTEGRITY refusal or advice to restore the manifest. After every end-to-end run the range's hot
 * rows are either all still hot or all in cold storage.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3"
import postgres from "postgres"
import { createHotTables, seedChain } from "../../bench/datagen.ts"
import { parseManifest } from "../../src/core/manifest.ts"
import { CompactError, exitCodeOf } from "../../src/errors.ts"
import { S3Store } from "../../src/store/s3.ts"
import type { Sql } from "../../src/pg/hot.ts"
import { testServices } from "../env.ts"
import { cli, freshBucket, freshDatabase } from "../helpers.ts"
import { type Fault, FAULTS, S3Proxy } from "./s3proxy.ts"

const services = testServices()
const CHAIN = "10143" // finality threshold 100
const pools: Sql[] = []
let proxy: S3Proxy
before(async () => {
  proxy = await S3Proxy.start(services.s3.endpoint)
})
after(async () => {
  await proxy.close()
  await Promise.all(pools.map((p) => p.end()))
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

async function timed<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now()
  try {
    return { value: await run(), ms: performance.now() - t0 }
  } catch (error) {
    return { error, ms: performance.now() - t0 }
  }
}

const body = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff)

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
  ]
  for (const fault of FAULTS) {
    it(`${fault}: every operation succeeds after a retry, within 8 s`, async () => {
      proxy.reset()
      const { bucket } = await freshBucket()
      const store = proxiedStore(bucket)
      await store.put("f/obj.bin", body)
      for (const [name, method, path, run, check] of ops) {
        proxy.reset()
        proxy.script(method, path, [fault])
        const { value, error, ms } = await timed(() => run(store))
        assert.equal(error, undefined, `${fault} ${name}: ${(error as Error)?.message}`)
        check(value)
        assert.equal(proxy.pending, 0, `${fault} ${name}: the fault was injected`)
        assert.ok(ms < 8_000, `${fault} ${name} took ${ms} ms`)
      }
      store.close()
    })
  }
})

describe("S3 faults that persist: RETRYABLE within a bound", () => {
  for (const fault of FAULTS) {
    // a PUT's answer has no body to break off
    const ops = fault === "stallBody" || fault === "truncate"
      ? ["get", "getRange"] as const
      : ["get", "getRange", "put"] as const
    for (const op of ops) {
      it(`${fault} on every ${op}: RETRYABLE (exit 1) within 25 s, no advice to restore`, async () => {
        proxy.reset()
        const { bucket } = await freshBucket()
        const store = proxiedStore(bucket)
        await store.put("f/manifest.json", body)
        proxy.reset()
        proxy.script(op === "put" ? "PUT" : "GET", "manifest.json", Array(30).fill(fault))
        const { error, ms } = await timed<unknown>(() =>
          op === "get"
            ? store.get("f/manifest.json")
            : op === "getRange"
            ? store.getRange("f/manifest.json", 100, 150_000) // as verification reads footers
            : store.put("f/manifest.json", body)
        )
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

/** A seeded database and bucket, and CLI arguments that reach S3 through the proxy. */
async function setup(last = 1199n) {
  proxy.reset()
  const db = await freshDatabase()
  pools.push(db.sql)
  await createHotTables(db.sql)
  await seedChain(db.sql, { chainId: BigInt(CHAIN), first: 0n, last })
  const { bucket, store } = await freshBucket()
  const args = (first: number, lastBlock: number, ...more: string[]) => [
    "compact",
    ...["--chain-id", CHAIN, "--dataset", "logs", "--start-block", `${first}`, "--end-block", `${lastBlock}`],
    ...["--dest", `s3://${bucket}/cold`, "--database-url", db.url],
    ...["--s3-endpoint", proxy.endpoint, "--s3-force-path-style", "--json", "--chunk-size", "2000"],
    ...more,
  ]
  const hotCount = async (first: number, lastBlock: number) =>
    Number(
      (await db.sql.unsafe(
        `SELECT count(*)::int AS n FROM hot_logs WHERE block_number BETWEEN ${first} AND ${lastBlock}`,
      ))[0]!.n,
    )
  const coldCount = async () => {
    const object = await store.get(`cold/${CHAIN}/logs/manifest.json`)
    if (!object) return 0
    return parseManifest(new TextDecoder().decode(object.bytes)).partitions.reduce(
      (n, p) => n + p.row_count,
      0,
    )
  }
  return { ...db, store, args, hotCount, coldCount }
}

/** All hot or all cold: the range's rows are either all still hot or all archived and deleted. */
async function assertAllHotOrAllCold(t: Awaited<ReturnType<typeof setup>>, total: number, last: number) {
  const hot = await t.hotCount(0, last)
  const cold = await t.coldCount()
  assert.ok(
    hot === total || (hot === 0 && cold === total),
    `hot ${hot}, cold ${cold}, of ${total} rows: neither all hot nor all cold`,
  )
}

describe("end to end through the proxy (compact --delete-after-compact)", () => {
  const oneEach: [string, string, Fault[]][] = [
    ["PUT", ".parquet", ["slowdown", "error500", "reset"]],
    ["GET", "manifest.json", ["truncate", "reset"]], // stalls: at store level, with short timeouts
    ["PUT", "manifest.json", ["slowdown", "error500"]],
    ["GET", ".parquet", ["truncate", "reset"]],
  ]
  it("faults that clear: exit 0, every row in cold, none left hot", async () => {
    const t = await setup()
    const total = await t.hotCount(0, 999)
    proxy.reset()
    for (const [method, path, faults] of oneEach) proxy.script(method, path, faults)
    const run = await cli(t.args(0, 999, "--delete-after-compact"))
    assert.equal(run.code, 0, run.stderr.join("\n"))
    assert.ok(proxy.seen.filter((s) => s.fault !== "pass").length >= 7, "faults were injected")
    assert.equal(await t.hotCount(0, 999), 0)
    assert.equal(await t.coldCount(), total)
  })

  for (
    const [method, path, fault] of [
      ["PUT", ".parquet", "slowdown"],
      ["GET", "manifest.json", "truncate"],
      ["PUT", "manifest.json", "error500"],
    ] as const
  ) {
    it(`${fault} on every ${method} of ${path}: exit 1 within 60 s, all hot or all cold`, async () => {
      const t = await setup()
      const total = await t.hotCount(0, 999)
      proxy.reset()
      proxy.script(method, path, Array(100).fill(fault))
      const { value: run, ms } = await timed(() => cli(t.args(0, 999, "--delete-after-compact")))
      assert.equal(run!.code, 1, run!.stderr.join("\n"))
      const last = run!.stderr.at(-1)!
      assert.match(last, /^parquet_compact: Cannot /)
      assert.doesNotMatch(last, /restore|UnknownError/)
      assert.ok(ms < 60_000, `took ${ms} ms`)
      await assertAllHotOrAllCold(t, total, 999)
    })
  }
})

describe("Postgres backends terminated mid-run", () => {
  const admin = postgres(services.pgUrl, { max: 1, onnotice: () => {} })
  after(() => admin.end())

  /** Polls `query` for a pid every few ms and terminates the first one found; resolves with it. */
  async function killFirst(query: string, stop: () => boolean): Promise<number | undefined> {
    while (!stop()) {
      const [row] = await admin.unsafe(query)
      if (row?.pid) {
        await admin`SELECT pg_terminate_backend(${row.pid})`
        return row.pid as number
      }
      await new Promise((r) => setTimeout(r, 3))
    }
    return undefined
  }

  it("the lock session: exit 1 within 30 s saying the session was lost, nothing deleted", async () => {
    const t = await setup()
    const total = await t.hotCount(0, 999)
    let done = false
    const database = new URL(t.url).pathname.slice(1)
    const killer = killFirst(
      `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
       WHERE l.locktype = 'advisory' AND l.granted AND a.datname = '${database}'
       ORDER BY a.backend_start LIMIT 1`,
      () => done,
    )
    const { value: run, ms } = await timed(() => cli(t.args(0, 999, "--delete-after-compact")))
    done = true
    assert.ok(await killer, "a lock session was terminated")
    assert.equal(run!.code, 1, run!.stderr.join("\n"))
    assert.match(run!.stderr.at(-1)!, /session was lost; nothing was deleted, rerun the range/)
    assert.ok(ms < 30_000, `took ${ms} ms`)
    assert.equal(await t.hotCount(0, 999), total)
    // the rerun completes what the first run started
    const rerun = await cli(t.args(0, 999, "--delete-after-compact"))
    assert.equal(rerun.code, 0, rerun.stderr.join("\n"))
    await assertAllHotOrAllCold(t, total, 999)
    assert.equal(await t.hotCount(0, 999), 0)
  })

  it("the COPY session: exit 1 within 30 s saying the connection was lost, nothing deleted", async () => {
    const t = await setup(6199n)
    const total = await t.hotCount(0, 5999)
    let done = false
    const database = new URL(t.url).pathname.slice(1)
    const killer = killFirst(
      `SELECT pid FROM pg_stat_activity WHERE datname = '${database}' AND query ILIKE 'COPY%' AND state = 'active'`,
      () => done,
    )
    const { value: run, ms } = await timed(() => cli(t.args(0, 5999, "--delete-after-compact")))
    done = true
    assert.ok(await killer, "the COPY backend was terminated")
    assert.equal(run!.code, 1, run!.stderr.join("\n"))
    assert.match(run!.stderr.at(-1)!, /Cannot copy rows from Postgres: the connection was lost/)
    assert.doesNotMatch(run!.stderr.join("\n"), /null is not an object/)
    assert.ok(ms < 30_000, `took ${ms} ms`)
    assert.equal(await t.hotCount(0, 5999), total)
    assert.equal(await t.coldCount(), 0)
  })
})
