/**
 * `status`: what is where for one chain — per dataset, the committed partitions, the hot table's block
 * range, gaps, late rows, bytes and files — with the tip and final tip, as plain data. Reads only; the
 * picture is drawn by src/status-view.ts. Postgres is optional: without it, cold storage alone is shown.
 */
import { type BlockRange, mergeRanges } from "./core/range.ts"
import { coverageDomain, coverageSegments, hotCountState, type SegmentKind } from "./core/coverage.ts"
import { finalityThreshold, finalTip } from "./core/finality.ts"
import { describeProblem, orphanKeys } from "./core/integrity.ts"
import { partitionRangeOf } from "./core/manifest.ts"
import {
  type ColdDataset,
  hotRange,
  listChainDatasets,
  openHotTable,
  partitionHotCounts,
  readColdDataset,
} from "./inspect.ts"
import { resolveTip } from "./plan.ts"
import { hotTip, type Sql } from "./pg/hot.ts"
import type { ObjectStore } from "./store/store.ts"

/** What to look at. */
export interface StatusOptions {
  readonly chainId: bigint
  /** One dataset; undefined: every dataset with objects under `{prefix}/{chain}/`. */
  readonly dataset?: string | undefined
  readonly blockColumn: string
  readonly chainColumn?: string | undefined
  readonly finalityThreshold?: bigint | undefined
  /** Hot table of the dataset (only with `dataset`); default `hot_{dataset}`. */
  readonly sourceTable?: string | undefined
  readonly blocksTable: string
  /** A reachable pool, or why there is none (unreachable, or turned off). */
  readonly hot: { readonly sql: Sql } | { readonly unavailable: string }
}

/** Where to look. */
export interface StatusDeps {
  readonly store: ObjectStore
  readonly prefix: string
}

/** An inclusive block range as JSON. */
export interface JsonRange {
  readonly first: string
  readonly last: string
  readonly blocks: string
}

/** One dataset of the chain. */
export interface DatasetStatus {
  readonly dataset: string
  readonly manifest: string | null // null when there is no manifest.json
  readonly partitions: number
  readonly files: number
  readonly rows: number
  readonly bytes: number
  /** Blocks covered by committed partitions, merged. */
  readonly cold: readonly JsonRange[]
  readonly hot: (JsonRange & { readonly table: string }) | null
  readonly hot_note: string | null
  /** Final blocks in neither cold nor hot storage. */
  readonly gaps: readonly JsonRange[]
  readonly late_rows: ReadonlyArray<
    { readonly partition: string; readonly cold_rows: number; readonly hot_rows: string }
  >
  /** Compacted partitions whose hot rows are still there (not deleted yet). */
  readonly not_deleted: readonly string[]
  /** Objects under the folder that the manifest does not name (run verify). */
  readonly orphans: number
  /** What is wrong with the manifest itself (run verify). */
  readonly problems: readonly string[]
  readonly segments: ReadonlyArray<JsonRange & { readonly kind: SegmentKind }>
}

/** The status of a chain (`--json` prints it as one object). Block numbers are strings. */
export interface StatusReport {
  readonly chain_id: string
  readonly store: string
  readonly tip: string | null
  readonly tip_source: "hot blocks table" | "committed partitions" | null
  readonly finality_threshold: string | null
  readonly final_tip: string | null
  readonly hot_available: boolean
  readonly notes: readonly string[]
  /** The blocks the datasets span together, for drawing them on one axis. */
  readonly domain: JsonRange | null
  readonly datasets: readonly DatasetStatus[]
}

/** Gathers the status of a chain. */
export async function chainStatus(options: StatusOptions, deps: StatusDeps): Promise<StatusReport> {
  const { store, prefix } = deps
  const chainId = options.chainId
  const colds: ColdDataset[] = options.dataset === undefined
    ? await Promise.all(
      [...await listChainDatasets(store, prefix, chainId)].map(([name, keys]) =>
        readColdDataset(store, prefix, chainId, name, keys)
      ),
    )
    : [await readColdDataset(store, prefix, chainId, options.dataset)]
  const notes: string[] = []
  const sql = "sql" in options.hot ? options.hot.sql : undefined
  if (!("sql" in options.hot)) notes.push(options.hot.unavailable)

  let hotBlocksTip: bigint | undefined
  if (sql !== undefined) {
    try {
      const blocks = await openHotTable(
        sql,
        options.blocksTable,
        options.blockColumn,
        chainId,
        options.chainColumn,
      )
      hotBlocksTip = await hotTip(sql, blocks)
    } catch (error) {
      notes.push(`No tip from hot blocks table "${options.blocksTable}": ${(error as Error).message}`)
    }
  }
  const committedEnds = colds.flatMap((c) => (c.manifest?.partitions ?? []).map((p) => p.end_block))
  const tip = hotBlocksTip !== undefined || committedEnds.length > 0
    ? resolveTip(undefined, hotBlocksTip, committedEnds)
    : undefined
  let threshold: bigint | undefined
  try {
    threshold = finalityThreshold(chainId, options.finalityThreshold)
  } catch (error) {
    notes.push((error as Error).message)
  }
  const final = tip !== undefined && threshold !== undefined ? finalTip(tip, threshold) : undefined

  const datasets: DatasetStatus[] = []
  const domains: BlockRange[] = []
  for (const cold of colds) {
    const table = options.sourceTable ?? `hot_${cold.dataset}`
    const hot = sql === undefined ? undefined : await hotSide(sql, table, cold, options)
    const ranges = (cold.manifest?.partitions ?? []).map(partitionRangeOf)
    const input = { cold: ranges, hot: hot?.range, finalTip: final, tip }
    const domain = coverageDomain(input)
    if (domain !== undefined) domains.push(domain)
    datasets.push(datasetStatus(cold, input, table, hot))
  }
  const domain = domains.length === 0 ? undefined : {
    first: domains.map((d) => d.first).reduce((a, b) => (a < b ? a : b)),
    last: domains.map((d) => d.last).reduce((a, b) => (a > b ? a : b)),
  }
  return {
    chain_id: chainId.toString(),
    store: store.description,
    tip: tip?.toString() ?? null,
    tip_source: hotBlocksTip !== undefined && tip === hotBlocksTip
      ? "hot blocks table"
      : tip === undefined
      ? null
      : "committed partitions",
    finality_threshold: threshold?.toString() ?? null,
    final_tip: final?.toString() ?? null,
    hot_available: sql !== undefined,
    notes,
    domain: domain === undefined ? null : jsonRange(domain),
    datasets,
  }
}

interface HotSide {
  /** null: the table holds no rows of the chain; undefined: it could not be read (see note) */
  readonly range: BlockRange | null | undefined
  readonly counts: ReadonlyMap<string, bigint>
  readonly note: string | undefined
}

/** The hot table's range and per-partition counts; a missing table is a note, not a failure. */
async function hotSide(sql: Sql, table: string, cold: ColdDataset, options: StatusOptions): Promise<HotSide> {
  try {
    const hot = await openHotTable(sql, table, options.blockColumn, options.chainId, options.chainColumn)
    const range = await hotRange(sql, hot)
    const counts = await partitionHotCounts(sql, hot, cold.manifest?.partitions ?? [], range)
    const note = range === undefined ? `hot table "${table}" holds no rows of this chain` : undefined
    return { range: range ?? null, counts, note }
  } catch (error) {
    return { range: undefined, counts: new Map(), note: (error as Error).message }
  }
}

function datasetStatus(
  cold: ColdDataset,
  input: Parameters<typeof coverageSegments>[0],
  table: string,
  hot: HotSide | undefined,
): DatasetStatus {
  const partitions = cold.manifest?.partitions ?? []
  const segments = coverageSegments(input)
  const late: DatasetStatus["late_rows"][number][] = []
  const notDeleted: string[] = []
  for (const p of partitions) {
    const n = hot?.counts.get(p.partition_key) ?? 0n
    const state = hotCountState(p.row_count, n)
    if (state === "late_rows") {
      late.push({ partition: p.partition_key, cold_rows: p.row_count, hot_rows: n.toString() })
    }
    if (state === "not_deleted") notDeleted.push(p.partition_key)
  }
  return {
    dataset: cold.dataset,
    manifest: cold.manifest === undefined ? null : cold.manifestKey,
    partitions: partitions.length,
    files: partitions.reduce((n, p) => n + p.files.length, 0),
    rows: partitions.reduce((n, p) => n + p.row_count, 0),
    bytes: partitions.reduce((n, p) => n + p.files.reduce((m, f) => m + f.bytes, 0), 0),
    cold: mergeRanges(input.cold).map(jsonRange),
    hot: hot?.range ? { table, ...jsonRange(hot.range) } : null,
    hot_note: hot === undefined ? null : hot.note ?? null,
    gaps: segments.filter((s) => s.kind === "gap").map((s) => jsonRange(s.range)),
    late_rows: late,
    not_deleted: notDeleted,
    orphans: orphanKeys(cold.keys, cold.manifestKey, partitions).length,
    problems: cold.manifest === undefined
      ? cold.keys.length > 0 ? [`no manifest.json, but ${cold.keys.length} objects`] : []
      : cold.manifest.problems.map(describeProblem),
    segments: segments.map((s) => ({ kind: s.kind, ...jsonRange(s.range) })),
  }
}

/** A range as JSON: decimal strings, and its length in blocks. */
export function jsonRange(r: BlockRange): JsonRange {
  return { first: r.first.toString(), last: r.last.toString(), blocks: (r.last - r.first + 1n).toString() }
}
