/**
 * src/pg/schema.ts and src/pg/copy.ts against a real Postgres: every supported type decoded from
 * binary COPY (also re-chunked into 1..7-byte pieces) equals what Postgres prints.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import postgres from "postgres"
import { CompactError } from "../src/errors.ts"
import { PackedList } from "../src/columns.ts"
import { transferList } from "../src/parquet/threaded.ts"
import { type ColumnBatch, CopyDecoder, decodeCopyBinary } from "../src/pg/copy.ts"
import { BufferPool } from "../src/buffer-pool.ts"
import { ByteColumn } from "../src/pg/batch.ts"
import { copyOut } from "../src/pg/copyout.ts"
import { checkRowHash, ROW_HASH } from "../src/pg/fingerprint.ts"
import { ROW_VERSION_COLUMNS, RowHashSum, tidHash, tidHashOut } from "../src/pg/rowhash.ts"
import { type ColumnSpec, describeTable, quoteIdent, quoteQualified } from "../src/pg/schema.ts"
import { testServices } from "./env.ts"
import {
  createAllTypes,
  formatUnscaled,
  gatherColumns,
  normalizeRef,
  referenceRows,
  renderValue,
  uniqueSchema,
} from "./alltypes.fixture.ts"

const sql = postgres(testServices().pgUrl, { max: 1, onnotice: () => {} })
const schema = uniqueSchema("pgcopy")

before(async () => {
  await createAllTypes(sql, schema)
})

after(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await sql.end()
})

/** The raw bytes of a binary COPY of `select`. */
async function copyBytes(select: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of copyOut(sql, `COPY (${select}) TO STDOUT (FORMAT binary)`)) parts.push(chunk)
  return Buffer.concat(parts)
}

/** Rejects when `promise` takes longer than `ms` (a hung connection fails instead of stalling the run). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: the connection hangs`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** `bytes` as pieces of the given sizes (cycled); with `reuse`, every piece lands in one shared buffer. */
async function* pieces(bytes: Uint8Array, sizes: number[], reuse = false): AsyncGenerator<Uint8Array> {
  const shared = new Uint8Array(Math.max(...sizes))
  for (let o = 0, i = 0; o < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, bytes.length - o)
    if (reuse) {
      shared.fill(0xee)
      shared.set(bytes.subarray(o, o + n))
      yield shared.subarray(0, n)
    } else {
      yield bytes.subarray(o, o + n)
    }
    o += n
  }
}

async function collect(batches: AsyncIterable<ColumnBatch>): Promise<ColumnBatch[]> {
  const out: ColumnBatch[] = []
  for await (const b of batches) out.push(b)
  return out
}

async function decodeAll(
  bytes: Uint8Array,
  columns: ColumnSpec[],
  batchRows = 1000,
  sizes?: number[],
  restartEvery?: number,
) {
  const source = sizes ? pieces(bytes, sizes) : pieces(bytes, [bytes.length])
  return await collect(decodeCopyBinary(source, columns, batchRows, restartEvery ? { restartEvery } : {}))
}

async function expectError(promise: Promise<unknown>, code: CompactError["code"], pattern: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof CompactError, `not a CompactError: ${e}`)
    assert.equal(e.code, code)
    assert.match(e.message, pattern)
    return true
  })
}

const spec = (name: string, kind: ColumnSpec["kind"], extra: Partial<ColumnSpec> = {}): ColumnSpec => ({
  name,
  pgType: extra.pgType ?? kind,
  typeOid: 0,
  kind,
  notNull: false,
  ...extra,
})

describe("describeTable", () => {
  it("maps every supported type, nullability, DECIMAL precision and domains", async () => {
    const info = await describeTable(sql, `${schema}.t`)
    assert.equal(info.schema, schema)
    assert.equal(info.table, "t")
    assert.deepEqual(info.primaryKey, ["id"])
    const byName = new Map(info.columns.map((c) => [c.name, c]))
    const expect: [string, Partial<ColumnSpec>][] = [
      ["id", { kind: "int8", notNull: true, pgType: "bigint" }],
      ["c_int2", { kind: "int2", notNull: false }],
      ["c_uint256", { kind: "numeric_string", pgType: "numeric(78,0)" }],
      ["c_uint256_dom", { kind: "numeric_string", pgType: `${schema}.uint256` }],
      ["c_numeric", { kind: "numeric_string", pgType: "numeric" }],
      ["c_num_neg_scale", { kind: "numeric_string" }],
      ["c_dec5", { kind: "numeric_decimal", precision: 5, scale: 0 }],
      ["c_dec38", { kind: "numeric_decimal", precision: 38, scale: 6 }],
      ["c_dec_nn", { kind: "numeric_decimal", precision: 20, scale: 3, notNull: true }],
      ["c_varchar", { kind: "text", pgType: "character varying(12)" }],
      ["c_bpchar", { kind: "text", pgType: "character(5)" }],
      ["c_float4", { kind: "float4" }],
      ["c_tstz", { kind: "timestamptz" }],
      ["c_ts", { kind: "timestamp" }],
      ["c_json", { kind: "json" }],
      ["c_jsonb", { kind: "jsonb" }],
      ["c_uuid_nn", { kind: "uuid", notNull: true }],
      ["a_dec", {
        kind: "array",
        element: "numeric_decimal",
        precision: 12,
        scale: 3,
        pgType: "numeric(12,3)[]",
      }],
      ["a_numeric", { kind: "array", element: "numeric_string" }],
      ["a_bpchar", { kind: "array", element: "text" }],
      ["a_int8_nn", { kind: "array", element: "int8", notNull: true }],
    ]
    for (const [name, want] of expect) {
      const got = byName.get(name)
      assert.ok(got, name)
      for (const [k, v] of Object.entries(want)) {
        assert.deepEqual(got[k as keyof ColumnSpec], v, `${name}.${k}`)
      }
    }
    assert.deepEqual(info.columns.map((c) => c.name).slice(0, 3), ["id", "c_int2", "c_int4"])
    assert.equal(byName.get("c_int4")?.precision, undefined)
  })

  it("finds unqualified names through the search_path and skips dropped columns", async () => {
    const table = uniqueSchema("pgcopy_public")
    await sql.unsafe(`CREATE TABLE public.${table} (b int4, gone text, a int8, PRIMARY KEY (a, b))`)
    try {
      await sql.unsafe(`ALTER TABLE public.${table} DROP COLUMN gone`)
      const info = await describeTable(sql, table)
      assert.equal(info.schema, "public")
      assert.deepEqual(info.columns.map((c) => c.name), ["b", "a"])
      assert.deepEqual(info.primaryKey, ["a", "b"])
    } finally {
      await sql.unsafe(`DROP TABLE public.${table}`)
    }
  })

  it("refuses bad identifiers before any query", async () => {
    for (const name of ["Logs", "a.b.c", "x;drop table y", "", "a.", "1abc", 'a"b']) {
      await expectError(describeTable(sql, name), "BAD_INPUT", /^Cannot use table name/)
    }
  })

  it("refuses a missing table naming it", async () => {
    await expectError(
      describeTable(sql, `${schema}.nope`),
      "BAD_INPUT",
      new RegExp(`"${schema}\\.nope".*does not exist`),
    )
    await expectError(describeTable(sql, "no_such_schema_x.t"), "BAD_INPUT", /"no_such_schema_x\.t"/)
  })

  it("refuses unsupported types naming column and type", async () => {
    await sql.unsafe(`CREATE TABLE ${schema}.odd (id int8, p point)`)
    await expectError(
      describeTable(sql, `${schema}.odd`),
      "BAD_INPUT",
      /^Cannot compact column "p" of type "point": unsupported type; drop the column or cast it in a view$/,
    )
    await sql.unsafe(`CREATE TABLE ${schema}.odd2 (id int8, m int4[][])`)
    await expectError(
      describeTable(sql, `${schema}.odd2`),
      "BAD_INPUT",
      /column "m" of type "integer\[\]": multidimensional arrays are not supported/,
    )
    await sql.unsafe(`CREATE TABLE ${schema}.odd3 (id int8, r int4range[])`)
    await expectError(describeTable(sql, `${schema}.odd3`), "BAD_INPUT", /column "r" of type "int4range\[\]"/)
  })

  it("quotes identifiers", () => {
    assert.equal(quoteIdent("block_number"), '"block_number"')
    assert.equal(quoteIdent('we"ird'), '"we""ird"')
    assert.equal(quoteQualified("public", "logs"), '"public"."logs"')
    assert.throws(() => quoteIdent("a\0b"), CompactError)
  })
})

describe("decodeCopyBinary on real COPY output", () => {
  let columns: ColumnSpec[]
  let bytes: Uint8Array
  let expected: unknown[][] // per column, per row

  before(async () => {
    columns = (await describeTable(sql, `${schema}.t`)).columns
    const select = columns.map((c) => quoteIdent(c.name)).join(", ")
    bytes = await copyBytes(`SELECT ${select} FROM ${schema}.t ORDER BY id`)
    const ref = await referenceRows(sql, schema, columns)
    expected = columns.map((c) => ref.map((row) => normalizeRef(c, row[c.name] ?? null)))
  })

  function check(batches: ColumnBatch[], batchRows: number, only = columns) {
    assert.equal(batches.reduce((n, b) => n + b.rows, 0), 10)
    for (const b of batches.slice(0, -1)) assert.equal(b.rows, batchRows)
    const got = gatherColumns(batches, only)
    only.forEach((c, j) => {
      assert.deepEqual(
        got[j]!.map((v) => renderValue(c, v)),
        expected[columns.indexOf(c)],
        `column ${c.name}`,
      )
    })
  }

  it("equals Postgres' text for every column, in one chunk", async () => {
    check(await decodeAll(bytes, columns), 1000)
  })

  it("uses typed arrays for NOT NULL fixed-width columns and arrays with null otherwise", async () => {
    const [batch] = await decodeAll(bytes, columns)
    const col = (name: string) => batch!.columns[columns.findIndex((c) => c.name === name)]
    assert.ok(col("id") instanceof BigInt64Array)
    assert.ok(col("c_int2_nn") instanceof Int32Array)
    assert.ok(col("c_int4_nn") instanceof Int32Array)
    assert.ok(col("c_date_nn") instanceof Int32Array)
    assert.ok(col("c_tstz_nn") instanceof BigInt64Array)
    assert.ok(col("c_float4_nn") instanceof Float32Array)
    assert.ok(col("c_float8_nn") instanceof Float64Array)
    assert.ok(Array.isArray(col("c_int8")))
    assert.equal((col("c_int8") as unknown[])[1], null)
    assert.equal(typeof (col("c_int8") as unknown[])[0], "bigint")
    assert.equal(typeof (col("c_dec10") as unknown[])[0], "bigint")
    for (const name of ["c_text", "c_bytea", "c_uuid", "c_json", "c_jsonb", "c_uint256"]) {
      assert.ok(col(name) instanceof ByteColumn, `${name} is a ByteColumn`)
    }
    // arrays come packed (levels + PLAIN values), except numeric_decimal elements
    for (const c of columns.filter((c) => c.kind === "array")) {
      const packed = c.element !== "numeric_decimal"
      assert.equal(col(c.name) instanceof PackedList, packed, `${c.name} packed: ${packed}`)
      assert.equal(Array.isArray(col(c.name)), !packed)
    }
  })

  it("ends batches at every restartEvery rows too", async () => {
    const sizes = async (batchRows: number, restartEvery: number) =>
      (await decodeAll(bytes, columns, batchRows, [5, 64], restartEvery)).map((b) => b.rows)
    assert.deepEqual(await sizes(4, 3), [3, 3, 3, 1])
    assert.deepEqual(await sizes(2, 5), [2, 2, 1, 2, 2, 1])
    assert.deepEqual(await sizes(10, 10), [10])
    const batches = await decodeAll(bytes, columns, 3, [7], 4)
    assert.deepEqual(batches.map((b) => b.rows), [3, 1, 3, 1, 2])
    const got = gatherColumns(batches, columns)
    columns.forEach((c, j) => assert.deepEqual(got[j]!.map((v) => renderValue(c, v)), expected[j], c.name))
  })

  it("handles rows split at every byte: 1..7-byte pieces, single bytes, many batch sizes", async () => {
    check(await decodeAll(bytes, columns, 3, [1, 2, 3, 4, 5, 6, 7]), 3)
    check(await decodeAll(bytes, columns, 1, [7, 1, 5, 2, 6, 3, 4]), 1)
    check(await decodeAll(bytes, columns, 4, [1]), 4)
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 11 }),
        async (sizes, batchRows) => check(await decodeAll(bytes, columns, batchRows, sizes), batchRows),
      ),
      { numRuns: 30 },
    )
  })

  it("keeps its values when the source reuses its chunk buffer", async () => {
    for (const sizes of [[1, 2, 3, 4, 5, 6, 7], [64], [4096]]) {
      check(await collect(decodeCopyBinary(pieces(bytes, sizes, true), columns, 4)), 4)
    }
    // without array columns the decoder copies no chunk whole, only values and incomplete rows
    const flat = columns.filter((c) => c.kind !== "array")
    const select = flat.map((c) => quoteIdent(c.name)).join(", ")
    const flatBytes = await copyBytes(`SELECT ${select} FROM ${schema}.t ORDER BY id`)
    for (const sizes of [[1, 2, 3, 4, 5, 6, 7], [64], [4096]]) {
      check(await collect(decodeCopyBinary(pieces(flatBytes, sizes, true), flat, 4)), 4, flat)
    }
  })

  it("packs long arrays right in pooled buffers larger than asked for, reused batch after batch", async () => {
    const select = `SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE ARRAY(
        SELECT CASE WHEN k % 5 = 0 THEN NULL ELSE decode(md5((i * 100 + k)::text), 'hex') END
        FROM generate_series(1, i % 13) k) END FROM generate_series(1, 300) i ORDER BY i`
    const ref = await sql.unsafe<{ v: string | null }[]>(
      `SELECT CASE WHEN v IS NULL THEN NULL ELSE array_to_json(ARRAY(SELECT encode(e, 'hex') FROM unnest(v) e))::text
       END AS v FROM (${select}) AS s(v)`,
    )
    const column = spec("a", "array", { element: "bytea" })
    const pool = new BufferPool()
    // odd sizes, bigger than most requests: a view must never take a pooled buffer's whole length
    pool.give(Array.from({ length: 64 }, (_, i) => new ArrayBuffer(101 + i * 997)))
    const got: unknown[] = []
    for await (
      const batch of decodeCopyBinary(pieces(await copyBytes(select), [777]), [column], 16, { pool })
    ) {
      const list = batch.columns[0]
      assert.ok(list instanceof PackedList)
      for (const row of list.toArray(true)) {
        got.push(row && JSON.stringify(row.map((e) => e && Buffer.from(e as Uint8Array).toString("hex"))))
      }
      pool.give(transferList(batch)) // as the encoder thread hands them back
    }
    assert.deepEqual(got, ref.map((r) => r.v))
  })

  it("decodes postgres.js' readable() stream directly", async () => {
    const select = columns.map((c) => quoteIdent(c.name)).join(", ")
    const stream = await sql.unsafe(
      `COPY (SELECT ${select} FROM ${schema}.t ORDER BY id) TO STDOUT (FORMAT binary)`,
    )
      .readable()
    check(await collect(decodeCopyBinary(stream as AsyncIterable<Uint8Array>, columns, 6)), 6)
  })

  it("sums the row-hash column into the fingerprint Postgres computes, and keeps it out of the batches", async () => {
    const select = columns.map((c) => quoteIdent(c.name)).join(", ")
    const [want] = await sql.unsafe(
      `SELECT count(*)::int AS n, coalesce(sum(${ROW_HASH}), 0)::text AS fp FROM ${schema}.t`,
    )
    const withHash = await copyBytes(`SELECT ${select}, ${ROW_HASH} FROM ${schema}.t ORDER BY id`)
    for (const sizes of [[withHash.length], [1, 2, 3, 5, 7]]) {
      const rowHash = new RowHashSum()
      check(await collect(decodeCopyBinary(pieces(withHash, sizes), columns, 4, { rowHash })), 4)
      assert.equal(rowHash.rows, want!.n)
      assert.equal(rowHash.sum, want!.fp)
    }
    // a COPY without the column is refused, not decoded shifted by one field
    await assert.rejects(
      collect(decodeCopyBinary(pieces(bytes, [bytes.length]), columns, 4, {
        rowHash: new RowHashSum(),
      })),
      CompactError,
    )
  })

  it("sums ctid and xmin (the client form) into the same fingerprint, on this server only when checked", async () => {
    assert.equal(await checkRowHash(sql), "client")
    const select = columns.map((c) => quoteIdent(c.name)).join(", ")
    // rows of several transactions, some updated (new versions: new ctids and xmins)
    await sql.unsafe(`UPDATE ${schema}.t SET id = id WHERE id % 3 = 0`)
    const [want] = await sql.unsafe(
      `SELECT count(*)::int AS n, coalesce(sum(${ROW_HASH}), 0)::text AS fp FROM ${schema}.t`,
    )
    const client = await copyBytes(
      `SELECT ${select}, ${ROW_VERSION_COLUMNS.client} FROM ${schema}.t ORDER BY id`,
    )
    for (const sizes of [[client.length], [1, 2, 3, 5, 7]]) {
      const rowHash = new RowHashSum("client")
      check(await collect(decodeCopyBinary(pieces(client, sizes), columns, 4, { rowHash })), 4)
      assert.equal(rowHash.rows, want!.n)
      assert.equal(rowHash.sum, want!.fp)
    }
    // the server form's COPY read as the client form (one field short) is refused
    const server = await copyBytes(`SELECT ${select}, ${ROW_HASH} FROM ${schema}.t ORDER BY id`)
    await assert.rejects(
      collect(
        decodeCopyBinary(pieces(server, [server.length]), columns, 4, { rowHash: new RowHashSum("client") }),
      ),
      CompactError,
    )
  })

  it("keeps the server form where the server hashes row versions differently (a big-endian one)", async () => {
    const other = { unsafe: () => Promise.resolve([{ h0: "1", h1: "2", h2: "3", h3: "4" }]) }
    assert.equal(await checkRowHash(other as unknown as typeof sql), "server")
    // the same hashes as here, but an xid wider than the 4 bytes the client form reads
    const [row] = await sql.unsafe(
      `SELECT hashtidextended('(305419896,4660)'::tid, 4023233417::int8)::text AS h0,
        hashtidextended('(4294967294,65535)'::tid, 4294967295::int8)::text AS h1,
        hashtidextended('(0,1)'::tid, 0::int8)::text AS h2, hashtidextended('(1,2)'::tid, 3::int8)::text AS h3,
        hashtidextended('(4294967295,32768)'::tid, 2::int8)::text AS h4`,
    )
    const wide = { unsafe: () => Promise.resolve([{ ...row, widths: "{6,8}" }]) }
    assert.equal(await checkRowHash(wide as unknown as typeof sql), "server")
    const same = { unsafe: () => Promise.resolve([{ ...row, widths: "{6,4}" }]) }
    assert.equal(await checkRowHash(same as unknown as typeof sql), "client")
    // a connection lost during the probe reads as a lost COPY: retryable, nothing committed
    const lost = { unsafe: () => Promise.reject(Object.assign(new Error("reset"), { code: "ECONNRESET" })) }
    await assert.rejects(checkRowHash(lost as unknown as typeof sql), /connection was lost.*rerun the range/)
  })

  it("hashes any row version (ctid, xmin) as this server's hashtidextended(ctid, xmin::text::int8)", async () => {
    const version = fc.tuple(
      fc.oneof(
        fc.nat(0xfffffffe),
        fc.constantFrom(0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe),
      ),
      fc.oneof(fc.nat(0xffff), fc.constantFrom(0, 1, 0xffff)),
      fc.oneof(fc.nat(0xffffffff), fc.constantFrom(0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff)),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(version, { minLength: 1, maxLength: 50 }), async (versions) => {
        const rows = await sql.unsafe(
          `SELECT hashtidextended(format('(%s,%s)', b, o)::tid, x)::text AS h
           FROM unnest($1::int8[], $2::int4[], $3::int8[]) WITH ORDINALITY AS v(b, o, x, i) ORDER BY i`,
          [versions.map((v) => v[0]), versions.map((v) => v[1]), versions.map((v) => v[2])] as never,
        )
        versions.forEach(([b, o, x], i) => {
          tidHash(b, o, x)
          const here = (BigInt(tidHashOut[0]!) << 32n) + BigInt(tidHashOut[1]!)
          assert.equal(here.toString(), rows[i]!.h, `(${b},${o}) xmin ${x}`)
        })
      }),
      { numRuns: 40 },
    )
  })

  it("decodes an empty result to no batches", async () => {
    const empty = await copyBytes(`SELECT id FROM ${schema}.t WHERE false`)
    assert.deepEqual(await decodeAll(empty, [spec("id", "int8", { notNull: true })]), [])
  })
})

describe("numeric decoding", () => {
  const digits = (min: number, max: number) =>
    fc.array(fc.constantFrom(..."0123456789"), { minLength: min, maxLength: max }).map((d) => d.join(""))
  const numericText = fc.tuple(fc.boolean(), digits(1, 45), fc.option(digits(1, 35), { nil: undefined }))
    .map(([neg, int, frac]) => `${neg ? "-" : ""}${int}${frac === undefined ? "" : `.${frac}`}`)

  async function roundTrip(cast: string, values: string[], column: ColumnSpec) {
    const rows = values.map((v, i) => `(${i}, '${v}')`).join(", ")
    const select = `SELECT v::${cast} FROM (VALUES ${rows}) AS t(o, v) ORDER BY o`
    const ref = await sql.unsafe<{ v: string | null }[]>(`SELECT v::text AS v FROM (${select}) AS s(v)`)
    const batches = await decodeAll(await copyBytes(select), [column], 1000, [1, 3, 7, 64])
    const got = gatherColumns(batches, [column])[0]!
    assert.deepEqual(got.map((v) => renderValue(column, v)), ref.map((r) => r.v))
  }

  it("prints unconstrained numerics exactly like numeric::text (trailing zeros, NaN, ±Infinity)", async () => {
    await roundTrip("numeric", [
      "0",
      "-0",
      "0.000",
      "1.50",
      "-0.001",
      "10000",
      "9999.9999",
      "0.00000000000000000001",
      "123456789012345678901234567890.123456789000",
      "115792089237316195423570985008687907853269984665640564039457584007913129639935",
      "NaN",
      "Infinity",
      "-Infinity",
      "1e-30",
      "1e30",
    ], spec("v", "numeric_string"))
    await fc.assert(
      fc.asyncProperty(fc.array(numericText, { minLength: 1, maxLength: 40 }), async (values) => {
        await roundTrip("numeric", values, spec("v", "numeric_string"))
      }),
      { numRuns: 25 },
    )
  })

  it("gives the exact unscaled value for DECIMAL(p,s) of any precision up to 38", async () => {
    // no more fractional digits than the scale: Postgres would round, and could overflow p
    const arb = fc.integer({ min: 1, max: 38 })
      .chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: p })))
      .chain(([p, s]) => {
        const value = fc.tuple(fc.boolean(), p > s ? digits(1, p - s) : fc.constant("0"), digits(0, s))
          .map(([neg, int, frac]) => `${neg ? "-" : ""}${int}${frac ? `.${frac}` : ""}`)
        return fc.tuple(fc.constant(p), fc.constant(s), fc.array(value, { minLength: 1, maxLength: 30 }))
      })
    await fc.assert(
      fc.asyncProperty(arb, async ([p, s, values]) => {
        await roundTrip(
          `numeric(${p},${s})`,
          values,
          spec("v", "numeric_decimal", { precision: p, scale: s }),
        )
      }),
      { numRuns: 40 },
    )
    assert.equal(formatUnscaled(-5n, 3), "-0.005")
  })

  it("refuses NaN in a DECIMAL column naming the column", async () => {
    const bytes = await copyBytes(`SELECT 'NaN'::numeric(10,2)`)
    await expectError(
      decodeAll(bytes, [spec("price", "numeric_decimal", { precision: 10, scale: 2 })]),
      "INTEGRITY",
      /Cannot write NaN in column "price" as DECIMAL\(10,2\)/,
    )
  })

  it("refuses values with more digits than the DECIMAL spec instead of truncating", async () => {
    const bytes = await copyBytes(`SELECT 123.456::numeric`)
    await expectError(
      decodeAll(bytes, [spec("v", "numeric_decimal", { precision: 10, scale: 2 })]),
      "INTEGRITY",
      /more than 2 fractional digits/,
    )
    const big = await copyBytes(`SELECT 123456::numeric`)
    await expectError(
      decodeAll(big, [spec("v", "numeric_decimal", { precision: 5, scale: 0 })]),
      "INTEGRITY",
      /more than 5 digits/,
    )
  })
})

describe("values Parquet cannot hold", () => {
  const cases: [string, ColumnSpec, RegExp][] = [
    ["SELECT 'infinity'::timestamptz", spec("ts", "timestamptz"), /column "ts".*got infinity/],
    ["SELECT '-infinity'::timestamp", spec("ts", "timestamp", { notNull: true }), /got -infinity/],
    ["SELECT ARRAY['infinity'::timestamptz]", spec("a", "array", { element: "timestamptz" }), /got infinity/],
    ["SELECT '294270-01-01'::timestamp", spec("ts", "timestamp", { notNull: true }), /beyond int64/],
    ["SELECT '294270-01-01'::timestamp", spec("ts", "timestamp"), /beyond int64/],
    ["SELECT 'infinity'::date", spec("d", "date", { notNull: true }), /column "d".*got infinity/],
    ["SELECT '-infinity'::date", spec("d", "date"), /got -infinity/],
    ["SELECT '{{1,2},{3,4}}'::int4[]", spec("m", "array", { element: "int4" }), /"m".*2-dimensional array/],
    ["SELECT '[0:1]={1,2}'::int4[]", spec("m", "array", { element: "int4" }), /"m".*lower bound 0/],
    ["SELECT NULL::int8", spec("n", "int8", { notNull: true }), /"n".*NULL in a NOT NULL column/],
    ["SELECT NULL::text", spec("n", "text", { notNull: true }), /"n".*NULL in a NOT NULL column/],
    ["SELECT 1::int4", spec("n", "int8", { notNull: true }), /"n".*4-byte value, expected 8/],
  ]
  for (const [select, column, pattern] of cases) {
    it(`refuses ${select} as ${column.kind}${column.notNull ? " not null" : ""}`, async () => {
      await expectError(decodeAll(await copyBytes(select), [column]), "INTEGRITY", pattern)
    })
  }
})

describe("copyOut", () => {
  const big = `COPY (SELECT g, repeat('x', 200) FROM generate_series(1, 250000) g) TO STDOUT (FORMAT binary)`

  it(
    "streams large COPYs back to back on one connection and leaves it usable",
    { timeout: 60_000 },
    async () => {
      for (let i = 0; i < 3; i++) {
        const bytes = await within(
          20_000,
          (async () => {
            let n = 0
            let chunks = 0
            for await (const chunk of copyOut(sql, big)) {
              n += chunk.length
              chunks++
            }
            assert.ok(chunks < 250_000 / 10, `${chunks} chunks: rows should be coalesced`)
            return n
          })(),
        )
        assert.ok(bytes > 50_000_000)
      }
      assert.deepEqual(await within(5000, sql`SELECT 1 AS one`.then((r) => r[0])), { one: 1 })
    },
  )

  it("drains the rest when the consumer stops early", { timeout: 60_000 }, async () => {
    await within(
      20_000,
      (async () => {
        for await (const _ of copyOut(sql, big)) break
      })(),
    )
    assert.deepEqual(await within(5000, sql`SELECT 2 AS two`.then((r) => r[0])), { two: 2 })
  })

  it(
    "throws the statement's error raised mid-COPY, and the connection survives",
    { timeout: 60_000 },
    async () => {
      const failing =
        `COPY (SELECT 1 / (g - 200000) FROM generate_series(1, 250000) g) TO STDOUT (FORMAT binary)`
      await within(
        20_000,
        assert.rejects(
          (async () => {
            for await (const _ of copyOut(sql, failing));
          })(),
          /division by zero/,
        ),
      )
      assert.deepEqual(await within(5000, sql`SELECT 3 AS three`.then((r) => r[0])), { three: 3 })
    },
  )
})

describe("COPY stream framing", () => {
  it("refuses a stream that ends before its trailer, at any cut", async () => {
    const bytes = await copyBytes(`SELECT g::int8 FROM generate_series(1, 3) g`)
    for (let cut = 0; cut < bytes.length; cut++) {
      await expectError(
        decodeAll(bytes.subarray(0, cut), [spec("g", "int8", { notNull: true })], 2, [1, 2]),
        "INTEGRITY",
        /ended before its trailer/,
      )
    }
  })

  it("refuses data after the trailer, a wrong field count and a text COPY", async () => {
    const bytes = await copyBytes(`SELECT 1::int8`)
    const extra = Buffer.concat([bytes, Buffer.from([0])])
    await expectError(decodeAll(extra, [spec("a", "int8")]), "INTEGRITY", /data after its trailer/)
    await expectError(
      decodeAll(bytes, [spec("a", "int8"), spec("b", "int8")]),
      "INTEGRITY",
      /1 fields, expected 2/,
    )
    const text = new TextEncoder().encode("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n")
    await expectError(decodeAll(text, [spec("a", "int8")]), "INTEGRITY", /bad signature/)
  })

  it("refuses a non-positive batch size or restart interval", () => {
    assert.throws(() => new CopyDecoder([spec("a", "int8")], 0), CompactError)
    assert.throws(() => new CopyDecoder([spec("a", "int8")], 5, { restartEvery: 0 }), CompactError)
  })
})
