/**
 * Faults during whole runs (`compact --delete-after-compact` through the CLI): radosgw behind the
 * fault-injecting proxy, and the real Postgres with the lock session's or the COPY's backend
 * terminated mid-run. Faults that clear give exit 0; faults that persist give exit 1 within a bound,
 * with one clear line. Afterwards the range's rows are either all still hot or all in cold storage.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import postgres from "postgres"
import { createHotTables, seedChain } from "../../bench/datagen.ts"
import { parseManifest } from "../../src/core/manifest.ts"
import type { Sql } from "../../src/pg/hot.ts"
import { testServices } from "../env.ts"
import { cli, freshBucket, freshDatabase } from "../helpers.ts"
import { faultReport, timed } from "./common.ts"
import { type Fault, S3Proxy } from "./s3proxy.ts"

const services = testServices()
const CHAIN = "10143" // finality threshold 100
const pools: Sql[] = []
let proxy: S3Proxy
const report = faultReport("faults-run")
before(async () => {
  proxy = await S3Proxy.start(services.s3.endpoint)
})
after(async () => {
  await proxy.close()
  await Promise.all(pools.map((p) => p.end()))
  await report.write()
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
    const { value: run, ms } = await timed(() => cli(t.args(0, 999, "--delete-after-compact")))
    report.record({
      target: "compact, S3 PUT/GET of files and manifest",
      fault: oneEach.map(([m, p, f]) => `${m} ${p}: ${f.join(", ")}`).join("; "),
      times: "once each",
      outcome: `exit ${run!.code}`,
      ms,
      bound_seconds: 120,
    })
    assert.equal(run!.code, 0, run!.stderr.join("\n"))
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
      const target = `compact, S3 ${method} ${path}`
      report.record({
        target,
        fault,
        times: "every request",
        outcome: `exit ${run!.code}`,
        ms,
        bound_seconds: 60,
      })
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
    const target = "compact, Postgres lock session"
    report.record({
      target,
      fault: "pg_terminate_backend",
      times: "once",
      outcome: `exit ${run!.code}`,
      ms,
      bound_seconds: 30,
    })
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
    const target = "compact, Postgres COPY session"
    report.record({
      target,
      fault: "pg_terminate_backend",
      times: "once",
      outcome: `exit ${run!.code}`,
      ms,
      bound_seconds: 30,
    })
    assert.ok(await killer, "the COPY backend was terminated")
    assert.equal(run!.code, 1, run!.stderr.join("\n"))
    assert.match(run!.stderr.at(-1)!, /Cannot copy rows from Postgres: the connection was lost/)
    assert.doesNotMatch(run!.stderr.join("\n"), /null is not an object/)
    assert.ok(ms < 30_000, `took ${ms} ms`)
    assert.equal(await t.hotCount(0, 5999), total)
    assert.equal(await t.coldCount(), 0)
  })
})
