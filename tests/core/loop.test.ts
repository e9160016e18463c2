import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { CompactError } from "../../src/errors.ts"
import type { PartitionSummary } from "../../src/execute.ts"
import type { BlockRange } from "../../src/core/range.ts"
import { type Outcome, runPartitions, worstExitCode } from "../../src/loop.ts"
import { createProgress, eta, formatBar, formatDuration } from "../../src/progress.ts"
import { buildReport } from "../../src/report.ts"
import { wholePartitions } from "../../src/readiness.ts"

const summary = (r: BlockRange, rows = 10): PartitionSummary => ({
  partition_key: `${r.first}-${r.last}`,
  action: "compacted",
  rows,
  files: 1,
  bytes: 100,
  uploaded_files: 1,
  stale_files_deleted: 0,
  hot_rows_deleted: 0,
  seconds: 0.01,
})
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const parts = (n: number) => wholePartitions({ first: 0n, last: BigInt(n) * 10n - 1n }, 10n)
const silent = { info: () => {}, warn: () => {}, error: () => {} }

describe("runPartitions", () => {
  it("runs every partition once, oldest first, never more than K at a time; failures stay their own", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        async (n, k, fails) => {
          let inFlight = 0
          let peak = 0
          const started: bigint[] = []
          const result = await runPartitions(parts(n), async (r) => {
            started.push(r.first)
            peak = Math.max(peak, ++inFlight)
            await tick(Number(r.first % 3n))
            inFlight--
            if (fails[Number(r.first / 10n)]) throw new CompactError("INTEGRITY", `bad ${r.first}`)
            return summary(r)
          }, { concurrency: k })
          assert.ok(peak <= k)
          assert.deepEqual(started, parts(n).map((p) => p.first)) // started in order
          assert.deepEqual(result.outcomes.map((o) => o.range.first), parts(n).map((p) => p.first))
          for (const o of result.outcomes) assert.equal(o.ok, !fails[Number(o.range.first / 10n)])
          assert.deepEqual(result.notStarted, [])
          assert.equal(result.stoppedBy, undefined)
        },
      ),
      { numRuns: 40 },
    )
  })

  it("starts nothing new once aborted; the rest is left for a rerun", async () => {
    const stop = new AbortController()
    let calls = 0
    const result = await runPartitions(parts(20), async (r, signal) => {
      if (++calls === 5) stop.abort("SIGTERM")
      await tick(1)
      if (signal?.aborted && r.first === 40n) throw new CompactError("INTERRUPTED", "stopped")
      return summary(r)
    }, { concurrency: 2, signal: stop.signal })
    assert.equal(result.stoppedBy, "signal")
    assert.ok(calls <= 6, `at most one more started after the abort (${calls})`)
    assert.equal(result.outcomes.length + result.notStarted.length, 20)
    assert.deepEqual(result.notStarted[0]!.first, BigInt(calls) * 10n)
  })

  it("starts nothing new after the deadline", async () => {
    let now = 0
    const result = await runPartitions(parts(10), (r) => {
      now += 400
      return Promise.resolve(summary(r))
    }, { concurrency: 1, deadline: 1000, now: () => now })
    assert.equal(result.outcomes.length, 3) // started at 0, 400, 800
    assert.equal(result.notStarted.length, 7)
    assert.equal(result.stoppedBy, "deadline")
  })
})

describe("exit codes of many partitions", () => {
  it("the most severe wins: 4, 2, 1, 5, 3", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<number>(0, 1, 2, 3, 4, 5)), (codes) => {
        const worst = worstExitCode(codes)
        const order = [4, 2, 1, 5, 3]
        assert.equal(worst, order.find((c) => codes.includes(c)) ?? 0)
      }),
    )
  })

  const ds = { tip: 200n, threshold: 100n, finalTip: 100n, config: { chainId: 1n, dataset: "logs" } }
  const head = {
    command: "backfill" as const,
    ds,
    range: undefined,
    partitionSize: 10n,
    shard: undefined,
    seconds: 1,
  }
  const ok = (r: BlockRange): Outcome => ({
    range: r,
    key: `${r.first}-${r.last}`,
    ok: true,
    summary: summary(r),
  })
  const bad = (r: BlockRange, code: number): Outcome => ({
    range: r,
    key: `${r.first}-${r.last}`,
    ok: false,
    error: new Error("x"),
    exitCode: code,
    message: "x",
  })
  const [a, b, c] = parts(3) as [BlockRange, BlockRange, BlockRange]
  const notFinal = { range: c, key: "20-29", status: "not-final" as const, reason: "later" }
  const rest = { skipped: [], notFinalCode: 3, deadlineCode: 1, benign: [] }

  it("reports each partition and stands for all of them", () => {
    assert.equal(buildReport(head, { outcomes: [ok(a), ok(b)], notStarted: [] }, rest).exit_code, 0)
    assert.equal(
      buildReport(head, { outcomes: [ok(a)], notStarted: [] }, { ...rest, skipped: [notFinal] }).exit_code,
      3,
    )
    const failed = buildReport(head, { outcomes: [bad(a, 1), bad(b, 4)], notStarted: [] }, {
      ...rest,
      skipped: [notFinal],
    })
    assert.equal(failed.exit_code, 4)
    assert.deepEqual(failed.counts, { failed: 2, "not-final": 1 })
    const late = buildReport(head, { outcomes: [ok(a)], notStarted: [b], stoppedBy: "deadline" }, rest)
    assert.equal(late.exit_code, 1)
    const stopped = buildReport(head, {
      outcomes: [ok(a), bad(b, 143)],
      notStarted: [c],
      stoppedBy: "signal",
    }, rest)
    assert.deepEqual([stopped.exit_code, stopped.counts], [143, {
      compacted: 1,
      interrupted: 1,
      "not-started": 1,
    }])
    const auto = { ...rest, notFinalCode: 0, deadlineCode: 0, benign: [5] }
    const raced = buildReport(
      head,
      { outcomes: [ok(a), bad(b, 5)], notStarted: [c], stoppedBy: "deadline" },
      auto,
    )
    assert.deepEqual([raced.exit_code, raced.counts.skipped], [0, 1])
    assert.equal(stopped.rows, 10)
  })
})

describe("progress", () => {
  it("formats durations, ETA and the bar", () => {
    assert.deepEqual([formatDuration(5), formatDuration(125), formatDuration(3725), formatDuration(NaN)], [
      "5s",
      "2m05s",
      "1h02m",
      "?",
    ])
    const state = { total: 60, done: 12, failed: 3, inFlight: 2, rows: 45000, seconds: 15 }
    assert.equal(eta(state), 45)
    assert.equal(eta({ ...state, done: 0, failed: 0 }), undefined)
    assert.equal(
      formatBar(state, 20),
      "[#####...............] 15/60 partitions, 3 failed, 2 running  3,000 rows/s  ETA 45s",
    )
  })

  it("writes one line per partition when not on a terminal, a redrawn bar when on one", () => {
    const lines: unknown[] = []
    const logger = {
      info: (m: string, f?: unknown) => lines.push([m, f]),
      warn: silent.warn,
      error: silent.error,
    }
    const p = createProgress({ total: 2, mode: "lines", write: () => assert.fail("no bar"), logger })
    const [a, b] = parts(2) as [BlockRange, BlockRange]
    p.start()
    p.done({ range: a, key: "0-9", ok: true, summary: summary(a, 7) })
    p.done({ range: b, key: "10-19", ok: true, summary: summary(b, 3) })
    p.end()
    assert.equal(lines.length, 2)
    assert.deepEqual((lines[1] as [string, Record<string, unknown>])[1].done, 2)
    const drawn: string[] = []
    const bar = createProgress({
      total: 2,
      mode: "bar",
      write: (l) => drawn.push(l),
      logger: silent,
      now: () => 0,
    })
    bar.start()
    bar.done({ range: a, key: "0-9", ok: true, summary: summary(a) })
    bar.logger.warn("careful")
    bar.end()
    assert.match(drawn[0]!, /^\[\.+\] 0\/2 partitions, 1 running/)
    assert.ok(drawn[1]!.startsWith("\x1b[1A\x1b[2K[#"), "redrawn over itself")
    assert.equal(bar.state().done, 1)
  })
})
