/**
 * The crash matrix: the CLI runs as a child process and is SIGKILLed at every step boundary
 * (PARQUET_COMPACT_TEST_CRASH_AT=STEP[:N]) and after random delays; to file:// and to S3
 * (radosgw); with and without --delete-after-compact; for a first write, a re-encode (other
 * --chunk-size), a replace that grows the partition, and a --merge-late of late rows. After each
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

type Mode = "first" | "replace" | "grow" | "merge"
interface Scenario {
  readonly kind: "file" | "s3"
  readonly mode: Mode
  readonly del: boolean
}
interface KillPoint {
  readonly sc: Scenario
  /** STEP[:N] for the crash hook, or a random delay. */
  readonly at: { step: string } | { delayMs: number }
}

/** Files the killed run writes (for uploaded-file:N): ~1500 rows in chunks of 200 or 300, 20 late rows. */
const FILES: Record<Mode, number> = { first: 8, replace: 5, grow: 5, merge: 1 }

/** The killed run's and the rerun's options for a scenario. */
const runOptions = (sc: Scenario): RunOptions => ({
  range: RANGE,
  chunkSize: sc.mode === "first" ? 200 : 300,
  deleteAfterCompact: sc.del,
  mergeLate: sc.mode === "merge",
})

/** Brings the world to the scenario's starting state. */
async function prepare(w: World, sc: Scenario): Promise<void> {
  if (sc.mode === "first") return
  const pre = await runCli(w, { range: RANGE, chunkSize: 200, deleteAfterCompact: sc.mode === "merge" })
  assert.equal(pre.code, 0, pre.stderr)
  if (sc.mode === "grow" || sc.mode === "merge") await insertLate(w.sql, RANGE, 20)
}

function points(): KillPoint[] {
  const scenarios: Scenario[] = []
  for (const kind of ["file", "s3"] as const) {
    for (const mode of ["first", "replace", "grow", "merge"] as const) {
      for (const del of [false, true]) scenarios.push({ kind, mode, del })
    }
  }
  const all: KillPoint[] = []
  const rng = random(20261129)
  for (const sc of scenarios) {
    for (const step of STEPS) {
      if (step === "deleted-hot" && !sc.del) continue
      if (step === "uploaded-file") {
        for (let n = 1; n <= FILES[sc.mode]; n++) all.push({ sc, at: { step: `${step}:${n}` } })
      } else all.push({ sc, at: { step } })
    }
    for (let i = 0; i < 3; i++) all.push({ sc, at: { delayMs: Math.round(200 + rng() * 1800) } })
  }
  if (FULL) return all
  // a spread subset: every step, both stores, every mode, with and without delete
  return all.filter((_, i) => i % 9 === 4)
}

const label = (p: KillPoint) =>
  `${p.sc.kind} ${p.sc.mode}${p.sc.del ? " delete" : ""} @ ${
    "step" in p.at ? p.at.step : `random ${p.at.delayMs} ms`
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
    const timer = "delayMs" in p.at ? setTimeout(() => run.child.kill("SIGKILL"), p.at.delayMs) : undefined
    const killed = await withDeadline(run, 120_000)
    clearTimeout(timer)
    outcome = killed.signal === "SIGKILL" ? "killed" : `finished first (exit ${killed.code})`
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
