/**
 * The per-partition decision, with no I/O: given what was read under the partition's lock (the
 * committed partition, the hot rows' fingerprint, how hot and cold keys compare), say what to do as
 * plain data. The executor (src/execute.ts) carries the plan out; properties test this function.
 *
 * The rules, in order:
 * 1. Files under the partition's prefix that no manifest names are always removed first.
 * 2. A range that overlaps another committed partition is refused.
 * 3. Not committed yet: write it (after the completeness check).
 * 4. Committed files missing from the store: rewrite them from hot when hot still holds exactly the
 *    archived rows, else refuse. Committed and no hot rows left: nothing to do.
 * 5. Committed and the hot rows are exactly the archived ones (same fingerprint): keep the files (also
 *    when the table's schema changed since), or re-encode them when only the encoding options
 *    changed; delete the hot rows if asked.
 * 6. Hot rows differ from the archived ones and the schema changed: refuse.
 * 7. Hot holds every archived key (a repair or re-backfill): replace the partition from hot.
 * 8. Hot lacks archived keys but has no new ones: keep cold as it is.
 * 9. Hot has keys cold lacks after the archived rows left hot: late rows. Refused (exit 4) unless
 *    `mergeLate`, which appends them to the partition as new files when hot holds nothing else.
 */
import { type BlockRange, formatRange } from "./range.ts"

/** The hot rows' count and fingerprint (see src/pg/fingerprint.ts). */
export interface HotRows {
  readonly rows: number
  readonly fingerprint: string
}

/** What the partition's committed files were made from; undefined for manifests of version 0.1. */
export interface CommittedSource extends HotRows {
  readonly encoding: string
}

/** How hot and cold keys (the order-by columns) compare, as multisets. */
export interface KeyComparison {
  /** Rows of cold whose key hot lacks. */
  readonly coldOnly: number
  /** Rows of hot whose key cold lacks (late rows when the archived rows left hot). */
  readonly hotOnly: number
  /** Rows whose key is in both. */
  readonly shared: number
  /** The first few blocks holding hot-only rows. */
  readonly hotOnlyBlocks: readonly bigint[]
}

/** Everything the decision needs, read under the partition's lock. */
export interface PartitionState {
  readonly range: BlockRange
  readonly dataset: string
  /** The committed partition, if any. */
  readonly committed?: {
    readonly rows: number
    readonly schemaHash: string
    readonly source?: CommittedSource | undefined
  } | undefined
  /** Key of another committed partition that overlaps this range, if any. */
  readonly overlapping?: string | undefined
  /** Objects under this partition's file prefix that no manifest names. */
  readonly orphans: readonly string[]
  /** Files the committed partition names that are not in the store (lost or deleted by hand). */
  readonly missingFiles: readonly string[]
  /**
   * The hot rows' count and fingerprint. When nothing is committed the fingerprint is "" (the COPY
   * takes it), and the count is left out (undefined) unless asked for: a first write needs neither.
   */
  readonly hot: HotRows | undefined
  /** Only read when committed and the hot rows differ from the archived ones. */
  readonly keys?: KeyComparison | undefined
  readonly schemaHash: string
  /** The encoding options of this run (chunk size, row groups, order, page format). */
  readonly encoding: string
}

/** The options that change the decision. */
export interface DecideOptions {
  readonly deleteHot: boolean
  readonly mergeLate: boolean
}

/** What to do with one partition. `cleanup` keys are deleted first in every case. */
export type PartitionPlan =
  & { readonly cleanup: readonly string[] }
  & (
    | { readonly action: "keep"; readonly reason: string; readonly deleteHot: boolean }
    | { readonly action: "refuse"; readonly reason: string }
    | {
      readonly action: "write"
      /** new: first commit; replace: rebuild from hot; append: add hot rows as new files. */
      readonly mode: "new" | "replace" | "append"
      readonly checkComplete: boolean
      readonly deleteHot: boolean
      readonly reason: string
    }
  )

/**
 * Whether the committed files hold exactly the rows they were last written from: false after late
 * rows were merged in (the files then also hold archived rows no longer in hot storage), so such a
 * partition is never rebuilt from hot alone.
 */
export function filesAreSource(committed: { rows: number; source?: HotRows | undefined }): boolean {
  return committed.source !== undefined && committed.source.rows === committed.rows
}

/** Whether the hot rows are provably the ones the committed files were made from. */
export function sameRows(hot: HotRows | undefined, source: HotRows | undefined): boolean {
  return hot !== undefined && source !== undefined && hot.rows === source.rows &&
    hot.fingerprint === source.fingerprint
}

/** Decides what to do with one partition (see the module comment for the rules). */
export function decidePartition(state: PartitionState, options: DecideOptions): PartitionPlan {
  const cleanup = state.orphans
  const what = `${state.dataset} partition ${formatRange(state.range)}`
  const { deleteHot } = options
  if (state.overlapping !== undefined) {
    return {
      cleanup,
      action: "refuse",
      reason: `Cannot compact ${what}: it overlaps committed partition "${state.overlapping}"; ` +
        "compact exactly that range, or a range outside it",
    }
  }
  const committed = state.committed
  if (committed === undefined) {
    return {
      cleanup,
      action: "write",
      mode: "new",
      checkComplete: true,
      deleteHot,
      reason: "not compacted yet",
    }
  }
  const hot = state.hot
  if (hot === undefined) throw new Error(`The hot rows of committed ${what} were not read`)
  const lost = state.missingFiles.length
  if (lost > 0) {
    if (
      sameRows(hot, committed.source) && filesAreSource(committed) &&
      committed.schemaHash === state.schemaHash
    ) {
      return {
        cleanup,
        action: "write",
        mode: "replace",
        checkComplete: false,
        deleteHot,
        reason:
          `${lost} committed files are missing from the store and hot storage still holds the rows: rewriting`,
      }
    }
    return {
      cleanup,
      action: "refuse",
      reason:
        `Cannot use ${what}: the manifest names ${lost} files the store lacks (first "${
          state.missingFiles[0]
        }") ` +
        "and hot storage does not hold the archived rows; restore those objects (e.g. from bucket versioning)",
    }
  }
  if (hot.rows === 0) {
    return {
      cleanup,
      action: "keep",
      deleteHot: false,
      reason: `already compacted with ${committed.rows} rows and no hot rows left: nothing to do`,
    }
  }
  if (sameRows(hot, committed.source)) {
    if (committed.schemaHash !== state.schemaHash) {
      // re-encoding could drop a column the files hold; the rows themselves are provably archived
      return {
        cleanup,
        action: "keep",
        deleteHot,
        reason:
          "unchanged rows; the table's schema changed since, so the files keep the schema they were written with",
      }
    }
    if (committed.source!.encoding === state.encoding) {
      return { cleanup, action: "keep", deleteHot, reason: "unchanged since it was compacted" }
    }
    if (!filesAreSource(committed)) {
      return {
        cleanup,
        action: "keep",
        deleteHot,
        reason: "unchanged rows; late rows were merged into its files, which are kept as written",
      }
    }
    return {
      cleanup,
      action: "write",
      mode: "replace",
      checkComplete: false, // the same row versions that were complete when first compacted
      deleteHot,
      reason: "same rows, other encoding options: re-encoding",
    }
  }
  if (committed.schemaHash !== state.schemaHash) {
    return {
      cleanup,
      action: "refuse",
      reason: `Cannot replace ${what}: the table's schema changed since it was compacted and its hot rows ` +
        "differ from the archived ones; replacing it could drop columns or rows, so it was left as it is",
    }
  }
  const keys = state.keys
  if (keys === undefined) throw new Error(`decidePartition: keys of ${what} were not read`)
  if (keys.coldOnly === 0) {
    return {
      cleanup,
      action: "write",
      mode: "replace",
      checkComplete: true,
      deleteHot,
      reason: `hot storage holds every archived row${
        keys.hotOnly > 0 ? ` and ${keys.hotOnly} more` : ""
      }: replacing`,
    }
  }
  if (keys.hotOnly === 0) {
    return {
      cleanup,
      action: "keep",
      deleteHot: false,
      reason: `hot storage holds ${keys.shared} of the ${committed.rows} archived rows and no others; ` +
        "cold storage kept as it is",
    }
  }
  const late = `${keys.hotOnly} late rows (blocks ${keys.hotOnlyBlocks.join(", ")}${
    keys.hotOnly > keys.hotOnlyBlocks.length ? ", …" : ""
  })`
  if (!options.mergeLate) {
    return {
      cleanup,
      action: "refuse",
      reason: `Cannot compact ${what}: hot storage holds ${late} that the committed partition lacks; ` +
        "rerun with --merge-late to add them to the partition (verified, then deleted as usual)",
    }
  }
  if (keys.shared > 0) {
    return {
      cleanup,
      action: "refuse",
      reason:
        `Cannot merge ${late} into ${what}: hot storage also holds ${keys.shared} of its archived rows ` +
        `but not the other ${keys.coldOnly}; restore or delete those hot rows first`,
    }
  }
  return {
    cleanup,
    action: "write",
    mode: "append",
    checkComplete: false, // the blocks were complete when the partition was first compacted
    deleteHot,
    reason: `merging ${late} into the partition`,
  }
}
