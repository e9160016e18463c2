/**
 * The lossless Parquet schema of Postgres columns (see ColumnKind in src/pg/schema.ts):
 * int2/int4 → INT32 (int2 annotated INTEGER(16)), int8 → INT64, numeric(p<=38,s) → DECIMAL on
 * INT32/INT64/FIXED_LEN_BYTE_ARRAY by precision, other numerics and text → STRING, bytea →
 * BYTE_ARRAY, timestamps → INT64 TIMESTAMP(MICROS), date → DATE, json/jsonb → JSON, uuid →
 * FIXED_LEN_BYTE_ARRAY(16) UUID (or unannotated: uuidAs "binary"), arrays → 3-level LIST with
 * OPTIONAL elements.
 */
import type { SchemaElement } from "hyparquet"
import { CompactError } from "../errors.ts"
import type { ColumnKind, ColumnSpec } from "../pg/schema.ts"

/**
 * How uuid columns are written: "uuid" as FIXED_LEN_BYTE_ARRAY(16) annotated UUID (DuckDB, pyarrow,
 * polars, Trino read it as UUID); "binary" as the same 16 bytes without the annotation, for readers
 * that refuse the UUID logical type (Spark 4.0). See docs/READING.md.
 */
export type UuidAs = "uuid" | "binary"

/** Options of the schema mapping. */
export interface SchemaOptions {
  /** Default "uuid". */
  uuidAs?: UuidAs
}

/** Largest precision written as Parquet DECIMAL; wider numerics become exact text. */
export const MAX_DECIMAL_PRECISION = 38

/** Bytes needed for a two's complement DECIMAL of `precision` digits (FIXED_LEN_BYTE_ARRAY). */
export function decimalByteLength(precision: number): number {
  let bytes = 1
  while (2n ** BigInt(8 * bytes - 1) <= 10n ** BigInt(precision)) bytes++
  return bytes
}

/** The Parquet leaf for a scalar kind (name and repetition filled in by the caller). */
function leafElement(
  kind: ColumnKind,
  precision: number | undefined,
  scale: number | undefined,
  options: SchemaOptions = {},
): Omit<SchemaElement, "name"> {
  switch (kind) {
    case "int2":
      // converted type only: hyparquet-writer 0.17 writes INTEGER's i8 bitWidth as an i32, which
      // DuckDB rejects ("TProtocolException: Invalid data")
      return { type: "INT32", converted_type: "INT_16" }
    case "int4":
      return { type: "INT32" }
    case "int8":
      return { type: "INT64" }
    case "numeric_decimal": {
      const p = precision ?? MAX_DECIMAL_PRECISION
      const s = scale ?? 0
      const dec = {
        converted_type: "DECIMAL",
        precision: p,
        scale: s,
        logical_type: { type: "DECIMAL", precision: p, scale: s },
      } as const
      if (p <= 9) return { type: "INT32", ...dec }
      if (p <= 18) return { type: "INT64", ...dec }
      return { type: "FIXED_LEN_BYTE_ARRAY", type_length: decimalByteLength(p), ...dec }
    }
    case "numeric_string":
    case "text":
      // Both annotations: hyparquet-writer passes Uint8Array values through its UTF8 path untouched
      return { type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } }
    case "bytea":
      return { type: "BYTE_ARRAY" }
    case "bool":
      return { type: "BOOLEAN" }
    case "float4":
      return { type: "FLOAT" }
    case "float8":
      return { type: "DOUBLE" }
    case "timestamptz":
      return { type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" } }
    case "timestamp":
      return { type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "MICROS" } }
    case "date":
      return { type: "INT32", converted_type: "DATE", logical_type: { type: "DATE" } }
    case "json":
    case "jsonb":
      // DuckDB reads JSON by the converted type
      return { type: "BYTE_ARRAY", converted_type: "JSON", logical_type: { type: "JSON" } }
    case "uuid":
      return options.uuidAs === "binary"
        ? { type: "FIXED_LEN_BYTE_ARRAY", type_length: 16 }
        : { type: "FIXED_LEN_BYTE_ARRAY", type_length: 16, logical_type: { type: "UUID" } }
    case "array":
      throw new CompactError("BAD_INPUT", `Cannot nest arrays: element kind is "array"`)
  }
}

/** The explicit hyparquet-writer schema for these columns: root, then one leaf or 3-level LIST per column. */
export function parquetSchema(columns: readonly ColumnSpec[], options: SchemaOptions = {}): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: "root", num_children: columns.length }]
  for (const c of columns) {
    const repetition_type = c.notNull ? "REQUIRED" : "OPTIONAL"
    if (c.kind === "array") {
      if (c.element === undefined) {
        throw new CompactError("BAD_INPUT", `Cannot write array column "${c.name}": no element kind`)
      }
      schema.push(
        {
          name: c.name,
          repetition_type,
          num_children: 1,
          converted_type: "LIST",
          logical_type: { type: "LIST" },
        },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        {
          name: "element",
          repetition_type: "OPTIONAL",
          ...leafElement(c.element, c.precision, c.scale, options),
        },
      )
    } else {
      schema.push({ name: c.name, repetition_type, ...leafElement(c.kind, c.precision, c.scale, options) })
    }
  }
  return schema
}

/** A short human-readable Parquet type of a column, e.g. "INT64", "DECIMAL(38,0)", "LIST<BYTE_ARRAY>". */
export function parquetTypeName(column: ColumnSpec, options: SchemaOptions = {}): string {
  if (column.kind === "array") {
    return `LIST<${
      parquetTypeName({ ...column, kind: column.element ?? "array", element: "array" }, options)
    }>`
  }
  const leaf = leafElement(column.kind, column.precision, column.scale, options)
  const logical = leaf.logical_type
  if (logical === undefined) return leaf.type ?? "?"
  switch (logical.type) {
    case "DECIMAL":
      return `DECIMAL(${logical.precision},${logical.scale})`
    case "TIMESTAMP":
      return `TIMESTAMP(${logical.unit},${logical.isAdjustedToUTC ? "UTC" : "local"})`
    case "INTEGER":
      return `INTEGER(${logical.bitWidth},${logical.isSigned ? "signed" : "unsigned"})`
    default:
      return logical.type
  }
}
