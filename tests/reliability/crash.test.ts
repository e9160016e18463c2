/**
 * The crash matrix: the CLI runs as a child process and is SIGKILLed at every step boundary
 * (PARQUET_COMPACT_TEST_CRASH_AT=STEP[:N]) and after random delays; to file:// and to S3
 * (radosgw); with and without --delete-after-compact; for a first write, a re-encode (other
 * --chunk-size), a replace that grows the partition, a --merge-late of late rows, and a run of three
 * partitions (--partition-size), killed in the 1st, 2nd or 3rd. After each
 * kill and after the completing rerun, tests/reliability/invariants.ts must hold.
 *
 * REL_FULL=1 (make reliability) tries every point (> 200); otherwise a spread subset of ~25.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { STEPS } from "../../src/execute.ts"
import type { BlockRange } from "../../src/core/range.ts"
import { checkInvariants } from "./invariants.ts"
import {
  closeLib,
  FULL,
  hotRows,
  insertLate,
  makeWorld,
  random,
  runCli,
  type RunOptions,
  spawnCli,
  withDeadline,
  type World,
} from "./lib.ts"
import { reporter } from "./report.ts"

const RANGE: BlockRange = { first: 0n, last: 299n }
const record = reporter("crash")
after(closeLib)

type Mode = "first" | "replace" | "grow" | "merge" | "split"
interface Scenario {
  readonly kind: "file" | "s3"
  readonly mode: Mode
  readonly del: boolean
}
interface KillPoint {
  readonly sc: Scenario
  /** STEP[:N] for the crash hook, or a random moment: this fraction of the scenario's run time. */
  readonly at: { step: string } | { fraction: number }
}

/** Files the killed run writes (for uploaded-file:N): ~1500 rows in chunks of 200 or 300, 20 late rows. */
const FILES: Record<Mode, number> = { first: 8, replace: 5, grow: 5, merge: 1, split: 0 }

/** The killed run's and the rerun's options for a scenario. */
const runOptions = (sc: Scenario): RunOptions => ({
  range: RANGE,
  chunkSize: sc.mode === "first" || sc.mode === "split" ? 200 : 300,
  ...(sc.mode === "split" ? { partitionSize: 100 } : {}),
  deleteAfterCompact: sc.del,
  mergeLate: sc.mode === "merge",
})

/** Brings the world to the scenario's starting state. */
async function prepare(w: World, sc: Scenario): Promise<void> {
  if (sc.mode === "first" || sc.mode === "split") return
  const pre = await runCli(w, { range: RANGE, chunkSize: 200, deleteAfterCompact: sc.mode === "merge" })
  assert.equal(pre.code, 0, pre.stderr)
  if (sc.mode === "grow" || sc.mode === "merge") await insertLate(w.sql, RANGE, 20)
}

function points(): KillPoint[] {
  const scenarios: Scenario[] = []
  for (const kind of ["file", "s3"] as const) {
    for (const mode of ["first", "replace", "grow", "merge", "split"] as const) {
      for (const del of [false, true]) scenarios.push({ kind, mode, del })
    }
  }
  const all: KillPoint[] = []
  const rng = random(20261129)
  for (const sc of scenarios) {
    if (sc.mode === "split") {
      // three partitions of 100 blocks in one run: the step of the 1st, 2nd and 3rd partition
      for (const step of ["locked", "uploaded", "committed", "deleted-superseded", "deleted-hot"]) {
        if (step === "deleted-hot" && !sc.del) continue
        for (let n = 1; n <= 3; n++) all.push({ sc, at: { step: `${step}:${n}` } })
      }
      continue
    }
    for (const step of STEPS) {
      if (step === "deleted-hot" && !sc.del) continue
      if (step === "uploaded-file") {
        for (let n = 1; n <= FILES[sc.mode]; n++) all.push({ sc, at: { step: `${step}:${n}` } })
      } else all.push({ sc, at: { step } })
    }
    for (let i = 0; i < 3; i++) {
      all.push({ sc, at: { fraction: Math.round(100 * (0.1 + rng() * 0.9)) / 100 } })
    }
  }
  if (FULL) return all
  // a spread subset: every step, both stores, every mode, with and without delete
  return all.filter((_, i) => i % 11 === 4)
}

/** Milliseconds a scenario's run takes, as seen so far (random moments are fractions of it). */
const runTime = new Map<string, number>()
const key = (sc: Scenario) => `${sc.kind} ${sc.mode} ${sc.del}`

const label = (p: KillPoint) =>
  `${p.sc.kind} ${p.sc.mode}${p.sc.del ? " delete" : ""} @ ${
    "step" in p.at ? p.at.step : `random moment ${Math.round(p.at.fraction * 100)}%`
  }`

async function killPoint(p: KillPoint): Promise<void> {
  const w = await makeWorld(p.sc.kind)
  const problems: string[] = []
  let rowsChecked = 0
  let rowsLost = 0
  let outcome = ""
  let exit: number | undefined
  try {
    await prepare(w, p.sc)
    const start = await checkInvariants(w, { range: RANGE, rows: await hotRows(w.sql, RANGE) })
    // every row that exists when the run starts: archived ones and hot ones
    const expected = new Map([...start.cold, ...start.hot])
    const run = spawnCli(w, { ...runOptions(p.sc), ...("step" in p.at ? { crashAt: p.at.step } : {}) })
    const delay = "fraction" in p.at ? Math.round(p.at.fraction * (runTime.get(key(p.sc)) ?? 1500)) : 0
    const timer = "fraction" in p.at ? setTimeout(() => run.child.kill("SIGKILL"), delay) : undefined
    const killed = await withDeadline(run, 120_000)
    clearTimeout(timer)
    // how long the whole run takes, for random moments: a run that finished, or one killed at its end
    if (killed.signal !== "SIGKILL" || /^deleted-/.test("step" in p.at ? p.at.step : "")) {
      runTime.set(key(p.sc), Math.max(runTime.get(key(p.sc)) ?? 0, killed.ms))
    }
    if (delay > 0) outcome = `after ${delay} ms: `
    outcome += killed.signal === "SIGKILL" ? "killed" : `finished first (exit ${killed.code})`
    if (killed.signal !== "SIGKILL" && killed.code !== 0) {
      problems.push(`run exited ${killed.code}: ${killed.stderr}`)
    }
    const mid = await checkInvariants(w, { range: RANGE, rows: expected })
    const rerun = await runCli(w, runOptions(p.sc))
    exit = rerun.code ?? undefined
    outcome += `; rerun exit ${rerun.code}`
    if (rerun.code !== 0) problems.push(`rerun exited ${rerun.code}: ${rerun.stderr.trim()}`)
    const end = await checkInvariants(w, { range: RANGE, rows: expected, final: true })
    for (const [when, c] of [["after the kill", mid], ["after the rerun", end]] as const) {
      rowsChecked += c.rowsChecked
      rowsLost += c.rowsLost
      problems.push(...c.problems.map((s) => `${when}: ${s}`))
    }
    // the completing rerun leaves every row archived once, and none hot when asked to delete
    if (end.cold.size !== expected.size) {
      problems.push(`after the rerun cold holds ${end.cold.size} rows, not ${expected.size}`)
    }
    if (p.sc.del && end.hot.size > 0) problems.push(`after the rerun ${end.hot.size} rows are still hot`)
    if (!p.sc.del && end.hot.size !== start.hot.size) {
      problems.push(`hot rows changed without --delete-after-compact`)
    }
  } catch (error) {
    problems.push(`harness: ${(error as Error).stack ?? error}`)
  } finally {
    await w.close()
  }
  record({
    table: "crash",
    case: label(p),
    group: "step" in p.at ? p.at.step.split(":")[0]! : "random moment",
    outcome: problems.length > 0 ? `${outcome}; ${problems[0]}` : outcome,
    ...(exit === undefined ? {} : { exit_code: exit }),
    rows_checked: rowsChecked,
    rows_lost: rowsLost,
    ok: problems.length === 0,
  })
  assert.deepEqual(problems, [], label(p))
}

describe(`crash matrix (${FULL ? "full" : "subset; REL_FULL=1 for all"})`, () => {
  for (const p of points()) it(label(p), { timeout: 300_000 }, () => killPoint(p))
})
