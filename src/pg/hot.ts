/**
 * The Postgres "hot" side, apart from decoding rows: the tip, row counts, completeness,
 * advisory locks (lock.ts) and deletion side effects; the verified delete is in fingerprint.ts.
 * Every identifier comes from the catalogue via
 * describeTable() and is quoted; every value is a bound parameter or a validated bigint.
 */
import { CompactError } from "../errors.ts"
import type { BlockRange } from "../core/range.ts"
import { connect, type Sql } from "./connect.ts"
import { quoteIdent, quoteQualified, type TableInfo } from "./schema.ts"

export type { Sql } from "./connect.ts"
export { advisoryLock, type Lock } from "./lock.ts"

/**
 * Opens a pool of `max` connections from a URL, or from the standard PG* variables when the URL is
 * undefined. Throws BAD_INPUT for an invalid URL. Lock sessions (lock.ts) and the COPY stream
 * ({@link copyRows}) open connections of their own.
 */
export function openDatabase(url: string | undefined, max = 3): Sql {
  return connect(url, { max }) // max: lock sessions have their own connections; short queries run at once
}

/** Where the rows of one chain live: a table, its block column and, for multi-chain tables, the chain filter. */
export interface HotTable {
  readonly info: TableInfo
  readonly blockColumn: string
  /** SQL text `AND "chain_id" = CAST('10143' AS int8)` when the table has a chain_id column, else "". */
  readonly chainFilter: string
  /** The column `chainFilter` filters on, if any. */
  readonly chainColumn?: string
}

/**
 * Binds a described table to its block column and chain, checking the columns exist. Rows are
 * filtered by `chainColumn` when given (it must exist), else by a `chain_id` column if there is one.
 */
export function hotTable(
  info: TableInfo,
  blockColumn: string,
  chainId: bigint,
  chainColumn?: string,
): HotTable {
  const block = info.columns.find((c) => c.name === blockColumn)
  if (!block) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot compact "${info.schema}.${info.table}": it has no column "${blockColumn}"; pass --block-column`,
    )
  }
  const chain = info.columns.find((c) => c.name === (chainColumn ?? "chain_id"))
  if (chainColumn !== undefined && !chain) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot filter "${info.schema}.${info.table}" by chain: it has no column "${chainColumn}"; fix --chain-column`,
    )
  }
  // chainId is a validated bigint and pgType comes from format_type(), so this text is safe
  const chainFilter = chain ? ` AND ${quoteIdent(chain.name)} = CAST('${chainId}' AS ${chain.pgType})` : ""
  return chain
    ? { info, blockColumn, chainFilter, chainColumn: chain.name }
    : { info, blockColumn, chainFilter }
}

/** `FROM t WHERE block BETWEEN first AND last [AND chain_id = …]` for one range. */
export function rangeWhere(table: HotTable, range: BlockRange): string {
  return `FROM ${quoteQualified(table.info.schema, table.info.table)} WHERE ${
    quoteIdent(table.blockColumn)
  } ` +
    `BETWEEN ${range.first} AND ${range.last}${table.chainFilter}`
}

/** The highest block number in the table for the chain, or undefined when it has none. */
export function hotTip(sql: Sql, blocks: HotTable): Promise<bigint | undefined> {
  return blockBound(sql, blocks, "max")
}

/** The lowest block number in the table for the chain, or undefined when it has none. */
export function hotLowest(sql: Sql, table: HotTable): Promise<bigint | undefined> {
  return blockBound(sql, table, "min")
}

async function blockBound(sql: Sql, table: HotTable, bound: "min" | "max"): Promise<bigint | undefined> {
  const where = table.chainFilter ? `WHERE ${table.chainFilter.slice(5)}` : ""
  const [row] = await sql.unsafe(
    `SELECT ${bound}(${quoteIdent(table.blockColumn)})::text AS b FROM ${
      quoteQualified(table.info.schema, table.info.table)
    } ${where}`,
  )
  return row?.b == null ? undefined : BigInt(row.b)
}

/** How many rows the table holds in a range. */
export async function countRows(sql: Sql, table: HotTable, range: BlockRange): Promise<bigint> {
  const [row] = await sql.unsafe(`SELECT count(*)::text AS n ${rangeWhere(table, range)}`)
  return BigInt(row!.n)
}

/**
 * Whether the table holds each block at most once in its chain, so that count(*) (an index-only
 * scan: 1M blocks ~40 ms, against ~100 ms for count(DISTINCT)) counts blocks: its primary key is the
 * block column, with the chain column it is filtered on, and no inheritance child adds rows the key
 * does not cover (a partitioned table's key covers its partitions).
 */
async function eachBlockOnce(sql: Sql, blocks: HotTable): Promise<boolean> {
  const pk = blocks.info.primaryKey
  const keyed = pk.includes(blocks.blockColumn) &&
    pk.every((c) => c === blocks.blockColumn || c === blocks.chainColumn)
  if (!keyed) return false
  const [row] = await sql.unsafe(
    `SELECT NOT c.relhassubclass OR c.relkind = 'p' AS covered FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [blocks.info.schema, blocks.info.table],
  )
  return row?.covered === true
}

/** The first few block numbers of a range that the blocks table lacks, and how many it lacks in all. */
export async function missingBlocks(
  sql: Sql,
  blocks: HotTable,
  range: BlockRange,
  limit = 5,
): Promise<{ missing: bigint; first: bigint[] }> {
  const block = quoteIdent(blocks.blockColumn)
  const count = (await eachBlockOnce(sql, blocks)) ? "count(*)" : `count(DISTINCT ${block})`
  const [row] = await sql.unsafe(`SELECT ${count}::text AS n ${rangeWhere(blocks, range)}`)
  const missing = range.last - range.first + 1n - BigInt(row!.n)
  if (missing === 0n) return { missing, first: [] }
  const rows = await sql.unsafe(
    `SELECT g::text AS b FROM generate_series(${range.first}::int8, ${range.last}::int8) AS g
     WHERE NOT EXISTS (SELECT 1 FROM ${quoteQualified(blocks.info.schema, blocks.info.table)}
                       WHERE ${block} = g${blocks.chainFilter})
     ORDER BY g LIMIT ${limit}`,
  )
  return { missing, first: rows.map((r) => BigInt(r.b)) }
}

/**
 * What deleting rows of a table would do beyond that table: foreign keys that cascade, set null or
 * set default on delete, and user DELETE triggers. Named, so that the refusal can say which.
 */
export async function deletionSideEffects(sql: Sql, table: HotTable): Promise<string[]> {
  const name = quoteQualified(table.info.schema, table.info.table)
  const rows = await sql`
    SELECT format('foreign key %I on %s', conname, conrelid::regclass) AS what FROM pg_constraint
    WHERE contype = 'f' AND confrelid = to_regclass(${name}) AND confdeltype IN ('c', 'n', 'd')
    UNION ALL
    SELECT format('trigger %I', tgname) FROM pg_trigger
    WHERE tgrelid = to_regclass(${name}) AND NOT tgisinternal AND (tgtype & 8) <> 0
    ORDER BY 1`
  return rows.map((r) => String(r.what))
}
