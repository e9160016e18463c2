import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { decidePartition, filesAreSource, type PartitionState, sameRows } from "../../src/core/decide.ts"
import { blockRange } from "../../src/core/range.ts"

const RUNS = { numRuns: 2000 }

// Few distinct values, so that equal fingerprints, equal schemas and empty key sets all come up often.
const rows = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 }))
const fp = fc.constantFrom("0", "17", "-42")
const hot = fc.record({ rows, fingerprint: fp })
const keys = fc.record({
  coldOnly: fc.integer({ min: 0, max: 3 }),
  hotOnly: fc.integer({ min: 0, max: 3 }),
  shared: fc.integer({ min: 0, max: 3 }),
  hotOnlyBlocks: fc.array(fc.bigInt(0n, 9n), { maxLength: 3 }),
})
const state: fc.Arbitrary<PartitionState> = fc.record({
  range: fc.constant(blockRange(0n, 9n)),
  dataset: fc.constant("logs"),
  committed: fc.option(
    fc.record({
      rows,
      schemaHash: fc.constantFrom("s1", "s2"),
      source: fc.option(fc.record({ rows, fingerprint: fp, encoding: fc.constantFrom("e1", "e2") }), {
        nil: undefined,
      }),
    }),
    { nil: undefined },
  ),
  overlapping: fc.option(fc.constant("5-14"), { nil: undefined }),
  orphans: fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 2 }),
  missingFiles: fc.oneof(
    fc.constant([]),
    fc.constant([]),
    fc.array(fc.constantFrom("x", "y"), { maxLength: 2 }),
  ),
  // a first write is decided without counting the hot rows
  hot: fc.option(hot, { nil: undefined, freq: 4 }),
  keys,
  schemaHash: fc.constantFrom("s1", "s2"),
  encoding: fc.constantFrom("e1", "e2"),
}).filter((s) => s.committed === undefined || s.hot !== undefined)
const options = fc.record({ deleteHot: fc.boolean(), mergeLate: fc.boolean() })

describe("decidePartition", () => {
  it("always removes the unnamed files first, whatever it decides", () => {
    fc.assert(
      fc.property(state, options, (s, o) => assert.deepEqual(decidePartition(s, o).cleanup, s.orphans)),
      RUNS,
    )
  })

  it("refuses a range that overlaps another committed partition", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        assert.equal(
          decidePartition(s, o).action === "refuse" && s.overlapping !== undefined,
          s.overlapping !== undefined,
        )
      }),
      RUNS,
    )
  })

  it("never rebuilds a partition from hot rows that lack archived rows", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        const plan = decidePartition(s, o)
        if (plan.action !== "write" || plan.mode !== "replace") return
        // either the files hold exactly the (unchanged) hot rows, or hot holds every archived key
        assert.ok(
          (sameRows(s.hot, s.committed?.source) && filesAreSource(s.committed!)) || s.keys!.coldOnly === 0,
        )
      }),
      RUNS,
    )
  })

  it("deletes hot rows only when asked, and when keeping only rows proven archived", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        const plan = decidePartition(s, o)
        if (plan.action === "refuse" || !plan.deleteHot) return
        assert.ok(o.deleteHot)
        if (plan.action === "keep") assert.ok(sameRows(s.hot, s.committed?.source))
      }),
      RUNS,
    )
  })

  it("never keeps late rows silently: hot rows cold lacks are written or refused", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        const plan = decidePartition(s, o)
        const late = s.committed !== undefined && s.hot !== undefined && s.hot.rows > 0 &&
          !sameRows(s.hot, s.committed.source) &&
          s.keys!.hotOnly > 0
        if (late) assert.notEqual(plan.action, "keep")
      }),
      RUNS,
    )
  })

  it("appends only with --merge-late, when every hot row is late", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        const plan = decidePartition(s, o)
        if (plan.action !== "write" || plan.mode !== "append") return
        assert.ok(o.mergeLate && s.keys!.shared === 0 && s.keys!.hotOnly > 0 && s.keys!.coldOnly > 0)
      }),
      RUNS,
    )
  })

  it("writes a partition that is not committed, after the completeness check", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        fc.pre(s.committed === undefined && s.overlapping === undefined)
        const plan = decidePartition(s, o)
        assert.equal(plan.action, "write")
        if (plan.action === "write") assert.ok(plan.mode === "new" && plan.checkComplete)
      }),
      RUNS,
    )
  })

  it("rewrites lost files only from hot rows proven to be the archived ones, and never reports them kept", () => {
    fc.assert(
      fc.property(state, options, (s, o) => {
        fc.pre(s.committed !== undefined && s.overlapping === undefined && s.missingFiles.length > 0)
        const plan = decidePartition(s, o)
        assert.notEqual(plan.action, "keep")
        if (plan.action === "write") {
          assert.ok(plan.mode === "replace" && sameRows(s.hot, s.committed!.source))
        }
      }),
      RUNS,
    )
  })

  it("examples", () => {
    const base: PartitionState = {
      range: blockRange(0n, 9n),
      dataset: "logs",
      committed: { rows: 3, schemaHash: "s", source: { rows: 3, fingerprint: "7", encoding: "e" } },
      orphans: [],
      missingFiles: [],
      hot: { rows: 3, fingerprint: "7" },
      schemaHash: "s",
      encoding: "e",
    }
    const o = { deleteHot: true, mergeLate: false }
    assert.deepEqual(decidePartition(base, o), {
      cleanup: [],
      action: "keep",
      deleteHot: true,
      reason: "unchanged since it was compacted",
    })
    assert.equal(decidePartition({ ...base, encoding: "other" }, o).action, "write")
    assert.equal(decidePartition({ ...base, hot: { rows: 0, fingerprint: "0" } }, o).action, "keep")
    const late = {
      ...base,
      hot: { rows: 2, fingerprint: "9" },
      keys: { coldOnly: 3, hotOnly: 2, shared: 0, hotOnlyBlocks: [4n, 5n] },
    }
    const refused = decidePartition(late, o)
    assert.equal(refused.action, "refuse")
    if (refused.action === "refuse") assert.match(refused.reason, /2 late rows \(blocks 4, 5\).*--merge-late/)
    const merged = decidePartition(late, { deleteHot: true, mergeLate: true })
    assert.ok(merged.action === "write" && merged.mode === "append" && merged.deleteHot)
    assert.throws(
      () => decidePartition({ ...late, keys: undefined }, o),
      /keys of logs partition 0-9 were not read/,
    )
  })
})
