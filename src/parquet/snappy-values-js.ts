/**
 * The TypeScript twin of snappy.c's compress_values(), byte for byte (tests/snappy-values.test.ts):
 * snappy for a page of PLAIN BYTE_ARRAY values that do not compress (snappy-values.ts says which),
 * where WebAssembly is missing, and the count of what it would write (the page's decision). Its
 * literals and copies are snappy-js.ts' own.
 */
import { emitCopy, emitLiteral, putLength } from "./snappy-js.ts"

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
  let op = output ? putLength(output, data.length) : varintLength(data.length)
  /** data[from, to) as one literal (at most a fragment; none when empty). */
  const literal = (from: number, to: number) => {
    const n = to - from
    if (n === 0) return
    op = output ? emitLiteral(data, from, n, output, op) : op + n + (n <= 60 ? 1 : n <= 256 ? 2 : 3)
  }
  let literalFrom = 0
  let fragmentEnd = Math.min(FRAGMENT, data.length)
  let previous = -1 // where the previous length is, within this fragment
  let p = valuesAt
  while (p + 4 <= data.length) {
    while (p >= fragmentEnd) {
      literal(literalFrom, fragmentEnd)
      literalFrom = fragmentEnd
      fragmentEnd = Math.min(fragmentEnd + FRAGMENT, data.length)
      previous = -1
    }
    const length = view.getUint32(p, true)
    // a length across the fragment's end stays in the literals (the next fragment starts afresh)
    if (p + 4 <= fragmentEnd) {
      if (previous >= 0 && view.getUint32(previous, true) === length) {
        literal(literalFrom, p)
        const offset = p - previous // a 4-byte copy: copy-1 below 2048, else copy-2
        op = output ? emitCopy(output, op, offset, 4) : op + (offset < 2048 ? 2 : 3)
        literalFrom = p + 4
      }
      previous = p
    }
    p += 4 + length
  }
  while (literalFrom < data.length) {
    const end = Math.min(fragmentEnd, data.length)
    literal(literalFrom, end)
    literalFrom = end
    fragmentEnd += FRAGMENT
  }
  return op
}

/** Bytes of the varint putLength() writes for `n`. */
function varintLength(n: number): number {
  let bytes = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    bytes++
  }
  return bytes
}
