/**
 * The page writer's contract with readers: created_by parquet-java parses, statistics in each
 * type's defined order (unsigned bytes, signed DECIMAL bytes, floats without NaN), page versions
 * and the UUID fallback; and the one dependency it keeps on hyparquet-writer (the public
 * ParquetWriter for magic, offset indexes and footer), pinned so that an upgrade fails here first.
 * (Pages are snappy-compressed by src/parquet/snappy.ts: tests/snappy.test.ts.)
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { readdirSync, readFileSync } from "node:fs"
import { parquetMetadata, parquetReadObjects } from "hyparquet"
import { ParquetWriter } from "hyparquet-writer"
import { CompactError } from "../src/errors.ts"
import type { ColumnBatch } from "../src/pg/batch.ts"
import type { ColumnSpec } from "../src/pg/schema.ts"
import { type EncodedFile, type EncodeOptions, encodeParquetFiles } from "../src/parquet/encode.ts"
import { CREATED_BY, VERSION } from "../src/version.ts"
import { packLists } from "../src/parquet/packed.ts"
import { leafType } from "../src/parquet/leaf.ts"
import { statistics } from "../src/parquet/stats.ts"
import {
  col,
  IDENTITY_COLUMNS,
  IDENTITY_OPTIONS,
  identityBatches,
  identityColumns,
} from "./identity.fixture.ts"

async function encode(columns: ColumnSpec[], batch: ColumnBatch, opts: Partial<EncodeOptions> = {}) {
  async function* source() {
    yield batch
  }
  const files: EncodedFile[] = []
  const all = { columns, chunkSize: 100, rowGroupSize: 100, blockColumn: "b", kvMetadata: [], ...opts }
  for await (const f of encodeParquetFiles(source(), all)) files.push(f)
  return files
}

const buffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer
const hex = (v: unknown) => Buffer.from(v as Uint8Array).toString("hex")

/** parquet-java's VersionParser.FORMAT, as a JavaScript RegExp. */
const VERSION_FORMAT = /^(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?$/

describe("created_by", () => {
  it("parses as parquet-java's `name version X (build Y)` and is the default", async () => {
    const m = VERSION_FORMAT.exec(CREATED_BY)
    assert.ok(m, CREATED_BY)
    assert.deepEqual([m[1], m[2]], ["parquet_compact", VERSION])
    assert.match(m[3] ?? "", /^[0-9a-f]{8}$/)
    const [file] = await encode([col("b", "int8", true)], { rows: 1, columns: [BigInt64Array.of(1n)] })
    assert.equal(parquetMetadata(buffer(file!.bytes)).created_by, CREATED_BY)
  })
})

describe("statistics", () => {
  it("orders each type as parquet.thrift's TYPE_DEFINED_ORDER says", async () => {
    const columns = [
      col("b", "int8", true),
      col("bytes", "bytea", false),
      col("dec", "numeric_decimal", false, { precision: 20, scale: 0 }),
      col("f", "float8", false),
      col("i", "int4", false),
      col("u", "uuid", false),
      col("flag", "bool", false),
    ]
    const uuid = (first: number) => Uint8Array.from({ length: 16 }, (_, k) => (k === 0 ? first : 0))
    const batch: ColumnBatch = {
      rows: 4,
      columns: [
        BigInt64Array.of(1n, 2n, 3n, 4n),
        [Uint8Array.of(0x7f), Uint8Array.of(0x80), null, Uint8Array.of(0x7f, 0)],
        [-5n, 300n, null, -(2n ** 70n)],
        [Number.NaN, -0, 0, null],
        [-1, null, 7, 2],
        [uuid(0x80), uuid(0x01), null, uuid(0xff)],
        [false, null, false, true],
      ],
    }
    const [file] = await encode(columns, batch)
    // hyparquet decodes BYTE_ARRAY bounds with stringFromBytes: keep them bytes
    const meta = parquetMetadata(buffer(file!.bytes), {
      parsers: { stringFromBytes: (b: Uint8Array) => b } as never,
    })
    const stats = meta.row_groups[0]!.columns.map((c) => c.meta_data!.statistics!)
    assert.deepEqual([hex(stats[1]!.min_value), hex(stats[1]!.max_value)], ["7f", "80"]) // unsigned
    assert.equal(stats[1]!.null_count, 1n)
    // DECIMAL(20) in 9 big-endian bytes: a negative value's sign byte sorts first (hyparquet reads
    // the bounds back as numbers; -2^70 is exact in a double)
    assert.deepEqual([stats[2]!.min_value, stats[2]!.max_value], [-(2 ** 70), 300])
    assert.ok(Object.is(stats[3]!.min_value, -0) && Object.is(stats[3]!.max_value, 0), "zeros, NaN skipped")
    assert.deepEqual([stats[4]!.min_value, stats[4]!.max_value], [-1, 7])
    assert.deepEqual([stats[6]!.min_value, stats[6]!.max_value], [false, true])
    const back = await parquetReadObjects({ file: buffer(file!.bytes), utf8: false })
    assert.deepEqual(back.map((r) => r.i ?? null), [-1, null, 7, 2])
  })
})

describe("byte statistics", () => {
  // few distinct bytes and short values: first-byte ties, empty values and prefixes are common,
  // and values past 4 and 8 bytes (compared a word at a time, then by their tails)
  const value = fc.option(fc.uint8Array({ maxLength: 11 }).map((b) => b.map((x) => x % 3 * 127)), {
    nil: null,
  })
  it("are the unsigned byte order's first and last defined value, and the NULL count", () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 40 }), fc.boolean(), (drawn, notNull) => {
        const t = leafType(col("v", "bytea", notNull))
        const values = notNull ? drawn.map((v) => v ?? new Uint8Array(0)) : drawn
        const defined = values.filter((v) => v !== null) as Uint8Array[]
        const offsets = new Int32Array(values.length + 1)
        values.forEach((v, i) => (offsets[i + 1] = offsets[i]! + (v?.length ?? 0)))
        const bytes = Buffer.concat(defined)
        const def = notNull ? undefined : Uint8Array.from(values, (v) => (v === null ? 0 : 1))
        const stats = statistics(t, {
          rows: values.length,
          slots: values.length,
          def,
          rep: undefined,
          bytes,
          offsets,
        })
        const sorted = [...defined].sort(Buffer.compare)
        assert.equal(stats.null_count, BigInt(values.length - defined.length))
        assert.deepEqual(
          [stats.min_value, stats.max_value].map((b) => (b === undefined ? undefined : hex(b))),
          sorted.length === 0 ? [undefined, undefined] : [hex(sorted[0]), hex(sorted.at(-1))],
        )
      }),
      { numRuns: 2000 },
    )
  })
})

describe("integer statistics", () => {
  // values that differ only in the low word, or in the high word's sign, and the extremes
  const edges = [-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 32n), 2n ** 32n - 1n, 2n ** 32n, -1n, 0n, 1n]
  const int8 = fc.option(
    fc.oneof(
      fc.constantFrom(...edges),
      fc.bigInt(-(2n ** 33n), 2n ** 33n),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    ),
    { nil: null },
  )
  const int4 = fc.option(fc.oneof(fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, -1, 0, 1), fc.integer()), {
    nil: null,
  })
  const leafOf = (values: (bigint | number | null)[], wide: boolean, notNull: boolean) => {
    const width = wide ? 8 : 4
    const defined = values.filter((v) => v !== null)
    const bytes = new Uint8Array(defined.length * width)
    const view = new DataView(bytes.buffer)
    const offsets = new Int32Array(values.length + 1)
    let k = 0
    values.forEach((v, i) => {
      if (v !== null) {
        if (wide) view.setBigInt64(k * width, v as bigint, true)
        else view.setInt32(k * width, v as number, true)
        k++
      }
      offsets[i + 1] = k * width
    })
    const def = notNull ? undefined : Uint8Array.from(values, (v) => (v === null ? 0 : 1))
    return { rows: values.length, slots: values.length, def, rep: undefined, bytes, offsets }
  }
  it("are the smallest and largest defined int8 and int4 values, and the NULL count", () => {
    for (const wide of [true, false]) {
      fc.assert(
        fc.property(
          fc.array<bigint | number | null>(wide ? int8 : int4, { maxLength: 40 }),
          fc.boolean(),
          (drawn, notNull) => {
            const values = notNull ? drawn.filter((v) => v !== null) : drawn
            const t = leafType(col("v", wide ? "int8" : "int4", notNull))
            const stats = statistics(t, leafOf(values, wide, notNull))
            const defined = values.filter((v) => v !== null).map((v) => BigInt(v!))
            const sorted = defined.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
            assert.equal(stats.null_count, BigInt(values.length - defined.length))
            const got = [stats.min_value, stats.max_value].map((
              v,
            ) => (v === undefined ? undefined : BigInt(v as number)))
            assert.deepEqual(got, sorted.length === 0 ? [undefined, undefined] : [sorted[0], sorted.at(-1)])
          },
        ),
        { numRuns: 1000 },
      )
    }
  })
})

describe("page versions and the UUID fallback", () => {
  const columns = [
    col("b", "int8", true),
    col("u", "uuid", false),
    col("l", "array", false, { element: "text" }),
  ]
  const u = Uint8Array.from({ length: 16 }, (_, k) => k)
  const utf8 = new TextEncoder()
  const batch = (): ColumnBatch => ({
    rows: 3,
    columns: [BigInt64Array.of(1n, 2n, 3n), [u, null, u], [[utf8.encode("a"), null], null, []]],
  })

  for (const pageVersion of [1, 2] as const) {
    it(`writes DATA_PAGE${pageVersion === 1 ? "" : "_V2"} pages with pageVersion ${pageVersion}`, async () => {
      const [file] = await encode(columns, batch(), { pageVersion })
      const meta = parquetMetadata(buffer(file!.bytes))
      const types = meta.row_groups[0]!.columns.map((c) => c.meta_data!.encoding_stats!.at(-1)!.page_type)
      assert.deepEqual(types, Array(3).fill(pageVersion === 1 ? "DATA_PAGE" : "DATA_PAGE_V2"))
      const back = await parquetReadObjects({ file: buffer(file!.bytes), utf8: true })
      assert.deepEqual(back.map((r) => r.l ?? null), [["a", null], null, []])
    })
  }

  it("writes uuid as UUID by default and as plain FIXED_LEN_BYTE_ARRAY(16) with uuidAs binary", async () => {
    const leaf = async (opts: Partial<EncodeOptions>) => {
      const [file] = await encode(columns, batch(), opts)
      const meta = parquetMetadata(buffer(file!.bytes))
      const element = meta.schema.find((e) => e.name === "u")!
      const back = await parquetReadObjects({
        file: buffer(file!.bytes),
        parsers: { uuidFromBytes: (b) => b },
      })
      return { element, values: back.map((r) => (r.u ? hex(r.u) : null)) }
    }
    const uuid = await leaf({})
    const binary = await leaf({ uuidAs: "binary" })
    assert.equal(uuid.element.logical_type?.type, "UUID")
    assert.equal(binary.element.logical_type, undefined)
    assert.deepEqual([binary.element.type, binary.element.type_length], ["FIXED_LEN_BYTE_ARRAY", 16])
    assert.deepEqual(binary.values, uuid.values)
    assert.deepEqual(binary.values, [hex(u), null, hex(u)])
  })

  it("refuses a page version other than 1 or 2 with BAD_INPUT", async () => {
    await assert.rejects(
      encode(columns, batch(), { pageVersion: 3 as never }),
      (e: unknown) =>
        e instanceof CompactError && e.code === "BAD_INPUT" && /page version "3"/.test(e.message),
    )
  })
})

describe("the hyparquet-writer dependency", () => {
  it("is pinned, and src/parquet imports only its public entry point", () => {
    const pkg = JSON.parse(readFileSync("node_modules/hyparquet-writer/package.json", "utf8"))
    assert.equal(
      pkg.version,
      "0.17.0",
      "hyparquet-writer was upgraded: check that ParquetWriter still writes the offset indexes of " +
        "pendingIndexes and the footer of row_groups/num_rows in finish() (tests/readers.test.ts), " +
        "then update this pin and the hashes of tests/encode-identity.test.ts",
    )
    for (const name of readdirSync("src/parquet").filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(`src/parquet/${name}`, "utf8")
      assert.doesNotMatch(source, /from "hyparquet-writer\//, `src/parquet/${name} imports a private module`)
    }
    const writer = new ParquetWriter({ writer: { appendUint32() {} } as never, schema: [] })
    assert.deepEqual([writer.pendingIndexes, writer.row_groups, writer.num_rows], [[], [], 0n])
  })
})

describe("LIST columns packed for the encoder thread (packed.ts)", () => {
  it("give the same files as the per-row arrays, whatever the batch and row group boundaries", async () => {
    const columns = IDENTITY_COLUMNS
    const input = identityColumns(1500, 3)
    const hashes = async (pack: boolean, batchRows: number) => {
      const source = async function* () {
        for (const b of identityBatches(input, batchRows, (i) => i % 2 === 0)) {
          yield pack ? packLists(b, columns) : b
        }
      }
      const out: string[] = []
      const options = { ...IDENTITY_OPTIONS, chunkSize: 1000, rowGroupSize: 400 }
      for await (const f of encodeParquetFiles(source(), options)) out.push(hex(await sha256(f.bytes)))
      return out
    }
    const plain = await hashes(false, 1500)
    assert.equal(plain.length, 2)
    for (const batchRows of [1500, 333, 97]) {
      assert.deepEqual(await hashes(true, batchRows), plain, `batches of ${batchRows}`)
    }
  })
})

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>))
}
