/**
 * Column chunks of flat columns written byte for byte as hyparquet-writer 0.17's writeColumn()
 * writes the same values, but from packed buffers: a ByteColumn (BYTE_ARRAY or
 * FIXED_LEN_BYTE_ARRAY, REQUIRED or OPTIONAL) or a NOT NULL Int32Array / BigInt64Array (INT32 /
 * INT64). Same statistics, dictionary decision (sample, build, win check), page split,
 * DATA_PAGE_V2 layout and chunk metadata; no object per value, no per-value append, no copy of the
 * column per page. Each step names the hyparquet-writer function it mirrors;
 * tests/encode-identity.test.ts holds the two to the same bytes.
 */
import type { ColumnChunk, Encoding, OffsetIndex, SchemaElement } from "hyparquet"
import { ByteWriter, type ParquetWriter } from "hyparquet-writer"
import type { writeColumn } from "hyparquet-writer/src/column.js"
import { writePageHeader } from "hyparquet-writer/src/datapage.js"
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js"
import { SnappyCompressor } from "snappyjs/snappy_compressor.js"
import { ByteColumn, copyBytes } from "../pg/batch.ts"

/** useDictionary(): a sample whose distinct bytes pass this share of its bytes gets no dictionary. */
const SAMPLE_REJECTION_RATIO = 0.9
/** useDictionary(): values sampled before building a dictionary. */
const SAMPLE_SIZE = 1000

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** How writeColumn() is told about a column (hyparquet-writer's ColumnEncoder). */
export type ColumnEncoder = Parameters<typeof writeColumn>[0]["column"]
/** A written chunk and its page indexes, as ParquetWriter keeps them for the footer. */
type PageIndexes = ParquetWriter["pendingIndexes"][number]

/** A statistics bound (hyparquet's MinMaxType, narrowed to what is written here). */
type Bound = bigint | number | Uint8Array

/** Values writeColumnChunk() takes. */
export type ChunkValues = ByteColumn | Int32Array | BigInt64Array

/**
 * Whether writeColumnChunk() writes these values for this leaf: flat byte columns, and NOT NULL
 * integers on a little-endian host (their memory is then their PLAIN encoding) whose annotation
 * leaves the values as they are (none, INT_16, DATE, TIMESTAMP). Everything else (booleans, floats,
 * DECIMAL, unsigned, nullable integers, lists) goes through hyparquet-writer.
 */
export function fastPath(
  values: unknown,
  element: SchemaElement,
  path: readonly unknown[],
): values is ChunkValues {
  if (path.length !== 2 || element.repetition_type === "REPEATED") return false
  if (values instanceof ByteColumn) {
    return element.type === "BYTE_ARRAY" || (element.type === "FIXED_LEN_BYTE_ARRAY" && !!element.type_length)
  }
  const converted = element.converted_type
  const logical = element.logical_type?.type
  if (
    !LITTLE_ENDIAN || element.repetition_type !== "REQUIRED" ||
    (converted !== undefined && converted !== "INT_16" && converted !== "DATE") ||
    (logical !== undefined && logical !== "DATE" && logical !== "TIMESTAMP")
  ) {
    return false
  }
  return (values instanceof Int32Array && element.type === "INT32") ||
    (values instanceof BigInt64Array && element.type === "INT64")
}

/** Writes `values` as one column chunk at the writer's offset, as writeColumn() would. */
export function writeColumnChunk(
  writer: ByteWriter,
  column: ColumnEncoder,
  values: ChunkValues,
): PageIndexes {
  const { element, stats, pageSize } = column
  const type = element.type!
  const optional = element.repetition_type === "OPTIONAL"
  const n = values.length
  // Integers as fixed-width byte values: equal bytes are equal values, and the bytes are PLAIN
  const packed = values instanceof ByteColumn ? values : fixedWidth(values)
  const { bytes, offsets, nulls } = packed
  const source = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) }
  const fixed = values instanceof ByteColumn
    ? type === "FIXED_LEN_BYTE_ARRAY" ? element.type_length ?? 0 : 0
    : values.BYTES_PER_ELEMENT
  if (nulls && !optional && nulls.includes(1)) throw new Error("parquet required value is undefined")
  for (let i = 0; fixed && i < n; i++) {
    if (!nulls?.[i] && offsets[i + 1]! - offsets[i]! !== fixed) {
      throw new Error(`parquet expected Uint8Array of length ${fixed}`)
    }
  }
  if (column.encoding !== undefined && column.encoding !== "PLAIN") {
    throw new Error(`column ${column.columnName}: encoding ${column.encoding} is not supported here`)
  }
  const offsetStart = writer.offset
  let uncompressedSize = 0
  const encodings: Encoding[] = []

  const statistics = stats
    ? {
      ...(values instanceof ByteColumn ? byteBounds(values) : intBounds(values)),
      null_count: BigInt(nullCount(nulls)),
    }
    : undefined

  const dict = column.encoding ? undefined : buildDictionary(packed, values, fixed)
  let dictionaryPageOffset: bigint | undefined
  let encoding: Encoding = "PLAIN"
  if (dict) {
    encoding = "RLE_DICTIONARY"
    dictionaryPageOffset = BigInt(writer.offset)
    // writeDictionaryPage(): the distinct values PLAIN, compressed
    let size = 0
    for (const i of dict.first) size += offsets[i + 1]! - offsets[i]! + (fixed ? 0 : 4)
    const page = new Uint8Array(size)
    let o = 0
    const target = { bytes: page, view: new DataView(page.buffer) }
    for (const i of dict.first) o = putPlain(target, o, source, offsets[i]!, offsets[i + 1]!, fixed)
    const compressed = compress(column, page)
    const headerStart = writer.offset
    writePageHeader(writer, {
      type: "DICTIONARY_PAGE",
      uncompressed_page_size: page.length,
      compressed_page_size: compressed.length,
      dictionary_page_header: { num_values: dict.first.length, encoding: "PLAIN" },
    })
    uncompressedSize += writer.offset - headerStart + page.length
    writer.appendBytes(compressed)
    encodings.push("PLAIN")
  }
  encodings.push(encoding)

  // getPageBoundaries(): estimated bytes per value (index: 4, value: its length, NULL: 0)
  const pages: { start: number; end: number }[] = []
  let start = 0
  let accumulated = 0
  for (let i = 0; i < n; i++) {
    const size = nulls?.[i] ? 0 : dict ? 4 : fixed || offsets[i + 1]! - offsets[i]!
    accumulated += size
    if (accumulated >= pageSize && i > start) {
      pages.push({ start, end: i })
      start = i
      accumulated = size
    }
  }
  if (start < n) pages.push({ start, end: n })

  const offsetIndex: OffsetIndex | undefined = column.offsetIndex && pages.length > 1
    ? { page_locations: [] }
    : undefined
  const dataPageOffset = BigInt(writer.offset)
  for (const { start, end } of pages) {
    const pageOffset = writer.offset
    // writeLevels(): definition levels (bit width 1) for OPTIONAL columns
    const levels = new ByteWriter()
    let nullsInPage = 0
    if (optional) {
      const defined = new Uint8Array(end - start)
      for (let i = start; i < end; i++) {
        if (nulls?.[i]) nullsInPage++
        else defined[i - start] = 1
      }
      writeRleBitPackedHybrid(levels, defined, 1)
    }
    let page: Uint8Array
    if (dict) {
      // writeDataPageV2(), RLE_DICTIONARY: bit width of the page's largest index, then the indexes
      const indexes = new Int32Array(end - start - nullsInPage)
      let k = 0
      let top = 0
      for (let i = start; i < end; i++) {
        if (nulls?.[i]) continue
        const index = dict.indexes[i]!
        indexes[k++] = index
        if (index > top) top = index
      }
      const bitWidth = Math.ceil(Math.log2(top + 1))
      const out = new ByteWriter(Math.ceil(indexes.length * bitWidth / 8) + 64)
      out.appendUint8(bitWidth)
      writeRleBitPackedHybrid(out, indexes, bitWidth)
      page = out.getBytes()
    } else if (fixed && nullsInPage === 0) {
      page = bytes.subarray(offsets[start]!, offsets[end]!) // already PLAIN
    } else {
      // writePlain(): [uint32 length] + bytes per non-NULL value
      const size = offsets[end]! - offsets[start]! + (fixed ? 0 : 4 * (end - start))
      const out = scratch(0, size)
      const target = { bytes: out, view: new DataView(out.buffer) }
      let o = 0
      for (let i = start; i < end; i++) {
        if (!nulls?.[i]) o = putPlain(target, o, source, offsets[i]!, offsets[i + 1]!, fixed)
      }
      page = out.subarray(0, o)
    }
    const compressed = compress(column, page)
    const levelBytes = levels.getBytes()
    const headerStart = writer.offset
    writePageHeader(writer, {
      type: "DATA_PAGE_V2",
      uncompressed_page_size: levelBytes.length + page.length,
      compressed_page_size: levelBytes.length + compressed.length,
      data_page_header_v2: {
        num_values: end - start,
        num_nulls: nullsInPage,
        num_rows: end - start,
        encoding,
        definition_levels_byte_length: levelBytes.length,
        repetition_levels_byte_length: 0,
        is_compressed: true,
      },
    })
    uncompressedSize += writer.offset - headerStart + levelBytes.length + page.length
    writer.appendBytes(levelBytes)
    writer.appendBytes(compressed)
    offsetIndex?.page_locations.push({
      offset: BigInt(pageOffset),
      compressed_page_size: writer.offset - pageOffset,
      first_row_index: BigInt(start),
    })
  }

  const chunk: ColumnChunk = {
    meta_data: {
      type,
      encodings,
      path_in_schema: column.schemaPath.slice(1).map((s) => s.name),
      codec: column.codec,
      num_values: BigInt(n),
      total_compressed_size: BigInt(writer.offset - offsetStart),
      total_uncompressed_size: BigInt(uncompressedSize),
      data_page_offset: dataPageOffset,
      ...(dictionaryPageOffset === undefined ? {} : { dictionary_page_offset: dictionaryPageOffset }),
      ...(statistics ? { statistics } : {}),
      ...(stats
        ? {
          encoding_stats: [
            ...(dict
              ? [{ page_type: "DICTIONARY_PAGE" as const, encoding: "PLAIN" as const, count: 1 }]
              : []),
            { page_type: "DATA_PAGE_V2" as const, encoding, count: pages.length },
          ],
        }
        : {}),
    },
    file_offset: BigInt(offsetStart),
  }
  return offsetIndex ? { chunk, offsetIndex } : { chunk }
}

/** Integers as a ByteColumn of their little-endian bytes. */
function fixedWidth(values: Int32Array | BigInt64Array): ByteColumn {
  const width = values.BYTES_PER_ELEMENT
  const offsets = new Int32Array(values.length + 1)
  for (let i = 1; i <= values.length; i++) offsets[i] = i * width
  return new ByteColumn(
    new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    offsets,
    undefined,
  )
}

/**
 * compressors.SNAPPY (snappyjs' compress()) into a reused buffer: the same compressor, without its
 * two new buffers per page (~0.5 GB of fresh memory per million log rows, paid in page faults).
 * The result is valid until the next call.
 */
function compress(column: ColumnEncoder, page: Uint8Array): Uint8Array {
  if (column.codec !== "SNAPPY") return column.compressors[column.codec]?.(page) ?? page
  const compressor = new SnappyCompressor(page)
  const out = scratch(1, compressor.maxCompressedLength())
  return out.subarray(0, compressor.compressToBuffer(out))
}

/** Largest reused buffer, in bytes; bigger needs (a huge single value) get a buffer of their own. */
const SCRATCH_LIMIT = 1 << 23
const scratchBuffers = [new Uint8Array(0), new Uint8Array(0)]

/** A buffer of at least `size` bytes, reused per `slot` (0: PLAIN page, 1: compressed page). */
function scratch(slot: 0 | 1, size: number): Uint8Array {
  if (size > SCRATCH_LIMIT) return new Uint8Array(size)
  if (scratchBuffers[slot]!.length < size) {
    scratchBuffers[slot] = new Uint8Array(Math.min(SCRATCH_LIMIT, size * 2))
  }
  return scratchBuffers[slot]!
}

function nullCount(nulls: Uint8Array | undefined): number {
  let count = 0
  if (nulls) { for (let i = 0; i < nulls.length; i++) count += nulls[i]! }
  return count
}

/** getStatistics() of byte values: unsigned lexicographic min/max, copied out of the column. */
function byteBounds(values: ByteColumn): { min_value?: Bound; max_value?: Bound } {
  const { bytes, offsets, nulls } = values
  let min = -1
  let max = -1
  for (let i = 0; i < values.length; i++) {
    if (nulls?.[i]) continue
    if (min < 0 || compare(bytes, offsets, i, min) < 0) min = i
    if (max < 0 || compare(bytes, offsets, i, max) > 0) max = i
  }
  // copies: the footer is written at the end of the file, and the batch buffers are reused before
  if (min < 0) return {}
  return {
    min_value: bytes.slice(offsets[min]!, offsets[min + 1]!),
    max_value: bytes.slice(offsets[max]!, offsets[max + 1]!),
  }
}

/** getStatistics() of integers, with its signed-zero rule (a min of 0 is -0). */
function intBounds(values: Int32Array | BigInt64Array): { min_value?: Bound; max_value?: Bound } {
  if (values.length === 0) return {}
  if (values instanceof BigInt64Array) {
    let min = values[0]!
    let max = min
    for (const v of values) {
      if (v < min) min = v
      if (v > max) max = v
    }
    return { min_value: min, max_value: max }
  }
  let min = values[0]!
  let max = min
  for (let i = 1; i < values.length; i++) {
    const v = values[i]!
    if (v < min) min = v
    if (v > max) max = v
  }
  return { min_value: min === 0 ? -0 : min, max_value: max }
}

/** Bytes and a DataView over the same range. */
interface Viewed {
  bytes: Uint8Array
  view: DataView
}

/** Writes src.bytes[from, to) PLAIN at out[o] (after a uint32 length unless fixed); returns the end. */
function putPlain(out: Viewed, o: number, src: Viewed, from: number, to: number, fixed: number): number {
  const len = to - from
  if (!fixed) {
    out.view.setUint32(o, len, true)
    o += 4
  }
  copyBytes(src.bytes, src.view, from, out.bytes, out.view, o, len)
  return o + len
}

/** Unsigned lexicographic order of values i and j (compareValues() on Uint8Arrays). */
function compare(bytes: Uint8Array, offsets: Int32Array, i: number, j: number): number {
  const a = offsets[i]!
  const b = offsets[j]!
  const la = offsets[i + 1]! - a
  const lb = offsets[j + 1]! - b
  const len = Math.min(la, lb)
  for (let k = 0; k < len; k++) {
    const d = bytes[a + k]! - bytes[b + k]!
    if (d !== 0) return d
  }
  return la - lb
}

/** FNV-1a of value i, as hashBytes() in hyparquet-writer's dictionary.js. */
function hash(bytes: Uint8Array, offsets: Int32Array, i: number): number {
  let h = 0x811c9dc5
  for (let k = offsets[i]!, end = offsets[i + 1]!; k < end; k++) {
    h ^= bytes[k]!
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function equal(bytes: Uint8Array, offsets: Int32Array, i: number, j: number): boolean {
  const a = offsets[i]!
  const b = offsets[j]!
  const len = offsets[i + 1]! - a
  if (offsets[j + 1]! - b !== len) return false
  for (let k = 0; k < len; k++) if (bytes[a + k] !== bytes[b + k]) return false
  return true
}

/**
 * useDictionary() without a forced encoding or size cap: the sample check, then the dictionary
 * (distinct values in order of first appearance) and its index per row, kept only if dictionary
 * plus bit-packed indexes at most halve the PLAIN bytes. `first` holds the row of each entry.
 */
function buildDictionary(
  packed: ByteColumn,
  values: ChunkValues,
  fixed: number,
): { first: number[]; indexes: Int32Array } | undefined {
  const { bytes, offsets, nulls } = packed
  const n = packed.length
  const prefix = values instanceof ByteColumn && !fixed ? 4 : 0
  const size = (i: number) => (fixed || offsets[i + 1]! - offsets[i]!) + prefix

  // The sample keys byte values by hash, as there (values whose hashes collide count as one, with
  // the first one's size), and integers by value
  const sampleSize = Math.min(n, SAMPLE_SIZE)
  const sampled = new Map<number | bigint | null, number>()
  let sampleDistinct = 0
  let sampleTotal = 0
  for (let s = 0; s < sampleSize; s++) {
    const i = sampleSize === 1 ? 0 : Math.floor(s * (n - 1) / (sampleSize - 1))
    const isNull = nulls?.[i] === 1
    const key = isNull ? null : values instanceof ByteColumn ? hash(bytes, offsets, i) : values[i]!
    let valueSize = sampled.get(key)
    if (valueSize === undefined) {
      valueSize = isNull ? 0 : size(i)
      sampled.set(key, valueSize)
      sampleDistinct += valueSize
    }
    sampleTotal += valueSize
  }
  if (!sampleTotal || sampleDistinct / sampleTotal > SAMPLE_REJECTION_RATIO) return undefined

  const first: number[] = [] // row of each dictionary entry
  const indexes = new Int32Array(n)
  const head = new Map<number, number>() // hash → first entry with it
  const next: number[] = [] // entry → next entry with the same hash, or -1
  let dictBytes = 0
  let totalBytes = 0
  let nonNull = 0
  for (let i = 0; i < n; i++) {
    if (nulls?.[i]) continue
    nonNull++
    const len = offsets[i + 1]! - offsets[i]!
    totalBytes += len
    const h = hash(bytes, offsets, i)
    let entry = head.get(h) ?? -1
    let last = -1
    while (entry >= 0 && !equal(bytes, offsets, first[entry]!, i)) {
      last = entry
      entry = next[entry]!
    }
    if (entry < 0) {
      entry = first.length
      first.push(i)
      next.push(-1)
      dictBytes += len
      if (last >= 0) next[last] = entry
      else head.set(h, entry)
    }
    indexes[i] = entry
  }
  const bitWidth = Math.ceil(Math.log2(first.length))
  const indexBytes = Math.ceil(nonNull * bitWidth / 8)
  const plainBytes = totalBytes + nonNull * prefix
  const dictionaryBytes = dictBytes + first.length * prefix
  if (2 * (dictionaryBytes + indexBytes) > plainBytes) return undefined
  return { first, indexes }
}
