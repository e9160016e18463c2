/**
 * Compacts one partition: under its advisory lock, read the state, decide (src/core/decide.ts), then
 * carry the plan out in the one order that keeps every row in hot or cold storage at every instant:
 *
 *   remove unnamed files → write new files under new names → commit the manifest → read back and
 *   verify → delete superseded files → delete the hot rows, proven to be the archived ones.
 *
 * A crash before the commit leaves the old manifest and its files untouched (new files are unnamed
 * and removed by the next run of the partition); a crash after it leaves a verified commit whose
 * hot rows are still there or deleted whole.
 */
import { commitPartition, type ManifestTarget, readManifest, verifyPartition } from "./commit.ts"
import type { Dataset } from "./dataset.ts"
import { CompactError } from "./errors.ts"
import { decidePartition, type PartitionPlan, sameRows } from "./core/decide.ts"
import type { ManifestPartition } from "./core/manifest.ts"
import { partitionFilePrefix, partitionKey } from "./core/naming.ts"
import { type BlockRange, formatRange } from "./core/range.ts"
import { deleteArchived, type Fingerprint } from "./pg/fingerprint.ts"
import { advisoryLock } from "./pg/hot.ts"
import { readPartitionState } from "./state.ts"
import { blockTally, checkComplete, refuseIncomplete } from "./complete.ts"
import { writeFiles } from "./write.ts"

/** The named steps a partition passes (the crash harness stops the process at each). */
export const STEPS = [
  "locked",
  "cleaned",
  "streamed-piece", // a row group of a file that streams to the store (file://, or S3 past one part)
  "uploaded-file",
  "uploaded",
  "committed",
  "verified",
  "deleted-superseded",
  "deleted-hot",
] as const

/** What happened to one partition. */
export interface PartitionSummary {
  readonly partition_key: string
  /** compacted: written and committed; merged: late rows added; unchanged / kept: nothing written; planned: dry run. */
  readonly action: "compacted" | "merged" | "unchanged" | "kept" | "planned"
  readonly rows: number
  readonly files: number
  readonly bytes: number
  readonly uploaded_files: number
  readonly stale_files_deleted: number
  readonly hot_rows_deleted: number
  readonly seconds: number
  readonly note?: string
}

/** Options of one partition's run. */
export interface PartitionOptions {
  /** Once aborted, the partition stops before its commit and removes what it uploaded. */
  readonly signal?: AbortSignal | undefined
}

/** Compacts one partition as decided under its lock; throws CompactError for refusals. */
export async function compactPartition(
  ds: Dataset,
  range: BlockRange,
  options: PartitionOptions = {},
): Promise<PartitionSummary> {
  const started = performance.now()
  const { config, deps } = ds
  const key = partitionKey(range)
  const fields = { chain_id: config.chainId.toString(), dataset: config.dataset, partition: key }
  const lock = await advisoryLock(deps.sql, `parquet_compact:${config.chainId}:${config.dataset}:${key}`, 0)
  const step = async (name: (typeof STEPS)[number]) => await deps.checkpoint?.(name)
  try {
    await step("locked")
    const { state, committed } = await readPartitionState(ds, range, { countNew: config.dryRun })
    const plan = decidePartition(state, { deleteHot: config.deleteAfterCompact, mergeLate: config.mergeLate })
    const done = (
      action: PartitionSummary["action"],
      p: ManifestPartition | undefined,
      extra: Partial<PartitionSummary> = {},
    ): PartitionSummary => ({
      partition_key: key,
      action,
      rows: p?.row_count ?? 0,
      files: p?.files.length ?? 0,
      bytes: p?.files.reduce((n, f) => n + f.bytes, 0) ?? 0,
      uploaded_files: 0,
      stale_files_deleted: 0,
      hot_rows_deleted: 0,
      seconds: Math.round(performance.now() - started) / 1000,
      ...(plan.action === "write" ? {} : { note: plan.reason }),
      ...extra,
    })
    if (config.dryRun) {
      if (plan.action === "refuse") throw new CompactError("INTEGRITY", plan.reason)
      if (plan.action === "write" && plan.checkComplete) await checkComplete(ds, range)
      deps.log.info(`Partition ${key}: would ${describe(plan)}`, fields)
      return done("planned", committed, { rows: state.hot?.rows ?? 0, note: describe(plan) })
    }
    await deps.store.abortIncompleteUploads(
      partitionFilePrefix(deps.prefix, config.chainId, config.dataset, range),
    )
    for (const k of plan.cleanup) await deps.store.delete(k)
    if (plan.cleanup.length > 0) {
      deps.log.info(`Partition ${key}: removed ${plan.cleanup.length} unnamed files`, fields)
    }
    await step("cleaned")
    if (plan.action === "refuse") throw new CompactError("INTEGRITY", plan.reason)
    if (plan.action === "keep") {
      deps.log.info(`Partition ${key}: ${plan.reason}`, fields)
      let deleted = 0
      if (plan.deleteHot && committed?.source) {
        // committed by an earlier run: read it back whole before its rows leave hot storage
        await verifyPartition(target(ds), committed, new Set(committed.files.map((f) => f.key))).catch(
          (error) => {
            if (!(error instanceof CompactError) || error.code !== "INTEGRITY") throw error
            // hot storage still holds exactly these rows: a damaged object, once removed, is rewritten
            throw new CompactError(
              "INTEGRITY",
              `${error.message}; hot storage still holds the partition's rows: delete the damaged object ` +
                "and rerun, and the partition is rewritten from hot storage",
            )
          },
        )
        deleted = await deleteHot(ds, range, lock, committed.source, undefined)
      }
      return done(sameRows(state.hot, committed?.source) ? "unchanged" : "kept", committed, {
        hot_rows_deleted: deleted,
      })
    }
    // the blocks dataset's completeness comes from its own COPY (see complete.ts)
    const tally = plan.checkComplete ? blockTally(ds, range) : undefined
    if (plan.checkComplete && !tally) await checkComplete(ds, range)
    const append = plan.mode === "append" && committed !== undefined
    const firstPart = append ? Math.max(-1, ...committed.files.map((f) => f.part)) + 1 : 0
    const uploaded = new Set<string>()
    let commit: { staleKeys: string[]; changed: boolean }
    let partition: ManifestPartition
    let written
    try {
      written = await writeFiles(ds, range, firstPart, uploaded, options.signal, tally)
      if (tally) refuseIncomplete(ds, range, tally.finish())
      if (plan.mode !== "new" && !sameRows(written.source, state.hot)) {
        // the decision to replace or append was made on the rows read before the copy
        throw new CompactError(
          "RETRYABLE",
          `Cannot ${plan.mode} partition ${key}: its hot rows changed while it was being compacted; ` +
            "nothing was committed, rerun the range",
        )
      }
      await step("uploaded")
      const files = append ? [...committed.files, ...written.files] : written.files
      const sameFiles = committed !== undefined && !append && committed.files.length === files.length &&
        committed.files.every((f, i) => f.key === files[i]!.key)
      partition = {
        partition_key: key,
        start_block: range.first,
        end_block: range.last,
        row_count: files.reduce((n, f) => n + f.rows, 0),
        // the same files as committed keep what they were committed under, so the manifest stays byte-identical
        tip: sameFiles ? committed.tip : ds.tip,
        finality_threshold: sameFiles ? committed.finality_threshold : ds.threshold,
        schema_hash: ds.schema.hash,
        source: { rows: written.source.rows, fingerprint: written.source.fingerprint, encoding: ds.encoding },
        files,
      }
      if (options.signal?.aborted) {
        throw new CompactError("INTERRUPTED", `Stopped partition ${key} before committing it`)
      }
      commit = await commitPartition(target(ds), partition, committed)
    } catch (error) {
      // Maybe not committed: a commit whose answer was lost, or another run that committed the same
      // content-addressed names, may name them. Remove only what the manifest read now does not name;
      // when it cannot be read, leave them to the next run of the partition (it removes them under the lock).
      const named = await readManifest(deps.store, deps.prefix, config.chainId, config.dataset).then(
        (m) => new Set(m?.manifest.partitions.flatMap((p) => p.files.map((f) => f.key)) ?? []),
        () => undefined,
      )
      if (named) {
        await Promise.allSettled([...uploaded].filter((k) => !named.has(k)).map((k) => deps.store.delete(k)))
      }
      throw error
    }
    await step("committed")
    await verifyPartition(target(ds), partition, written.reused)
    await step("verified")
    deps.log.info(
      `Partition ${key}: committed ${partition.row_count} rows in ${partition.files.length} files and verified`,
      {
        ...fields,
        rows: partition.row_count,
        bytes: partition.files.reduce((n, f) => n + f.bytes, 0),
      },
    )
    await lock.assertHeld() // a run that lost its lock must not delete what another run may be writing
    for (const k of commit.staleKeys) await deps.store.delete(k)
    await step("deleted-superseded")
    const deleted = plan.deleteHot
      ? await deleteHot(ds, range, lock, written.source, written.snapshotXmax)
      : 0
    const changed = commit.changed || uploaded.size > 0
    return done(append ? "merged" : changed ? "compacted" : "unchanged", partition, {
      uploaded_files: uploaded.size,
      stale_files_deleted: commit.staleKeys.length,
      hot_rows_deleted: deleted,
      note: plan.reason,
    })
  } finally {
    await lock.release()
  }
}

async function deleteHot(
  ds: Dataset,
  range: BlockRange,
  lock: { assertHeld(): Promise<void> },
  expected: Fingerprint,
  snapshotXmax: bigint | undefined,
): Promise<number> {
  await lock.assertHeld()
  const n = await deleteArchived(ds.deps.sql, ds.source, range, expected, snapshotXmax)
  await ds.deps.checkpoint?.("deleted-hot")
  ds.deps.log.info(`Partition ${formatRange(range)}: deleted ${n} hot rows`, {
    chain_id: ds.config.chainId.toString(),
    dataset: ds.config.dataset,
    partition: formatRange(range),
    rows: n,
  })
  return n
}

function target(ds: Dataset): ManifestTarget {
  return {
    sql: ds.deps.sql,
    store: ds.deps.store,
    prefix: ds.deps.prefix,
    chainId: ds.config.chainId,
    dataset: ds.config.dataset,
    schema: ds.schema,
    lockTimeout: ds.config.lockTimeout,
    log: ds.deps.log,
  }
}

function describe(plan: PartitionPlan): string {
  return plan.action === "write"
    ? `${plan.mode === "new" ? "compact" : plan.mode} (${plan.reason})`
    : plan.reason
}
