/**
 * The manifest.json of one dataset folder: which partitions exist and which files hold them.
 *
 * On the wire, block numbers (chain id, start/end, tip, threshold, min/max block) are decimal strings,
 * because uint64 chains can pass 2^53; counts (rows, bytes, part) are JSON numbers, always below 2^53.
 * In memory, block numbers are bigint. No wall-clock time is stored, so re-running unchanged data writes
 * the same bytes. Pure, no I/O.
 *
 * @example
 * ```ts
 * import { emptyManifest, gaps, parseManifest, serializeManifest } from "./manifest.ts"
 * const text = serializeManifest(emptyManifest(1n, "blocks")) // '{\n  "version": 1,\n  "chain_id": "1", …'
 * gaps(parseManifest(text), { first: 0n, last: 9999n }) // [{ first: 0n, last: 9999n }]
 * ```
 */
import { z } from "zod"
import { CompactError } from "../errors.ts"
import { datasetFolder, isDatasetName } from "./naming.ts"
import { type BlockRange, compareRanges, mergeRanges, overlaps, subtractRanges } from "./range.ts"

const blockNumber = z.codec(z.string().regex(/^(0|[1-9][0-9]*)$/, "expected a decimal string"), z.bigint(), {
  decode: (text) => BigInt(text),
  encode: (n) => n.toString(),
})
const count = z.int().nonnegative() // rows, bytes or part number; a JSON number below 2^53
const fileSchema = z.strictObject({
  key: z.string().min(1),
  part: count,
  rows: count,
  bytes: count,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
  min_block: blockNumber.nullable(), // null iff rows is 0
  max_block: blockNumber.nullable(),
})
const tableSchema = z.strictObject({
  hash: z.string().min(1),
  columns: z.array(z.strictObject({
    name: z.string().min(1),
    pg_type: z.string().min(1),
    parquet_type: z.string().min(1),
    nullable: z.boolean(),
  })),
})
/**
 * What the partition's files were made from: the hot rows' count and fingerprint (a sum over the row
 * versions, see src/pg/fingerprint.ts) in the snapshot that was copied, and the encoding options.
 * Hot rows with this fingerprint are provably in the files; absent in manifests of version 0.1.
 */
const sourceSchema = z.strictObject({
  rows: count,
  fingerprint: z.string().regex(/^-?(0|[1-9][0-9]*)$/, "expected a decimal integer"),
  encoding: z.string(),
})
const partitionSchema = z.strictObject({
  partition_key: z.string(),
  start_block: blockNumber, // inclusive
  end_block: blockNumber, // inclusive
  row_count: count,
  tip: blockNumber, // chain tip when written
  finality_threshold: blockNumber, // blocks
  schema_hash: z.string().min(1),
  source: sourceSchema.optional(),
  files: z.array(fileSchema),
})
const manifestSchema = z.strictObject({
  version: z.literal(1),
  chain_id: blockNumber,
  dataset: z.string().refine(isDatasetName, 'expected a dataset name like "blocks"'),
  schema: tableSchema.nullable(), // the schema of the latest partition written
  partitions: z.array(partitionSchema), // sorted by start_block, disjoint
  updated_by: z.string(),
})

/** One Parquet file of a partition. */
export type ManifestFile = z.output<typeof fileSchema>
/** What a partition was made from (hot rows' count and fingerprint, encoding). */
export type PartitionSource = z.output<typeof sourceSchema>
/** The table schema: its hash and its columns. */
export type TableSchema = z.output<typeof tableSchema>
/** One partition: an inclusive block range and the files that hold its rows. */
export type ManifestPartition = z.output<typeof partitionSchema>
/** A whole manifest.json, block numbers as bigint. */
export type Manifest = z.output<typeof manifestSchema>
/** A new manifest and the keys of files it no longer names (safe to delete after it is written). */
export interface ManifestChange {
  readonly manifest: Manifest
  readonly staleKeys: string[]
}

/** A manifest with no partitions and no schema yet; throws BAD_INPUT for a bad chain id or dataset. */
export function emptyManifest(chainId: bigint, dataset: string, updatedBy = "parquet_compact"): Manifest {
  datasetFolder("", chainId, dataset) // validates both
  return { version: 1, chain_id: chainId, dataset, schema: null, partitions: [], updated_by: updatedBy }
}

/** The block range of a partition. */
export function partitionRangeOf(p: ManifestPartition): BlockRange {
  return { first: p.start_block, last: p.end_block }
}

/** Reads manifest.json; throws INTEGRITY naming the wrong field when it is corrupt. */
export function parseManifest(text: string): Manifest {
  const fail = (detail: string, cause?: unknown) =>
    new CompactError(
      "INTEGRITY",
      `Cannot read manifest: ${detail}; restore manifest.json from a previous version of the object`,
      { cause },
    )
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw fail("it is not valid JSON", cause)
  }
  const result = manifestSchema.safeParse(json) // parse runs the codecs string -> bigint
  if (!result.success) throw fail(describeIssue(result.error), result.error)
  const problem = manifestProblem(result.data)
  if (problem !== undefined) throw fail(problem)
  return result.data
}

/** manifest.json text: fixed key order, partitions by start, files by part, 2-space indent, final newline. */
export function serializeManifest(m: Manifest): string {
  const normal = { ...m, partitions: m.partitions.map(sortFiles).sort(byStart) }
  const fail = (detail: string) =>
    new CompactError(
      "INTEGRITY",
      `Cannot write manifest of "${m.dataset}": ${detail}; fix the caller that built it`,
    )
  const problem = manifestProblem(normal)
  if (problem !== undefined) throw fail(problem)
  const result = manifestSchema.safeEncode(normal)
  if (!result.success) throw fail(describeIssue(result.error))
  return JSON.stringify(result.data, null, 2) + "\n"
}

/**
 * Adds `p`, replacing the partition with the same key. Throws INTEGRITY when `p` is inconsistent or
 * overlaps a partition with another key. With `schema`, that becomes the manifest's latest schema.
 */
export function putPartition(m: Manifest, p: ManifestPartition, schema?: TableSchema): ManifestChange {
  const key = p.partition_key
  const fail = (detail: string) =>
    new CompactError(
      "INTEGRITY",
      `Cannot add partition "${key}" to the manifest of "${m.dataset}" on chain "${m.chain_id}": ${detail}`,
    )
  const next = sortFiles(p)
  const wire = partitionSchema.safeEncode(next) // catches what only serializing would: sha256, counts
  const problem = wire.success ? partitionProblem(next, "partition") : describeIssue(wire.error)
  if (problem !== undefined) throw fail(`${problem}; rebuild the partition`)
  if (schema !== undefined && schema.hash !== p.schema_hash) {
    throw fail(
      `its schema hash "${p.schema_hash}" differs from the schema given "${schema.hash}"; pass its own schema`,
    )
  }
  const others = m.partitions.filter((q) => q.partition_key !== key)
  const clash = others.find((q) => overlaps(partitionRangeOf(q), partitionRangeOf(next)))
  if (clash !== undefined) {
    throw fail(
      `it overlaps partition "${clash.partition_key}"; remove partition "${clash.partition_key}" first or compact a range outside it`,
    )
  }
  const otherKeys = new Set(others.flatMap((q) => q.files.map((f) => f.key)))
  const shared = next.files.find((f) => otherKeys.has(f.key))
  if (shared !== undefined) {
    throw fail(`file "${shared.key}" already belongs to another partition; rename the file`)
  }
  const newKeys = new Set(next.files.map((f) => f.key))
  const old = m.partitions.find((q) => q.partition_key === key)
  const staleKeys = (old?.files ?? []).map((f) => f.key).filter((k) => !newKeys.has(k))
  const partitions = [...others, next].sort(byStart)
  return { manifest: { ...m, schema: schema ?? m.schema, partitions }, staleKeys }
}

/** Drops the partition with `key` (if any); its files become stale. */
export function removePartition(m: Manifest, key: string): ManifestChange {
  const old = findPartition(m, key)
  const partitions = m.partitions.filter((q) => q.partition_key !== key)
  return { manifest: { ...m, partitions }, staleKeys: (old?.files ?? []).map((f) => f.key) }
}

/** The partition with `key`, if any. */
export function findPartition(m: Manifest, key: string): ManifestPartition | undefined {
  return m.partitions.find((q) => q.partition_key === key)
}

/** The blocks the manifest covers, merged into sorted disjoint ranges. */
export function coverage(m: Manifest): BlockRange[] {
  return mergeRanges(m.partitions.map(partitionRangeOf))
}

/** The parts of `range` that no partition covers yet. */
export function gaps(m: Manifest, range: BlockRange): BlockRange[] {
  return subtractRanges(range, coverage(m))
}

function sortFiles(p: ManifestPartition): ManifestPartition {
  return { ...p, files: [...p.files].sort((a, b) => a.part - b.part) }
}

function byStart(a: ManifestPartition, b: ManifestPartition): number {
  return compareRanges(partitionRangeOf(a), partitionRangeOf(b))
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue === undefined) return "it does not match the manifest format"
  const field = issue.path.map((k, i) =>
    typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`
  )
  return field.length === 0 ? issue.message : `field "${field.join("")}" is wrong (${issue.message})`
}

/** What is wrong with a manifest's invariants, or undefined when they hold. */
function manifestProblem(m: Manifest): string | undefined {
  const seen = new Set<string>()
  for (const [i, p] of m.partitions.entries()) {
    const problem = partitionProblem(p, `partitions[${i}]`)
    if (problem !== undefined) return problem
    const prev = m.partitions[i - 1]
    if (prev !== undefined && prev.end_block >= p.start_block) {
      return `partition "${p.partition_key}" overlaps or precedes "${prev.partition_key}" (partitions must be sorted and disjoint)`
    }
    for (const f of p.files) {
      if (seen.has(f.key)) return `file "${f.key}" is listed twice`
      seen.add(f.key)
    }
  }
  return undefined
}

/** What is wrong with one partition, named by `field`, or undefined when it is consistent. */
function partitionProblem(p: ManifestPartition, field: string): string | undefined {
  const blocks = `${p.start_block}-${p.end_block}`
  if (p.start_block > p.end_block) return `field "${field}" starts after it ends ("${blocks}")`
  if (p.partition_key !== blocks) {
    return `field "${field}.partition_key" is "${p.partition_key}", not "${blocks}"`
  }
  if (p.end_block > p.tip - p.finality_threshold) {
    return `field "${field}.end_block" is "${p.end_block}", above the final tip of tip "${p.tip}" minus threshold "${p.finality_threshold}"`
  }
  const rows = p.files.reduce((sum, f) => sum + f.rows, 0)
  if (rows !== p.row_count) {
    return `field "${field}.row_count" is ${p.row_count} but its files hold ${rows} rows`
  }
  for (const [j, f] of p.files.entries()) {
    const at = `${field}.files[${j}]`
    const prev = p.files[j - 1]
    if (prev !== undefined && prev.part >= f.part) {
      return `field "${at}.part" is ${f.part}, not above ${prev.part}`
    }
    if (p.files.findIndex((g) => g.key === f.key) !== j) return `field "${at}.key" repeats "${f.key}"`
    if ((f.rows === 0) !== (f.min_block === null) || (f.rows === 0) !== (f.max_block === null)) {
      return `field "${at}" has ${f.rows} rows but min_block "${f.min_block}" and max_block "${f.max_block}"`
    }
    if (f.min_block !== null && f.max_block !== null) {
      if (f.min_block < p.start_block || f.min_block > f.max_block || f.max_block > p.end_block) {
        return `field "${at}" spans blocks "${f.min_block}-${f.max_block}", outside "${blocks}"`
      }
    }
  }
  return undefined
}
