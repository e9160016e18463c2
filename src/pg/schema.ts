/**
 * Column descriptions read from pg_catalog, and their lossless Parquet schema.
 */
import type postgres from "postgres"
import { CompactError } from "../errors.ts"
import { MAX_DECIMAL_PRECISION } from "../parquet/schema.ts"

/** How a column is decoded from binary COPY and written to Parquet. */
export type ColumnKind =
  | "int2"
  | "int4"
  | "int8"
  | "numeric_decimal" // numeric(p<=38, 0<=s<=p): DECIMAL(p,s), unscaled bigint
  | "numeric_string" // numeric without typmod, p>38 (uint256) or odd scale: exact decimal text
  | "bytea"
  | "text" // text, varchar, bpchar
  | "bool"
  | "float4"
  | "float8"
  | "timestamptz"
  | "timestamp"
  | "date"
  | "json"
  | "jsonb"
  | "uuid"
  | "array" // one-dimensional array of `element`

/** One column of a table as the compactor sees it. */
export interface ColumnSpec {
  name: string
  /** format_type() text, e.g. "numeric(78,0)" or "bytea[]". */
  pgType: string
  typeOid: number
  kind: ColumnKind
  notNull: boolean
  /** DECIMAL precision (numeric_decimal, or an array of it). */
  precision?: number
  /** DECIMAL scale (numeric_decimal, or an array of it). */
  scale?: number
  /** Element kind of an array; never "array". */
  element?: ColumnKind
}

/** A table's columns (in attnum order) and primary key. */
export interface TableInfo {
  schema: string
  table: string
  columns: ColumnSpec[]
  primaryKey: string[]
}

const IDENT = /^[a-z_][a-z0-9_]*$/

/** Quotes any identifier for SQL (doubling embedded quotes); rejects NUL. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes("\0")) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot quote identifier ${JSON.stringify(name)}: empty or contains NUL`,
    )
  }
  return `"${name.replaceAll('"', '""')}"`
}

/** Quotes `schema.table` for SQL. */
export function quoteQualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`
}

/** Splits and validates "table" or "schema.table" (lower-case identifiers only). */
export function parseQualifiedName(qualifiedName: string): { schema: string | undefined; table: string } {
  const parts = qualifiedName.split(".")
  const bad = parts.length > 2 || parts.some((p) => !IDENT.test(p))
  if (bad) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use table name "${qualifiedName}": expected "table" or "schema.table" with identifiers matching ${IDENT.source}`,
    )
  }
  return parts.length === 2 ? { schema: parts[0], table: parts[1]! } : { schema: undefined, table: parts[0]! }
}

// pg_catalog type oids (fixed across versions)
const SCALAR_KINDS: ReadonlyMap<number, ColumnKind | "numeric"> = new Map<number, ColumnKind | "numeric">([
  [16, "bool"],
  [17, "bytea"],
  [20, "int8"],
  [21, "int2"],
  [23, "int4"],
  [25, "text"],
  [114, "json"],
  [700, "float4"],
  [701, "float8"],
  [1042, "text"], // bpchar
  [1043, "text"], // varchar
  [1082, "date"],
  [1114, "timestamp"],
  [1184, "timestamptz"],
  [1700, "numeric"], // decimal or string, by typmod
  [2950, "uuid"],
  [3802, "jsonb"],
])

interface TypeRow {
  oid: number
  typtype: string
  typbasetype: number
  typtypmod: number
  typelem: number
  typlen: number
}

interface AttrRow {
  attname: string
  type_oid: number
  typmod: number
  attnotnull: boolean
  attndims: number
  pg_type: string
}

/** Reads a table's columns and primary key from pg_catalog; BAD_INPUT when missing or unsupported. */
export async function describeTable(sql: postgres.Sql, qualifiedName: string): Promise<TableInfo> {
  const { schema, table } = parseQualifiedName(qualifiedName)
  const regclass = schema === undefined ? quoteIdent(table) : quoteQualified(schema, table)
  const rel = await sql<{ oid: number; nspname: string; relname: string; relkind: string }[]>`
    select c.oid::int8::float8 as oid, n.nspname, c.relname, c.relkind::text as relkind
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = to_regclass(${regclass})`
  const relRow = rel[0]
  if (!relRow) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot describe table "${qualifiedName}": it does not exist; check the name and the search_path`,
    )
  }
  if (!["r", "p", "v", "m", "f"].includes(relRow.relkind)) {
    throw new CompactError("BAD_INPUT", `Cannot describe "${qualifiedName}": it is not a table or view`)
  }
  const attrs = await sql<AttrRow[]>`
    select a.attname, a.atttypid::int8::float8 as type_oid, a.atttypmod as typmod, a.attnotnull,
      a.attndims, format_type(a.atttypid, a.atttypmod) as pg_type
    from pg_attribute a
    where a.attrelid = ${relRow.oid} and a.attnum > 0 and not a.attisdropped
    order by a.attnum`
  if (attrs.length === 0) {
    throw new CompactError("BAD_INPUT", `Cannot compact table "${qualifiedName}": it has no columns`)
  }
  const pk = await sql<{ attname: string }[]>`
    select a.attname
    from pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where i.indrelid = ${relRow.oid} and i.indisprimary
    order by k.ord`
  const types = await loadTypes(sql, attrs.map((a) => a.type_oid))
  const columns = attrs.map((a) => columnSpec(a, types))
  return { schema: relRow.nspname, table: relRow.relname, columns, primaryKey: pk.map((r) => r.attname) }
}

/** Loads pg_type rows for the given oids and everything they refer to (domain bases, array elements). */
async function loadTypes(sql: postgres.Sql, oids: number[]): Promise<Map<number, TypeRow>> {
  const types = new Map<number, TypeRow>()
  let todo = [...new Set(oids)]
  for (let depth = 0; todo.length > 0 && depth < 16; depth++) {
    const rows = await sql<TypeRow[]>`
      select oid::int8::float8 as oid, typtype::text as typtype, typbasetype::int8::float8 as typbasetype,
        typtypmod, typelem::int8::float8 as typelem, typlen
      from pg_type where oid = any(string_to_array(${todo.join(",")}, ',')::oid[])`
    const next: number[] = []
    for (const row of rows) {
      types.set(row.oid, row)
      for (const ref of [row.typbasetype, row.typelem]) if (ref !== 0 && !types.has(ref)) next.push(ref)
    }
    todo = [...new Set(next)]
  }
  return types
}

/** Follows domains to their base type, keeping the innermost explicit typmod. */
function resolveDomain(
  oid: number,
  typmod: number,
  types: Map<number, TypeRow>,
): { oid: number; typmod: number } {
  for (let i = 0; i < 16; i++) {
    const t = types.get(oid)
    if (!t || t.typtype !== "d") break
    if (typmod === -1) typmod = t.typtypmod
    oid = t.typbasetype
  }
  return { oid, typmod }
}

function unsupported(name: string, pgType: string, why = "unsupported type"): CompactError {
  return new CompactError(
    "BAD_INPUT",
    `Cannot compact column "${name}" of type "${pgType}": ${why}; drop the column or cast it in a view`,
  )
}

/** Kind (plus DECIMAL precision/scale) of a scalar type, or undefined when unsupported. */
export function scalarKind(
  oid: number,
  typmod: number,
): { kind: ColumnKind; precision?: number; scale?: number } | undefined {
  const kind = SCALAR_KINDS.get(oid)
  if (kind === undefined) return undefined
  if (kind !== "numeric") return { kind }
  if (typmod < 4) return { kind: "numeric_string" }
  const precision = ((typmod - 4) >> 16) & 0xffff
  const scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024 // PG15 allows negative scale
  if (precision > MAX_DECIMAL_PRECISION || scale < 0 || scale > precision) return { kind: "numeric_string" }
  return { kind: "numeric_decimal", precision, scale }
}

function columnSpec(a: AttrRow, types: Map<number, TypeRow>): ColumnSpec {
  const base = resolveDomain(a.type_oid, a.typmod, types)
  const row = types.get(base.oid)
  const common: Omit<ColumnSpec, "kind"> = {
    name: a.attname,
    pgType: a.pg_type,
    typeOid: a.type_oid,
    notNull: a.attnotnull,
  }
  const scalar = scalarKind(base.oid, base.typmod)
  if (scalar) return { ...common, ...scalar }
  if (row && row.typelem !== 0 && row.typlen === -1) {
    if (a.attndims > 1) throw unsupported(a.attname, a.pg_type, "multidimensional arrays are not supported")
    const elem = resolveDomain(row.typelem, base.typmod, types)
    const element = scalarKind(elem.oid, elem.typmod)
    if (!element) throw unsupported(a.attname, a.pg_type)
    const spec: ColumnSpec = { ...common, kind: "array", element: element.kind }
    if (element.precision !== undefined) spec.precision = element.precision
    if (element.scale !== undefined) spec.scale = element.scale
    return spec
  }
  throw unsupported(a.attname, a.pg_type)
}

// The Parquet side of the mapping lives in src/parquet/schema.ts.
export { MAX_DECIMAL_PRECISION, parquetSchema, parquetTypeName } from "../parquet/schema.ts"
