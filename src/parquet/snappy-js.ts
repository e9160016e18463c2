/**
 * Snappy compression in TypeScript, byte for byte what snappy.c (the WebAssembly that snappy.ts
 * runs) writes: the fallback where WebAssembly is missing, and the tests' second implementation.
 * The raw block format Parquet's SNAPPY codec stores (a varint of the uncompressed length, then
 * literals and copies) into a caller's buffer, written for the JIT:
 * Math.imul hashing into one reused Uint16Array table, a first-byte check before a candidate's
 * 32-bit compare, the next word built from the last one, match extension 4 bytes at a time, long
 * literals copied with set(), no allocation per call. Like the reference implementation, the input
 * is cut into 64 KiB fragments compressed independently, so every copy's offset is below 65536
 * (copies with 1- and 2-byte offsets only). Same input, same bytes.
 */

/** Fragment size: matches never reach back across a fragment's start. */
const BLOCK_SIZE = 1 << 16
/** log2 of the largest hash table (the reference's kMaxHashTableBits). */
const MAX_TABLE_BITS = 14
/** No match search within the last 15 bytes of a fragment (the reference's kInputMarginBytes). */
const INPUT_MARGIN = 15
/** Literals longer than this are copied with set(); shorter ones byte by byte (set() has a fixed cost). */
const SET_THRESHOLD = 32

// Positions relative to the fragment's start: 16 bits suffice as fragments are 64 KiB
const table = new Uint16Array(1 << MAX_TABLE_BITS)

/**
 * Compresses `input` into `output` from offset 0 (the length header, then the fragments); returns
 * the compressed length. `output` must hold maxCompressedLength(input.length) bytes (snappy.ts).
 */
export function snappyCompressJs(input: Uint8Array, output: Uint8Array): number {
  const length = input.length
  let op = putLength(output, length)
  for (let pos = 0; pos < length; pos += BLOCK_SIZE) {
    op = compressFragment(input, pos, Math.min(length, pos + BLOCK_SIZE), output, op)
  }
  return op
}

/** The uncompressed length as a varint at output[0]; returns the bytes written. */
export function putLength(output: Uint8Array, length: number): number {
  let op = 0
  while (length > 0x7f) {
    output[op++] = (length & 0x7f) | 0x80
    length >>>= 7
  }
  output[op++] = length
  return op
}

/** Compresses input[start, end) (at most 64 KiB) to output at `op`; returns the new output position. */
function compressFragment(
  input: Uint8Array,
  start: number,
  end: number,
  output: Uint8Array,
  op: number,
): number {
  let nextEmit = start
  const size = end - start
  // too short to search: one literal
  if (size < INPUT_MARGIN) return size > 0 ? emitLiteral(input, start, size, output, op) : op
  // the table no larger than the fragment: small pages do not pay for clearing 32 KiB
  let bits = 8
  while (bits < MAX_TABLE_BITS && 1 << bits < size) bits++
  const shift = 32 - bits
  table.fill(0, 0, 1 << bits)
  const ipLimit = end - INPUT_MARGIN
  let ip = start + 1
  let next = load32(input, ip)
  for (;;) {
    // find a 4-byte match: after 32 misses every other position is tried, after 64 every third…
    // (snappyjs' and the older reference's heuristic: the newer, steeper one lost 1 % on log pages)
    let skip = 32
    let candidate = -1
    while (candidate < 0) {
      const h = Math.imul(next, 0x1e35a7bd) >>> shift
      const step = skip++ >>> 5
      const nextIp = ip + step
      if (nextIp > ipLimit) break
      const c = start + table[h]!
      table[h] = ip - start
      // most candidates differ in their first byte: one load rejects them
      if (input[c] === (next & 0xff) && next === load32(input, c)) candidate = c
      else {
        ip = nextIp
        // one step: the next word is this one shifted and one new byte (one load instead of four)
        next = step === 1 ? (next >>> 8) | (input[ip + 3]! << 24) : load32(input, ip)
      }
    }
    if (candidate < 0) break
    op = emitLiteral(input, nextEmit, ip - nextEmit, output, op)
    // copies for as long as the position right after one starts another match
    for (;;) {
      const matched = 4 + matchLength(input, ip + 4, candidate + 4, end)
      op = emitCopy(output, op, ip - candidate, matched)
      ip += matched
      nextEmit = ip
      if (ip >= ipLimit) break
      // the position before ip goes into the table too, as the reference does
      table[Math.imul(load32(input, ip - 1), 0x1e35a7bd) >>> shift] = ip - 1 - start
      const cur = load32(input, ip)
      const h = Math.imul(cur, 0x1e35a7bd) >>> shift
      candidate = start + table[h]!
      table[h] = ip - start
      if (cur !== load32(input, candidate)) break
    }
    if (ip >= ipLimit) break
    ip++
    next = load32(input, ip)
  }
  if (nextEmit < end) op = emitLiteral(input, nextEmit, end - nextEmit, output, op)
  return op
}

/** How many bytes input[a...] and input[b...] (b < a) have in common, up to `end`. */
function matchLength(input: Uint8Array, a: number, b: number, end: number): number {
  const from = a
  while (a + 4 <= end) {
    const x = load32(input, a) ^ load32(input, b)
    // the first differing byte is the lowest set one (little-endian): count trailing zero bits
    if (x !== 0) return a - from + ((31 - Math.clz32(x & -x)) >>> 3)
    a += 4
    b += 4
  }
  while (a < end && input[a] === input[b]) {
    a++
    b++
  }
  return a - from
}

/** A literal of `len` (1..65536) bytes from input[from] at output[op]; returns the new position. */
export function emitLiteral(
  input: Uint8Array,
  from: number,
  len: number,
  output: Uint8Array,
  op: number,
): number {
  if (len <= 60) output[op++] = (len - 1) << 2
  else if (len <= 256) {
    output[op++] = 60 << 2
    output[op++] = len - 1
  } else {
    output[op++] = 61 << 2
    output[op++] = (len - 1) & 0xff
    output[op++] = (len - 1) >>> 8
  }
  if (len > SET_THRESHOLD) output.set(input.subarray(from, from + len), op)
  else for (let k = 0; k < len; k++) output[op + k] = input[from + k]!
  return op + len
}

/** Copies of `len` (≥ 4) bytes from `offset` (< 65536) back, 64 at most each. */
export function emitCopy(output: Uint8Array, op: number, offset: number, len: number): number {
  // 64-byte copies while at least 68 remain, so that the last is never shorter than 4
  while (len >= 68) {
    output[op] = 2 | (63 << 2)
    output[op + 1] = offset & 0xff
    output[op + 2] = offset >>> 8
    op += 3
    len -= 64
  }
  if (len > 64) {
    output[op] = 2 | (59 << 2)
    output[op + 1] = offset & 0xff
    output[op + 2] = offset >>> 8
    op += 3
    len -= 60
  }
  if (len < 12 && offset < 2048) {
    output[op] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5)
    output[op + 1] = offset & 0xff
    return op + 2
  }
  output[op] = 2 | ((len - 1) << 2)
  output[op + 1] = offset & 0xff
  output[op + 2] = offset >>> 8
  return op + 3
}

/**
 * The little-endian 32-bit word at input[p] (signed). Four byte loads: Bun's JIT (JavaScriptCore)
 * calls DataView.getInt32 out of line, which made a DataView version 4× slower there.
 */
function load32(input: Uint8Array, p: number): number {
  return input[p]! | (input[p + 1]! << 8) | (input[p + 2]! << 16) | (input[p + 3]! << 24)
}
