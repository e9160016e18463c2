/**
 * Reads what src/readiness.ts needs to judge a dataset's partitions, without taking any lock: the
 * manifest, each final partition's hot rows (count and fingerprint), the blocks missing from hot and
 * cold blocks, which partitions another run has locked (read from pg_locks, so a plan never makes a
 * concurrent run fail to take its lock), and, for committed partitions whose hot rows changed, how
 * hot and cold keys compare.
 */
import { readManifest } from "./commit.ts"
import { sameRows } from "./core/decide.ts"
import type { Dataset } from "./dataset.ts"
import { coverage, findPartition, type Manifest, partitionRangeOf } from "./core/manifest.ts"
import { type BlockRange, formatRange, mergeRanges, overlaps, subtractRanges } from "./core/range.ts"
import { partitionsOfShard, type Shard } from "./core/shard.ts"
import { hotFingerprint } from "./pg/fingerprint.ts"
import { hotLowest, rangeWhere, type Sql } from "./pg/hot.ts"
import { quoteIdent } from "./pg/schema.ts"
import {
  classify,
  finalUncompactedBlocks,
  missingIn,
  type PartitionFacts,
  partitionLockName,
  planStart,
  planWindow,
  type Verdict,
} from "./readiness.ts"
import { readPartitionState } from "./state.ts"

/** The verdicts on a dataset's partitions over a window. */
export interface Survey {
  /** The whole partitions judged, oldest first (a shard's share when sharded). */
  readonly verdicts: readonly Verdict[]
  /** Blocks above the bucket holding the tip: never final, not enumerated. */
  readonly beyond?: BlockRange | undefined
  /** Final blocks from the window's start that no committed partition covers (for --min-blocks). */
  readonly finalUncompacted: bigint
  readonly partitionSize: bigint
}

/** The survey's verdicts, then the blocks above the tip's bucket as one "not-final" verdict. */
export function verdictsWithBeyond(survey: Survey, tip: bigint): Verdict[] {
  const verdicts = [...survey.verdicts]
  if (survey.beyond) {
    verdicts.push({
      range: survey.beyond,
      key: formatRange(survey.beyond),
      status: "not-final",
      reason: `above the tip ${tip}: not final yet`,
    })
  }
  return verdicts
}

/** Which blocks to judge: `first`/`last` when given, else from the first uncompacted block to the tip. */
export interface SurveyRequest {
  readonly first?: bigint | undefined
  readonly last?: bigint | undefined
  readonly partitionSize: bigint
  readonly shard?: Shard | undefined
}

/** Judges the dataset's whole partitions (see the module comment for what is read). */
export async function surveyDataset(ds: Dataset, request: SurveyRequest): Promise<Survey> {
  const { config, deps } = ds
  const size = request.partitionSize
  const manifest = (await readManifest(deps.store, deps.prefix, config.chainId, config.dataset))?.manifest
  const covered = manifest ? coverage(manifest) : []
  const first = request.first ??
    planStart(
      await hotLowest(deps.sql, ds.source),
      ds.isBlocksDataset ? undefined : await hotLowest(deps.sql, ds.blocks),
      covered,
    )
  const last = request.last ?? ds.tip
  if (first === undefined || first > last) {
    return { verdicts: [], finalUncompacted: 0n, partitionSize: size }
  }
  const window = planWindow({ first, last }, size, ds.tip)
  const partitions = partitionsOfShard(window.partitions, size, request.shard)
  const final = partitions.filter((p) => p.last <= ds.finalTip)
  const hot = new Map<bigint, { rows: number; fingerprint: string }>()
  for (const p of final) hot.set(p.first, await hotFingerprint(deps.sql, ds.source, p))
  const locked = await lockedNames(deps.sql, final.map((p) => lockName(ds, p)))
  const facts = new Map<bigint, PartitionFacts>()
  for (const p of final) {
    const committed = manifest && findPartition(manifest, `${p.first}-${p.last}`)
    facts.set(p.first, {
      range: p,
      hot: hot.get(p.first),
      committed: committed && {
        rows: committed.row_count,
        schemaHash: committed.schema_hash,
        source: committed.source,
      },
      overlapping: overlappingKey(manifest, p),
      missing: [],
      locked: locked.has(lockName(ds, p)),
    })
  }
  // keys only for committed partitions whose hot rows changed (rare: reads the partition's files)
  for (const f of facts.values()) {
    const changed = f.committed !== undefined && f.overlapping === undefined && f.hot !== undefined &&
      f.hot.rows > 0 && !sameRows(f.hot, f.committed.source) && f.committed.schemaHash === ds.schema.hash
    if (changed && !f.locked) {
      const { state } = await readPartitionState(ds, f.range)
      facts.set(f.range.first, { ...f, keys: state.keys, hot: state.hot })
    }
  }
  const toCheck = [...facts.values()].filter((f) => !f.locked && !(f.committed && f.keys === undefined))
  if (toCheck.length > 0) {
    const span = { first: toCheck[0]!.range.first, last: toCheck.at(-1)!.range.last }
    const missing = await missingBlocksIn(ds, span)
    for (const f of toCheck) facts.set(f.range.first, { ...f, missing: missingIn(f.range, missing) })
  }
  const ctx = {
    dataset: config.dataset,
    tip: ds.tip,
    threshold: ds.threshold,
    schemaHash: ds.schema.hash,
    encoding: ds.encoding,
    deleteHot: config.deleteAfterCompact,
    mergeLate: config.mergeLate,
  }
  const verdicts = partitions.map((p) =>
    classify(facts.get(p.first) ?? { range: p, missing: [], locked: false }, ctx)
  )
  return {
    verdicts,
    beyond: window.beyond,
    finalUncompacted: finalUncompactedBlocks(window.partitions[0]?.first ?? first, ds.finalTip, covered),
    partitionSize: size,
  }
}

const lockName = (ds: Dataset, range: BlockRange) =>
  partitionLockName(ds.config.chainId, ds.config.dataset, range)

function overlappingKey(manifest: Manifest | undefined, range: BlockRange): string | undefined {
  const key = `${range.first}-${range.last}`
  return manifest?.partitions.find((p) => p.partition_key !== key && overlaps(partitionRangeOf(p), range))
    ?.partition_key
}

/**
 * Which of the advisory locks `names` (as src/execute.ts names them) some session holds now. A
 * bigint advisory lock shows in pg_locks with its high 32 bits as classid and low 32 bits as objid.
 */
async function lockedNames(sql: Sql, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set()
  const rows = await sql`
    SELECT n FROM unnest(${names as string[]}::text[]) AS n
    WHERE EXISTS (
      SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND ((l.classid::int8 << 32) | l.objid::int8) = hashtextextended(n, 0))`
  return new Set(rows.map((r) => r.n as string))
}

/**
 * The blocks of `span` that the hot blocks table lacks, minus those the cold blocks manifest covers
 * (for datasets other than blocks), as sorted disjoint ranges. One scan of the blocks table's index.
 */
async function missingBlocksIn(ds: Dataset, span: BlockRange): Promise<BlockRange[]> {
  const { blocks, deps, config } = ds
  const b = quoteIdent(blocks.blockColumn)
  const rows = await deps.sql.unsafe(
    `WITH d AS (SELECT DISTINCT ${b} AS b ${rangeWhere(blocks, span)}),
          w AS (SELECT b, lag(b) OVER (ORDER BY b) AS prev FROM d)
     SELECT 'gap' AS kind, (prev + 1)::text AS first, (b - 1)::text AS last FROM w WHERE b > prev + 1
     UNION ALL SELECT 'edges', min(b)::text, max(b)::text FROM d`,
  )
  const edges = rows.find((r) => r.kind === "edges")!
  const gaps: BlockRange[] = rows.filter((r) => r.kind === "gap").map((r) => ({
    first: BigInt(r.first),
    last: BigInt(r.last),
  }))
  if (edges.first == null) gaps.push(span)
  else {
    if (BigInt(edges.first) > span.first) gaps.push({ first: span.first, last: BigInt(edges.first) - 1n })
    if (BigInt(edges.last) < span.last) gaps.push({ first: BigInt(edges.last) + 1n, last: span.last })
  }
  const hotMissing = mergeRanges(gaps)
  if (ds.isBlocksDataset || hotMissing.length === 0) return hotMissing
  // read now: a blocks run may have compacted and deleted hot blocks since the dataset was opened
  const cold = await readManifest(deps.store, deps.prefix, config.chainId, "blocks")
  const coldBlocks = cold ? coverage(cold.manifest) : []
  return mergeRanges(hotMissing.flatMap((g) => subtractRanges(g, coldBlocks)))
}
