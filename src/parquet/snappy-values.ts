/**
 * Snappy for PLAIN BYTE_ARRAY pages of values that do not compress (hashes, topics, signatures):
 * each value as a literal, and its 4-byte length as a copy of the previous value's length when the
 * two are equal. That is what snappy.c finds in such a page too (a match at every length, nothing
 * inside random values), within half a percent of its size, but at the speed of a copy: the
 * general compressor probes every few bytes of a value for a match it never finds (~850 MB/s on
 * 32-byte hashes). A page whose values do compress (repeats, text, padded words) keeps the general
 * compressor: compressPage() compares the two on samples of it. Same page, same bytes; the stream
 * is plain snappy (64 KiB fragments, no copy across one, copy-1 where it fits), read by every
 * snappy decoder. The values compressor is snappy.c's compress_values() (WebAssembly), or its
 * twin compressValuesJs().
 */
import { maxCompressedLength, snappyCompress, snappyCompressValues } from "./snappy.ts"
import { compressValuesJs } from "./snappy-values-js.ts"

/** Pages shorter than this are left to the general compressor. */
const MIN_PAGE = 1 << 14
/** Bytes of each of the three samples compressPage() compresses with snappy.c. */
const SAMPLE = 1 << 13
/** The general compressor is kept when its sampled output is this much smaller (1 %). */
const MARGIN = 0.01

const scratch = new Uint8Array(maxCompressedLength(SAMPLE))

/**
 * Compresses a page into `output` (maxCompressedLength(data.length) bytes) and returns the bytes
 * written: as values (snappyCompressValues()) when the page holds PLAIN BYTE_ARRAY values from
 * `valuesAt` on and snappy.c, on three samples of them (start, middle, end), saves less than
 * MARGIN more than that; else by snappy.c.
 */
export function compressPage(data: Uint8Array, valuesAt: number | undefined, output: Uint8Array): number {
  const values = valuesAt === undefined ? 0 : data.length - valuesAt
  if (valuesAt === undefined || data.length < MIN_PAGE || values < 3 * SAMPLE) {
    return snappyCompress(data, output)
  }
  let compressed = 0
  for (const at of [valuesAt, valuesAt + ((values - SAMPLE) >> 1), data.length - SAMPLE]) {
    compressed += snappyCompress(data.subarray(at, at + SAMPLE), scratch)
  }
  // what the values compressor would write, counted without writing (a walk over the lengths)
  const length = compressValuesJs(data, valuesAt)
  if (compressed / (3 * SAMPLE) < length / data.length - MARGIN) return snappyCompress(data, output)
  const written = snappyCompressValues(data, valuesAt, output)
  // the two twins must agree: a page the counting twin did not foresee is not written to a file
  if (written !== length) {
    throw new Error(`Cannot compress a page of values: ${written} bytes written where ${length} were counted`)
  }
  return written
}
