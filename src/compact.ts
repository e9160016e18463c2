/**
 * One compaction run: read the state (tip, manifest, hot counts), plan, then for each partition
 * stream rows into Parquet files, upload them, commit the manifest, verify what was committed and
 * only then delete stale files and (opt-in) the hot rows. The order is the data-safety contract:
 * a crash at any point leaves every row in hot or cold storage.
 */
import { createHash } from "node:crypto"
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import type { Config } from "./config.ts"
import { CompactError } from "./errors.ts"
import { finalityThreshold } from "./core/finality.ts"
import {
  emptyManifest,
  findPartition,
  gaps,
  type Manifest,
  type ManifestFile,
  type ManifestPartition,
  parseManifest,
  partitionRangeOf,
  putPartition,
  serializeManifest,
  type TableSchema,
} from "./core/manifest.ts"
import { manifestKey, objectKey, partitionFilePrefix, partitionKey } from "./core/naming.ts"
import { type BlockRange, blockRange, formatRange, overlaps } from "./core/range.ts"
import { decidePartition, planCompaction, resolveTip } from "./plan.ts"
import { decodeCopyBinary } from "./pg/copy.ts"
import { BufferPool } from "./pg/batch.ts"
import {
  advisoryLock,
  blockCounts,
  copyRows,
  countRows,
  deleteRange,
  deletionSideEffects,
  type HotTable,
  hotTable,
  hotTip,
  missingBlocks,
  rangeWhere,
  type Sql,
} from "./pg/hot.ts"
import { type ColumnSpec, describeTable, parquetTypeName, quoteIdent } from "./pg/schema.ts"
import { schemaHash } from "./parquet/encode.ts"
import { encodeParquetFilesThreaded } from "./parquet/threaded.ts"
import { ConditionFailed, type ObjectStore } from "./store/store.ts"
import { VERSION } from "./version.ts"

/** What a run needs from outside. */
export interface Deps {
  readonly sql: Sql
  /** Postgres URL (undefined: PG* variables), for the COPY stream's own connection. */
  readonly databaseUrl: string | undefined
  readonly store: ObjectStore
  /** Prefix under which `{chain}/{dataset}/` lives in the store. */
  readonly prefix: string
  /** Progress lines (stderr in the CLI). */
  readonly log: (line: string) => void
}

/** What happened to one partition. */
export interface PartitionSummary {
  readonly partition_key: string
  /** compacted: written and committed; unchanged: same bytes as committed; kept: cold has more; planned: dry run. */
  readonly action: "compacted" | "unchanged" | "kept" | "planned"
  readonly rows: number
  readonly files: number
  readonly bytes: number
  readonly uploaded_files: number
  readonly stale_files_deleted: number
  readonly hot_rows_deleted: number
  readonly note?: string
}

/** The result of a run (`--json` prints it). Block numbers are strings. */
export interface Summary {
  readonly chain_id: string
  readonly dataset: string
  readonly range: string
  readonly tip: string
  readonly final_tip: string
  readonly finality_threshold: string
  readonly dry_run: boolean
  readonly partitions: PartitionSummary[]
  readonly files: number
  readonly rows: number
  readonly bytes: number
  readonly seconds: number
  readonly rows_per_second: number
}

const COMMIT_ATTEMPTS = 10

/** Runs a compaction as configured. Throws CompactError for refusals. */
export async function compact(config: Config, deps: Deps): Promise<Summary> {
  const started = performance.now()
  const { sql, store, log } = deps
  const chainId = config.chainId
  const request = blockRange(config.startBlock, config.endBlock)
  const threshold = finalityThreshold(chainId, config.finalityThreshold)

  const sourceInfo = await describeTable(sql, config.sourceTable)
  const source = hotTable(sourceInfo, config.blockColumn, chainId, config.chainColumn)
  const blocksInfo = config.blocksTable === config.sourceTable
    ? sourceInfo
    : await describeTable(sql, config.blocksTable)
  const blocks = hotTable(blocksInfo, config.blockColumn, chainId, config.chainColumn)
  const isBlocksDataset = sourceInfo.schema === blocksInfo.schema && sourceInfo.table === blocksInfo.table
  const orderBy = config.orderBy ?? sourceInfo.primaryKey
  if (orderBy.length === 0) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot compact "${config.sourceTable}": it has no primary key to order rows by; pass --order-by`,
    )
  }
  for (const column of orderBy) {
    if (!sourceInfo.columns.some((c) => c.name === column)) {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot order by "${column}": "${config.sourceTable}" has no such column`,
      )
    }
  }

  if (config.deleteAfterCompact && !config.dryRun) {
    const effects = await deletionSideEffects(sql, source)
    if (effects.length > 0) {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot delete compacted rows from "${config.sourceTable}": deleting would also fire ${
          effects.join(", ")
        }; ` +
          "compact without --delete-after-compact or remove them",
      )
    }
  }

  const blocksManifest = isBlocksDataset
    ? undefined
    : await readManifest(store, deps.prefix, chainId, "blocks")
  const ownManifest = await readManifest(store, deps.prefix, chainId, config.dataset)
  // blocks that exist for sure: the last block of every committed partition (tips recorded there may
  // have come from an earlier --tip, so they are not trusted)
  const committedLast = [
    ...(blocksManifest?.manifest.partitions ?? []),
    ...(ownManifest?.manifest.partitions ?? []),
  ].map((p) => p.end_block)
  const tip = resolveTip(
    config.tip,
    config.tip === undefined ? await hotTip(sql, blocks) : undefined,
    committedLast,
  )
  const plan = planCompaction({ request, partitionSize: config.partitionSize, tip, threshold })
  log(
    `Compacting ${config.dataset} of chain ${chainId}, blocks ${
      formatRange(request)
    } in ${plan.partitions.length} ` +
      `partition(s), tip ${tip}, final tip ${plan.finalTip}, to ${store.description}`,
  )

  const schema = tableSchema(sourceInfo.columns)
  const results: PartitionSummary[] = []
  for (const range of plan.partitions) {
    const run: PartitionRun = {
      config,
      deps,
      source,
      blocks,
      isBlocksDataset,
      schema,
      orderBy,
      tip,
      threshold,
    }
    results.push(await compactPartition(run, range))
  }
  const seconds = (performance.now() - started) / 1000
  const rows = results.reduce((n, r) => n + r.rows, 0)
  return {
    chain_id: chainId.toString(),
    dataset: config.dataset,
    range: formatRange(request),
    tip: tip.toString(),
    final_tip: plan.finalTip.toString(),
    finality_threshold: threshold.toString(),
    dry_run: config.dryRun,
    partitions: results,
    files: results.reduce((n, r) => n + r.files, 0),
    rows,
    bytes: results.reduce((n, r) => n + r.bytes, 0),
    seconds: Math.round(seconds * 1000) / 1000,
    rows_per_second: seconds > 0 ? Math.round(rows / seconds) : 0,
  }
}

/** One line per partition for people. */
export function formatSummary(s: Summary): string {
  const lines = s.partitions.map((p) =>
    `  ${p.partition_key}: ${p.action}, ${p.rows} rows in ${p.files} files (${p.bytes} bytes), ` +
    `${p.uploaded_files} uploaded, ${p.stale_files_deleted} stale deleted, ${p.hot_rows_deleted} hot rows deleted` +
    (p.note ? ` (${p.note})` : "")
  )
  return [
    `${
      s.dry_run ? "Planned" : "Done"
    }: ${s.dataset} of chain ${s.chain_id}, blocks ${s.range}, ${s.rows} rows, ` +
    `${s.files} files, ${s.bytes} bytes in ${s.seconds} s (${s.rows_per_second} rows/s)`,
    ...lines,
  ].join("\n")
}

interface PartitionRun {
  readonly config: Config
  readonly deps: Deps
  readonly source: HotTable
  readonly blocks: HotTable
  readonly isBlocksDataset: boolean
  readonly schema: TableSchema
  readonly orderBy: readonly string[]
  readonly tip: bigint
  readonly threshold: bigint
}

async function compactPartition(run: PartitionRun, range: BlockRange): Promise<PartitionSummary> {
  const { config, deps } = run
  const { sql, store, prefix, log } = deps
  const key = partitionKey(range)
  const lock = await advisoryLock(sql, `parquet_compact:${config.chainId}:${config.dataset}:${key}`, 0)
  try {
    const committed = await readManifest(store, prefix, config.chainId, config.dataset)
    const previous = committed && findPartition(committed.manifest, key)
    const hotRows = await countRows(sql, run.source, range)
    const decision = decidePartition(range, previous?.row_count, hotRows)
    if (decision.kind === "keep") {
      log(`Partition ${key}: ${decision.reason}`)
      return summary(key, "kept", previous, { note: decision.reason })
    }
    refuseOverlap(run, committed?.manifest, range)
    if (previous && previous.schema_hash !== run.schema.hash) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot replace partition ${key} of ${config.dataset}: the table's schema changed since it was compacted ` +
          `(schema hash "${previous.schema_hash.slice(0, 12)}…", now "${run.schema.hash.slice(0, 12)}…"); ` +
          "replacing it could drop columns, so it was left as it is",
      )
    }
    if (previous && previous.row_count > 0) await refuseLosingRows(run, range, previous)
    await checkComplete(run, range)
    if (config.dryRun) {
      log(`Partition ${key}: would compact ${hotRows} rows`)
      return { ...summary(key, "planned", undefined), rows: Number(hotRows) }
    }

    const written = await writeFiles(run, range, previous)
    const partition: ManifestPartition = {
      partition_key: key,
      start_block: range.first,
      end_block: range.last,
      row_count: written.files.reduce((n, f) => n + f.rows, 0),
      tip: run.tip,
      finality_threshold: run.threshold,
      schema_hash: run.schema.hash,
      files: written.files,
      // the same files as committed: keep what they were committed under, so the manifest stays byte-identical
      ...(previous && sameFiles(previous.files, written.files)
        ? { tip: previous.tip, finality_threshold: previous.finality_threshold }
        : {}),
    }
    const { staleKeys, changed } = await commitPartition(run, partition)
    await verifyPartition(run, partition)
    log(
      `Partition ${key}: committed ${partition.row_count} rows in ${partition.files.length} files and verified`,
    )

    await lock.assertHeld() // a run that lost its lock must not delete what another run may be writing
    const keep = new Set(partition.files.map((f) => f.key))
    const orphans = (await store.list(partitionFilePrefix(prefix, config.chainId, config.dataset, range)))
      .filter((k) => !keep.has(k))
    const stale = [...new Set([...staleKeys, ...orphans])]
    for (const k of stale) await store.delete(k)

    let hotDeleted = 0
    if (config.deleteAfterCompact) {
      await lock.assertHeld()
      await deleteRange(sql, run.source, range, BigInt(partition.row_count))
      hotDeleted = partition.row_count
      log(`Partition ${key}: deleted ${hotDeleted} hot rows`)
    }
    return {
      ...summary(key, changed || written.uploaded > 0 ? "compacted" : "unchanged", partition),
      uploaded_files: written.uploaded,
      stale_files_deleted: stale.length,
      hot_rows_deleted: hotDeleted,
    }
  } finally {
    await lock.release()
  }
}

/** Refuses (INTEGRITY) a range that overlaps a committed partition with another key, before writing anything. */
function refuseOverlap(run: PartitionRun, manifest: Manifest | undefined, range: BlockRange): void {
  const clash = manifest?.partitions.find((p) =>
    p.partition_key !== partitionKey(range) && overlaps(partitionRangeOf(p), range)
  )
  if (clash) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot compact ${run.config.dataset} blocks ${formatRange(range)}: it overlaps committed partition ` +
        `"${clash.partition_key}"; compact exactly that range, or a range outside it`,
    )
  }
}

/**
 * Refuses (INTEGRITY) to replace a committed partition when hot storage lacks any of its rows: per
 * block, hot must hold at least as many rows as cold. Counting rows alone would let a partial
 * re-backfill with more rows in some blocks replace cold rows of other blocks.
 */
async function refuseLosingRows(
  run: PartitionRun,
  range: BlockRange,
  previous: ManifestPartition,
): Promise<void> {
  const hot = await blockCounts(run.deps.sql, run.source, range)
  const cold = new Map<bigint, number>()
  for (const file of previous.files) {
    const rows = await parquetReadObjects({
      file: await objectBuffer(run.deps.store, file.key),
      columns: [run.config.blockColumn],
    })
    for (const row of rows) {
      const block = BigInt(row[run.config.blockColumn] as bigint | number)
      cold.set(block, (cold.get(block) ?? 0) + 1)
    }
  }
  for (const [block, n] of cold) {
    const h = hot.get(block) ?? 0
    if (h < n) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot replace partition ${previous.partition_key} of ${run.config.dataset}: hot storage holds ${h} rows ` +
          `of block ${block} but cold storage holds ${n}; nothing was replaced, restore the hot rows first`,
      )
    }
  }
}

/** A hyparquet AsyncBuffer over an object, fetching only the byte ranges asked for. */
async function objectBuffer(store: ObjectStore, key: string) {
  const info = await store.head(key)
  if (!info) {
    throw new CompactError("INTEGRITY", `Cannot read "${key}": the manifest names it but it is missing`)
  }
  return {
    byteLength: info.size,
    slice: async (start: number, end?: number) => {
      const bytes = await store.getRange(key, start, end ?? info.size)
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    },
  }
}

function sameFiles(a: readonly ManifestFile[], b: readonly ManifestFile[]): boolean {
  return a.length === b.length &&
    a.every((f, i) => f.key === b[i]!.key && f.sha256 === b[i]!.sha256 && f.bytes === b[i]!.bytes)
}

function summary(
  key: string,
  action: PartitionSummary["action"],
  p: ManifestPartition | undefined,
  extra: { note?: string } = {},
): PartitionSummary {
  return {
    partition_key: key,
    action,
    rows: p?.row_count ?? 0,
    files: p?.files.length ?? 0,
    bytes: p?.files.reduce((n, f) => n + f.bytes, 0) ?? 0,
    uploaded_files: 0,
    stale_files_deleted: 0,
    hot_rows_deleted: 0,
    ...extra,
  }
}

/** Refuses (INTEGRITY) a range with blocks missing from hot storage, unless cold blocks cover them. */
async function checkComplete(run: PartitionRun, range: BlockRange): Promise<void> {
  const { sql } = run.deps
  // read now, not at the start: a blocks run may have compacted and deleted hot blocks meanwhile
  const coldBlocks = run.isBlocksDataset
    ? undefined
    : await readManifest(run.deps.store, run.deps.prefix, run.config.chainId, "blocks")
  const uncovered = coldBlocks ? gaps(coldBlocks.manifest, range) : [range]
  for (const part of uncovered) {
    const { missing, first } = await missingBlocks(sql, run.blocks, part)
    if (missing > 0n) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot compact ${run.config.dataset} blocks ${formatRange(range)} of chain ${run.config.chainId}: ` +
          `${missing} blocks are missing from "${run.config.blocksTable}"` +
          (run.isBlocksDataset ? "" : " and cold blocks") +
          `, first ${first.join(", ")}; wait until the range is complete or compact a complete range`,
      )
    }
  }
}

/** Streams the partition's rows into Parquet files and uploads those whose bytes changed. */
async function writeFiles(
  run: PartitionRun,
  range: BlockRange,
  previous: ManifestPartition | undefined,
): Promise<{ files: ManifestFile[]; uploaded: number }> {
  const { config, deps, source } = run
  const key = partitionKey(range)
  const columns = source.info.columns
  const select = columns.map((c) => quoteIdent(c.name)).join(", ")
  const order = run.orderBy.map(quoteIdent).join(", ")
  const copy = `COPY (SELECT ${select} ${
    rangeWhere(source, range)
  } ORDER BY ${order}) TO STDOUT (FORMAT binary)`
  const rowGroupSize = config.rowGroupSize ?? Math.min(config.chunkSize, 100_000)
  // decoded batches of one row group each (restarting at every file), so the encoder never joins
  // them, in buffers the encoder hands back
  const pool = new BufferPool()
  const batches = decodeCopyBinary(copyRows(deps.databaseUrl, copy), columns, rowGroupSize, {
    restartEvery: config.chunkSize,
    pool,
  })
  const files: ManifestFile[] = []
  let uploaded = 0
  let pending: Promise<void> = Promise.resolve()
  const kvMetadata = [
    { key: "parquet_compact.chain_id", value: config.chainId.toString() },
    { key: "parquet_compact.dataset", value: config.dataset },
    { key: "parquet_compact.partition_key", value: key },
    { key: "parquet_compact.start_block", value: range.first.toString() },
    { key: "parquet_compact.end_block", value: range.last.toString() },
    { key: "parquet_compact.schema_hash", value: run.schema.hash },
    { key: "parquet_compact.version", value: VERSION },
  ]
  // decoding here, encoding on a worker thread: the two halves of the CPU work on the two cores
  const encoded = encodeParquetFilesThreaded(batches, {
    columns,
    chunkSize: config.chunkSize,
    rowGroupSize,
    blockColumn: config.blockColumn,
    kvMetadata,
    createdBy: `parquet_compact ${VERSION}`,
  }, { onFallback: deps.log, recycle: (buffers) => pool.give(buffers) })
  for await (const file of encoded) {
    const objectName = objectKey(deps.prefix, config.chainId, config.dataset, range, file.part)
    const sha256 = createHash("sha256").update(file.bytes).digest("hex")
    const entry: ManifestFile = {
      key: objectName,
      part: file.part,
      rows: file.rows,
      bytes: file.bytes.length,
      sha256,
      min_block: file.rows > 0 ? file.minBlock : null,
      max_block: file.rows > 0 ? file.maxBlock : null,
    }
    files.push(entry)
    const same = previous?.files.find((f) =>
      f.key === objectName && f.sha256 === sha256 && f.bytes === entry.bytes
    )
    const upload = async () => {
      if (same && (await deps.store.head(objectName))?.size === entry.bytes) return
      await deps.store.put(objectName, file.bytes)
      uploaded++
    }
    // one upload in flight while the next file encodes
    await pending
    pending = upload()
    pending.catch(() => {}) // awaited on the next file or below; this only marks it handled meanwhile
  }
  await pending
  return { files, uploaded }
}

async function readManifest(
  store: ObjectStore,
  prefix: string,
  chainId: bigint,
  dataset: string,
): Promise<{ manifest: Manifest; etag: string; text: string } | undefined> {
  const object = await store.get(manifestKey(prefix, chainId, dataset))
  if (!object) return undefined
  const text = new TextDecoder().decode(object.bytes)
  return { manifest: parseManifest(text), etag: object.etag, text }
}

/**
 * Commits the partition into manifest.json: under the per-dataset advisory lock, read, merge and
 * write conditionally (If-Match the ETag read, If-None-Match for the first); retried on conflict.
 */
async function commitPartition(
  run: PartitionRun,
  partition: ManifestPartition,
): Promise<{ staleKeys: string[]; changed: boolean }> {
  const { config, deps } = run
  const name = manifestKey(deps.prefix, config.chainId, config.dataset)
  const lock = await advisoryLock(
    deps.sql,
    `parquet_compact:${config.chainId}:${config.dataset}`,
    config.lockTimeout,
  )
  try {
    for (let attempt = 1;; attempt++) {
      const current = await readManifest(deps.store, deps.prefix, config.chainId, config.dataset)
      const base = current?.manifest ??
        emptyManifest(config.chainId, config.dataset, `parquet_compact ${VERSION}`)
      const { manifest, staleKeys } = putPartition(base, partition, run.schema)
      const text = serializeManifest(manifest)
      if (text === current?.text) return { staleKeys, changed: false }
      try {
        await deps.store.put(name, new TextEncoder().encode(text), {
          ...(current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }),
          contentType: "application/json",
        })
        return { staleKeys, changed: true }
      } catch (error) {
        if (!(error instanceof ConditionFailed) || attempt >= COMMIT_ATTEMPTS) {
          if (error instanceof ConditionFailed) {
            throw new CompactError(
              "RETRYABLE",
              `Cannot commit "${name}": it changed under ${COMMIT_ATTEMPTS} attempts in a row; rerun the same range`,
              { cause: error },
            )
          }
          throw error
        }
        deps.log(`Manifest changed while committing partition ${partition.partition_key}; merging again`)
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
      }
    }
  } finally {
    await lock.release()
  }
}

/**
 * Reads back what was committed: the manifest must hold the partition exactly, and every file must
 * have the committed size and a Parquet footer with the committed row count. INTEGRITY otherwise.
 */
async function verifyPartition(run: PartitionRun, partition: ManifestPartition): Promise<void> {
  const { config, deps } = run
  const fail = (detail: string) =>
    new CompactError(
      "INTEGRITY",
      `Cannot verify partition ${partition.partition_key} of ${config.dataset}: ${detail}; nothing was deleted, rerun the range`,
    )
  const current = await readManifest(deps.store, deps.prefix, config.chainId, config.dataset)
  const found = current && findPartition(current.manifest, partition.partition_key)
  if (!found || serializePartition(found) !== serializePartition(partition)) {
    throw fail("the manifest read back does not hold the partition as committed")
  }
  for (const file of partition.files) {
    const info = await deps.store.head(file.key)
    if (!info || info.size !== file.bytes) {
      throw fail(`"${file.key}" has ${info?.size ?? "no"} bytes, not ${file.bytes}`)
    }
    const metadata = await parquetMetadataAsync(await objectBuffer(deps.store, file.key)).catch((cause) => {
      throw fail(`"${file.key}" has no readable Parquet footer (${(cause as Error).message})`)
    })
    if (metadata.num_rows !== BigInt(file.rows)) {
      throw fail(`"${file.key}" holds ${metadata.num_rows} rows by its footer, not ${file.rows}`)
    }
  }
}

function serializePartition(p: ManifestPartition): string {
  return JSON.stringify(p, (_, v) => (typeof v === "bigint" ? v.toString() : v))
}

function tableSchema(columns: readonly ColumnSpec[]): TableSchema {
  return {
    hash: schemaHash(columns),
    columns: columns.map((c) => ({
      name: c.name,
      pg_type: c.pgType,
      parquet_type: parquetTypeName(c),
      nullable: !c.notNull,
    })),
  }
}
