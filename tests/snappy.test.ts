/**
 * src/parquet/snappy.ts (WebAssembly from snappy.c) against its TypeScript twin snappy-js.ts (the
 * same bytes, always) and three decoders: snappyjs' uncompress(), hyparquet's snappyUncompress()
 * (what our own reads use) and a strict one here that also rejects what the format allows but the
 * compressor must never write (4-byte offsets, copies across a 64 KiB fragment, a copy-2 where a
 * copy-1 fits). Inputs: the boundaries (empty, 1-3 bytes, 64 KiB ± 1, the 1 MiB slices handed to the
 * WebAssembly), runs (overlapping copies), random bytes, repeats far back (offsets ≥ 2048, across
 * fragments).
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import fc from "fast-check"
import { snappyUncompress } from "hyparquet"
import { uncompress } from "snappyjs"
import { maxCompressedLength, snappyCompress } from "../src/parquet/snappy.ts"
import { snappyCompressJs } from "../src/parquet/snappy-js.ts"
import { type Elements, strictDecode } from "./snappy.fixture.ts"

const compress = (input: Uint8Array, using = snappyCompress) => {
  const out = new Uint8Array(maxCompressedLength(input.length))
  return out.slice(0, using(input, out))
}

/** Compresses, checks the bound and determinism, decodes with all three; returns what was seen. */
function roundTrip(input: Uint8Array): Elements {
  const bytes = compress(input)
  assert.ok(bytes.length <= maxCompressedLength(input.length))
  assert.deepEqual(compress(input), bytes, "not deterministic")
  assert.deepEqual(compress(input, snappyCompressJs), bytes, "snappy-js.ts writes other bytes")
  assert.deepEqual(new Uint8Array(uncompress(bytes)), input, "snappyjs reads other bytes")
  const viaHyparquet = new Uint8Array(input.length)
  snappyUncompress(bytes, viaHyparquet)
  assert.deepEqual(viaHyparquet, input, "hyparquet reads other bytes")
  const { out, seen } = strictDecode(bytes)
  assert.deepEqual(out, input)
  return seen
}

/** Seeded bytes: the same on every run. */
function random(length: number, seed: number): Uint8Array {
  let s = seed >>> 0
  return Uint8Array.from({ length }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s >>> 24
  })
}

/** Pieces concatenated: random bytes, runs of a short pattern, or a repeat of earlier bytes. */
const piece = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: "bytes" as const, b })),
  fc.record({
    kind: fc.constant("run" as const),
    pattern: fc.uint8Array({ minLength: 1, maxLength: 9 }),
    n: fc.nat(3000),
  }),
  fc.record({ kind: fc.constant("repeat" as const), back: fc.nat(140_000), n: fc.nat(5000) }),
)
const structured = fc.array(piece, { maxLength: 40 }).map((pieces) => {
  const out: number[] = []
  for (const p of pieces) {
    if (p.kind === "bytes") out.push(...p.b)
    else if (p.kind === "run") { for (let k = 0; k < p.n; k++) out.push(p.pattern[k % p.pattern.length]!) }
    else if (out.length > 0) {
      const from = Math.max(0, out.length - 1 - p.back)
      for (let k = 0; k < p.n; k++) out.push(out[from + k]!)
    }
  }
  return Uint8Array.from(out)
})

describe("snappyCompress", () => {
  it("round-trips any bytes through three decoders, within maxCompressedLength", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => void roundTrip(b)), { numRuns: 300 })
  })

  it("round-trips runs, random stretches and repeats far back, across 64 KiB fragments", () => {
    fc.assert(fc.property(structured, (b) => void roundTrip(b)), { numRuns: 150 })
  })

  it("handles the lengths around the margins and fragment boundaries", () => {
    // random bytes: one literal each, so every literal length form (1, 2, 3 bytes) is met
    for (let n = 0; n <= 300; n++) roundTrip(random(n, n))
    const lengths = [0, 1, 2, 3, 4, 14, 15, 16, 17, 65535, 65536, 65537, 131071, 131072, 131073]
    for (const n of [...lengths, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]) {
      for (
        const input of [
          new Uint8Array(n),
          random(n, n),
          Uint8Array.from({ length: n }, (_, i) => i % 7),
        ]
      ) {
        roundTrip(input)
      }
    }
  })

  it("writes a long run as copies of 64 bytes, overlapping their source", () => {
    const input = new Uint8Array(1 << 20).fill(7)
    const seen = roundTrip(input)
    // 16 fragments, each one literal then about 1024 copies of 3 bytes
    assert.equal(seen.literals, 16)
    assert.ok(compress(input).length < 16 * (1024 * 3 + 16), `${compress(input).length} bytes`)
    const period3 = Uint8Array.from({ length: 5000 }, (_, i) => [1, 2, 3][i % 3]!)
    assert.ok(roundTrip(period3).copy2 > 0)
  })

  it("uses 1-byte offsets below 2048 and 2-byte ones from 2048 up to the fragment size", () => {
    const near = random(1000, 1)
    const nearSeen = roundTrip(Uint8Array.from([...near, ...near]))
    assert.equal(nearSeen.farthest, 1000)
    const far = random(40_000, 2)
    const farSeen = roundTrip(Uint8Array.from([...far, ...far]))
    assert.equal(farSeen.farthest, 40_000)
    assert.ok(farSeen.copy2 > 0)
    // 70,000 bytes again: the second copy starts in the next fragment, which cannot see the first
    const across = random(70_000, 3)
    const acrossSeen = roundTrip(Uint8Array.from([...across, ...across]))
    assert.ok(acrossSeen.farthest < 65536)
  })

  it("leaves random bytes as literals, a few bytes longer than the input", () => {
    const input = random(1 << 20, 4)
    const bytes = compress(input)
    assert.ok(bytes.length > input.length && bytes.length < input.length + 16 * 4, `${bytes.length} bytes`)
    assert.equal(roundTrip(input).copy1 + roundTrip(input).copy2, 0)
  })

  it("gives the same bytes whatever was compressed before, and reads a subarray from its offset", () => {
    const input = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) % 251 ^ (i >> 9))
    const first = compress(input)
    compress(random(200_000, 5))
    assert.deepEqual(compress(input), first)
    const padded = new Uint8Array(input.length + 13)
    padded.set(input, 13)
    assert.deepEqual(compress(padded.subarray(13)), first)
  })

  it("refuses an output buffer shorter than maxCompressedLength", () => {
    const input = new Uint8Array(1000)
    assert.throws(
      () => snappyCompress(input, new Uint8Array(maxCompressedLength(1000) - 1)),
      /Cannot snappy-compress 1000 bytes into 1197: give a buffer of maxCompressedLength\(\) = 1198 bytes/,
    )
  })

  it("keeps its output bytes, which every Parquet file's pages hold (change them deliberately)", () => {
    const text = new TextEncoder().encode("parquet_compact ".repeat(5000) + "tail")
    const sha = (b: Uint8Array) => createHash("sha256").update(compress(b)).digest("hex")
    const periodic = Uint8Array.from({ length: 70_000 }, (_, i) => i % 255)
    assert.deepEqual([sha(text), sha(random(300_000, 6)), sha(periodic)], [
      "a3b17ff3b2c376ae7c79bb039493a5307846b969dc0808193e358e49d75f77c4",
      "8c35e2c0d12d11f0429bac2c27a95d22544c949e321838d4de03f94c8f5769e8",
      "9627169cb09420a64373ef39121aa9b76f0c95359cbceea674b96b4196e811b9",
    ])
  })
})
