/**
 * A table with every supported column type, shared by tests/pgcopy.test.ts and
 * tests/types-roundtrip.test.ts, plus the reference renderings both compare against.
 */
import { randomBytes } from "node:crypto"
import type postgres from "postgres"
import { PackedList } from "../src/columns.ts"
import { ByteColumn, type ColumnBatch } from "../src/pg/batch.ts"
import type { ColumnKind, ColumnSpec } from "../src/pg/schema.ts"

/** A schema name unique to this run. */
export const uniqueSchema = (prefix: string) => `${prefix}_${randomBytes(5).toString("hex")}`

/** Column definitions: [name, type]; `id` is the block column. */
export const ALL_TYPES_COLUMNS: readonly [string, string][] = [
  ["id", "int8 primary key"],
  ["c_int2", "int2"],
  ["c_int4", "int4"],
  ["c_int8", "int8"],
  ["c_int2_nn", "int2 not null"],
  ["c_int4_nn", "int4 not null"],
  ["c_int8_nn", "int8 not null"],
  ["c_uint256", "numeric(78,0)"],
  ["c_uint256_dom", "uint256"],
  ["c_numeric", "numeric"],
  ["c_num_neg_scale", "numeric(5,-2)"],
  ["c_dec5", "numeric(5,0)"],
  ["c_dec10", "numeric(10,2)"],
  ["c_dec18", "numeric(18,4)"],
  ["c_dec19", "numeric(19,0)"],
  ["c_dec38", "numeric(38,6)"],
  ["c_dec_nn", "numeric(20,3) not null"],
  ["c_bytea", "bytea"],
  ["c_bytea_nn", "bytea not null"],
  ["c_text", "text"],
  ["c_varchar", "varchar(12)"],
  ["c_bpchar", "char(5)"],
  ["c_text_nn", "text not null"],
  ["c_bool", "bool"],
  ["c_bool_nn", "bool not null"],
  ["c_float4", "real"],
  ["c_float8", "float8"],
  ["c_float4_nn", "real not null"],
  ["c_float8_nn", "float8 not null"],
  ["c_tstz", "timestamptz"],
  ["c_ts", "timestamp"],
  ["c_date", "date"],
  ["c_tstz_nn", "timestamptz not null"],
  ["c_ts_nn", "timestamp not null"],
  ["c_date_nn", "date not null"],
  ["c_json", "json"],
  ["c_jsonb", "jsonb"],
  ["c_uuid", "uuid"],
  ["c_uuid_nn", "uuid not null"],
  ["a_int2", "int2[]"],
  ["a_int4", "int4[]"],
  ["a_int8", "int8[]"],
  ["a_numeric", "numeric[]"],
  ["a_dec", "numeric(12,3)[]"],
  ["a_text", "text[]"],
  ["a_bpchar", "char(3)[]"],
  ["a_bytea", "bytea[]"],
  ["a_bool", "bool[]"],
  ["a_float4", "real[]"],
  ["a_float8", "float8[]"],
  ["a_tstz", "timestamptz[]"],
  ["a_ts", "timestamp[]"],
  ["a_date", "date[]"],
  ["a_json", "json[]"],
  ["a_jsonb", "jsonb[]"],
  ["a_uuid", "uuid[]"],
  ["a_int8_nn", "int8[] not null"],
]

const UINT256_MAX = (2n ** 256n - 1n).toString()

/** Rows as SQL literals by column name; missing nullable columns are NULL. */
const ROWS: Record<string, string>[] = [
  { // 1: typical values
    c_int2: "12",
    c_int4: "-123456",
    c_int8: "9007199254740993",
    c_int2_nn: "-1",
    c_int4_nn: "7",
    c_int8_nn: "-42",
    c_uint256: "340282366920938463463374607431768211457", // 2^128 + 1
    c_uint256_dom: UINT256_MAX,
    c_numeric: "'1.50'",
    c_num_neg_scale: "12345",
    c_dec5: "42",
    c_dec10: "-12.30",
    c_dec18: "3.1400",
    c_dec19: "9223372036854775808",
    c_dec38: "'12345678901234567890123456789012.123456'",
    c_dec_nn: "-1.5",
    c_bytea: "'\\xdeadbeef'",
    c_bytea_nn: "decode(repeat('ab', 32), 'hex')",
    c_text: "'héllo wörld ✓ 🚀 \"q\" \\ back'",
    c_varchar: "'varchar'",
    c_bpchar: "'ab'",
    c_text_nn: "E'line1\\nline2\\ttab'",
    c_bool: "true",
    c_bool_nn: "false",
    c_float4: "1.5",
    c_float8: "0.1",
    c_float4_nn: "3.4028235e38",
    c_float8_nn: "-2.2250738585072014e-308",
    c_tstz: "'2024-01-02 03:04:05.123456+00'",
    c_ts: "'2024-01-02 03:04:05.654321'",
    c_date: "'1950-06-15'",
    c_tstz_nn: "'1969-12-31 23:59:59.999999+00'",
    c_ts_nn: "'1900-01-01 00:00:00.000001'",
    c_date_nn: "'2030-01-01'",
    c_json: `'{"z": 1,  "a" : [ ], "u": "\\u00e9"}'`,
    c_jsonb: `'{"b": [1, 2.50, "xé"], "a": null, "n": 1e3}'`,
    c_uuid: "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    c_uuid_nn: "'00000000-0000-0000-0000-000000000001'",
    a_int2: "'{1,-2,NULL,32767}'",
    a_int4: "'{1,NULL,3}'",
    a_int8: "'{-9223372036854775808,9223372036854775807,NULL}'",
    a_numeric: `'{1.50,-0.001,0,NaN,Infinity,-Infinity,100000000,0.0000000000001,NULL,${UINT256_MAX}}'`,
    a_dec: "'{1.5,-2.250,NULL,0,999999999.999}'",
    a_text: `'{"x","",NULL,"a,b","q\\"uote"}'`,
    a_bpchar: "'{a,bc,NULL}'",
    a_bytea: `'{"\\\\x00ff",NULL,"\\\\x"}'`,
    a_bool: "'{t,f,NULL}'",
    a_float4: "'{1.25,-0,NULL,Infinity}'",
    a_float8: "'{0.1,-1e300,NULL,-Infinity,NaN}'",
    a_tstz: '\'{"2024-01-02 03:04:05.123456+00",NULL,"1969-12-31 23:59:59.999999+00"}\'',
    a_ts: "'{\"2000-01-01 00:00:00\",NULL}'",
    a_date: "'{1970-01-01,NULL,1969-12-31,2000-01-01}'",
    a_json: `ARRAY['{"a":1}'::json, NULL, '[1, 2]'::json]`,
    a_jsonb: `ARRAY['{"b":1, "a":2}'::jsonb, NULL, 'null'::jsonb]`,
    a_uuid: "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'",
    a_int8_nn: "'{1,2,3}'",
  },
  { // 2: NULL in every nullable column, zero-ish NOT NULL values
    c_int2_nn: "0",
    c_int4_nn: "0",
    c_int8_nn: "0",
    c_dec_nn: "0",
    c_bytea_nn: "'\\x'",
    c_text_nn: "''",
    c_bool_nn: "true",
    c_float4_nn: "0",
    c_float8_nn: "0",
    c_tstz_nn: "'1970-01-01 00:00:00+00'",
    c_ts_nn: "'2000-01-01 00:00:00'",
    c_date_nn: "'1970-01-01'",
    c_uuid_nn: "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    a_int8_nn: "'{}'",
  },
  { // 3: empty strings, bytea and arrays; arrays of only NULL
    c_numeric: "'0.000'",
    c_dec10: "0",
    c_bytea: "'\\x'",
    c_text: "''",
    c_varchar: "''",
    c_bpchar: "''",
    c_json: "'\"\"'",
    c_jsonb: "'{}'",
    a_int2: "'{}'",
    a_int4: "'{NULL}'",
    a_int8: "'{}'",
    a_numeric: "'{}'",
    a_dec: "'{NULL,NULL}'",
    a_text: "'{\"\"}'",
    a_bytea: "'{}'",
    a_bool: "'{}'",
    a_float4: "'{}'",
    a_float8: "'{NULL}'",
    a_tstz: "'{}'",
    a_ts: "'{}'",
    a_date: "'{}'",
    a_json: "'{}'",
    a_jsonb: "'{}'",
    a_uuid: "'{}'",
  },
  { // 4: extremes
    c_int2: "-32768",
    c_int4: "2147483647",
    c_int8: "-9223372036854775808",
    c_int2_nn: "32767",
    c_int4_nn: "-2147483648",
    c_int8_nn: "9223372036854775807",
    c_uint256: UINT256_MAX,
    c_uint256_dom: "0",
    c_numeric: "'-123456789012345678901234567890.123456789000'",
    c_num_neg_scale: "-9999900",
    c_dec5: "-99999",
    c_dec10: "-99999999.99",
    c_dec18: "99999999999999.9999",
    c_dec19: "-9999999999999999999",
    c_dec38: "'-99999999999999999999999999999999.999999'",
    c_dec_nn: "99999999999999999.999",
    c_float4: "'NaN'",
    c_float8: "'-Infinity'",
    c_float4_nn: "'-0'",
    c_float8_nn: "'Infinity'",
    c_tstz: "'4713-01-01 00:00:00+00 BC'",
    c_ts: "'9999-12-31 23:59:59.999999'",
    c_date: "'4713-01-01 BC'",
    c_date_nn: "'5874897-12-31'",
    c_tstz_nn: "'2262-04-11 23:47:16.854775+00'",
    c_ts_nn: "'0001-01-01 00:00:00 BC'",
    c_bytea_nn: "'\\x00'",
    c_text_nn: "' '",
    c_bool_nn: "false",
    c_uuid_nn: "'12345678-9abc-def0-1234-56789abcdef0'",
    a_int8_nn: "'{NULL}'",
  },
]

/** Rows 5..10: generated, so a 10-row table splits into files of 3, 3, 3, 1 at chunkSize 3. */
function generatedRow(i: number): Record<string, string> {
  return {
    c_int4: `${i * 1000}`,
    c_int2_nn: `${i}`,
    c_int4_nn: `${i * 7}`,
    c_int8_nn: `${i * 1_000_000_007}`,
    c_uint256: `${10n ** BigInt(60 + i) + BigInt(i)}`,
    c_numeric: `'${i}.${"0".repeat(i)}1'`,
    c_dec10: `${i}.05`,
    c_dec38: `'${i}.000100'`,
    c_dec_nn: `${i}.125`,
    c_bytea: `decode(md5('${i}'), 'hex')`,
    c_bytea_nn: `decode(repeat(md5('${i}'), 2), 'hex')`,
    c_text: `'row ${i}'`,
    c_text_nn: `'${"x".repeat(i * 20)}'`,
    c_bool_nn: i % 2 === 0 ? "true" : "false",
    c_float4_nn: `${i}.5`,
    c_float8_nn: `${i} / 3.0`,
    c_tstz: `'2021-0${i - 4}-0${i - 4} ${String(i).padStart(2, "0")}:00:00.${String(i).padStart(6, "0")}+00'`,
    c_tstz_nn: `'2022-01-01 00:00:00+00'::timestamptz + interval '${i} days 3 microseconds'`,
    c_ts_nn: `'2022-01-01 00:00:00'::timestamp - interval '${i} years'`,
    c_date_nn: `'2000-01-01'::date + ${i * 400}`,
    c_jsonb: `'{"i": ${i}}'`,
    c_uuid_nn: `md5('${i}')::uuid`,
    a_int8: `ARRAY[${i}, ${i * 2}]::int8[]`,
    a_text: `ARRAY['r${i}', NULL]`,
    a_int8_nn: `ARRAY[${i}]::int8[]`,
  }
}

/** Creates `schema` with a domain and the all-types table `schema.t` holding 10 rows. */
export async function createAllTypes(sql: postgres.Sql, schema: string): Promise<void> {
  await sql.unsafe(`CREATE SCHEMA ${schema}`)
  await sql.unsafe(`CREATE DOMAIN ${schema}.uint256 AS numeric(78,0)`)
  const defs = ALL_TYPES_COLUMNS.map(([name, type]) =>
    `${name} ${type.replace("uint256", `${schema}.uint256`)}`
  )
  await sql.unsafe(`CREATE TABLE ${schema}.t (${defs.join(", ")})`)
  const rows = [...ROWS, ...[5, 6, 7, 8, 9, 10].map(generatedRow)]
  // insert in a shuffled order: the COPY orders by id
  for (const i of [3, 0, 9, 5, 1, 8, 2, 7, 4, 6]) {
    const row = rows[i]!
    const names = ALL_TYPES_COLUMNS.map(([n]) => n)
    // NOT NULL columns a row leaves out take row 2's zero-ish values
    const values = names.map((
      n,
    ) => (n === "id" ? `${i + 1}` : row[n] || (n.endsWith("_nn") && rows[1]![n]) || "NULL"))
    await sql.unsafe(`INSERT INTO ${schema}.t (${names.join(", ")}) VALUES (${values.join(", ")})`)
  }
}

/** SQL rendering an expression of a column (or array element) as reference text. */
export function pgRef(kind: ColumnKind, pgType: string, e: string, element?: ColumnKind): string {
  switch (kind) {
    case "bytea":
      return `encode(${e}, 'hex')`
    case "text":
      // format() keeps char(n) padding, as the binary form does (::text strips it)
      return `CASE WHEN ${e} IS NULL THEN NULL ELSE format('%s', ${e}) END`
    case "float4":
    case "float8":
      return `encode(float8send(${e}::float8), 'hex')`
    case "timestamptz":
    case "timestamp":
      return `(extract(epoch from ${e}) * 1000000)::int8::text`
    case "date":
      return `(${e} - date '1970-01-01')::text`
    case "uuid":
      return `replace(${e}::text, '-', '')`
    case "array":
      return `CASE WHEN ${e} IS NULL THEN NULL ELSE (SELECT coalesce(json_agg(${
        pgRef(element!, pgType, "x")
      } ORDER BY o), '[]'::json)::text FROM unnest(${e}) WITH ORDINALITY AS u(x, o)) END`
    default:
      return `${e}::text`
  }
}

/** Each column of schema.t as reference text (arrays as JSON text), ordered by id. */
export async function referenceRows(sql: postgres.Sql, schema: string, columns: readonly ColumnSpec[]) {
  const select = columns.map((c) => `${pgRef(c.kind, c.pgType, c.name, c.element)} AS ${c.name}`).join(", ")
  return await sql.unsafe<Record<string, string | null>[]>(
    `SELECT ${select} FROM ${schema}.t AS src ORDER BY src.id`,
  )
}

/** Normalizes reference text: arrays parsed from JSON. */
export function normalizeRef(c: ColumnSpec, text: string | null): unknown {
  if (text === null) return null
  return c.kind === "array" ? JSON.parse(text) : text
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Hex of the float64 bits of a number (float4 values widen exactly). */
export function floatHex(v: number): string {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setFloat64(0, v)
  return Buffer.from(b).toString("hex")
}

/** Text of an unscaled DECIMAL, as numeric::text prints it. */
export function formatUnscaled(v: bigint, scale: number): string {
  const neg = v < 0n
  let digits = (neg ? -v : v).toString()
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0")
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`
  }
  return (neg ? "-" : "") + digits
}

/** A decoded scalar value rendered like pgRef() renders Postgres' value. */
export function renderScalar(kind: ColumnKind, scale: number | undefined, v: unknown): string | null {
  if (v === null || v === undefined) return null
  switch (kind) {
    case "bytea":
    case "uuid":
      return Buffer.from(v as Uint8Array).toString("hex")
    case "text":
    case "json":
    case "jsonb":
    case "numeric_string":
      return utf8.decode(v as Uint8Array)
    case "numeric_decimal":
      return formatUnscaled(v as bigint, scale ?? 0)
    case "float4":
    case "float8":
      return floatHex(v as number)
    case "bool":
      return v ? "true" : "false"
    default:
      return String(v)
  }
}

/** A decoded column value normalized for comparison with normalizeRef(). */
export function renderValue(c: ColumnSpec, v: unknown): unknown {
  if (v === null || v === undefined) return null
  if (c.kind === "array") return (v as unknown[]).map((e) => renderScalar(c.element!, c.scale, e))
  return renderScalar(c.kind, c.scale, v)
}

/** All rows of the batches (decoded with `columns`) as one plain array per column. */
export function gatherColumns(batches: ColumnBatch[], columns: readonly ColumnSpec[]): unknown[][] {
  const out: unknown[][] = Array.from({ length: columns.length }, () => [])
  for (const b of batches) {
    b.columns.forEach((values, j) => {
      const plain = values instanceof ByteColumn
        ? values.toArray()
        : values instanceof PackedList
        ? values.toArray(!columns[j]!.notNull)
        : values
      for (let i = 0; i < b.rows; i++) out[j]!.push(plain[i])
    })
  }
  return out
}
