/**
 * A model-based property test of the run loop, in-process against the real Postgres and a store:
 * random sequences of late rows into (compacted) partitions, updates of hot rows, delete+insert of a
 * block's rows, compactions (with or without delete and --merge-late, other chunk sizes) and runs
 * interrupted at a random step (the `checkpoint` hook throws). The model is every row's latest
 * content (and every content it ever had); after every command the invariants of
 * tests/reliability/invariants.ts must hold against it. REL_FULL=1 runs more and longer sequences.
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { compact } from "../../src/compact.ts"
import { validateConfig } from "../../src/config.ts"
import type { BlockRange } from "../../src/core/range.ts"
import { STEPS } from "../../src/execute.ts"
import { lineLogger } from "../../src/log.ts"
import { checkInvariants } from "./invariants.ts"
import { CHAIN, closeLib, FULL, hotRows, insertLate, makeWorld, type Rows, type World } from "./lib.ts"
import { reporter } from "./report.ts"

const record = reporter("model")
after(closeLib)

const PARTS: BlockRange[] = [0, 100, 200, 300].map((b) => ({ first: BigInt(b), last: BigInt(b + 99) }))
const ALL: BlockRange = { first: 0n, last: 399n }

interface Model {
  readonly latest: Rows
  readonly history: Map<string, Set<string>>
  rowsChecked: number
  rowsLost: number
  lateSeed: number
  readonly log: string[]
}
interface Real {
  readonly w: World
}
type Cmd = fc.AsyncCommand<Model, Real>

/** Hot storage always holds the latest version of a row users wrote: take it into the model. */
async function observe(m: Model, w: World): Promise<void> {
  for (const [k, v] of await hotRows(w.sql, ALL)) {
    m.latest.set(k, v)
    if (!m.history.has(k)) m.history.set(k, new Set())
    m.history.get(k)!.add(v)
  }
}

async function check(m: Model, w: World, after: string): Promise<void> {
  const c = await checkInvariants(w, { range: ALL, rows: m.latest, history: m.history })
  m.rowsChecked += c.rowsChecked
  m.rowsLost += c.rowsLost
  if (c.problems.length > 0) {
    throw new Error(`after ${after} (sequence: ${m.log.join("; ")}):\n${c.problems.slice(0, 8).join("\n")}`)
  }
}

/** A command: do something, observe hot rows, check the invariants. */
function command(name: string, act: (m: Model, w: World) => Promise<void>): Cmd {
  return {
    check: () => true,
    run: async (m, r) => {
      m.log.push(name)
      await act(m, r.w)
      await observe(m, r.w)
      await check(m, r.w, name)
    },
    toString: () => name,
  }
}

const late = (p: number, n: number) =>
  command(`late ${n} rows into ${p}`, (m, w) => insertLate(w.sql, PARTS[p]!, n, ++m.lateSeed))

const update = (p: number, nth: number) =>
  command(`update hot row ${nth} of ${p}`, async (_, w) => {
    await w.sql.unsafe(`UPDATE hot_logs SET data = data || '\\x5a'::bytea WHERE ctid = (
      SELECT ctid FROM hot_logs WHERE block_number BETWEEN ${PARTS[p]!.first} AND ${PARTS[p]!.last}
      ORDER BY block_number, log_index OFFSET ${nth} LIMIT 1)`)
  })

const reinsert = (p: number, nth: number) =>
  command(`delete+insert a block of ${p}`, async (_, w) => {
    const block = PARTS[p]!.first + BigInt(nth % 100)
    await w.sql.begin(async (tx) => {
      await tx.unsafe(
        `CREATE TEMP TABLE x ON COMMIT DROP AS SELECT * FROM hot_logs WHERE block_number = ${block}`,
      )
      await tx.unsafe(`DELETE FROM hot_logs WHERE block_number = ${block}`)
      await tx.unsafe(`INSERT INTO hot_logs SELECT * FROM x`)
    })
  })

interface CompactArgs {
  /** A partition of PARTS, or 4 + p: blocks p*100+50 .. p*100+149, overlapping two of them. */
  readonly p: number
  readonly del: boolean
  readonly mergeLate: boolean
  readonly chunk: number
  /** Stop (throw) at this step the Nth time, as a killed or failed run would. */
  readonly stop?: { step: string; nth: number } | null | undefined
}

const compaction = (a: CompactArgs) =>
  command(
    `compact ${a.p < PARTS.length ? a.p : `${a.p - PARTS.length}.5`} chunk ${a.chunk}${
      a.del ? " delete" : ""
    }${a.mergeLate ? " merge-late" : ""}${a.stop ? ` stopped at ${a.stop.step}:${a.stop.nth}` : ""}`,
    async (m, w) => {
      let left = a.stop?.nth ?? 0
      const checkpoint = (step: string) => {
        if (step === a.stop?.step && --left === 0) throw new Error(`stopped at ${step}`)
      }
      const range = a.p < PARTS.length
        ? PARTS[a.p]!
        : { first: BigInt((a.p - PARTS.length) * 100 + 50), last: BigInt((a.p - PARTS.length) * 100 + 149) }
      const config = validateConfig({
        chainId: CHAIN,
        dataset: "logs",
        startBlock: range.first,
        endBlock: range.last,
        dest: "s3://unused/cold",
        databaseUrl: w.url,
        chunkSize: a.chunk,
        deleteAfterCompact: a.del,
        mergeLate: a.mergeLate,
      })
      const deps = {
        sql: w.sql,
        databaseUrl: w.url,
        store: w.store,
        prefix: w.prefix,
        log: lineLogger(() => {}),
      }
      const outcome = await compact(config, { ...deps, checkpoint }).then(
        (s) => s.partitions[0]!.action,
        (e: Error) => `${(e as { code?: string }).code ?? "error"}: ${e.message.slice(0, 80)}`,
      )
      m.log[m.log.length - 1] += ` → ${outcome}`
    },
  )

const part = fc.integer({ min: 0, max: PARTS.length - 1 })
const commands: fc.Arbitrary<Cmd>[] = [
  fc.tuple(part, fc.integer({ min: 1, max: 30 })).map(([p, n]) => late(p, n)),
  fc.tuple(part, fc.nat(400)).map(([p, n]) => update(p, n)),
  fc.tuple(part, fc.nat(99)).map(([p, n]) => reinsert(p, n)),
  compactions(),
  compactions(),
  compactions(),
]

/** Compactions, a third of them stopped at a random step (the Nth file for uploaded-file). */
function compactions() {
  return fc.record({
    // now and then a range across two partitions (refused when either is committed)
    p: fc.oneof({ arbitrary: part, weight: 6 }, { arbitrary: fc.integer({ min: 4, max: 6 }), weight: 1 }),
    del: fc.boolean(),
    mergeLate: fc.boolean(),
    chunk: fc.constantFrom(100, 250, 1000),
    stop: fc.option(
      fc.record({ step: fc.constantFrom(...STEPS), nth: fc.integer({ min: 1, max: 3 }) })
        .map((s) => (s.step === "uploaded-file" ? s : { ...s, nth: 1 })),
      { freq: 2 },
    ),
  }).map((a) => compaction(a))
}

describe("model-based sequences", () => {
  it(`random sequences keep every row (${FULL ? "full" : "bounded"})`, { timeout: 1_200_000 }, async () => {
    const seed = Number(process.env.REL_SEED ?? Date.now() % 1_000_000)
    let n = 0
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: FULL ? 30 : 15, size: "max" }), async (cmds) => {
        const w = await makeWorld(FULL && n % 2 === 1 ? "s3" : "file")
        const m: Model = {
          latest: new Map(),
          history: new Map(),
          rowsChecked: 0,
          rowsLost: 0,
          lateSeed: 0,
          log: [],
        }
        const label = `sequence ${++n} (${w.kind}, seed ${seed})`
        let ok = false
        try {
          await observe(m, w)
          await fc.asyncModelRun(() => ({ model: m, real: { w } }), cmds)
          // settle: a completing run of every partition, then no unnamed object may remain
          for (let p = 0; p < PARTS.length; p++) {
            await compaction({ p, del: true, mergeLate: true, chunk: 250 }).run(m, { w })
          }
          const c = await checkInvariants(w, { range: ALL, rows: m.latest, history: m.history, final: true })
          m.rowsChecked += c.rowsChecked
          m.rowsLost += c.rowsLost
          assert.deepEqual(c.problems, [], `after settling (sequence: ${m.log.join("; ")})`)
          ok = true
        } finally {
          record({
            table: "model",
            case: `${label}: ${m.log.length} commands`,
            group: label,
            outcome: m.log.join("; "),
            rows_checked: m.rowsChecked,
            rows_lost: m.rowsLost,
            ok,
          })
          await w.close()
        }
      }),
      { numRuns: FULL ? 16 : 4, seed, endOnFailure: true },
    )
    assert.ok(n > 0)
  })
})
