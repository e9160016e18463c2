/**
 * A strict snappy decoder for the tests of our compressors (tests/snappy*.test.ts): it also rejects
 * what the format allows but they must never write (4-byte offsets, copies across a 64 KiB
 * fragment, a copy-2 where a copy-1 fits, a literal in a longer form than needed).
 */
import assert from "node:assert/strict"

/** Kinds of elements seen, for the assertions on what was written. */
export interface Elements {
  literals: number
  copy1: number
  copy2: number
  farthest: number
}

/** Decodes `bytes`, throwing on anything the compressor must not write. */
export function strictDecode(bytes: Uint8Array): { out: Uint8Array; seen: Elements } {
  let pos = 0
  let length = 0
  for (let shift = 0;; shift += 7) {
    const b = bytes[pos++]!
    length += (b & 0x7f) * 2 ** shift
    if (b < 0x80) break
  }
  const out = new Uint8Array(length)
  const seen: Elements = { literals: 0, copy1: 0, copy2: 0, farthest: 0 }
  let op = 0
  while (pos < bytes.length) {
    const tag = bytes[pos++]!
    if ((tag & 3) === 0) {
      let len = (tag >> 2) + 1
      if (len > 60) {
        const n = len - 60
        assert.ok(n <= 2, `literal length in ${n} bytes: fragments are 64 KiB`)
        len = 1 + bytes[pos]! + (n === 2 ? bytes[pos + 1]! << 8 : 0)
        assert.ok(len > (n === 1 ? 60 : 256), `literal of ${len} bytes in a longer form than needed`)
        pos += n
      }
      assert.ok(pos + len <= bytes.length && op + len <= length, "literal past the end")
      out.set(bytes.subarray(pos, pos + len), op)
      pos += len
      op += len
      seen.literals++
      continue
    }
    assert.notEqual(tag & 3, 3, "copy with a 4-byte offset: offsets stay below 65536")
    let len: number
    let offset: number
    if ((tag & 3) === 1) {
      len = ((tag >> 2) & 7) + 4
      offset = ((tag >> 5) << 8) | bytes[pos++]!
      seen.copy1++
    } else {
      len = (tag >> 2) + 1
      offset = bytes[pos]! | (bytes[pos + 1]! << 8)
      pos += 2
      assert.ok(len >= 4, `copy of ${len} bytes`)
      assert.ok(len >= 12 || offset >= 2048, `copy-2 of ${len} bytes at ${offset}: copy-1 is shorter`)
      seen.copy2++
    }
    // fragments are compressed alone: a copy reaches back no further than its fragment's start
    assert.ok(offset > 0 && offset <= op % 65536, `copy at ${op} from ${offset} back leaves its fragment`)
    assert.ok(op + len <= length, "copy past the end")
    for (let k = 0; k < len; k++) out[op + k] = out[op - offset + k]!
    op += len
    seen.farthest = Math.max(seen.farthest, offset)
  }
  assert.equal(op, length, "output shorter than the length header")
  return { out, seen }
}
