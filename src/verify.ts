/**
 * `verify`: checks one dataset's cold storage against its manifest and reports every problem as data
 * (src/core/integrity.ts): each file exists with the recorded size and sha256, each footer holds the
 * recorded row count and block span, partitions do not overlap, gaps between them, objects no manifest
 * names; with a hot table, partitions whose hot row count differs from cold (late rows). Reads only.
 */
import { CompactError } from "./errors.ts"
import {
  describeNote,
  describeProblem,
  type FileObservation,
  fileProblems,
  gapProblems,
  hotProblems,
  type Note,
  orphanKeys,
  type Problem,
} from "./core/integrity.ts"
import type { ManifestFile, ManifestPartition } from "./core/manifest.ts"
import { datasetFolder } from "./core/naming.ts"
import { formatBytes, formatCount, plural, textTable } from "./format.ts"
import { hashObject, hotRange, partitionHotCounts, readColdDataset, readFooter } from "./inspect.ts"
import { mapLimit } from "./limit.ts"
import type { HotTable, Sql } from "./pg/hot.ts"
import type { ObjectStore } from "./store/store.ts"

/** What to verify. */
export interface VerifyOptions {
  readonly chainId: bigint
  readonly dataset: string
  /** The block column in the Parquet files (as compacted). */
  readonly blockColumn: string
  /** With `--against-hot`: the pool and the hot table to count rows in. */
  readonly hot?: { readonly sql: Sql; readonly table: HotTable } | undefined
  /** Files checked at once; each holds at most one hash chunk in memory. Default 4. */
  readonly concurrency?: number
}

/** Where to look, and where progress lines go. */
export interface VerifyDeps {
  readonly store: ObjectStore
  readonly prefix: string
  readonly log: (line: string) => void
}

/** One partition's line in the report. */
export interface PartitionCheck {
  readonly partition: string
  readonly files: number
  readonly rows: number
  readonly bytes: number
  readonly hot_rows: string | null // null without --against-hot
  readonly problems: number
}

/** The result of `verify` (`--json` prints it as one object). Block numbers are strings. */
export interface VerifyReport {
  readonly chain_id: string
  readonly dataset: string
  readonly store: string
  readonly manifest: string
  readonly against_hot: string | null // the hot table compared with
  readonly partitions: readonly PartitionCheck[]
  readonly files: number
  readonly rows: number
  readonly bytes: number
  readonly bytes_hashed: number
  readonly objects: number // keys under the dataset folder
  readonly ok: boolean
  readonly problems: readonly Problem[]
  readonly notes: readonly Note[]
  readonly seconds: number
}

/** Verifies a dataset; throws BAD_INPUT when the store holds nothing at all for it. */
export async function verifyDataset(options: VerifyOptions, deps: VerifyDeps): Promise<VerifyReport> {
  const started = performance.now()
  const { store, prefix, log } = deps
  const cold = await readColdDataset(store, prefix, options.chainId, options.dataset)
  if (cold.manifest === undefined && cold.keys.length === 0) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot verify "${options.dataset}" of chain "${options.chainId}": "${
        datasetFolder(prefix, options.chainId, options.dataset)
      }/" in ${store.description} holds nothing; check --dest, --chain-id and --dataset`,
    )
  }
  const partitions = cold.manifest?.partitions ?? []
  const problems: Problem[] = cold.manifest === undefined
    ? [{ kind: "manifest_missing", key: cold.manifestKey }]
    : [...cold.manifest.problems]

  const files = partitions.flatMap((p) => p.files.map((f) => ({ p, f })))
  let hashed = 0
  let done = 0
  let lastLog = performance.now()
  const found = await mapLimit(files, options.concurrency ?? 4, async ({ p, f }) => {
    const seen = await observe(store, f, options.blockColumn)
    hashed += seen.sha256 === undefined ? 0 : f.bytes
    done++
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now()
      log(`Checked ${done} of ${files.length} files, ${hashed} bytes hashed`)
    }
    return fileProblems(p.partition_key, f, seen)
  })
  problems.push(...found.flat(), ...gapProblems(partitions))

  const orphans = orphanKeys(cold.keys, cold.manifestKey, partitions)
  const sizes = await mapLimit(orphans, 8, async (key) => (await store.head(key))?.size ?? null)
  problems.push(...orphans.map((key, i): Problem => ({ kind: "orphan", key, bytes: sizes[i] ?? null })))

  let notes: Note[] = []
  let hotRows: Map<string, bigint> | undefined
  if (options.hot !== undefined) {
    const { sql, table } = options.hot
    hotRows = await partitionHotCounts(sql, table, partitions, await hotRange(sql, table))
    const hot = hotProblems(partitions, hotRows)
    problems.push(...hot.problems)
    notes = hot.notes
  }

  const checks = partitions.map((p) => partitionCheck(p, problems, hotRows))
  return {
    chain_id: options.chainId.toString(),
    dataset: options.dataset,
    store: store.description,
    manifest: cold.manifestKey,
    against_hot: options.hot ? `${options.hot.table.info.schema}.${options.hot.table.info.table}` : null,
    partitions: checks,
    files: files.length,
    rows: checks.reduce((n, c) => n + c.rows, 0),
    bytes: checks.reduce((n, c) => n + c.bytes, 0),
    bytes_hashed: hashed,
    objects: cold.keys.length,
    ok: problems.length === 0,
    problems,
    notes,
    seconds: Math.round(performance.now() - started) / 1000,
  }
}

/** Size, then (when the size is right) sha256 and footer; read failures other than absence propagate. */
async function observe(store: ObjectStore, f: ManifestFile, blockColumn: string): Promise<FileObservation> {
  const size = (await store.head(f.key))?.size
  if (size === undefined) return { size }
  const footer = await readFooter(store, f.key, size, blockColumn).catch((error: Error) => {
    // a failed read (S3 or file system error) is worth retrying, not a verdict on the file
    const { $metadata, code } = error as { $metadata?: unknown; code?: unknown }
    if ($metadata !== undefined || typeof code === "string") throw error
    return { error: error.message }
  })
  // a file of another size cannot have the recorded sha256: skip reading all of it
  if (size !== f.bytes) return { size, footer }
  return { size, sha256: await hashObject(store, f.key, size), footer }
}

function partitionCheck(
  p: ManifestPartition,
  problems: readonly Problem[],
  hotRows: ReadonlyMap<string, bigint> | undefined,
): PartitionCheck {
  const own = problems.filter((q) => "partition" in q && q.partition === p.partition_key)
  return {
    partition: p.partition_key,
    files: p.files.length,
    rows: p.row_count,
    bytes: p.files.reduce((n, f) => n + f.bytes, 0),
    hot_rows: hotRows?.get(p.partition_key)?.toString() ?? null,
    problems: own.length,
  }
}

/** Partitions listed one per line up to this many; beyond it only those with problems. */
const TABLE_LIMIT = 50

/** The report for people: a summary, a table of partitions, then problems and notes, one per line. */
export function formatVerifyReport(r: VerifyReport): string {
  const hot = r.against_hot === null ? "" : `, against hot table "${r.against_hot}"`
  const lines = [
    `Verified ${r.dataset} of chain ${r.chain_id} in ${r.store}${hot}: ${
      plural(r.partitions.length, "partition")
    }, ` +
    `${plural(r.files, "file")}, ${plural(r.rows, "row")}, ${formatBytes(r.bytes)} (${
      formatBytes(r.bytes_hashed)
    } hashed), ${plural(r.objects, "object")} listed, ${r.seconds} s`,
  ]
  const shown = r.partitions.length <= TABLE_LIMIT ? r.partitions : r.partitions.filter((p) => p.problems > 0)
  const header = [
    "partition",
    "files",
    "rows",
    "bytes",
    ...(r.against_hot === null ? [] : ["hot rows"]),
    "check",
  ]
  const rows = shown.map((p) => [
    p.partition,
    formatCount(p.files),
    formatCount(p.rows),
    formatBytes(p.bytes),
    ...(r.against_hot === null ? [] : [p.hot_rows === null ? "" : formatCount(p.hot_rows)]),
    p.problems === 0 ? "ok" : plural(p.problems, "problem"),
  ])
  if (rows.length > 0) lines.push("", ...textTable([header, ...rows]))
  if (shown.length < r.partitions.length) {
    lines.push(`  … and ${r.partitions.length - shown.length} more, all ok`)
  }
  if (r.problems.length > 0) {
    lines.push("", `Problems (${r.problems.length}):`, ...r.problems.map((p) => `  - ${describeProblem(p)}`))
  }
  if (r.notes.length > 0) lines.push("", "Notes:", ...r.notes.map((n) => `  - ${describeNote(n)}`))
  lines.push("", r.ok ? "OK: no problems" : `FAILED: ${problemCounts(r.problems)}`)
  return lines.join("\n")
}

/** "3 problems (1 gap, 2 orphan)". */
export function problemCounts(problems: readonly Problem[]): string {
  const counts = new Map<string, number>()
  for (const p of problems) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1)
  const parts = [...counts].map(([kind, n]) => `${n} ${kind}`)
  return `${problems.length} problem${problems.length === 1 ? "" : "s"} (${parts.join(", ")})`
}
