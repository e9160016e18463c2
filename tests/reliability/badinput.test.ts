/**
 * Bad input, tried as a new user would: each case runs the real CLI (`bun cli.ts`, a process of its
 * own with an environment of its own) against the real Postgres and radosgw and checks its exit code,
 * that it printed ONE line naming what is wrong, that nothing was written to the store nor deleted from
 * Postgres, and that no secret (S3 secret key, database password) appears in its output.
 *
 * With REL_REPORT_DIR set, the table of cases and outcomes is written to $REL_REPORT_DIR/badinput.json
 * (for docs/RELIABILITY.md).
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { createHotTables, seedChain } from "../../bench/datagen.ts"
import { exitCodeOf } from "../../src/errors.ts"
import { S3Store } from "../../src/store/s3.ts"
import type { Sql } from "../../src/pg/hot.ts"
import { testServices } from "../env.ts"
import { freshBucket, freshDatabase } from "../helpers.ts"
import { CLI_CASES, type Context } from "./badinput.cases.ts"
import { SERVICE_CASES } from "./badinput.services.ts"

const CASES = [...CLI_CASES, ...SERVICE_CASES]

const REPO = fileURLToPath(new URL("../..", import.meta.url))
const BUN = process.execPath
const services = testServices()
/** Accepted by the trust-auth test server, and must never be printed. */
const DB_PASSWORD = "pw-Secret-7f3a9c"
const WRONG_SECRET = "wrong-Secret-Key-4d2b8e1f0000000000000000"

let sql: Sql
let ctx: Context
let hotBefore = 0
const report: Record<string, unknown>[] = []

before(async () => {
  const db = await freshDatabase()
  sql = db.sql
  await createHotTables(sql)
  await seedChain(sql, { chainId: 10143n, first: 0n, last: 1199n })
  await sql.unsafe(`CREATE TABLE hot_weird (chain_id int8, block_number int8 PRIMARY KEY, shape point)`)
  hotBefore = await hotRows()
  const url = new URL(db.url)
  url.username = "postgres"
  url.password = DB_PASSWORD
  const { bucket } = await freshBucket()
  const home = await mkdtemp(join(tmpdir(), "badinput-home-"))
  ctx = {
    dbUrl: url.toString(),
    pgHostPort: `${url.hostname}:${url.port}`,
    bucket,
    s3Endpoint: services.s3.endpoint,
    folder: await mkdtemp(join(tmpdir(), "badinput-dest-")),
    home,
    aws: {
      AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
      AWS_REGION: services.s3.region,
    },
    wrongSecret: WRONG_SECRET,
    scratch: await mkdtemp(join(tmpdir(), "badinput-scratch-")),
  }
})

after(async () => {
  await sql?.end()
  const dir = process.env.REL_REPORT_DIR
  if (dir) {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, "badinput.json"), JSON.stringify(report, null, 2) + "\n")
  }
})

async function hotRows(): Promise<number> {
  const [row] = await sql.unsafe(
    `SELECT (SELECT count(*) FROM hot_blocks) + (SELECT count(*) FROM hot_logs) AS n`,
  )
  return Number(row!.n)
}

/** Every file under a folder with its bytes, temp files included. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = join(d, e.name)
      if (e.isDirectory()) await walk(full)
      else out.set(full, (await readFile(full)).toString("base64"))
    }
  }
  await walk(dir)
  return out
}

function run(
  args: string[],
  env: Record<string, string>,
  user?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = user ? ["runuser", "-u", user, "--", BUN, "cli.ts", ...args] : [BUN, "cli.ts", ...args]
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO, env: { PATH: process.env.PATH ?? "", ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

/** The lines that say what went wrong: not progress, not commander's "(…)" hints. */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    l.trim() !== "" && !l.startsWith("(") && !/^(Compacting|Partition) /.test(l)
  )
}

const redact = (text: string) =>
  text.replaceAll(DB_PASSWORD, "***").replaceAll(ctx.aws.AWS_SECRET_ACCESS_KEY, "***").replaceAll(
    WRONG_SECRET,
    "***",
  )
    .replaceAll(ctx.folder, "DIR").replaceAll(ctx.scratch, "SCRATCH").replaceAll(ctx.bucket, "BUCKET")
    .replaceAll(ctx.s3Endpoint, "ENDPOINT").replaceAll(ctx.pgHostPort, "PGHOST")

describe("bad input", () => {
  it(`has at least 40 cases`, () => assert.ok(CASES.length >= 40, `${CASES.length} cases`))

  for (const c of CASES) {
    it(`${c.name}: exit ${c.exit}`, async () => {
      await c.setup?.(ctx)
      const folderBefore = await snapshot(ctx.folder)
      const storeBefore = await freshView().list("")
      const t0 = performance.now()
      let code: number
      let stdout = ""
      let stderr = ""
      let command: string
      if (c.direct) {
        // a check the run loop calls, exercised on the real store (see the case's note)
        command = c.direct.describe
        try {
          await c.direct.run(ctx)
          code = 0
        } catch (error) {
          code = exitCodeOf(error)
          stderr = `parquet_compact: ${(error as Error).message}\n`
        }
      } else {
        const args = c.args(ctx)
        const env = { HOME: ctx.home, ...(c.noAws ? {} : ctx.aws), ...(c.env?.(ctx) ?? {}) }
        command = "parquet_compact " + args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")
        ;({ code, stdout, stderr } = await run(args, env, c.user))
      }
      const ms = Math.round(performance.now() - t0)
      const lines = errorLines(stderr)
      report.push({
        case: c.name,
        command: redact(command),
        exit: code,
        expected_exit: c.exit,
        message: redact(lines.join(" | ")),
        seconds: ms / 1000,
        ...(c.note ? { note: c.note } : {}),
      })
      assert.equal(code, c.exit, `exit ${code}; stderr:\n${stderr}`)
      assert.equal(lines.length, 1, `one line, got:\n${stderr}`)
      assert.match(lines[0]!, c.message)
      assert.equal(stdout.trim(), "", "nothing on stdout")
      for (const secret of [DB_PASSWORD, ctx.aws.AWS_SECRET_ACCESS_KEY, WRONG_SECRET]) {
        assert.ok(!stdout.includes(secret) && !stderr.includes(secret), "a secret was printed")
      }
      assert.deepEqual(await snapshot(ctx.folder), folderBefore, "the folder is unchanged")
      assert.deepEqual(await freshView().list(""), storeBefore, "the bucket is unchanged")
      assert.equal(await hotRows(), hotBefore, "no hot row was deleted")
      await c.check?.(ctx)
    })
  }
})

/** The bucket as the tests see it (their own credentials). */
function freshView(): S3Store {
  return new S3Store({
    bucket: ctx.bucket,
    endpoint: ctx.s3Endpoint,
    forcePathStyle: true,
    region: services.s3.region,
  })
}
