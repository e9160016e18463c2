/**
 * Reads one partition's state under its lock: the committed partition, files nobody names, the hot
 * rows' fingerprint and, only when the hot rows differ from the archived ones, how hot and cold keys
 * compare. The decision on it is src/core/decide.ts.
 */
import { parquetReadObjects } from "hyparquet"
import { type Dataset } from "./dataset.ts"
import { objectBuffer, readManifest } from "./commit.ts"
import { type KeyComparison, type PartitionState, sameRows } from "./core/decide.ts"
import { findPartition, type ManifestPartition, partitionRangeOf } from "./core/manifest.ts"
import { partitionFilePrefix, partitionKey } from "./core/naming.ts"
import { type BlockRange, overlaps } from "./core/range.ts"
import { coldKey, hotFingerprint, hotKeyCounts, KEY_KINDS } from "./pg/fingerprint.ts"
import { countRows } from "./pg/hot.ts"

/** The state plus the committed partition itself, for the executor. */
export interface ReadState {
  readonly state: PartitionState
  readonly committed: ManifestPartition | undefined
}

/**
 * Reads what {@link decidePartition} needs for `range`; call it holding the partition's lock. The hot
 * rows of a partition not committed yet are counted only with `countNew` (a dry run reports them).
 */
export async function readPartitionState(
  ds: Dataset,
  range: BlockRange,
  { countNew = true }: { countNew?: boolean } = {},
): Promise<ReadState> {
  const { config, deps } = ds
  const key = partitionKey(range)
  const current = await readManifest(deps.store, deps.prefix, config.chainId, config.dataset)
  const manifest = current?.manifest
  const committed = manifest && findPartition(manifest, key)
  const overlapping = manifest?.partitions.find((p) =>
    p.partition_key !== key && overlaps(partitionRangeOf(p), range)
  )?.partition_key
  const named = new Set(manifest?.partitions.flatMap((p) => p.files.map((f) => f.key)) ?? [])
  const listed = await deps.store.list(
    partitionFilePrefix(deps.prefix, config.chainId, config.dataset, range),
  )
  const orphans = listed.filter((k) => !named.has(k))
  const present = new Set(listed)
  const missingFiles = committed?.files.map((f) => f.key).filter((k) => !present.has(k)) ?? []
  // a partition not committed yet is decided without its hot rows' fingerprint (the COPY takes it),
  // and written without counting them first (a scan of the range before the COPY's own)
  const hot = committed !== undefined
    ? await hotFingerprint(deps.sql, ds.source, range)
    : countNew
    ? { rows: Number(await countRows(deps.sql, ds.source, range)), fingerprint: "" }
    : undefined
  const differs = committed !== undefined && hot !== undefined && hot.rows > 0 &&
    !sameRows(hot, committed.source) &&
    committed.schema_hash === ds.schema.hash
  const state: PartitionState = {
    range,
    dataset: config.dataset,
    committed: committed && {
      rows: committed.row_count,
      schemaHash: committed.schema_hash,
      source: committed.source,
    },
    overlapping,
    orphans,
    missingFiles,
    hot,
    keys: differs ? await compareKeys(ds, range, committed) : undefined,
    schemaHash: ds.schema.hash,
    encoding: ds.encoding,
  }
  return { state, committed }
}

/**
 * Compares hot and cold rows by key (the order-by columns, or the block column when a key column's
 * type cannot be compared exactly across Postgres and Parquet), as multisets.
 */
async function compareKeys(
  ds: Dataset,
  range: BlockRange,
  committed: ManifestPartition,
): Promise<KeyComparison> {
  const columns = ds.source.info.columns
  const ordered = ds.orderBy.map((name) => columns.find((c) => c.name === name)!)
  const keyColumns = ordered.every((c) => KEY_KINDS.has(c.kind))
    ? ordered
    : [columns.find((c) => c.name === ds.config.blockColumn)!]
  const names = keyColumns.map((c) => c.name)
  const hot = await hotKeyCounts(ds.deps.sql, ds.source, range, keyColumns)
  const cold = new Map<string, number>()
  for (const file of committed.files) {
    if (file.rows === 0) continue
    const rows = await parquetReadObjects({
      file: await objectBuffer(ds.deps.store, file.key),
      columns: names,
      utf8: false, // bytea keys are BYTE_ARRAY without a string type: keep them bytes, as coldKey expects
    })
    for (const row of rows) {
      const k = coldKey(names.map((n) => row[n]))
      cold.set(k, (cold.get(k) ?? 0) + 1)
    }
  }
  let coldOnly = 0
  let shared = 0
  for (const [k, n] of cold) {
    const h = hot.get(k) ?? 0
    shared += Math.min(h, n)
    coldOnly += Math.max(0, n - h)
  }
  let hotOnly = 0
  const lateKeys: string[] = []
  for (const [k, n] of hot) {
    const extra = n - (cold.get(k) ?? 0)
    if (extra > 0) {
      hotOnly += extra
      lateKeys.push(k)
    }
  }
  const blockAt = names.indexOf(ds.config.blockColumn)
  const hotOnlyBlocks = blockAt < 0 ? [] : [
    ...new Set(lateKeys.map((k) => BigInt(k.split("\u0001")[blockAt]!))),
  ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, 5)
  return { coldOnly, hotOnly, shared, hotOnlyBlocks }
}
