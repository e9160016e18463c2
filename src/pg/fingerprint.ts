/**
 * Proving that hot rows are the archived rows. Every row version in Postgres has a unique (xmin, ctid)
 * pair: an UPDATE, or a DELETE followed by an INSERT, makes a new version with a new xmin and ctid.
 * The fingerprint of a range is the count of its rows and the sum of a 64-bit hash of each version's
 * (xmin, ctid), summed over the rows the COPY that feeds the Parquet files sends (each row carries
 * its version as its last columns, hashed by Postgres or, where checkRowHash() saw the same hashes,
 * here: see RowHashSum), so it is exactly the copied rows'.
 * The hot delete recomputes it over exactly the rows it deletes (`DELETE … RETURNING xmin, ctid`) and
 * commits only when both agree, so no row that changed after the copy is ever deleted.
 *
 * A table rewrite (VACUUM FULL, CLUSTER, pg_repack) moves rows to new ctids: the fingerprint then no
 * longer matches, nothing is deleted, and a rerun compacts the range again. That is safe, only slower.
 */
import { CompactError, isConnectionLoss } from "../errors.ts"
import type { BlockRange } from "../core/range.ts"
import { CONSUMED, copyLost } from "./copyout.ts"
import { type HotTable, rangeWhere, type Sql } from "./hot.ts"
import { quoteIdent } from "./schema.ts"
import { ROW_VERSION_COLUMNS, type RowHashForm, tidHash, tidHashOut } from "./rowhash.ts"
import { openWire, type WireConnection, wireOptions } from "./wire.ts"

/** Rows of a range and the fingerprint of their versions (a decimal integer, "0" for none). */
export interface Fingerprint {
  readonly rows: number
  readonly fingerprint: string
}

/**
 * The per-row hash the fingerprint sums: a 64-bit hash of the row version's ctid seeded by its xmin
 * (no text of the tid: this costs a third of hashing `xmin || ctid` as text). sum(int8) is an exact
 * numeric, so the fingerprint never overflows.
 */
export const ROW_HASH = ROW_VERSION_COLUMNS.server

/** Row versions (block, offset, xmin) that checkRowHash() hashes on the server and here. */
const PROBES: readonly [number, number, number][] = [
  [0x12345678, 0x1234, 0xefcdab89],
  [0xfffffffe, 0xffff, 0xffffffff],
  [0, 1, 0],
  [1, 2, 3],
  [0xffffffff, 0x8000, 2],
]

const checked = new WeakMap<Sql, Promise<RowHashForm>>()

/**
 * The form in which a COPY should send row versions to this server (see RowHashSum): "client"
 * when the server's ROW_HASH of a few probe versions equals tidHash()'s and it sends ctid and xmin
 * in 6 and 4 bytes, else "server". Asked once per connection pool; a lost connection is reported
 * as the COPY's would be.
 */
export function checkRowHash(sql: Sql): Promise<RowHashForm> {
  let form = checked.get(sql)
  if (form === undefined) {
    const list = PROBES.map(([b, o, x], i) =>
      `hashtidextended('(${b},${o})'::tid, ${x}::int8)::text AS h${i}`
    )
    // the client form reads ctid and xmin as 6 and 4 bytes (tidsend, xidsend)
    const widths = `(SELECT array_agg(typlen ORDER BY oid)::text FROM pg_type
      WHERE oid IN ('tid'::regtype, 'xid'::regtype)) AS widths`
    form = sql.unsafe(`SELECT ${list.join(", ")}, ${widths}`).catch((error) => {
      throw isConnectionLoss(error) ? copyLost(error) : error
    }).then(([row]) =>
      row?.widths === "{6,4}" && PROBES.every(([b, o, x], i) => {
          tidHash(b, o, x)
          const here = (BigInt(tidHashOut[0]!) << 32n) + BigInt(tidHashOut[1]!)
          return row?.[`h${i}`] === here.toString()
        })
        ? "client" as const
        : "server" as const
    )
    form.catch(() => checked.delete(sql))
    checked.set(sql, form)
  }
  return form
}

/** `SELECT count, fingerprint` over a FROM/WHERE clause or a CTE. */
const aggregate = (from: string) =>
  `SELECT count(*)::text AS n, coalesce(sum(${ROW_HASH}), 0)::text AS fp ${from}`

const toFingerprint = (row: { n: string; fp: string } | undefined): Fingerprint => ({
  rows: Number(row?.n ?? 0),
  fingerprint: row?.fp ?? "0",
})

/** The fingerprint of a range's hot rows now. */
export async function hotFingerprint(sql: Sql, table: HotTable, range: BlockRange): Promise<Fingerprint> {
  const [row] = await sql.unsafe(aggregate(rangeWhere(table, range)))
  return toFingerprint(row as unknown as { n: string; fp: string } | undefined)
}

/** A COPY stream and the snapshot it reads. */
export interface SnapshotCopy {
  readonly chunks: AsyncGenerator<Uint8Array>
  /** The first transaction id the snapshot did not see (for naming what changed after it). */
  readonly snapshotXmax: Promise<bigint>
}

/**
 * Streams `copy` (a `COPY (SELECT …, <row version columns> FROM table WHERE range …) TO STDOUT`
 * statement) in a REPEATABLE READ, READ ONLY transaction of its own connection. The rows'
 * fingerprint is the sum of their hashes (RowHashSum, as decodeCopyBinary() adds them): taking it in
 * the same pass costs a few bytes per row, where a query of its own before the COPY scanned the
 * range once more.
 * The connection is wire.ts' lean client (postgres.js spends more CPU per COPY row than the decoder),
 * opened with the settings postgres.js parses from `url`, and closed afterwards.
 */
export function copyInSnapshot(url: string | undefined, copy: string): SnapshotCopy {
  let settle!: (xmax: bigint) => void
  let fail!: (error: unknown) => void
  const snapshotXmax = new Promise<bigint>((resolve, reject) => {
    settle = resolve
    fail = reject
  })
  snapshotXmax.catch(() => {}) // the stream rethrows the same error
  async function* chunks(): AsyncGenerator<Uint8Array, void, typeof CONSUMED | undefined> {
    let wire: WireConnection | undefined
    try {
      wire = await openWire(wireOptions(url, "parquet_compact copy"))
      await wire.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
      const [snap] = await wire.query(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text`)
      settle(BigInt(snap?.[0] ?? "x"))
      yield* wire.copy(copy)
      await wire.query("COMMIT")
    } catch (error) {
      const lost = isConnectionLoss(error) ? copyLost(error) : error
      fail(lost)
      throw lost
    } finally {
      wire?.close()
    }
  }
  return { chunks: chunks(), snapshotXmax }
}

/**
 * Deletes a range's hot rows in one transaction, committing only when the deleted row versions are
 * exactly those of `expected` (count and fingerprint). Otherwise it rolls back and throws INTEGRITY,
 * naming the blocks whose rows changed after the snapshot (xmin ≥ `snapshotXmax`, when known).
 */
export async function deleteArchived(
  sql: Sql,
  table: HotTable,
  range: BlockRange,
  expected: Fingerprint,
  snapshotXmax?: bigint,
): Promise<number> {
  const block = quoteIdent(table.blockColumn)
  const got = await sql.begin(async (tx) => {
    const [row] = await tx.unsafe(
      `WITH d AS (DELETE ${rangeWhere(table, range)} RETURNING xmin, ctid) ${aggregate("FROM d")}`,
    )
    const fp = toFingerprint(row as unknown as { n: string; fp: string })
    if (fp.rows !== expected.rows || fp.fingerprint !== expected.fingerprint) {
      throw new Mismatch(fp)
    }
    return fp
  }).catch(async (error) => {
    if (!(error instanceof Mismatch)) throw error
    // rolled back; say which blocks hold rows newer than the copy (deleted rows leave no trace)
    const changed = snapshotXmax === undefined ? [] : await sql.unsafe(
      `SELECT DISTINCT ${block}::text AS b ${rangeWhere(table, range)}
       AND xmin::text::int8 >= ${snapshotXmax % 4294967296n} ORDER BY 1 LIMIT 10`,
    ).catch(() => [])
    const blocks = changed.map((r) => r.b as string)
    throw new CompactError(
      "INTEGRITY",
      `Cannot delete hot rows of blocks ${range.first}-${range.last}: they changed after they were copied ` +
        `(${error.found.rows} rows now, ${expected.rows} archived` +
        (blocks.length > 0
          ? `; rows written since in blocks ${blocks.join(", ")}`
          : "; rows were deleted or rewritten") +
        "); nothing was deleted, rerun compact for this range to archive the current rows",
    )
  })
  return got.rows
}

class Mismatch extends Error {
  constructor(readonly found: Fingerprint) {
    super("fingerprint mismatch")
  }
}

/**
 * How many hot rows of a range carry each key (the order-by columns joined by U+0001; bytea as hex,
 * everything else as Postgres prints it). Keys compare with {@link coldKey} over Parquet values.
 */
export async function hotKeyCounts(
  sql: Sql,
  table: HotTable,
  range: BlockRange,
  keyColumns: readonly { name: string; kind: string }[],
): Promise<Map<string, number>> {
  const parts = keyColumns.map((c) =>
    `coalesce(${
      c.kind === "bytea" ? `encode(${quoteIdent(c.name)}, 'hex')` : `${quoteIdent(c.name)}::text`
    }, chr(2))`
  )
  const rows = await sql.unsafe(
    `SELECT concat_ws(chr(1), ${parts.join(", ")}) AS k, count(*)::int AS n ${
      rangeWhere(table, range)
    } GROUP BY 1`,
  )
  return new Map(rows.map((r) => [r.k as string, r.n as number]))
}

/** Column kinds whose Parquet values {@link coldKey} prints exactly as {@link hotKeyCounts} does. */
export const KEY_KINDS: ReadonlySet<string> = new Set(["int2", "int4", "int8", "text", "bytea"])

/** The key of a row read back from Parquet, printed as {@link hotKeyCounts} prints hot keys. */
export function coldKey(values: readonly unknown[]): string {
  return values.map((v) =>
    v === null || v === undefined
      ? "\u0002"
      : v instanceof Uint8Array
      ? Buffer.from(v).toString("hex")
      : String(v)
  ).join("\u0001")
}
