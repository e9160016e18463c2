import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { CompactError } from "../../src/errors.ts"
import {
  coverage,
  emptyManifest,
  findPartition,
  gaps,
  type Manifest,
  type ManifestPartition,
  parseManifest,
  partitionRangeOf,
  putPartition,
  removePartition,
  serializeManifest,
  type TableSchema,
} from "../../src/core/manifest.ts"
import { objectKey, partitionKey } from "../../src/core/naming.ts"
import { type BlockRange, blockRange, contains, overlaps } from "../../src/core/range.ts"

const RUNS = { numRuns: 500 }
const isCode = (code: string, text = "") => (e: unknown) =>
  e instanceof CompactError && e.code === code && e.message.includes(text)

/** Builds a consistent partition: one file per entry of `rows`, keys named by objectKey. */
function partition(
  range: BlockRange,
  rows: number[],
  opts: { prefix?: string; hash?: string; seed?: number } = {},
) {
  const sha = (part: number) => ((opts.seed ?? 0) + part).toString(16).padStart(16, "0").repeat(4)
  const files = rows.map((n, part) => ({
    key: objectKey(opts.prefix ?? "cold", 1n, "blocks", range, part, sha(part)),
    part,
    rows: n,
    bytes: 100 + n * 10,
    sha256: sha(part),
    min_block: n === 0 ? null : range.first,
    max_block: n === 0 ? null : range.last,
  }))
  return {
    partition_key: partitionKey(range),
    start_block: range.first,
    end_block: range.last,
    row_count: rows.reduce((a, b) => a + b, 0),
    tip: range.last + 150n,
    finality_threshold: 100n,
    schema_hash: opts.hash ?? "h1",
    files,
  } satisfies ManifestPartition
}

// Ranges in 0..MAX, often the same few (same key, other files) and often overlapping.
const MAX = 320n
const fixed = [blockRange(0n, 99n), blockRange(100n, 199n), blockRange(50n, 149n), blockRange(0n, 199n)]
const range = fc.oneof(
  fc.constantFrom(...fixed),
  fc.tuple(fc.bigInt(0n, MAX - 60n), fc.bigInt(0n, 60n)).map(([a, n]) => blockRange(a, a + n)),
)
const spec = fc.record({
  range,
  rows: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 3 }),
  prefix: fc.constantFrom("cold", "tmp"),
  hash: fc.constantFrom("h1", "h2"),
  seed: fc.nat(1000),
})
const part = spec.map(({ range, rows, ...opts }) => partition(range, rows, opts))

/** Puts each partition in turn, skipping the ones refused for overlap. */
function build(ps: readonly ManifestPartition[]): Manifest {
  let m = emptyManifest(1n, "blocks")
  for (const p of ps) {
    try {
      m = putPartition(m, p).manifest
    } catch (e) {
      if (!isCode("INTEGRITY")(e)) throw e
    }
  }
  return m
}
const manifest = fc.array(part, { maxLength: 8 }).map(build)
/** A manifest and a partition to put, half the time over the range of a partition it holds. */
const manifestAndPart = fc.tuple(manifest, spec, fc.nat(), fc.boolean()).map(([m, s, i, reuse]) => {
  const old = reuse ? m.partitions[i % Math.max(1, m.partitions.length)] : undefined
  return [m, partition(old === undefined ? s.range : partitionRangeOf(old), s.rows, s)] as const
})
const tryPut = (m: Manifest, p: ManifestPartition) => {
  try {
    return putPartition(m, p)
  } catch (e) {
    if (isCode("INTEGRITY")(e)) return undefined
    throw e
  }
}
const keysOf = (m: Manifest) => m.partitions.flatMap((p) => p.files.map((f) => f.key))

function assertSortedDisjoint(m: Manifest): void {
  for (const [i, p] of m.partitions.entries()) {
    const prev = m.partitions[i - 1]
    if (prev !== undefined) {
      assert.ok(prev.end_block < p.start_block, `${prev.partition_key} ${p.partition_key}`)
    }
  }
}

describe("putPartition", () => {
  it("twice equals once, to the byte", () => {
    fc.assert(
      fc.property(manifestAndPart, ([m, p]) => {
        const once = tryPut(m, p)
        if (once === undefined) return
        const twice = putPartition(once.manifest, p)
        assert.equal(serializeManifest(twice.manifest), serializeManifest(once.manifest))
        assert.deepEqual(twice.manifest, once.manifest)
        assert.deepEqual(twice.staleKeys, [])
      }),
      RUNS,
    )
  })
  it("leaves every other partition untouched", () => {
    fc.assert(
      fc.property(manifestAndPart, ([m, p]) => {
        const put = tryPut(m, p)
        if (put === undefined) return
        const others = (x: Manifest) => x.partitions.filter((q) => q.partition_key !== p.partition_key)
        assert.deepEqual(others(put.manifest), others(m))
        assert.deepEqual(findPartition(put.manifest, p.partition_key), p)
        assert.equal(put.manifest.partitions.length, others(m).length + 1)
      }),
      RUNS,
    )
  })
  it("accepts or refuses like a map of disjoint ranges, and coverage is their union", () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 10 }), (ps) => {
        const model = new Map<string, ManifestPartition>()
        let m = emptyManifest(1n, "blocks")
        for (const p of ps) {
          const clash = [...model.values()].some((q) =>
            q.partition_key !== p.partition_key && overlaps(partitionRangeOf(q), partitionRangeOf(p))
          )
          if (clash) {
            assert.throws(() => putPartition(m, p), isCode("INTEGRITY", "overlaps partition"))
            continue
          }
          m = putPartition(m, p).manifest
          model.set(p.partition_key, p)
          assertSortedDisjoint(m)
        }
        const want = [...model.values()].sort((a, b) => Number(a.start_block - b.start_block))
        assert.deepEqual(m.partitions, want)
        const ranges = want.map(partitionRangeOf)
        const holes = gaps(m, blockRange(0n, MAX + 10n))
        const cov = coverage(m)
        for (let b = 0n; b <= MAX + 10n; b++) {
          const inUnion = ranges.some((r) => contains(r, b))
          assert.equal(cov.some((r) => contains(r, b)), inUnion, `block ${b}`)
          assert.equal(holes.some((r) => contains(r, b)), !inUnion, `block ${b}`)
        }
        for (const [i, r] of cov.entries()) assert.ok((cov[i - 1]?.last ?? -2n) + 1n < r.first)
      }),
      RUNS,
    )
  })
  it("reports as stale exactly the old files the new manifest no longer names", () => {
    fc.assert(
      fc.property(manifestAndPart, ([m, p]) => {
        const put = tryPut(m, p)
        if (put === undefined) return
        const oldKeys = findPartition(m, p.partition_key)?.files.map((f) => f.key) ?? []
        const newKeys = new Set(p.files.map((f) => f.key))
        assert.deepEqual(put.staleKeys, oldKeys.filter((k) => !newKeys.has(k)))
        const now = new Set(keysOf(put.manifest))
        for (const k of keysOf(m)) assert.ok(now.has(k) !== put.staleKeys.includes(k), k) // kept xor stale
      }),
      RUNS,
    )
  })
  it("refuses inconsistent partitions and schema mismatches with INTEGRITY (examples)", () => {
    const m = emptyManifest(1n, "blocks")
    const p = partition(blockRange(0n, 99n), [3, 4])
    const schema: TableSchema = { hash: "h2", columns: [] }
    const table: [ManifestPartition, string][] = [
      [{ ...p, row_count: 8 }, "row_count"],
      [{ ...p, files: [{ ...p.files[0]!, sha256: "x" }, p.files[1]!] }, `field "files[0].sha256"`],
      [{ ...p, row_count: -1 }, `field "row_count"`],
      [{ ...p, partition_key: "0-98" }, "partition_key"],
      [{ ...p, tip: 150n }, "end_block"], // 99 > 150 - 100
      [{ ...p, files: [p.files[0]!, { ...p.files[1]!, key: p.files[0]!.key }] }, "repeats"],
      [{ ...p, files: [p.files[0]!, { ...p.files[1]!, part: 0 }] }, "part"],
      [{ ...p, files: [{ ...p.files[0]!, max_block: 100n }, p.files[1]!] }, "outside"],
    ]
    for (const [bad, text] of table) {
      assert.throws(() => putPartition(m, bad), isCode("INTEGRITY", text), text)
    }
    assert.throws(() => putPartition(m, p, schema), isCode("INTEGRITY", "schema hash"))
    const withSchema = putPartition(m, { ...p, schema_hash: "h2" }, schema).manifest
    assert.deepEqual(withSchema.schema, schema)
    assert.throws(
      () => putPartition(withSchema, partition(blockRange(50n, 149n), [1])),
      isCode("INTEGRITY", 'it overlaps partition "0-99"; remove partition "0-99" first'),
    )
  })
})

describe("removePartition", () => {
  it("drops the partition and returns its files as stale", () => {
    fc.assert(
      fc.property(manifestAndPart, ([m, p]) => {
        const put = tryPut(m, p)
        if (put === undefined) return
        const removed = removePartition(put.manifest, p.partition_key)
        assert.equal(findPartition(removed.manifest, p.partition_key), undefined)
        assert.deepEqual(removed.staleKeys, p.files.map((f) => f.key))
        assert.deepEqual(removePartition(removed.manifest, p.partition_key).staleKeys, [])
      }),
      RUNS,
    )
  })
})

describe("serializeManifest and parseManifest", () => {
  it("round trip: parse(serialize(m)) is m and serialize(parse(text)) is text", () => {
    fc.assert(
      fc.property(manifest, (m) => {
        const text = serializeManifest(m)
        assert.deepEqual(parseManifest(text), m)
        assert.equal(serializeManifest(parseManifest(text)), text)
        assert.equal(text, JSON.stringify(JSON.parse(text), null, 2) + "\n")
      }),
      RUNS,
    )
  })
  it("equal content gives equal bytes, whatever the order of puts or of the arrays", () => {
    const order = fc.array(fc.nat(), { minLength: 8, maxLength: 8 })
    fc.assert(
      fc.property(manifest, order, order, (m, o1, o2) => {
        const shuffle = <T>(xs: readonly T[], o: number[]) =>
          xs.map((x, i) => ({ x, k: o[i] ?? 0 })).sort((a, b) => a.k - b.k).map(({ x }) => x)
        const viaPuts = shuffle(m.partitions, o1).reduce(
          (acc, p) => putPartition(acc, p).manifest,
          emptyManifest(1n, "blocks"),
        )
        const partitions = shuffle(m.partitions, o1).map((p) => ({ ...p, files: shuffle(p.files, o2) }))
        assert.equal(serializeManifest(viaPuts), serializeManifest(m))
        assert.equal(serializeManifest({ ...m, partitions }), serializeManifest(m))
      }),
      RUNS,
    )
  })
})

describe("parseManifest (examples)", () => {
  const good = putPartition(emptyManifest(10143n, "blocks"), partition(blockRange(0n, 99n), [2, 0])).manifest
  const text = serializeManifest(good)

  it("writes the documented format", () => {
    const want = {
      version: 1,
      chain_id: "10143",
      dataset: "blocks",
      schema: null,
      partitions: [{
        partition_key: "0-99",
        start_block: "0",
        end_block: "99",
        row_count: 2,
        tip: "249",
        finality_threshold: "100",
        schema_hash: "h1",
        files: [
          {
            key: "cold/1/blocks/blocks_0_99_0000_0000000000000000.parquet",
            part: 0,
            rows: 2,
            bytes: 120,
            sha256: "0".repeat(64),
            min_block: "0",
            max_block: "99",
          },
          {
            key: "cold/1/blocks/blocks_0_99_0001_0000000000000001.parquet",
            part: 1,
            rows: 0,
            bytes: 100,
            sha256: "0000000000000001".repeat(4),
            min_block: null,
            max_block: null,
          },
        ],
      }],
      updated_by: "parquet_compact",
    }
    assert.equal(text, JSON.stringify(want, null, 2) + "\n")
    assert.equal(
      serializeManifest(emptyManifest(1n, "logs")),
      `{
  "version": 1,
  "chain_id": "1",
  "dataset": "logs",
  "schema": null,
  "partitions": [],
  "updated_by": "parquet_compact"
}
`,
    )
  })
  it("keeps block numbers above 2^53 exact", () => {
    const big = blockRange(2n ** 63n, 2n ** 64n - 1000n)
    const m = putPartition(emptyManifest(2n ** 64n - 1n, "blocks"), partition(big, [1])).manifest
    assert.deepEqual(parseManifest(serializeManifest(m)), m)
    assert.ok(serializeManifest(m).includes(`"start_block": "9223372036854775808"`))
  })
  it("refuses corrupt manifests with INTEGRITY, naming the field", () => {
    // deno-lint-ignore no-explicit-any -- the cases poke arbitrary fields of the parsed JSON
    const edit = (f: (j: any) => void) => {
      const j = JSON.parse(text)
      f(j)
      return JSON.stringify(j)
    }
    const second = partition(blockRange(100n, 199n), [1])
    const two = serializeManifest(putPartition(good, second).manifest)
    const table: [string, string][] = [
      ["{", "not valid JSON"],
      [edit((j) => (j.version = 2)), `field "version"`],
      [edit((j) => (j.chain_id = 10143)), `field "chain_id"`],
      [edit((j) => (j.dataset = "Blocks")), `field "dataset"`],
      [edit((j) => (j.partitions[0].start_block = "00")), `field "partitions[0].start_block"`],
      [edit((j) => (j.partitions[0].end_block = "-1")), `field "partitions[0].end_block"`],
      [edit((j) => (j.partitions[0].row_count = 3)), `field "partitions[0].row_count"`],
      [edit((j) => (j.partitions[0].files[0].rows = 1.5)), `field "partitions[0].files[0].rows"`],
      [edit((j) => (j.partitions[0].files[0].sha256 = "x")), `field "partitions[0].files[0].sha256"`],
      [
        edit((j) => (j.partitions[0].files[1].key = j.partitions[0].files[0].key)),
        `partitions[0].files[1].key`,
      ],
      [edit((j) => (j.partitions[0].files[1].min_block = "5")), `field "partitions[0].files[1]"`],
      [edit((j) => (j.partitions[0].partition_key = "0-98")), `field "partitions[0].partition_key"`],
      [edit((j) => (j.partitions[0].tip = "198")), `field "partitions[0].end_block"`],
      [edit((j) => (j.partitions[0].extra = 1)), `field "partitions[0]"`],
      [edit((j) => delete j.updated_by), `field "updated_by"`],
      [
        two.replace(`"100-199"`, `"50-199"`).replace(`"start_block": "100"`, `"start_block": "50"`),
        "overlaps",
      ],
      [edit((j) => j.partitions.unshift(JSON.parse(two).partitions[1])), "sorted and disjoint"],
    ]
    for (const [bad, field] of table) {
      assert.throws(() => parseManifest(bad), isCode("INTEGRITY", field), field)
      assert.throws(() => parseManifest(bad), (e) => e instanceof Error && !e.message.endsWith("."))
    }
  })
})
