/**
 * The compiled binary (make build: dist/parquet_compact) runs the same scenario as the source and
 * writes byte-identical objects. Under CI a missing binary fails this test.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parquetMetadata } from "hyparquet"
import { createHotTables, seedChain } from "../bench/datagen.ts"
import type { Sql } from "../src/pg/hot.ts"
import { cli, freshBucket, freshDatabase, s3Flags } from "./helpers.ts"

const BINARY = resolve("dist/parquet_compact")
const pools: Sql[] = []
after(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

function binary(argv: string[]) {
  const out = spawnSync(BINARY, argv, {
    cwd: mkdtempSync(join(tmpdir(), "bin-")), // an empty directory: nothing beside the binary
    env: {
      PATH: "/usr/bin:/bin",
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: process.env.AWS_REGION,
    },
    encoding: "utf8",
  })
  return { code: out.status, stdout: out.stdout, stderr: out.stderr }
}

describe("compiled binary", () => {
  it("exists (make build)", () => {
    assert.ok(existsSync(BINARY), `Cannot find ${BINARY}: run make build before the tests`)
  })

  it("prints help and refuses bad input with exit 2 from an empty environment", () => {
    const help = binary(["compact", "--help"])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /--chunk-size <rows>/)
    assert.match(help.stdout, /5 {2}locked by another run/)
    const bad = binary(["compact", "--chain-id", "x"])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--chain-id must be a whole number/)
  })

  it("compacts, reruns and deletes exactly as the source does", async () => {
    const sides = await Promise.all([0, 1].map(async () => {
      const db = await freshDatabase()
      pools.push(db.sql)
      await createHotTables(db.sql)
      await seedChain(db.sql, { chainId: 10143n, first: 0n, last: 1099n })
      return { ...db, ...(await freshBucket()) }
    }))
    const args = (s: (typeof sides)[number], ...more: string[]) => [
      "compact",
      "--chain-id",
      "10143",
      "--dataset",
      "logs",
      "--start-block",
      "0",
      "--end-block",
      "999",
      "--chunk-size",
      "700",
      "--partition-size",
      "500",
      "--dest",
      `s3://${s.bucket}/cold`,
      "--database-url",
      s.url,
      ...s3Flags,
      ...more,
    ]
    const [source, compiled] = sides as [(typeof sides)[number], (typeof sides)[number]]
    for (const more of [[], [], ["--delete-after-compact"], []]) {
      const a = await cli(args(source, ...more))
      const b = binary(args(compiled, ...more))
      assert.equal(a.code, 0, a.stderr.join("\n"))
      assert.equal(b.code, 0, b.stderr)
    }
    const keys = await source.store.list("")
    assert.deepEqual(await compiled.store.list(""), keys)
    assert.ok(keys.length > 3)
    // the manifests differ only in the fingerprints of the row versions, which are per database
    const text = async (side: typeof source, key: string) =>
      new TextDecoder().decode((await side.store.get(key))!.bytes).replace(/"fingerprint": "-?\d+"/g, "")
    for (const key of keys) {
      if (key.endsWith("manifest.json")) assert.equal(await text(compiled, key), await text(source, key))
      else assert.deepEqual((await compiled.store.get(key))!.bytes, (await source.store.get(key))!.bytes, key)
    }
    // created_by in the form parquet-java parses, so Spark and Hive trust the statistics
    const parquet = keys.find((k) => k.endsWith(".parquet"))!
    const bytes = (await compiled.store.get(parquet))!.bytes
    const footer = parquetMetadata(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    )
    assert.match(footer.created_by ?? "", /^parquet_compact version \d+\.\d+\.\d+ \(build [0-9a-f]+\)$/)
    const [row] = await compiled.sql`SELECT count(*)::int AS n FROM hot_logs WHERE block_number <= 999`
    assert.equal(row?.n, 0)
  })
})
