/**
 * Read-only looks at cold and hot storage for `verify` and `status`: a dataset's manifest and the
 * objects under its folder, an object's sha256 and Parquet footer read in bounded pieces, the datasets
 * of a chain, and the hot table's block range and per-partition row counts. Nothing here writes.
 */
import { createHash } from "node:crypto"
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { type LenientManifest, readManifestLeniently } from "./core/integrity.ts"
import { type ManifestPartition, partitionRangeOf } from "./core/manifest.ts"
import { datasetFolder, isDatasetName, manifestKey } from "./core/naming.ts"
import { type BlockRange, overlaps } from "./core/range.ts"
import { countRows, type HotTable, hotTable, type Sql } from "./pg/hot.ts"
import { describeTable, quoteIdent, quoteQualified } from "./pg/schema.ts"
import { objectSlices, type ObjectStore } from "./store/store.ts"

/** Bytes read per request while hashing: memory per file in flight stays at this. */
export const HASH_CHUNK = 8 * 1024 * 1024

/** What the store holds for one dataset: its manifest (read leniently) and every key under its folder. */
export interface ColdDataset {
  readonly dataset: string
  readonly manifestKey: string
  /** undefined when there is no manifest.json */
  readonly manifest: LenientManifest | undefined
  /** Every key under `{prefix}/{chain}/{dataset}/`, manifest.json included. */
  readonly keys: readonly string[]
}

/** Reads a dataset's manifest and lists its folder. */
export async function readColdDataset(
  store: ObjectStore,
  prefix: string,
  chainId: bigint,
  dataset: string,
  keys?: readonly string[],
): Promise<ColdDataset> {
  const key = manifestKey(prefix, chainId, dataset)
  const object = await store.get(key)
  const manifest = object === undefined
    ? undefined
    : readManifestLeniently(new TextDecoder().decode(object.bytes))
  const listed = keys ?? await store.list(`${datasetFolder(prefix, chainId, dataset)}/`)
  return { dataset, manifestKey: key, manifest, keys: listed }
}

/** The datasets with objects under `{prefix}/{chain}/`, each with its keys, by name. */
export async function listChainDatasets(
  store: ObjectStore,
  prefix: string,
  chainId: bigint,
): Promise<Map<string, string[]>> {
  const folder = datasetFolder(prefix, chainId, "x").slice(0, -1) // "{prefix}/{chain}/"
  const datasets = new Map<string, string[]>()
  for (const key of await store.list(folder)) {
    const name = key.slice(folder.length).split("/")[0] ?? ""
    if (!isDatasetName(name) || !key.startsWith(`${folder}${name}/`)) continue
    datasets.set(name, [...(datasets.get(name) ?? []), key])
  }
  return new Map([...datasets].sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** sha256 of an object's first `size` bytes as lowercase hex, read `chunk` bytes at a time. */
export async function hashObject(
  store: ObjectStore,
  key: string,
  size: number,
  chunk = HASH_CHUNK,
): Promise<string> {
  const hash = createHash("sha256")
  for (let start = 0; start < size; start += chunk) {
    hash.update(await store.getRange(key, start, Math.min(size, start + chunk)))
  }
  return hash.digest("hex")
}

/** A Parquet file's row count and the min/max of its block column (null when it has no rows). */
export interface Footer {
  readonly rows: number
  readonly min: bigint | null
  readonly max: bigint | null
}

/**
 * Reads the footer of a Parquet object by byte ranges. The block column's min/max come from the row
 * groups' statistics; a file written without them has the column itself read.
 */
export async function readFooter(
  store: ObjectStore,
  key: string,
  size: number,
  blockColumn: string,
): Promise<Footer> {
  const file = objectSlices(store, key, size)
  const metadata = await parquetMetadataAsync(file)
  const rows = Number(metadata.num_rows)
  if (rows === 0) return { rows, min: null, max: null }
  let min: bigint | null = null
  let max: bigint | null = null
  for (const group of metadata.row_groups) {
    if (group.num_rows === 0n) continue
    const chunk = group.columns.find((c) => c.meta_data?.path_in_schema.join(".") === blockColumn)
    if (chunk === undefined) {
      throw new Error(`it has no column "${blockColumn}"; pass the --block-column it was written with`)
    }
    const stats = chunk.meta_data?.statistics
    const lo = stats?.min_value ?? stats?.min
    const hi = stats?.max_value ?? stats?.max
    if (
      typeof lo !== "bigint" && typeof lo !== "number" || typeof hi !== "bigint" && typeof hi !== "number"
    ) {
      return { rows, ...await scanBlocks(file, metadata, blockColumn) }
    }
    if (min === null || BigInt(lo) < min) min = BigInt(lo)
    if (max === null || BigInt(hi) > max) max = BigInt(hi)
  }
  return { rows, min, max }
}

async function scanBlocks(
  file: Parameters<typeof parquetReadObjects>[0]["file"],
  metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>,
  blockColumn: string,
): Promise<{ min: bigint | null; max: bigint | null }> {
  let min: bigint | null = null
  let max: bigint | null = null
  for (const row of await parquetReadObjects({ file, metadata, columns: [blockColumn] })) {
    const b = BigInt(row[blockColumn] as bigint | number)
    if (min === null || b < min) min = b
    if (max === null || b > max) max = b
  }
  return { min, max }
}

/** Opens a hot table for a chain the way `compact` does (BAD_INPUT when it or a column is missing). */
export async function openHotTable(
  sql: Sql,
  table: string,
  blockColumn: string,
  chainId: bigint,
  chainColumn: string | undefined,
): Promise<HotTable> {
  return hotTable(await describeTable(sql, table), blockColumn, chainId, chainColumn)
}

/** The lowest and highest block of the chain in a hot table, or undefined when it holds none. */
export async function hotRange(sql: Sql, table: HotTable): Promise<BlockRange | undefined> {
  const block = quoteIdent(table.blockColumn)
  // chainFilter is " AND …" built by hotTable() from catalogue names and a validated bigint
  const [row] = await sql.unsafe(
    `SELECT min(${block})::text AS lo, max(${block})::text AS hi FROM ${
      quoteQualified(table.info.schema, table.info.table)
    } WHERE TRUE${table.chainFilter}`,
  )
  return row?.lo == null ? undefined : { first: BigInt(row.lo), last: BigInt(row.hi) }
}

/**
 * Hot rows per partition key. Only partitions that overlap the hot range are counted; the others
 * hold no hot rows by that range, so a chain with millions of archived blocks costs few queries.
 */
export async function partitionHotCounts(
  sql: Sql,
  table: HotTable,
  partitions: readonly ManifestPartition[],
  range: BlockRange | undefined,
): Promise<Map<string, bigint>> {
  const counts = new Map<string, bigint>()
  for (const p of partitions) {
    const r = partitionRangeOf(p)
    counts.set(p.partition_key, range && overlaps(r, range) ? await countRows(sql, table, r) : 0n)
  }
  return counts
}

/** Probes a pool with `SELECT 1`, giving up after `seconds`; the failure's message, or undefined when it answers. */
export async function probeDatabase(sql: Sql, seconds: number): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${seconds} s`), seconds * 1000)
  })
  try {
    return await Promise.race([sql`SELECT 1`.then(() => undefined), timeout])
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    clearTimeout(timer)
  }
}
