/**
 * Writes one column chunk (one column of one row group) from a Leaf: the dictionary page when a
 * dictionary pays, then data pages of about pageSize bytes cut at row boundaries, as DATA_PAGE
 * (v1: levels and values compressed together, the page every reader takes) or DATA_PAGE_V2.
 * Values are PLAIN (BOOLEAN bit-packed) or RLE_DICTIONARY indexes; levels are RLE/bit-packed.
 * Only hyparquet-writer's public ByteWriter is used here: the page format is owned by this file.
 */
import type { ColumnChunk, Encoding, OffsetIndex } from "hyparquet"
import type { ByteWriter } from "hyparquet-writer"
import { buildDictionary } from "./dictionary.ts"
import type { Leaf, LeafType } from "./leaf.ts"
import { bitWidth, ENCODING, type PageHeader, Sink, writeHybrid, writePageHeader } from "./rle.ts"
import { encodeValues, putPlain } from "./page-values.ts"
import { maxCompressedLength } from "./snappy.ts"
import { compressPage } from "./snappy-values.ts"
import { type ChunkStatistics, statistics } from "./stats.ts"

/** How a chunk is written. */
export interface ChunkOptions {
  /** Column path below the root (the list column's is [name, "list", "element"]). */
  path: string[]
  /** Bytes of values per page, about. */
  pageSize: number
  /** 1: DATA_PAGE; 2: DATA_PAGE_V2. */
  pageVersion: 1 | 2
  /** Write PLAIN without trying a dictionary. */
  plain: boolean
}

/** A written chunk and its offset index, as ParquetWriter keeps them for the footer. */
export interface WrittenChunk {
  chunk: ColumnChunk
  offsetIndex?: OffsetIndex
}

// Reused across pages and chunks: a page's bytes are copied into the file before the next page
const body = new Sink(1 << 16)
const levels = new Sink(1 << 12)
const header = new Sink(64)
let compressed = new Uint8Array(1 << 16)
/** Bytes a reused buffer may keep between pages. */
const SCRATCH_LIMIT = 1 << 24

/** Writes the leaf as one SNAPPY column chunk at the writer's offset. */
export function writeColumnChunk(writer: ByteWriter, t: LeafType, leaf: Leaf, o: ChunkOptions): WrittenChunk {
  const { slots, def, rep, bytes, offsets } = leaf
  const start = writer.offset
  let uncompressed = 0
  const stats: ChunkStatistics = statistics(t, leaf)
  const dict = o.plain ? undefined : buildDictionary(t, leaf)
  let dictionaryOffset: bigint | undefined
  if (dict) {
    dictionaryOffset = BigInt(writer.offset)
    body.pos = 0
    for (const i of dict.first) putPlain(body, t, bytes, offsets[i]!, offsets[i + 1]!)
    uncompressed += writePage(writer, body.written(), undefined, undefined, (c) => ({
      type: "DICTIONARY_PAGE",
      uncompressed: body.pos,
      compressed: c,
      values: dict.first.length,
    }))
  }
  const encoding = dict ? ENCODING.RLE_DICTIONARY : ENCODING.PLAIN
  const pages = pageBounds(t, leaf, o.pageSize, !!dict)
  const offsetIndex: OffsetIndex | undefined = pages.length > 1 ? { page_locations: [] } : undefined
  const dataOffset = BigInt(writer.offset)
  let row = 0
  for (const [from, to] of pages) {
    const pageStart = writer.offset
    const nulls = def ? countNot(def, t.maxDef, from, to) : 0
    const rows = rep ? to - from - countNot(rep, 0, from, to) : to - from
    // levels: repetition then definition, each length-prefixed inside a v1 page's body
    const target = o.pageVersion === 1 ? body : levels
    target.pos = 0
    let repBytes = 0
    let defBytes = 0
    if (rep) repBytes = levelRun(target, rep, from, to, 1, o.pageVersion === 1)
    if (def) defBytes = levelRun(target, def, from, to, bitWidth(t.maxDef), o.pageVersion === 1)
    if (o.pageVersion === 2) body.pos = 0
    // PLAIN BYTE_ARRAY values start here in the page (after a v1 page's levels)
    const valuesAt = !dict && t.type === "BYTE_ARRAY" ? body.pos : undefined
    const data = encodeValues(body, t, leaf, dict, from, to, nulls) ?? body.written()
    if (o.pageVersion === 1) {
      uncompressed += writePage(writer, data, valuesAt, undefined, (c) => ({
        type: "DATA_PAGE",
        uncompressed: data.length,
        compressed: c,
        values: to - from,
        encoding,
      }))
    } else {
      const lv = levels.written()
      uncompressed += writePage(writer, data, valuesAt, lv, (c) => ({
        type: "DATA_PAGE_V2",
        uncompressed: lv.length + data.length,
        compressed: lv.length + c,
        values: to - from,
        nulls,
        rows,
        encoding,
        defBytes,
        repBytes,
      }))
    }
    offsetIndex?.page_locations.push({
      offset: BigInt(pageStart),
      compressed_page_size: writer.offset - pageStart,
      first_row_index: BigInt(row),
    })
    row += rows
  }
  const levelEncoded = !!def || !!rep
  const encodings: Encoding[] = dict
    ? levelEncoded ? ["PLAIN", "RLE", "RLE_DICTIONARY"] : ["PLAIN", "RLE_DICTIONARY"]
    : levelEncoded
    ? ["PLAIN", "RLE"]
    : ["PLAIN"]
  const pageType = o.pageVersion === 1 ? "DATA_PAGE" as const : "DATA_PAGE_V2" as const
  const chunk: ColumnChunk = {
    meta_data: {
      type: t.type,
      encodings,
      path_in_schema: o.path,
      codec: "SNAPPY",
      num_values: BigInt(slots),
      total_compressed_size: BigInt(writer.offset - start),
      total_uncompressed_size: BigInt(uncompressed),
      data_page_offset: dataOffset,
      ...(dictionaryOffset === undefined ? {} : { dictionary_page_offset: dictionaryOffset }),
      statistics: stats,
      encoding_stats: [
        ...(dict ? [{ page_type: "DICTIONARY_PAGE" as const, encoding: "PLAIN" as const, count: 1 }] : []),
        { page_type: pageType, encoding: dict ? "RLE_DICTIONARY" : "PLAIN", count: pages.length },
      ],
    },
    file_offset: BigInt(start),
  }
  return offsetIndex ? { chunk, offsetIndex } : { chunk }
}

/**
 * How many of levels[from, to) are not `level` (slots below the highest definition level: nulls;
 * repetition levels not 0: slots that continue a row). A loop of its own, not inlined in
 * writeColumnChunk(): the JIT then optimizes a small function, not the whole chunk writer.
 */
function countNot(levels: Uint8Array, level: number, from: number, to: number): number {
  let n = 0
  for (let i = from; i < to; i++) if (levels[i] !== level) n++
  return n
}

/** Levels [from, to) RLE/bit-packed, after a uint32 byte length when `prefixed` (v1). */
function levelRun(out: Sink, levels: Uint8Array, from: number, to: number, width: number, prefixed: boolean) {
  if (!prefixed) return writeHybrid(out, levels, from, to, width)
  const at = out.pos
  out.u32(0)
  const n = writeHybrid(out, levels, from, to, width)
  out.view.setUint32(at, n, true)
  return n + 4
}

/** Page ranges of slots: about pageSize estimated bytes each, starting at a row's first slot. */
function pageBounds(t: LeafType, leaf: Leaf, pageSize: number, dict: boolean): [number, number][] {
  const { slots, def, rep, offsets } = leaf
  const pages: [number, number][] = []
  let start = 0
  let size = 0
  for (let i = 0; i < slots; i++) {
    const bytes = def && def[i] !== t.maxDef ? 0 : dict ? 4 : offsets[i + 1]! - offsets[i]!
    size += bytes
    if (size >= pageSize && i > start && (!rep || rep[i] === 0)) {
      pages.push([start, i])
      start = i
      size = bytes
    }
  }
  if (start < slots || slots === 0) pages.push([start, slots])
  return pages
}

/**
 * Compresses `data` (snappy; see compressPage() for PLAIN BYTE_ARRAY values from `valuesAt`), then
 * appends the header `make(compressedLength)` gives, the uncompressed `prefix` (v2 levels) and the
 * compressed data. Returns the uncompressed page size with its header, as ColumnMetaData counts it.
 */
function writePage(
  writer: ByteWriter,
  data: Uint8Array,
  valuesAt: number | undefined,
  prefix: Uint8Array | undefined,
  make: (compressedLength: number) => PageHeader,
): number {
  const max = maxCompressedLength(data.length)
  if (compressed.length < max) compressed = new Uint8Array(Math.max(max, compressed.length * 2))
  const length = compressPage(data, valuesAt, compressed)
  header.pos = 0
  writePageHeader(header, make(length))
  writer.appendBytes(header.written())
  if (prefix) writer.appendBytes(prefix)
  writer.appendBytes(compressed.subarray(0, length))
  // a huge value's buffers go, rather than stay for the life of the thread
  if (compressed.length > SCRATCH_LIMIT) compressed = new Uint8Array(1 << 16)
  if (body.bytes.length > SCRATCH_LIMIT) body.reset(1 << 16)
  return header.pos + (prefix?.length ?? 0) + data.length
}
