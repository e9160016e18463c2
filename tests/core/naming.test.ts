import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { CompactError } from "../../src/errors.ts"
import {
  datasetFolder,
  isDatasetName,
  manifestKey,
  objectKey,
  parseObjectKey,
  parsePartitionKey,
  partitionFilePrefix,
  partitionKey,
  validateDataset,
} from "../../src/core/naming.ts"
import { blockRange } from "../../src/core/range.ts"

const RUNS = { numRuns: 1000 }
const isBadInput = (e: unknown) => e instanceof CompactError && e.code === "BAD_INPUT"
const NAME = /^[a-z][a-z0-9_]*$/

const block = fc.oneof(fc.bigInt(0n, 30n), fc.bigInt(0n, 1n << 64n))
const range = fc.tuple(block, block).map(([a, b]) => (a <= b ? blockRange(a, b) : blockRange(b, a)))
const dataset = fc.stringMatching(/^[a-z][a-z0-9_]{0,62}$/)
const prefix = fc.oneof(
  fc.constant(""),
  fc.array(fc.stringMatching(/^[a-zA-Z0-9_.=-]{1,8}$/).filter((s) => s !== "." && s !== ".."), {
    minLength: 1,
    maxLength: 3,
  }).map((s) => s.join("/")),
)
const part = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
const sha = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{64}$/),
  fc.constantFrom("0".repeat(64), "f".repeat(16) + "0".repeat(48)),
)

describe("dataset names", () => {
  it("validate iff they match [a-z][a-z0-9_]* and have at most 63 characters", () => {
    const name = fc.oneof(
      dataset,
      fc.stringMatching(/^[a-z][a-z0-9_]{58,66}$/), // around the length limit
      fc.string({ maxLength: 70 }),
      fc.stringMatching(/^[a-z0-9_A-Z -]{0,70}$/),
    )
    fc.assert(
      fc.property(name, (s) => {
        const valid = NAME.test(s) && s.length <= 63
        assert.equal(isDatasetName(s), valid)
        if (valid) assert.equal(validateDataset(s), s)
        else assert.throws(() => validateDataset(s), isBadInput)
      }),
      RUNS,
    )
  })
  it("examples", () => {
    for (const ok of ["blocks", "erc20_transfers", "a", "a".repeat(63)]) assert.equal(validateDataset(ok), ok)
    for (const bad of ["", "Blocks", "1blocks", "_x", "a-b", "a b", "a".repeat(64), "blocks\n"]) {
      assert.throws(() => validateDataset(bad), isBadInput, bad)
    }
  })
})

describe("partition keys", () => {
  it("parsePartitionKey(partitionKey(r)) returns r", () => {
    fc.assert(fc.property(range, (r) => assert.deepEqual(parsePartitionKey(partitionKey(r)), r)), RUNS)
  })
  it("anything not in canonical form is refused with BAD_INPUT", () => {
    // A canonical key with one flaw: a leading zero, a sign or whitespace before or after either number
    const flaw = fc.constantFrom("0", "00", "+", "-", " ", "\t", "\n")
    const spoiled = fc.tuple(range, flaw, fc.integer({ min: 0, max: 3 })).map(([r, f, at]) =>
      [
        `${f}${r.first}-${r.last}`,
        `${r.first}${f}-${r.last}`,
        `${r.first}-${f}${r.last}`,
        `${r.first}-${r.last}${f}`,
      ][at] ?? ""
    )
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 12 }), spoiled), (s) => {
        const canonical = /^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/.exec(s)
        if (canonical !== null && BigInt(canonical[1] ?? "") <= BigInt(canonical[2] ?? "")) {
          assert.equal(partitionKey(parsePartitionKey(s)), s)
        } else {
          assert.throws(() => parsePartitionKey(s), isBadInput)
        }
      }),
      RUNS,
    )
  })
  it("examples", () => {
    assert.equal(partitionKey(blockRange(0n, 9999n)), "0-9999")
    assert.deepEqual(parsePartitionKey("100-199"), blockRange(100n, 199n))
    for (
      const bad of [
        "",
        "1",
        "01-2",
        "1-02",
        "+1-2",
        "-1-2",
        " 1-2",
        "1-2 ",
        "1 -2",
        "2-1",
        "1-2-3",
        "1_2",
        "0x1-2",
      ]
    ) {
      assert.throws(() => parsePartitionKey(bad), isBadInput, bad)
    }
  })
})

describe("object keys", () => {
  it("parseObjectKey(objectKey(...)) returns the pieces", () => {
    fc.assert(
      fc.property(prefix, block, dataset, range, part, sha, (p, chainId, ds, r, n, h) => {
        const key = objectKey(p, chainId, ds, r, n, h)
        assert.deepEqual(parseObjectKey(key), {
          prefix: p,
          chainId,
          dataset: ds,
          range: r,
          part: n,
          digest: h.slice(0, 16),
        })
        assert.ok(key.startsWith(partitionFilePrefix(p, chainId, ds, r)))
        assert.ok(key.startsWith(datasetFolder(p, chainId, ds) + "/"))
        assert.ok(!key.startsWith("/"))
      }),
      RUNS,
    )
  })
  it("no partition's file prefix is a prefix of another partition's", () => {
    // Pairs like 1-2 and 1-23, or 12-3 and 1-23, share leading digits.
    const digits = fc.bigInt(0n, 130n)
    const near = fc.tuple(digits, digits).map(([a, b]) => (a <= b ? blockRange(a, b) : blockRange(b, a)))
    const ds = fc.constantFrom("a", "a_1", "blocks", "b")
    const pair = fc.tuple(fc.oneof(near, range), fc.oneof(near, range))
    // r2 extends r1's last block by a digit (1-2 and 1-23), in either order
    const extended = fc.tuple(near, fc.integer({ min: 0, max: 9 }), fc.boolean()).map(([r, d, swap]) => {
      const longer = blockRange(r.first, BigInt(`${r.last}${d}`))
      return swap ? [longer, r] as const : [r, longer] as const
    })
    fc.assert(
      fc.property(fc.oneof(pair, extended), ds, ds, ([r1, r2], d1, d2) => {
        const p1 = partitionFilePrefix("cold", 1n, d1, r1)
        const p2 = partitionFilePrefix("cold", 1n, d2, r2)
        const same = d1 === d2 && r1.first === r2.first && r1.last === r2.last
        assert.equal(p1.startsWith(p2) || p2.startsWith(p1), same, `${p1} ${p2}`)
      }),
      RUNS,
    )
  })
  it("files with other bytes get other names; the same bytes the same name", () => {
    fc.assert(
      fc.property(range, part, sha, sha, (r, n, h1, h2) => {
        const same = h1.slice(0, 16) === h2.slice(0, 16)
        assert.equal(
          objectKey("cold", 1n, "logs", r, n, h1) === objectKey("cold", 1n, "logs", r, n, h2),
          same,
        )
      }),
      RUNS,
    )
  })
  it("examples", () => {
    const r = blockRange(0n, 9999n)
    const h = "0123456789abcdef" + "0".repeat(48)
    assert.equal(
      objectKey("cold", 1n, "blocks", r, 0, h),
      "cold/1/blocks/blocks_0_9999_0000_0123456789abcdef.parquet",
    )
    assert.equal(
      objectKey("", 10143n, "logs", r, 12345, h),
      "10143/logs/logs_0_9999_12345_0123456789abcdef.parquet",
    )
    assert.equal(objectKey("a/b", 1n, "x", r, 7, h), "a/b/1/x/x_0_9999_0007_0123456789abcdef.parquet")
    assert.throws(() => objectKey("cold", 1n, "blocks", r, 0, "ABCDEF0123456789"), isBadInput)
    assert.throws(() => objectKey("cold", 1n, "blocks", r, 0, "0123"), isBadInput)
    assert.equal(manifestKey("cold", 1n, "blocks"), "cold/1/blocks/manifest.json")
    assert.equal(manifestKey("", 1n, "blocks"), "1/blocks/manifest.json")
    assert.equal(partitionFilePrefix("cold", 1n, "blocks", blockRange(1n, 2n)), "cold/1/blocks/blocks_1_2_")
    // "." and ".." segments too: URLs and paths resolve them away, so the keys would name other objects
    for (const p of ["/cold", "cold/", "a//b", "/", ".", "..", "a/./b", "cold/..", "../x"]) {
      assert.throws(() => datasetFolder(p, 1n, "blocks"), isBadInput, p)
    }
    assert.throws(() => objectKey("cold", 1n, "blocks", r, -1, h), isBadInput)
    assert.throws(() => objectKey("cold", 1n, "blocks", r, 1.5, h), isBadInput)
    assert.throws(() => objectKey("cold", -1n, "blocks", r, 0, h), isBadInput)
    const notObjects = [
      "cold/1/blocks/manifest.json",
      "cold/1/blocks/blocks_0_9999_000.parquet", // part too narrow
      "cold/1/blocks/blocks_0_9999_01234.parquet", // wide part with a leading zero
      "cold/1/blocks/blocks_00_9999_0000.parquet",
      "cold/1/blocks/blocks_9999_0_0000.parquet", // first above last
      "cold/1/blocks/logs_0_9999_0000.parquet", // file of another dataset
      "cold/01/blocks/blocks_0_9999_0000.parquet",
      "/1/blocks/blocks_0_9999_0000.parquet",
      "blocks/blocks_0_9999_0000.parquet",
      "cold/1/blocks/blocks_0_9999_0000_0123456789abcdef.parquet.tmp",
      "cold/1/blocks/blocks_0_9999_0000.parquet", // no digest
      "cold/1/blocks/blocks_0_9999_0000_0123456789ABCDEF.parquet", // upper case
      "cold/1/blocks/blocks_0_9999_0000_0123456789abcde.parquet", // short digest
    ]
    for (const key of notObjects) assert.equal(parseObjectKey(key), undefined, key)
    assert.deepEqual(parseObjectKey("1/a_1/a_1_1_2_0003_00000000deadbeef.parquet"), {
      prefix: "",
      chainId: 1n,
      dataset: "a_1",
      range: blockRange(1n, 2n),
      part: 3,
      digest: "00000000deadbeef",
    })
  })
})
