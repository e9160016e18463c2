/**
 * src/pg/wire.ts, the lean COPY client, against a real Postgres: the same bytes as postgres.js'
 * copyOut(), the statement's error, a backend killed mid-COPY, an early return, the idle timeout.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import postgres from "postgres"
import { CompactError } from "../src/errors.ts"
import { CONSUMED, copyOut } from "../src/pg/copyout.ts"
import { copyInSnapshot } from "../src/pg/fingerprint.ts"
import { openWire, wireOptions } from "../src/pg/wire.ts"
import { testServices } from "./env.ts"
import { createAllTypes, uniqueSchema } from "./alltypes.fixture.ts"

const url = testServices().pgUrl
const sql = postgres(url, { max: 1, onnotice: () => {} })
const schema = uniqueSchema("wire")
const APP = "parquet_compact copy"

before(async () => {
  await createAllTypes(sql, schema)
})

after(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await sql.end()
})

/** Rows of 1..99 bytes: many rows straddle the socket's chunks. */
const BIG =
  `COPY (SELECT g, repeat(md5(g::text), 1 + g % 3)::varchar(${99}) FROM generate_series(1, 300000) g) ` +
  `TO STDOUT (FORMAT binary)`

/** All chunks of a COPY stream joined; passing CONSUMED (the buffer is reused) unless `keep`. */
async function drain(
  chunks: AsyncGenerator<Uint8Array, void, typeof CONSUMED | undefined>,
  opts: { keep?: boolean; slowFirst?: number } = {},
): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Uint8Array[] = []
  let n = 0
  for (let r = await chunks.next(); !r.done; r = await chunks.next(opts.keep ? undefined : CONSUMED)) {
    parts.push(opts.keep ? r.value : r.value.slice())
    if (n++ < (opts.slowFirst ?? 0)) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { bytes: Buffer.concat(parts), chunks: n }
}

const viaPostgresJs = async (statement: string) => (await drain(copyOut(sql, statement))).bytes

async function viaWire(statement: string, opts: { keep?: boolean; slowFirst?: number } = {}) {
  const wire = await openWire(wireOptions(url, "wire test"))
  try {
    return await drain(wire.copy(statement), opts)
  } finally {
    wire.close()
  }
}

/** Whether the backends named `name` came to be connected (`want`) or gone, polled for up to 5 s. */
async function waitBackend(name: string, want: boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const [row] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${name}`
    if ((row!.n > 0) === want) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}

describe("the lean COPY client (wire.ts)", { timeout: 120_000 }, () => {
  it("sends the all-types fixture's COPY byte for byte as postgres.js does", async () => {
    const statement = `COPY (SELECT * FROM ${schema}.t ORDER BY id) TO STDOUT (FORMAT binary)`
    const expected = await viaPostgresJs(statement)
    assert.ok(expected.length > 1000)
    assert.ok((await viaWire(statement)).bytes.equals(expected))
    const snapshot = copyInSnapshot(url, statement)
    assert.ok((await drain(snapshot.chunks)).bytes.equals(expected))
    assert.ok((await snapshot.snapshotXmax) > 0n)
  })

  it("streams a big COPY exactly, coalesced, with the buffer reused, kept, or the consumer slow", async () => {
    const expected = await viaPostgresJs(BIG)
    assert.ok(expected.length > 15_000_000)
    const reused = await viaWire(BIG)
    assert.ok(reused.bytes.equals(expected))
    assert.ok(reused.chunks < 300_000 / 50, `${reused.chunks} chunks: rows should be coalesced`)
    assert.ok((await viaWire(BIG, { keep: true })).bytes.equals(expected))
    // a consumer that lags makes the socket pause (backpressure) and resume
    assert.ok((await viaWire(BIG, { slowFirst: 40 })).bytes.equals(expected))
  })

  it("throws the statement's error raised mid-COPY as postgres.js' PostgresError", async () => {
    const failing =
      `COPY (SELECT 1 / (g - 200000) FROM generate_series(1, 250000) g) TO STDOUT (FORMAT binary)`
    const snapshot = copyInSnapshot(url, failing)
    await assert.rejects(drain(snapshot.chunks), (error: unknown) => {
      assert.ok(error instanceof postgres.PostgresError)
      assert.equal(error.code, "22012")
      assert.match(error.message, /division by zero/)
      return true
    })
    assert.ok(await waitBackend(APP, false), "the COPY connection is closed")
    await assert.rejects(viaWire("SELECT 1"), /not a COPY/)
  })

  it("turns a backend terminated mid-COPY into RETRYABLE", async () => {
    const snapshot = copyInSnapshot(url, BIG)
    const first = await snapshot.chunks.next()
    assert.equal(first.done, false)
    const [killed] = await sql`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE application_name = ${APP}`
    assert.equal(killed!.n, 1)
    await assert.rejects(drain(snapshot.chunks), (error: unknown) => {
      assert.ok(error instanceof CompactError)
      assert.equal(error.code, "RETRYABLE")
      assert.match(error.message, /connection was lost \((57P01|CONNECTION_CLOSED|ECONNRESET)\)/)
      return true
    })
  })

  it("closes its connection when the consumer returns early", async () => {
    const snapshot = copyInSnapshot(url, BIG)
    for await (const chunk of snapshot.chunks) {
      assert.ok(chunk.length > 0)
      assert.ok(await waitBackend(APP, true))
      break
    }
    assert.ok(await waitBackend(APP, false), "the COPY connection is closed")
  })

  it("gives up on a silent server after the idle timeout, and on a refused connection, as RETRYABLE", async () => {
    const wire = await openWire(wireOptions(url, "wire test"), { startMs: 300 })
    const started = performance.now()
    await assert.rejects(
      drain(wire.copy(`COPY (SELECT pg_sleep(3)) TO STDOUT (FORMAT binary)`)),
      (error: unknown) =>
        error instanceof CompactError && error.code === "RETRYABLE" && /ETIMEDOUT/.test(error.message),
    )
    assert.ok(performance.now() - started < 2500)
    // a slow start is bounded by startMs, not by the idle bound; a stall once rows flow by the idle bound
    const patient = await openWire(wireOptions(url, "wire test"), { idleMs: 300 })
    try {
      assert.ok(
        (await drain(patient.copy(`COPY (SELECT 1 FROM pg_sleep(1)) TO STDOUT`))).bytes.equals(
          Buffer.from("1\n"),
        ),
      )
      const stall = `COPY (SELECT g, CASE WHEN g = 20000 THEN (SELECT 1 FROM pg_sleep(3)) END ` +
        `FROM generate_series(1, 30000) g) TO STDOUT (FORMAT binary)`
      await assert.rejects(
        drain(patient.copy(stall)),
        (error: unknown) => error instanceof CompactError && /ETIMEDOUT/.test(error.message),
      )
    } finally {
      patient.close()
    }
    const closed = new URL(url)
    closed.port = "1"
    await assert.rejects(
      drain(copyInSnapshot(closed.toString(), BIG).chunks),
      (error: unknown) => error instanceof CompactError && error.code === "RETRYABLE",
    )
  })
})
