import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import {
  describeProblem,
  fileProblems,
  gapProblems,
  hotProblems,
  orphanKeys,
  readManifestLeniently,
} from "../../src/core/integrity.ts"
import {
  emptyManifest,
  type ManifestFile,
  type ManifestPartition,
  putPartition,
  serializeManifest,
} from "../../src/core/manifest.ts"
import { objectKey, partitionKey } from "../../src/core/naming.ts"
import { type BlockRange, blockRange } from "../../src/core/range.ts"

const file: ManifestFile = {
  key: "cold/1/blocks/blocks_0_9_0000.parquet",
  part: 0,
  rows: 10,
  bytes: 900,
  sha256: "a".repeat(64),
  min_block: 0n,
  max_block: 9n,
}

function partition(range: BlockRange, rows = 10): ManifestPartition {
  return {
    partition_key: partitionKey(range),
    start_block: range.first,
    end_block: range.last,
    row_count: rows,
    tip: range.last + 200n,
    finality_threshold: 100n,
    schema_hash: "h",
    files: [{
      ...file,
      key: objectKey("cold", 1n, "blocks", range, 0, "0".repeat(64)),
      rows,
      min_block: range.first,
      max_block: range.last,
    }],
  }
}

describe("fileProblems", () => {
  const ok = { size: 900, sha256: "a".repeat(64), footer: { rows: 10, min: 0n, max: 9n } }
  const table: Array<[string, Parameters<typeof fileProblems>[2], string[]]> = [
    ["a sound file", ok, []],
    ["a missing file", { size: undefined }, ["missing_file"]],
    ["another size", { ...ok, size: 901 }, ["size_mismatch"]],
    ["same size, other bytes", { ...ok, sha256: "b".repeat(64) }, ["sha256_mismatch"]],
    ["another row count", { ...ok, footer: { rows: 11, min: 0n, max: 9n } }, ["row_count_mismatch"]],
    ["another block span", { ...ok, footer: { rows: 10, min: 0n, max: 10n } }, ["block_range_mismatch"]],
    ["no rows by the footer", { ...ok, footer: { rows: 0, min: null, max: null } }, [
      "row_count_mismatch",
      "block_range_mismatch",
    ]],
    ["a broken footer", { ...ok, footer: { error: "bad magic" } }, ["footer_unreadable"]],
    ["only its size checked", { size: 900 }, []],
  ]
  for (const [name, seen, kinds] of table) {
    it(`finds ${kinds.join(", ") || "nothing"} for ${name}`, () => {
      const problems = fileProblems("0-9", file, seen)
      assert.deepEqual(problems.map((p) => p.kind), kinds)
      for (const p of problems) assert.ok(describeProblem(p).includes(file.key))
    })
  }
})

describe("readManifestLeniently", () => {
  const sound = putPartition(
    putPartition(emptyManifest(1n, "blocks"), partition(blockRange(0n, 9n))).manifest,
    partition(blockRange(20n, 29n)),
  ).manifest

  it("returns a sound manifest as parseManifest does, with no problems", () => {
    const read = readManifestLeniently(serializeManifest(sound))
    assert.deepEqual(read.problems, [])
    assert.equal(read.partitions.length, 2)
    assert.deepEqual(gapProblems(read.partitions), [{ kind: "gap", first: "10", last: "19", blocks: "10" }])
  })

  it("names overlapping partitions and still returns each of them", () => {
    const json = JSON.parse(serializeManifest(sound))
    const overlapping = JSON.parse(
      serializeManifest(putPartition(emptyManifest(1n, "blocks"), partition(blockRange(5n, 24n))).manifest),
    )
    json.partitions.splice(1, 0, overlapping.partitions[0])
    const read = readManifestLeniently(JSON.stringify(json))
    assert.equal(read.manifest, undefined)
    assert.equal(read.partitions.length, 3)
    assert.deepEqual(read.problems.map((p) => p.kind), ["manifest_invalid", "overlap", "overlap"])
    assert.deepEqual(read.problems.slice(1), [
      { kind: "overlap", partition: "5-24", other: "0-9" },
      { kind: "overlap", partition: "20-29", other: "5-24" },
    ])
  })

  it("reports a broken partition by its index and keeps the others", () => {
    const json = JSON.parse(serializeManifest(sound))
    json.partitions[1].row_count = 99
    const read = readManifestLeniently(JSON.stringify(json))
    assert.deepEqual(read.partitions.map((p) => p.partition_key), ["0-9"])
    const bad = read.problems.find((p) => p.kind === "partition_invalid")
    assert.ok(
      bad && bad.kind === "partition_invalid" && bad.index === 1 && bad.detail.includes("partitions[1]"),
    )
  })

  it("reports text that is not JSON", () => {
    const read = readManifestLeniently("{")
    assert.deepEqual(read.problems.map((p) => p.kind), ["manifest_invalid"])
    assert.deepEqual(read.partitions, [])
  })
})

describe("orphanKeys", () => {
  it("is exactly the listed keys that are neither the manifest nor a partition's file", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(50), fc.nat(5)), { maxLength: 8 }),
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 8 }),
        (specs, extra) => {
          const parts = specs.map(([a, n]) => partition(blockRange(BigInt(a * 10), BigInt(a * 10 + n))))
          const named = parts.flatMap((p) => p.files.map((f) => f.key))
          const listed = [...named, "m.json", ...extra.map((e) => `cold/1/blocks/x${e}`)]
          const orphans = orphanKeys(listed, "m.json", parts)
          const extraKeys = extra.map((e) => `cold/1/blocks/x${e}`)
          assert.deepEqual(orphans, [...extraKeys].sort())
          assert.ok(orphans.every((k) => !named.includes(k) && k !== "m.json"))
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe("hotProblems", () => {
  it("flags a differing hot count as late rows, notes an equal one, ignores zero", () => {
    const parts = [
      partition(blockRange(0n, 9n), 10),
      partition(blockRange(10n, 19n), 10),
      partition(blockRange(20n, 29n), 10),
    ]
    const { problems, notes } = hotProblems(parts, new Map([["0-9", 0n], ["10-19", 10n], ["20-29", 12n]]))
    assert.deepEqual(problems, [{ kind: "late_rows", partition: "20-29", cold_rows: 10, hot_rows: "12" }])
    assert.deepEqual(notes, [{ kind: "not_deleted", partition: "10-19", rows: 10 }])
  })
})
