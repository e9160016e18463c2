/**
 * The TypeScript twin of snappy.c's compress_values(), byte for byte (tests/snappy-values.test.ts):
 * snappy for a page of PLAIN BYTE_ARRAY values that do not compress (snappy-values.ts says which),
 * where WebAssembly is missing, and the count of what it would write (the page's decision).
 */
import { putLength } from "./snappy-js.ts"

/** Fragment size, as snappy.c's: no copy reaches back across a fragment's start. */
const FRAGMENT = 1 << 16

/**
 * Writes `data` snappy-compressed to `output` (maxCompressedLength(data.length) bytes): the levels
 * before `valuesAt` as literals, then each value's length as a copy when it equals the previous
 * length within the fragment, the values' bytes as literals. Returns the bytes written; without
 * `output`, the bytes it would write.
 */
export function compressValuesJs(data: Uint8Array, valuesAt: number, output?: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const out = output && new DataView(output.buffer, output.byteOffset, output.byteLength)
  let op = output ? putLength(output, data.length) : varintLength(data.length)
  let literalFrom = 0
  let fragmentEnd = Math.min(FRAGMENT, data.length)
  let previous = -1 // where the previous length is, within this fragment
  let p = valuesAt
  while (p + 4 <= data.length) {
    while (p >= fragmentEnd) {
      op = literal(output, out, op, data, view, literalFrom, fragmentEnd)
      literalFrom = fragmentEnd
      fragmentEnd = Math.min(fragmentEnd + FRAGMENT, data.length)
      previous = -1
    }
    const length = view.getUint32(p, true)
    // a length across the fragment's end stays in the literals (the next fragment starts afresh)
    if (p + 4 <= fragmentEnd) {
      if (previous >= 0 && view.getUint32(previous, true) === length) {
        op = literal(output, out, op, data, view, literalFrom, p)
        op = copy4(output, op, p - previous)
        literalFrom = p + 4
      }
      previous = p
    }
    p += 4 + length
  }
  while (literalFrom < data.length) {
    const end = Math.min(fragmentEnd, data.length)
    op = literal(output, out, op, data, view, literalFrom, end)
    literalFrom = end
    fragmentEnd += FRAGMENT
  }
  return op
}

function varintLength(n: number): number {
  let bytes = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    bytes++
  }
  return bytes
}

/** data[from, to) as one literal (at most a fragment), in its shortest form; counted only without output. */
function literal(
  output: Uint8Array | undefined,
  out: DataView | undefined,
  op: number,
  data: Uint8Array,
  view: DataView,
  from: number,
  to: number,
): number {
  const n = to - from
  if (n === 0) return op
  const tag = n <= 60 ? 1 : n <= 256 ? 2 : 3
  if (!output || !out) return op + tag + n
  if (tag === 1) output[op++] = (n - 1) << 2
  else if (tag === 2) {
    output[op++] = 60 << 2
    output[op++] = n - 1
  } else {
    output[op++] = 61 << 2
    output[op++] = (n - 1) & 0xff
    output[op++] = (n - 1) >> 8
  }
  if (n >= 256) output.set(data.subarray(from, to), op)
  else {
    // four bytes at a time through DataViews, as copyBytes() (no view object per value)
    let k = 0
    for (; k + 4 <= n; k += 4) out.setUint32(op + k, view.getUint32(from + k))
    for (; k < n; k++) output[op + k] = data[from + k]!
  }
  return op + n
}

/** A copy of 4 bytes from `offset` back: copy-1 below 2048, else copy-2; counted only without output. */
function copy4(output: Uint8Array | undefined, op: number, offset: number): number {
  if (!output) return op + (offset < 2048 ? 2 : 3)
  if (offset < 2048) {
    output[op++] = 1 | ((offset >> 8) << 5) // length 4: (4 - 4) << 2
    output[op++] = offset & 0xff
  } else {
    output[op++] = 2 | (3 << 2) // length 4: (4 - 1) << 2
    output[op++] = offset & 0xff
    output[op++] = offset >> 8
  }
  return op
}
