/**
 * Snappy compression of Parquet pages (the raw block format the SNAPPY codec stores: a varint of the
 * uncompressed length, then literals and copies, in 64 KiB fragments) into a caller's buffer.
 * The fragments are compressed by snappy.c compiled to WebAssembly (snappy-wasm.ts): 2.5× the
 * speed of the same algorithm in TypeScript under Bun and Deno (bench/snappy.ts). Where
 * WebAssembly is missing, snappy-js.ts writes the same bytes. Same input, same bytes.
 */
import { putLength, snappyCompressJs } from "./snappy-js.ts"
import { compressValuesJs } from "./snappy-values-js.ts"
import { SNAPPY_WASM } from "./snappy-wasm.ts"

/** Input bytes handed to the WebAssembly at a time: a multiple of 64 KiB, so fragments stay whole. */
const SLICE = 1 << 20

/** Bytes snappyCompress() may write for `length` input bytes, at most (the reference's bound). */
export function maxCompressedLength(length: number): number {
  return 32 + length + Math.floor(length / 6)
}

interface Wasm {
  /** Compresses memory[input, input + length) to memory[output…]; returns the bytes written. */
  compress: (input: number, length: number, output: number) => number
  /** compress for values whose first length is at input + first; values_next() says where it stopped. */
  compressValues: (input: number, length: number, output: number, first: number) => number
  valuesNext: () => number
  /** The module's memory, sized once for a slice in and its compressed form out: it never grows. */
  memory: Uint8Array
  input: number
  output: number
}

/**
 * The WebAssembly compressor of this thread (a worker loads its own), or undefined without
 * WebAssembly; made on first use (the main thread of a threaded run never compresses).
 */
let instance: Wasm | undefined | null = null
const compressor = (): Wasm | undefined => (instance === null ? (instance = instantiate()) : instance)

function instantiate(): Wasm | undefined {
  if (typeof WebAssembly === "undefined") return undefined
  const bytes = Uint8Array.from(atob(SNAPPY_WASM), (c) => c.charCodeAt(0))
  let exports: WebAssembly.Instance["exports"]
  try {
    exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports
  } catch {
    // WebAssembly present but refused (a policy, a JIT-less engine): snappy-js.ts writes the same bytes
    return undefined
  }
  const memory = exports.memory as WebAssembly.Memory
  // free memory starts at __heap_base, past the static hash table and the stack
  const input = (exports.__heap_base as WebAssembly.Global).value as number
  const output = input + SLICE
  const size = output + maxCompressedLength(SLICE)
  memory.grow(Math.ceil(Math.max(0, size - memory.buffer.byteLength) / 65536))
  const compress = exports.compress_fragments as Wasm["compress"]
  const compressValues = exports.compress_values as Wasm["compressValues"]
  const valuesNext = exports.values_next as Wasm["valuesNext"]
  return { compress, compressValues, valuesNext, memory: new Uint8Array(memory.buffer), input, output }
}

/**
 * Compresses `input` into `output` from offset 0 and returns the compressed length. `output` must
 * hold maxCompressedLength(input.length) bytes.
 */
export function snappyCompress(input: Uint8Array, output: Uint8Array): number {
  const length = input.length
  if (output.length < maxCompressedLength(length)) {
    throw new RangeError(
      `Cannot snappy-compress ${length} bytes into ${output.length}: ` +
        `give a buffer of maxCompressedLength() = ${maxCompressedLength(length)} bytes`,
    )
  }
  const wasm = compressor()
  if (!wasm) return snappyCompressJs(input, output)
  let op = putLength(output, length)
  const { compress, memory, input: at, output: to } = wasm
  for (let pos = 0; pos < length; pos += SLICE) {
    const n = Math.min(SLICE, length - pos)
    memory.set(input.subarray(pos, pos + n), at)
    const written = compress(at, n, to)
    output.set(memory.subarray(to, to + written), op)
    op += written
  }
  return op
}

/**
 * snappyCompress() for a page of PLAIN BYTE_ARRAY values from `valuesAt` on, written as
 * snappy-values.ts says (compress_values() in snappy.c, or its twin compressValuesJs()).
 */
export function snappyCompressValues(input: Uint8Array, valuesAt: number, output: Uint8Array): number {
  const length = input.length
  if (output.length < maxCompressedLength(length)) {
    throw new RangeError(`Cannot snappy-compress ${length} bytes into ${output.length}`)
  }
  const wasm = compressor()
  if (!wasm) return compressValuesJs(input, valuesAt, output)
  let op = putLength(output, length)
  const { compressValues, valuesNext, memory, input: at, output: to } = wasm
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength)
  let next = valuesAt // the next value's length, in input
  for (let pos = 0; pos < length; pos += SLICE) {
    const n = Math.min(SLICE, length - pos)
    memory.set(input.subarray(pos, pos + n), at)
    const written = compressValues(at, n, to, Math.min(next - pos, n))
    output.set(memory.subarray(to, to + written), op)
    op += written
    if (next - pos < n) {
      next = pos + valuesNext()
      // a length across the slice's end: read here (the slice ends a fragment, where it is a literal)
      if (next < pos + n && next + 4 <= length) next += 4 + view.getUint32(next, true)
    }
  }
  return op
}
