/**
 * What `verify` can find wrong with a dataset's cold storage, as plain data: the problems, and the pure
 * functions that derive them from what was read (manifest text, object listing, each file's size,
 * sha256 and footer, hot row counts). Block numbers are decimal strings, so a problem prints as JSON
 * as it is. Pure, no I/O.
 *
 * @example
 * ```ts
 * import { describeProblem, fileProblems } from "./integrity.ts"
 * const file = { key: "cold/1/blocks/b.parquet", part: 0, rows: 10, bytes: 900, sha256: "0".repeat(64), min_block: 0n, max_block: 9n }
 * fileProblems("0-9", file, { size: undefined }).map(describeProblem)
 * // ['missing file "cold/1/blocks/b.parquet" of partition 0-9']
 * ```
 */
import { CompactError } from "../errors.ts"
import {
  type Manifest,
  type ManifestFile,
  type ManifestPartition,
  parseManifest,
  partitionRangeOf,
} from "./manifest.ts"
import { formatRange } from "./range.ts"
import { coldGaps, hotCountState, overlappingPartitions } from "./coverage.ts"

/** One thing wrong with cold storage. */
export type Problem =
  | { readonly kind: "manifest_missing"; readonly key: string }
  | { readonly kind: "manifest_invalid"; readonly detail: string }
  | { readonly kind: "partition_invalid"; readonly index: number; readonly detail: string }
  | { readonly kind: "overlap"; readonly partition: string; readonly other: string }
  | { readonly kind: "missing_file"; readonly partition: string; readonly key: string }
  | FileMismatch<"size_mismatch", number>
  | FileMismatch<"sha256_mismatch", string>
  | FileMismatch<"row_count_mismatch", number>
  | FileMismatch<"block_range_mismatch", string>
  | {
    readonly kind: "footer_unreadable"
    readonly partition: string
    readonly key: string
    readonly detail: string
  }
  | { readonly kind: "gap"; readonly first: string; readonly last: string; readonly blocks: string }
  | { readonly kind: "orphan"; readonly key: string; readonly bytes: number | null }
  | {
    readonly kind: "late_rows"
    readonly partition: string
    readonly cold_rows: number
    readonly hot_rows: string
  }

/** A file whose recorded `expected` value differs from the `actual` one read from storage. */
export interface FileMismatch<K extends string, V> {
  readonly kind: K
  readonly partition: string
  readonly key: string
  readonly expected: V
  readonly actual: V
}

/** Something worth knowing that is not a problem. */
export type Note = { readonly kind: "not_deleted"; readonly partition: string; readonly rows: number }

/** What was read of one file; a field left out was not checked. */
export interface FileObservation {
  /** Bytes of the object; undefined when it does not exist. */
  readonly size: number | undefined
  readonly sha256?: string
  /** Row count and block column min/max by the footer (null min/max: no rows), or why it is unreadable. */
  readonly footer?: { readonly rows: number; readonly min: bigint | null; readonly max: bigint | null } | {
    readonly error: string
  }
}

/** The problems of one file given what was read of it. */
export function fileProblems(partition: string, f: ManifestFile, seen: FileObservation): Problem[] {
  const at = { partition, key: f.key }
  if (seen.size === undefined) return [{ kind: "missing_file", ...at }]
  const problems: Problem[] = []
  if (seen.size !== f.bytes) {
    problems.push({ kind: "size_mismatch", ...at, expected: f.bytes, actual: seen.size })
  }
  if (seen.sha256 !== undefined && seen.sha256 !== f.sha256) {
    problems.push({ kind: "sha256_mismatch", ...at, expected: f.sha256, actual: seen.sha256 })
  }
  const footer = seen.footer
  if (footer === undefined) return problems
  if ("error" in footer) return [...problems, { kind: "footer_unreadable", ...at, detail: footer.error }]
  if (footer.rows !== f.rows) {
    problems.push({ kind: "row_count_mismatch", ...at, expected: f.rows, actual: footer.rows })
  }
  const expected = blockSpan(f.min_block, f.max_block)
  const actual = blockSpan(footer.min, footer.max)
  if (expected !== actual) problems.push({ kind: "block_range_mismatch", ...at, expected, actual })
  return problems
}

/** A manifest read as far as it can be: the partitions that parse on their own, and what is wrong. */
export interface LenientManifest {
  /** The whole manifest when it parses; undefined otherwise. */
  readonly manifest: Manifest | undefined
  /** Every partition that parses on its own, in file order. */
  readonly partitions: readonly ManifestPartition[]
  readonly problems: readonly Problem[]
}

/**
 * Reads manifest.json like {@link parseManifest}, but instead of throwing on the first fault it reports
 * it, then parses each partition on its own (with the same parser) so that overlapping or broken
 * partitions are named and the sound ones can still be checked.
 */
export function readManifestLeniently(text: string): LenientManifest {
  try {
    const manifest = parseManifest(text)
    return { manifest, partitions: manifest.partitions, problems: [] }
  } catch (error) {
    if (!(error instanceof CompactError)) throw error
    const problems: Problem[] = [{ kind: "manifest_invalid", detail: error.message }]
    const raw = tryJson(text)
    const list = isRecord(raw) && Array.isArray(raw.partitions) ? raw.partitions : []
    const partitions: ManifestPartition[] = []
    for (const [index, p] of list.entries()) {
      try {
        const alone = parseManifest(JSON.stringify({ ...(raw as object), partitions: [p] }))
        partitions.push(...alone.partitions)
      } catch (cause) {
        if (!(cause instanceof CompactError)) throw cause
        // the message names the partition as partitions[0] of the one-partition manifest
        const detail = cause.message.replaceAll("partitions[0]", `partitions[${index}]`)
        problems.push({ kind: "partition_invalid", index, detail })
      }
    }
    const keyed = partitions.map((p) => ({ key: p.partition_key, range: partitionRangeOf(p) }))
    for (const [a, b] of overlappingPartitions(keyed)) {
      problems.push({ kind: "overlap", partition: b.key, other: a.key })
    }
    return { manifest: undefined, partitions, problems }
  }
}

/** Gaps between committed partitions, as problems. */
export function gapProblems(partitions: readonly ManifestPartition[]): Problem[] {
  return coldGaps(partitions.map(partitionRangeOf)).map((r) => ({
    kind: "gap",
    first: r.first.toString(),
    last: r.last.toString(),
    blocks: (r.last - r.first + 1n).toString(),
  }))
}

/** Keys under the dataset folder that are neither manifest.json nor named by a partition, sorted. */
export function orphanKeys(
  listed: readonly string[],
  manifestKey: string,
  partitions: readonly ManifestPartition[],
): string[] {
  const named = new Set(partitions.flatMap((p) => p.files.map((f) => f.key)))
  return listed.filter((k) => k !== manifestKey && !named.has(k)).sort()
}

/** Late rows (a problem) and not-yet-deleted partitions (a note), from each partition's hot row count. */
export function hotProblems(
  partitions: readonly ManifestPartition[],
  hotRows: ReadonlyMap<string, bigint>,
): { problems: Problem[]; notes: Note[] } {
  const problems: Problem[] = []
  const notes: Note[] = []
  for (const p of partitions) {
    const hot = hotRows.get(p.partition_key) ?? 0n
    const state = hotCountState(p.row_count, hot)
    if (state === "late_rows") {
      problems.push({
        kind: "late_rows",
        partition: p.partition_key,
        cold_rows: p.row_count,
        hot_rows: hot.toString(),
      })
    } else if (state === "not_deleted") {
      notes.push({ kind: "not_deleted", partition: p.partition_key, rows: p.row_count })
    }
  }
  return { problems, notes }
}

const REPAIR =
  "restore the object's previous version, or compact the partition again if hot storage still holds it"

/** One line for people, action to take included. */
export function describeProblem(p: Problem): string {
  switch (p.kind) {
    case "manifest_missing":
      return `no manifest at "${p.key}": every object under the folder is an orphan`
    case "manifest_invalid":
      return `manifest unreadable: ${p.detail}`
    case "partition_invalid":
      return `partitions[${p.index}] unreadable: ${p.detail}`
    case "overlap":
      return `partition ${p.partition} overlaps partition ${p.other}: remove one of them from the manifest`
    case "missing_file":
      return `missing file "${p.key}" of partition ${p.partition}; ${REPAIR}`
    case "size_mismatch":
      return `file "${p.key}" of partition ${p.partition} has ${p.actual} bytes, manifest says ${p.expected}`
    case "sha256_mismatch":
      return `file "${p.key}" of partition ${p.partition} has sha256 ${
        p.actual.slice(0, 12)
      }…, manifest says ${p.expected.slice(0, 12)}… (corrupted or overwritten); ${REPAIR}`
    case "row_count_mismatch":
      return `file "${p.key}" of partition ${p.partition} holds ${p.actual} rows by its footer, manifest says ${p.expected}`
    case "block_range_mismatch":
      return `file "${p.key}" of partition ${p.partition} spans blocks ${p.actual} by its footer, manifest says ${p.expected}`
    case "footer_unreadable":
      return `file "${p.key}" of partition ${p.partition} has no readable Parquet footer: ${p.detail}`
    case "gap":
      return `gap: blocks ${p.first}-${p.last} (${p.blocks} blocks) lie between partitions and are in none; compact that range`
    case "orphan":
      return `orphan "${p.key}"${
        p.bytes === null ? "" : ` (${p.bytes} bytes)`
      }: no manifest entry names it; delete it unless a compaction is running`
    case "late_rows":
      return `late rows: partition ${p.partition} holds ${p.cold_rows} rows in cold storage and ${p.hot_rows} in hot ` +
        `storage that are not the archived ones; run compact on blocks ${p.partition} to replace it from hot, ` +
        "or with --merge-late to add rows that arrived after its hot rows were deleted"
  }
}

/** One line for a note. */
export function describeNote(n: Note): string {
  return `partition ${n.partition}: compacted, its ${n.rows} hot rows not deleted yet`
}

function blockSpan(min: bigint | null, max: bigint | null): string {
  return min === null || max === null ? "none" : formatRange({ first: min, last: max })
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v)
}
