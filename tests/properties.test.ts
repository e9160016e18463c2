/**
 * Properties of whole runs over generated hot data, against the real Postgres and S3 server.
 * Each case is a fresh database and bucket, so the run counts are modest.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { parquetReadObjects } from "hyparquet"
import { createHotTables, seedChain } from "../bench/datagen.ts"
import { parseManifest } from "../src/core/manifest.ts"
import type { Sql } from "../src/pg/hot.ts"
import type { ObjectStore } from "../src/store/store.ts"
import { cli, freshBucket, freshDatabase, s3Flags } from "./helpers.ts"

const pools: Sql[] = []
after(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

async function coldRows(store: ObjectStore, dataset: string): Promise<Record<string, unknown>[]> {
  const object = await store.get(`cold/1/${dataset}/manifest.json`)
  if (!object) return []
  const rows: Record<string, unknown>[] = []
  for (const p of parseManifest(new TextDecoder().decode(object.bytes)).partitions) {
    for (const f of p.files) {
      const bytes = (await store.get(f.key))!.bytes
      rows.push(
        ...await parquetReadObjects({
          file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
          utf8: false,
        }),
      )
    }
  }
  return rows
}

const hex = (
  v: unknown,
) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v == null ? null : String(v))

const event = fc.record({
  block: fc.integer({ min: 0, max: 59 }),
  payload: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  amount: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
  memo: fc.option(fc.string({ maxLength: 12 }), { nil: null }),
})

describe("properties of runs", () => {
  it("compacting then reading back returns exactly the hot rows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 120 }),
        fc.integer({ min: 1, max: 50 }),
        async (events, chunk) => {
          const db = await freshDatabase()
          pools.push(db.sql)
          const { bucket, store } = await freshBucket()
          await createHotTables(db.sql)
          await seedChain(db.sql, { chainId: 1n, first: 0n, last: 59n })
          await db.sql`CREATE TABLE hot_events (block_number int8 NOT NULL, seq int4 NOT NULL, payload bytea,
          amount numeric NOT NULL, memo text, PRIMARY KEY (block_number, seq))`
          for (const [seq, e] of events.entries()) {
            await db
              .sql`INSERT INTO hot_events VALUES (${e.block}, ${seq}, ${e.payload}, ${e.amount.toString()}, ${e.memo})`
          }
          const run = await cli([
            "compact",
            "--chain-id",
            "1",
            "--dataset",
            "events",
            "--start-block",
            "0",
            "--end-block",
            "59",
            "--finality-threshold",
            "0",
            "--chunk-size",
            `${chunk}`,
            "--dest",
            `s3://${bucket}/cold`,
            "--database-url",
            db.url,
            ...s3Flags,
          ])
          assert.equal(run.code, 0, run.stderr.join("\n"))
          const expected = events.map((e, seq) => ({ ...e, seq })).sort((a, b) =>
            a.block - b.block || a.seq - b.seq
          )
            .map((e) => [String(e.block), String(e.seq), hex(e.payload), e.amount.toString(), e.memo])
          const actual = (await coldRows(store, "events")).map((r) => [
            String(r.block_number),
            String(r.seq),
            hex(r.payload),
            String(r.amount),
            r.memo ?? null,
          ])
          assert.deepEqual(actual, expected)
        },
      ),
      { numRuns: 12 },
    )
  })

  it("any sequence of compact, rerun and delete runs keeps every row in hot or cold, never twice in cold", async () => {
    const step = fc.record({
      dataset: fc.constantFrom("blocks", "logs"),
      partition: fc.integer({ min: 0, max: 3 }),
      chunk: fc.integer({ min: 20, max: 400 }),
      remove: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 7 }), async (steps) => {
        const db = await freshDatabase()
        pools.push(db.sql)
        const { bucket, store } = await freshBucket()
        await createHotTables(db.sql)
        await seedChain(db.sql, { chainId: 1n, first: 0n, last: 399n })
        const all = {
          blocks: (await db.sql`SELECT block_number::text AS b FROM hot_blocks ORDER BY 1`).map((r) =>
            `${r.b}`
          ),
          logs: (await db.sql`SELECT block_number || ':' || log_index AS k FROM hot_logs ORDER BY 1`).map((
            r,
          ) => `${r.k}`),
        }
        for (const s of steps) {
          const first = s.partition * 100
          const run = await cli([
            "compact",
            "--chain-id",
            "1",
            "--dataset",
            s.dataset,
            "--start-block",
            `${first}`,
            "--end-block",
            `${first + 99}`,
            "--finality-threshold",
            "0",
            "--chunk-size",
            `${s.chunk}`,
            "--dest",
            `s3://${bucket}/cold`,
            "--database-url",
            db.url,
            ...s3Flags,
            ...(s.remove ? ["--delete-after-compact"] : []),
          ])
          assert.equal(run.code, 0, run.stderr.join("\n"))
        }
        const hot = {
          blocks: (await db.sql`SELECT block_number::text AS b FROM hot_blocks`).map((r) => `${r.b}`),
          logs: (await db.sql`SELECT block_number || ':' || log_index AS k FROM hot_logs`).map((r) =>
            `${r.k}`
          ),
        }
        const cold = {
          blocks: (await coldRows(store, "blocks")).map((r) => `${r.block_number}`),
          logs: (await coldRows(store, "logs")).map((r) => `${r.block_number}:${r.log_index}`),
        }
        for (const d of ["blocks", "logs"] as const) {
          assert.equal(new Set(cold[d]).size, cold[d].length, `${d}: no row twice in cold`)
          assert.deepEqual(
            [...new Set([...hot[d], ...cold[d]])].sort(),
            [...all[d]].sort(),
            `${d}: every row kept`,
          )
        }
      }),
      { numRuns: 10 },
    )
  })
})
