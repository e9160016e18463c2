/**
 * What every partition of a run shares, read once at the start: the hot tables and their schema, the
 * row order, the tip and finality threshold, and the encoding options. Partitions are then compacted
 * one by one with src/execute.ts.
 */
import type { Config } from "./config.ts"
import { CompactError } from "./errors.ts"
import { finalityThreshold, finalTip } from "./core/finality.ts"
import type { TableSchema } from "./core/manifest.ts"
import type { Logger } from "./log.ts"
import { resolveTip } from "./plan.ts"
import { deletionSideEffects, type HotTable, hotTable, hotTip, type Sql } from "./pg/hot.ts"
import { type ColumnSpec, describeTable, parquetTypeName } from "./pg/schema.ts"
import { schemaHash } from "./parquet/encode.ts"
import { readManifest } from "./commit.ts"
import type { ObjectStore } from "./store/store.ts"

/** What a run needs from outside. */
export interface Deps {
  readonly sql: Sql
  /** Postgres URL (undefined: PG* variables), for the COPY stream's own connection. */
  readonly databaseUrl: string | undefined
  readonly store: ObjectStore
  /** Prefix under which `{chain}/{dataset}/` lives in the store. */
  readonly prefix: string
  readonly log: Logger
  /**
   * Called at each named step of a partition (see STEPS in src/execute.ts); the reliability
   * harness uses it to kill the process at a chosen step. Undefined in normal runs.
   */
  readonly checkpoint?: ((step: string) => void | Promise<void>) | undefined
}

/** A dataset opened for compaction. */
export interface Dataset {
  readonly config: Config
  readonly deps: Deps
  readonly source: HotTable
  readonly blocks: HotTable
  readonly isBlocksDataset: boolean
  readonly schema: TableSchema
  readonly orderBy: readonly string[]
  readonly tip: bigint
  readonly threshold: bigint
  readonly finalTip: bigint
  /** The encoding options, as recorded in the manifest: a change re-encodes unchanged rows. */
  readonly encoding: string
  readonly rowGroupSize: number
}

/** Describes the tables, checks the settings against them and resolves the tip. */
export async function openDataset(config: Config, deps: Deps): Promise<Dataset> {
  const { sql, store } = deps
  const chainId = config.chainId
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
        }; compact without --delete-after-compact or remove them`,
      )
    }
  }
  const threshold = finalityThreshold(chainId, config.finalityThreshold)
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
  const rowGroupSize = config.rowGroupSize ?? Math.min(config.chunkSize, 100_000)
  return {
    config,
    deps,
    source,
    blocks,
    isBlocksDataset,
    schema: tableSchema(sourceInfo.columns, config.uuidAs),
    orderBy,
    tip,
    threshold,
    finalTip: finalTip(tip, threshold),
    encoding: `chunk_size=${config.chunkSize};row_group_size=${rowGroupSize};order_by=${orderBy.join(",")}` +
      (config.pageVersion === 1 ? "" : `;page_version=${config.pageVersion}`),
    rowGroupSize,
  }
}

/** The schema as the manifest records it; UUIDs written as plain binary are another schema to readers. */
function tableSchema(columns: readonly ColumnSpec[], uuidAs: "uuid" | "binary"): TableSchema {
  const binaryUuids = uuidAs === "binary" && columns.some((c) => c.kind === "uuid" || c.element === "uuid")
  return {
    hash: binaryUuids ? `${schemaHash(columns)}:uuid-as-binary` : schemaHash(columns),
    columns: columns.map((c) => ({
      name: c.name,
      pg_type: c.pgType,
      parquet_type: parquetTypeName(c, { uuidAs }),
      nullable: !c.notNull,
    })),
  }
}
