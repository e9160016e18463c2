/**
 * The test runner behind `make test`: starts PostgreSQL 15 and radosgw (in parallel), runs
 * `bun test` against them with the variables `tests/env.ts` reads, always stops the services,
 * and prints one final line `N passed, N failed` (`, N skipped` when any were) counted from the
 * JUnit report. Exits non-zero when a test failed, bun test crashed, no report was written, no
 * test ran, or a service did not start.
 *
 *   bun tests/run.ts [bun test arguments…]   e.g. bun tests/run.ts tests/store.test.ts
 *   bun tests/run.ts --serve                 start the services, print `export …` lines, wait
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Buffer } from "node:buffer"
import { type JunitCounts, parseJunit, summaryLine } from "./harness/junit.ts"
import { startPostgres } from "./harness/postgres.ts"
import { onCleanup, removeDir, runCleanups, withTimeout } from "./harness/proc.ts"
import { startRadosgw } from "./harness/radosgw.ts"

const REPO = fileURLToPath(new URL("..", import.meta.url))
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const
type Signal = keyof typeof SIGNALS

/** Environment variables read by tests/env.ts. */
type TestEnv = Record<string, string>

let testChild: ChildProcess | undefined
let shuttingDown = false

function log(message: string): void {
  console.error(`[tests/run] ${message}`)
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

async function timed<T>(start: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now()
  const value = await start()
  return { value, ms: performance.now() - t0 }
}

/** Starts both services; on any failure stops the other one and throws why. */
async function startServices(): Promise<{ env: TestEnv; stop: () => Promise<void> }> {
  log("starting PostgreSQL 15 and radosgw…")
  const [pg, s3] = await Promise.allSettled([timed(() => startPostgres()), timed(() => startRadosgw())])
  if (pg.status === "rejected" || s3.status === "rejected") {
    if (pg.status === "fulfilled") await pg.value.value.stop()
    if (s3.status === "fulfilled") await s3.value.value.stop()
    const reasons = [pg, s3].flatMap((r) =>
      r.status === "rejected" ? [String(r.reason?.message ?? r.reason)] : []
    )
    throw new Error(reasons.join("\n\n"))
  }
  const postgres = pg.value.value
  const radosgw = s3.value.value
  log(`PostgreSQL ready in ${seconds(pg.value.ms)}: ${postgres.url}`)
  log(`radosgw ready in ${seconds(s3.value.ms)}: ${radosgw.endpoint}`)
  return {
    env: {
      PARQUET_COMPACT_TEST_PG_URL: postgres.url,
      PARQUET_COMPACT_TEST_S3_ENDPOINT: radosgw.endpoint,
      PARQUET_COMPACT_TEST_S3_ACCESS_KEY_ID: radosgw.accessKeyId,
      PARQUET_COMPACT_TEST_S3_SECRET_ACCESS_KEY: radosgw.secretAccessKey,
      PARQUET_COMPACT_TEST_S3_REGION: radosgw.region,
      PARQUET_COMPACT_TEST_S3_CONDITIONAL: "1",
    },
    stop: async () => {
      await Promise.all([postgres.stop(), radosgw.stop()])
    },
  }
}

function bunExecutable(): string {
  return process.versions.bun !== undefined ? process.execPath : join(REPO, "node_modules", ".bin", "bun")
}

/** What `runBunTest` saw. */
interface BunTestResult {
  readonly code: number | null
  readonly signal: string | null
  /** "# Unhandled error between tests" blocks (e.g. a file that does not load: not in the JUnit report). */
  readonly unhandledErrors: number
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g

/**
 * Runs bun test with its console output on our terminal (stderr passes through us, so we can
 * count the errors the JUnit report leaves out; colours are kept when stderr is a terminal).
 */
function runBunTest(args: string[], env: TestEnv): Promise<BunTestResult> {
  return new Promise((resolve) => {
    const colour = process.stderr.isTTY && process.env.NO_COLOR === undefined &&
      process.env.FORCE_COLOR === undefined
    const child = spawn(bunExecutable(), ["test", ...args], {
      cwd: REPO,
      env: { ...process.env, ...env, ...(colour ? { FORCE_COLOR: "1" } : {}) },
      stdio: ["inherit", "inherit", "pipe"],
    })
    testChild = child
    let unhandledErrors = 0
    let partial = ""
    const scan = (text: string) => {
      const lines = (partial + text).split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) {
        if (/^#\s*Unhandled error between tests/.test(line.replace(ANSI, "").trim())) unhandledErrors++
      }
    }
    child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk)
      scan(chunk.toString("utf8"))
    })
    child.on("error", (error) => {
      log(`cannot run bun test: ${error.message}`)
      resolve({ code: null, signal: null, unhandledErrors })
    })
    child.on("close", (code, signal) => {
      scan("\n")
      resolve({ code, signal, unhandledErrors })
    })
  })
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`
}

async function shutdown(signal: Signal): Promise<never> {
  if (shuttingDown) process.exit(128 + SIGNALS[signal])
  shuttingDown = true
  // Keep the event loop alive until the services are down, whatever else finishes meanwhile.
  setInterval(() => {}, 1_000)
  log(`${signal}: stopping the test services…`)
  const child = testChild
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    child.kill(signal)
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    if (!await withTimeout(exited, 10_000)) child.kill("SIGKILL")
  }
  await runCleanups()
  process.exit(128 + SIGNALS[signal])
}

async function serve(): Promise<number> {
  const services = await startServices()
  for (const [name, value] of Object.entries(services.env)) console.log(`export ${name}=${shellQuote(value)}`)
  log("services are up; run e.g. `node_modules/.bin/bun test tests/foo.test.ts` with the exports above.")
  log("press Ctrl-C (or send SIGTERM) to stop them.")
  await new Promise<never>(() => setInterval(() => {}, 1 << 30))
  return 0
}

async function test(extraArgs: string[]): Promise<number> {
  const reportDir = await mkdtemp(join(tmpdir(), "parquet-compact-junit-"))
  const unregister = onCleanup(() => removeDir(reportDir))
  try {
    const services = await startServices()
    const xmlPath = join(reportDir, "junit.xml")
    let result: BunTestResult
    try {
      result = await runBunTest(
        ["--reporter=junit", `--reporter-outfile=${xmlPath}`, "--timeout=120000", ...extraArgs],
        services.env,
      )
    } finally {
      testChild = undefined
      await services.stop()
    }
    if (shuttingDown) return 1
    return report(xmlPath, result)
  } finally {
    unregister()
    await removeDir(reportDir)
  }
}

function report(xmlPath: string, result: BunTestResult): number {
  const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${result.code}`
  let counts: JunitCounts = { passed: 0, failed: 0, skipped: 0 }
  let readable = false
  if (!existsSync(xmlPath)) {
    log(`bun test ${how} and wrote no JUnit report.`)
  } else {
    try {
      counts = parseJunit(readFileSync(xmlPath, "utf8"))
      readable = true
    } catch (error) {
      log(`cannot read the JUnit report of bun test (it ${how}): ${String(error)}`)
    }
  }
  const crashed = result.code !== 0
  let failed = counts.failed
  if (result.unhandledErrors > 0) {
    // e.g. a test file that does not load: the JUnit report has no test case for it.
    log(`counting ${result.unhandledErrors} unhandled error(s) outside tests as failed.`)
    failed += result.unhandledErrors
  }
  if (crashed && failed === 0) {
    if (readable) log(`bun test ${how} although its JUnit report records no failed test.`)
    log("counting that as 1 failed test.")
    failed = 1
  }
  const none = counts.passed + counts.failed === 0
  if (none) log("no test ran.")
  console.log(summaryLine({ ...counts, failed }))
  return failed > 0 || crashed || none || !readable ? 1 : 0
}

async function main(): Promise<number> {
  // A closed pipe (e.g. `| tee` killed by Ctrl-C) must not kill us before the services are stopped.
  process.stdout.on("error", () => {})
  process.stderr.on("error", () => {})
  for (const signal of Object.keys(SIGNALS) as Signal[]) process.on(signal, () => void shutdown(signal))
  const args = process.argv.slice(2)
  try {
    return args.includes("--serve") ? await serve() : await test(args)
  } catch (error) {
    log(`cannot run the tests: ${error instanceof Error ? error.message : String(error)}`)
    return 2
  } finally {
    await runCleanups()
  }
}

const code = await main()
// On a signal, shutdown() stops the services and exits with 128 + the signal's number.
if (!shuttingDown) process.exit(code)
