import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { CompactError } from "../../src/errors.ts"
import {
  assertFinal,
  blocksUntilFinal,
  DEFAULT_FINALITY,
  finalityThreshold,
  finalTip,
  isFinal,
} from "../../src/core/finality.ts"
import { blockRange } from "../../src/core/range.ts"

const RUNS = { numRuns: 500 }
const isCode = (code: string) => (e: unknown) => e instanceof CompactError && e.code === code

const range = fc.tuple(fc.bigInt(0n, 1n << 64n), fc.bigInt(0n, 100_000n))
  .map(([first, len]) => blockRange(first, first + len))
const threshold = fc.bigInt(0n, 10_000n)
/** A tip near the range's end, so both final and not-final cases come up often. */
const case_ = fc.tuple(range, threshold, fc.bigInt(-20_000n, 20_000n))
  .map(([r, t, delta]) => ({ r, t, tip: r.last + t + delta }))

describe("finality", () => {
  it("a range is final iff its last block <= tip - threshold", () => {
    fc.assert(
      fc.property(case_, ({ r, t, tip }) => {
        assert.equal(isFinal(r, finalTip(tip, t)), r.last <= tip - t)
      }),
      RUNS,
    )
  })
  it("blocksUntilFinal is the smallest tip increase that makes the range final", () => {
    fc.assert(
      fc.property(case_, ({ r, t, tip }) => {
        const wait = blocksUntilFinal(r, tip, t)
        assert.ok(wait >= 0n)
        assert.ok(isFinal(r, finalTip(tip + wait, t)))
        if (wait > 0n) assert.ok(!isFinal(r, finalTip(tip + wait - 1n, t)))
        assert.equal(wait === 0n, isFinal(r, finalTip(tip, t)))
      }),
      RUNS,
    )
  })
  it("assertFinal throws NOT_FINAL iff the range is not final", () => {
    fc.assert(
      fc.property(case_, ({ r, t, tip }) => {
        if (isFinal(r, finalTip(tip, t))) assertFinal(r, tip, t)
        else assert.throws(() => assertFinal(r, tip, t), isCode("NOT_FINAL"))
      }),
      RUNS,
    )
  })
  it("an override always wins", () => {
    fc.assert(
      fc.property(fc.bigInt(0n, 1n << 64n), threshold, (chain, override) => {
        assert.equal(finalityThreshold(chain, override), override)
      }),
      RUNS,
    )
  })
  it("an unknown chain without override throws BAD_INPUT naming the chain and the flag", () => {
    fc.assert(
      fc.property(fc.bigInt(0n, 1n << 64n).filter((c) => !(c.toString() in DEFAULT_FINALITY)), (chain) => {
        assert.throws(
          () => finalityThreshold(chain),
          (e) =>
            isCode("BAD_INPUT")(e) && e instanceof Error && e.message.includes(`"${chain}"`) &&
            e.message.includes("--finality-threshold"),
        )
      }),
      RUNS,
    )
  })
  it("examples", () => {
    assert.equal(finalityThreshold(10143n), 100n)
    assert.equal(finalityThreshold(1n), 96n)
    assert.equal(finalityThreshold(1n, 0n), 0n)
    assert.throws(() => finalityThreshold(1n, -1n), isCode("BAD_INPUT"))
    assert.equal(finalTip(50n, 100n), -50n)
    assert.ok(!isFinal(blockRange(0n, 0n), finalTip(50n, 100n)))
    const table: [bigint, bigint, bigint, bigint, bigint][] = [
      // first, last, tip, threshold, blocks until final
      [100n, 199n, 250n, 100n, 49n],
      [100n, 199n, 299n, 100n, 0n],
      [100n, 199n, 298n, 100n, 1n],
      [0n, 0n, 0n, 0n, 0n],
    ]
    for (const [first, last, tip, t, want] of table) {
      assert.equal(blocksUntilFinal(blockRange(first, last), tip, t), want)
    }
    assert.throws(
      () => assertFinal(blockRange(100n, 199n), 250n, 100n),
      (e) =>
        isCode("NOT_FINAL")(e) && e instanceof Error &&
        /final tip "150".*wait for 49 more blocks$/.test(e.message),
    )
  })
})
