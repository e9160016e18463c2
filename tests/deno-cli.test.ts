/**
 * The same sources run under Deno: `deno run -A cli.ts compact` over the npm packages in
 * node_modules (deno.json: nodeModulesDir manual) against the real Postgres and S3 server.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { createHotTables, seedChain } from "../bench/datagen.ts"
import { parseManifest } from "../src/core/manifest.ts"
import type { Sql } from "../src/pg/hot.ts"
import { freshBucket, freshDatabase, s3Flags } from "./helpers.ts"

const DENO = "node_modules/.bin/deno"
const pools: Sql[] = []
after(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

/** Runs `deno run -A cli.ts ...argv`; resolves with its exit code and output. */
function deno(argv: string[], env: Record<string, string | undefined>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(DENO, ["run", "-A", "cli.ts", ...argv], { env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe("deno run cli.ts", () => {
  it("compacts logs to S3, and its summary, manifest and hot rows agree", async () => {
    const db = await freshDatabase()
    pools.push(db.sql)
    await createHotTables(db.sql)
    await seedChain(db.sql, { chainId: 10143n, first: 0n, last: 599n })
    const { bucket, store } = await freshBucket()
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DENO_NO_UPDATE_CHECK: "1",
      DATABASE_URL: db.url,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: process.env.AWS_REGION,
    }
    const argv = ["compact", "--chain-id", "10143", "--dataset", "logs", "--start-block", "0", "--end-block"]
    const more = [
      "--chunk-size",
      "400",
      "--partition-size",
      "250",
      "--dest",
      `s3://${bucket}/cold`,
      ...s3Flags,
    ]
    const run = await deno([...argv, "499", ...more, "--json", "--delete-after-compact"], env)
    assert.equal(run.code, 0, run.stderr)
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!)
    assert.deepEqual(summary.partitions.map((p: { partition_key: string }) => p.partition_key), [
      "0-249",
      "250-499",
    ])
    // stderr is a pipe: JSON log lines; and Deno starts the encoder worker (no fallback line)
    const lines = run.stderr.trim().split("\n").map((line) => JSON.parse(line))
    assert.ok(lines.every((l) => l.dataset === "logs" && !/encoder thread/.test(l.msg)), run.stderr)

    const object = await store.get("cold/10143/logs/manifest.json")
    assert.ok(object, "the manifest exists")
    const manifest = parseManifest(new TextDecoder().decode(object.bytes))
    const committed = manifest.partitions.reduce((n, p) => n + p.row_count, 0)
    assert.ok(committed > 500, `${committed} rows`)
    assert.equal(summary.rows, committed)
    const [left] = await db.sql`SELECT count(*)::int AS n FROM hot_logs WHERE block_number <= 499`
    assert.equal(left?.n, 0) // deleted after the verified commit
    const [kept] = await db.sql`SELECT count(*)::int AS n FROM hot_logs WHERE block_number > 499`
    assert.ok((kept?.n ?? 0) > 0)

    const rerun = await deno([...argv, "499", ...more, "--json"], env)
    assert.equal(rerun.code, 0, rerun.stderr)
    assert.deepEqual(
      JSON.parse(rerun.stdout.trim().split("\n").at(-1)!).partitions.map((p: { action: string }) => p.action),
      [
        "kept",
        "kept",
      ],
    )
  })
})
