/**
 * src/parquet/snappy-values.ts: pages of PLAIN BYTE_ARRAY values compressed as literals and copies
 * of their lengths. snappy.c's compress_values() (WebAssembly, sliced by snappy.ts) against its
 * twin compressValuesJs() (same bytes, and the count it makes without writing), three decoders
 * (snappyjs, hyparquet, the strict one), and the page's choice between it and snappy.c.
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import fc from "fast-check"
import { snappyUncompress } from "hyparquet"
import { uncompress } from "snappyjs"
import { maxCompressedLength, snappyCompress, snappyCompressValues } from "../src/parquet/snappy.ts"
import { compressValuesJs } from "../src/parquet/snappy-values-js.ts"
import { compressPage } from "../src/parquet/snappy-values.ts"
import { strictDecode } from "./snappy.fixture.ts"

/** Seeded bytes: the same on every run. */
function random(length: number, seed: number): Uint8Array {
  let s = seed >>> 0
  return Uint8Array.from({ length }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s >>> 24
  })
}

/** A page: `levels` bytes, then each value after its little-endian uint32 length. */
function page(levels: Uint8Array, values: Uint8Array[]): { data: Uint8Array; valuesAt: number } {
  const size = levels.length + values.reduce((n, v) => n + 4 + v.length, 0)
  const data = new Uint8Array(size)
  const view = new DataView(data.buffer)
  data.set(levels)
  let o = levels.length
  for (const v of values) {
    view.setUint32(o, v.length, true)
    data.set(v, o + 4)
    o += 4 + v.length
  }
  return { data, valuesAt: levels.length }
}

const run = (f: (out: Uint8Array) => number, length: number) => {
  const out = new Uint8Array(maxCompressedLength(length))
  return out.slice(0, f(out))
}

/** Both compressors, the count and three decoders agree on the page. */
function roundTrip({ data, valuesAt }: { data: Uint8Array; valuesAt: number }): Uint8Array {
  const bytes = run((out) => snappyCompressValues(data, valuesAt, out), data.length)
  assert.deepEqual(run((out) => compressValuesJs(data, valuesAt, out), data.length), bytes, "twins differ")
  assert.equal(compressValuesJs(data, valuesAt), bytes.length, "the count differs from what is written")
  assert.deepEqual(new Uint8Array(uncompress(bytes)), data, "snappyjs reads other bytes")
  const viaHyparquet = new Uint8Array(data.length)
  snappyUncompress(bytes, viaHyparquet)
  assert.deepEqual(viaHyparquet, data, "hyparquet reads other bytes")
  assert.deepEqual(strictDecode(bytes).out, data)
  return bytes
}

// values: mostly one length (hashes), some of any length, a few longer than a fragment or a slice
const value = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 1 << 20 }).map((s) => random(32, s)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 3, 4, 60, 61, 256, 257, 65_531, 65_536, 70_000) },
)
const values = fc.array(value, { maxLength: 400 }).map((vs) =>
  vs.map((v) => (typeof v === "number" ? random(v, v) : v))
)

describe("compress_values (WebAssembly) and compressValuesJs", () => {
  it("write the same bytes, which every decoder reads back, for any page of values", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        values,
        (levels, vs) => void roundTrip(page(levels, vs)),
      ),
      { numRuns: 150 },
    )
  })

  it("agree where a length or a value crosses a fragment's end or a 1 MiB slice's end", () => {
    for (const end of [1 << 16, 1 << 20, 3 << 20]) {
      for (let shift = -6; shift <= 6; shift++) {
        // 32-byte values up to just before `end + shift`, then a value across it and more after
        const head = random(Math.max(0, end + shift - 36 * Math.floor((end + shift) / 36)), end)
        const n = Math.floor((end + shift) / 36)
        const vs = Array.from({ length: n + 50 }, (_, i) => random(32, i))
        roundTrip(page(head, vs))
      }
    }
    // one value longer than a slice, then hashes: the next length sits far past the first slice
    roundTrip(
      page(new Uint8Array(3), [
        random(32, 1),
        random(1_500_000, 2),
        ...Array.from({ length: 99 }, (_, i) => random(32, i)),
      ]),
    )
  })

  it("agree on runs of empty values (copies with no literal between them) among hashes", () => {
    // empty values in runs of 1 to 6, at the start, the middle and the end of a page
    for (const run of [1, 2, 3, 4, 6]) {
      const empties = Array.from({ length: run }, () => new Uint8Array(0))
      const hashes = (n: number, s: number) => Array.from({ length: n }, (_, i) => random(32, s + i))
      roundTrip(
        page(new Uint8Array(0), [...empties, ...hashes(900, 1), ...empties, ...hashes(900, 2), ...empties]),
      )
      roundTrip(page(random(7, run), [...hashes(2000, 3), ...empties]))
    }
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 3 })), {
          maxLength: 3000,
        }),
        (vs) => void roundTrip(page(new Uint8Array(0), vs)),
      ),
      { numRuns: 100 },
    )
  })

  it("copy each length equal to the one before it, and only that: 35 bytes per 32-byte hash", () => {
    const hashes = Array.from({ length: 1000 }, (_, i) => random(32, i))
    const bytes = roundTrip(page(new Uint8Array(0), hashes))
    // a fragment's first length is a literal; every other is a 2-byte copy (offset 36)
    const fragments = Math.ceil(36_000 / 65_536)
    assert.ok(Math.abs(bytes.length - (3 + 36_000 - 999 + fragments)) <= 8, `${bytes.length} bytes`)
    const seen = strictDecode(bytes).seen
    assert.equal(seen.copy1, 999 - (fragments - 1))
    assert.equal(seen.copy2, 0)
  })
})

describe("compressPage", () => {
  const hashes = page(random(20, 9), Array.from({ length: 3000 }, (_, i) => random(32, i)))
  it("writes random hashes as values: within 1 % of snappy.c's size", () => {
    const chosen = run((out) => compressPage(hashes.data, hashes.valuesAt, out), hashes.data.length)
    assert.deepEqual(
      chosen,
      run((out) => snappyCompressValues(hashes.data, hashes.valuesAt, out), hashes.data.length),
    )
    const general = run((out) => snappyCompress(hashes.data, out), hashes.data.length)
    assert.ok(chosen.length <= general.length * 1.01, `${chosen.length} against ${general.length}`)
  })

  it("keeps snappy.c for values that compress (text, repeats) and for small pages or no values", () => {
    const text = new TextEncoder()
    const compressible = [
      page(
        new Uint8Array(0),
        Array.from({ length: 3000 }, (_, i) => text.encode(`transfer ${i % 97} to 0x00000000`)),
      ),
      // values that repeat, each otherwise random: snappy finds the repeats
      page(new Uint8Array(0), Array.from({ length: 3000 }, (_, i) => random(32, i % 40))),
      // random halves, zero-padded halves (ABI words)
      page(
        new Uint8Array(0),
        Array.from({ length: 3000 }, (_, i) => Uint8Array.from([...new Uint8Array(16), ...random(16, i)])),
      ),
    ]
    for (const p of compressible) {
      const chosen = run((out) => compressPage(p.data, p.valuesAt, out), p.data.length)
      assert.deepEqual(chosen, run((out) => snappyCompress(p.data, out), p.data.length))
    }
    const small = page(new Uint8Array(0), Array.from({ length: 100 }, (_, i) => random(32, i)))
    for (const valuesAt of [small.valuesAt, undefined]) {
      const chosen = run((out) => compressPage(small.data, valuesAt, out), small.data.length)
      assert.deepEqual(chosen, run((out) => snappyCompress(small.data, out), small.data.length))
    }
    const notValues = run((out) => compressPage(hashes.data, undefined, out), hashes.data.length)
    assert.deepEqual(notValues, run((out) => snappyCompress(hashes.data, out), hashes.data.length))
  })
})
