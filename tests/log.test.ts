/**
 * Log lines and failure results: human lines on a terminal, JSON lines otherwise, the --json
 * failure result, and no credential or connection string in any output, against the real services.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { createHotTables, seedChain } from "../bench/datagen.ts"
import { main } from "../cli.ts"
import { createLogger, formatLine, redactor, resolveFormat, withFields } from "../src/log.ts"
import type { Sql } from "../src/pg/hot.ts"
import { freshBucket, freshDatabase, s3Flags } from "./helpers.ts"

const AT = new Date("2026-11-29T19:31:44.123Z")

describe("log lines", () => {
  it("formats human and JSON lines with time, level, message and fields", () => {
    const fields = { chain_id: "10143", partition: "0-99", rows: 100, block: 5n }
    assert.equal(
      formatLine("human", "warn", "Partition 0-99: kept", fields, AT),
      "2026-11-29T19:31:44Z WARN  Partition 0-99: kept chain_id=10143 partition=0-99 rows=100 block=5",
    )
    assert.equal(
      formatLine("human", "info", "Done\n  0-99: compacted", { rows: 1 }, AT),
      "2026-11-29T19:31:44Z INFO  Done rows=1\n  0-99: compacted",
    )
    assert.deepEqual(JSON.parse(formatLine("json", "info", "done", fields, AT)), {
      ts: "2026-11-29T19:31:44.123Z",
      level: "info",
      msg: "done",
      chain_id: "10143",
      partition: "0-99",
      rows: 100,
      block: "5",
    })
    assert.equal(resolveFormat("auto", true), "human")
    assert.equal(resolveFormat("auto", false), "json")
    assert.equal(resolveFormat("human", false), "human")
  })

  it("adds context fields under each line's own", () => {
    const lines: string[] = []
    const logger = withFields(createLogger({ write: (l) => lines.push(l), format: () => "json" }), {
      dataset: "logs",
      rows: 1,
    })
    logger.error("boom", { rows: 2 })
    assert.deepEqual(JSON.parse(lines[0]!), {
      ts: JSON.parse(lines[0]!).ts,
      level: "error",
      msg: "boom",
      dataset: "logs",
      rows: 2,
    })
  })

  it("redacts secret values, a URL's password, and any user:password@ URL", () => {
    const redact = redactor({
      DATABASE_URL: "postgres://app:p%40ss-word-1@db:5432/hot",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI",
    })
    redact.add("postgres://other:hunter22@x/y")
    const out = redact(
      "url postgres://app:p%40ss-word-1@db:5432/hot pw p@ss-word-1 key wJalrXUtnFEMI other hunter22 s3 https://k:v@h/",
    )
    for (const secret of ["p%40ss", "p@ss", "wJalr", "hunter22", "k:v@", "db:5432"]) {
      assert.ok(!out.includes(secret), out)
    }
    assert.match(out, /^url \*\*\* pw \*\*\* key \*\*\* other \*\*\* s3 https:\/\/k:\*\*\*@h\/$/)
  })
})

const pools: Sql[] = []
after(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

describe("CLI output", () => {
  const PASSWORD = "Sup3r-S3cret-pw"
  const AWS_SECRET = process.env.AWS_SECRET_ACCESS_KEY!

  /** Runs main in-process; every line of stdout and stderr is kept. */
  async function run(argv: string[], env: Record<string, string>, isTerminal: boolean) {
    const out: string[] = []
    const err: string[] = []
    const code = await main(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l), isTerminal })
    return { code, out, err, all: [...out, ...err].join("\n") }
  }

  it("never prints the database URL, its password or the AWS secret, on success or failure", async () => {
    assert.ok(AWS_SECRET && AWS_SECRET.length >= 6, "the test S3 secret is set")
    const db = await freshDatabase()
    pools.push(db.sql)
    await createHotTables(db.sql)
    await seedChain(db.sql, { chainId: 10143n, first: 0n, last: 299n })
    const { bucket } = await freshBucket()
    const url = new URL(db.url)
    url.username = "postgres" // the test server trusts local connections: any password is accepted
    url.password = PASSWORD
    const env = { DATABASE_URL: url.toString(), AWS_SECRET_ACCESS_KEY: AWS_SECRET }
    const range = (first: number, last: number) => ["--start-block", `${first}`, "--end-block", `${last}`]
    const args = ["compact", "--chain-id", "10143", "--dataset", "blocks", ...s3Flags]
    const dest = ["--dest", `s3://${bucket}/cold`]
    const runs = {
      jsonLogs: await run([...args, ...range(0, 99), ...dest], env, false),
      human: await run([...args, ...range(100, 149), ...dest], env, true),
      summary: await run([...args, ...range(150, 199), ...dest, "--json", "--log-format", "json"], env, true),
      notFinal: await run([...args, ...range(200, 299), ...dest, "--json"], env, false),
      urlAsDest: await run([...args, ...range(0, 9), "--dest", url.toString(), "--json"], env, false),
      secretAsChain: await run(["compact", "--chain-id", AWS_SECRET, "--json"], env, true),
      flagUrl: await run(
        [...args, ...range(0, 9), ...dest, "--database-url", url.toString() + "x"],
        {},
        false,
      ),
      badPort: await run([...args, ...range(0, 9), ...dest, "--json"], {
        DATABASE_URL: url.toString().replace(/:\d+\//, ":1/"),
      }, false),
    }
    const codes = Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, r.code]))
    assert.deepEqual(codes, {
      jsonLogs: 0,
      human: 0,
      summary: 0,
      notFinal: 3,
      urlAsDest: 2,
      secretAsChain: 2,
      flagUrl: 2, // database "…x" does not exist
      badPort: 1,
    }, Object.values(runs).map((r) => r.all).join("\n"))
    for (const [name, r] of Object.entries(runs)) {
      for (const secret of [PASSWORD, AWS_SECRET, url.host + url.pathname]) {
        assert.ok(!r.all.includes(secret), `${name} printed a secret: ${r.all}`)
      }
    }
    // JSON lines off a terminal, with the run's fields
    const lines = runs.jsonLogs.err.map((l) => JSON.parse(l))
    assert.ok(lines.length >= 2)
    for (const l of lines) {
      assert.match(l.ts, /^\d{4}-\d\d-\d\dT/)
      assert.equal(l.level, "info")
      assert.deepEqual([l.chain_id, l.dataset], ["10143", "blocks"])
    }
    assert.deepEqual([lines.at(-1).rows, typeof lines.at(-1).bytes, typeof lines.at(-1).seconds], [
      100,
      "number",
      "number",
    ])
    // human lines on a terminal
    for (const l of runs.human.err) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO {2}/)
    assert.equal(JSON.parse(runs.summary.out.at(-1)!).rows, 50)
    assert.ok(runs.summary.err.every((l) => JSON.parse(l).level === "info"))
    // the failure result on stdout with --json
    const failure = JSON.parse(runs.notFinal.out.at(-1)!)
    assert.deepEqual([failure.ok, failure.exit_code, failure.error.code], [false, 3, "NOT_FINAL"])
    assert.match(failure.error.message, /final tip/)
    assert.equal(JSON.parse(runs.notFinal.err.at(-1)!).msg, failure.error.message)
    assert.match(JSON.parse(runs.urlAsDest.out[0]!).error.message, /--dest must be s3:\/\/BUCKET.*\*\*\*/)
    assert.deepEqual(JSON.parse(runs.badPort.out[0]!).error.code, "RETRYABLE")
  })

  it("picks JSON lines for a pipe and human lines for a terminal in a real process", () => {
    const argv = ["cli.ts", "compact", "--chain-id", "x"]
    const env = { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root" }
    const piped = spawnSync("node_modules/.bin/bun", argv, { env, encoding: "utf8", timeout: 30_000 })
    assert.equal(piped.status, 2, piped.stderr)
    assert.equal(JSON.parse(piped.stderr.trim()).level, "error")
    // script(1) gives the child a pseudo-terminal; its output comes back on our stdout
    const command = ["node_modules/.bin/bun", ...argv].join(" ")
    const tty = spawnSync("script", ["-qec", command, "/dev/null"], {
      env,
      encoding: "utf8",
      timeout: 30_000,
    })
    assert.equal(tty.status, 2, tty.stdout)
    assert.match(
      tty.stdout,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ERROR Cannot start: --chain-id must be a whole number/m,
    )
  })
})
