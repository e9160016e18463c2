/**
 * Snappy compression of Parquet pages (the raw block format the SNAPPY codec stores: a varint of the
 * uncompressed length, then literals and copies, in 64 KiB fragments) into a caller's buffer.
 * The fragments are compressed by snappy.c compiled to WebAssembly (snappy-wasm.ts): 2.5× the
 * speed of the same algorithm in TypeScript under Bun and Deno (bench/snappy.ts). Where
 * WebAssembly is missing, snappy-js.ts writes the same bytes. Same input, same bytes.
 */
import { putLength, snappyCompressJs } from "./snappy-js.ts"
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
  /** The module's memory, sized once for a slice in and its compressed form out: it never grows. */
  memory: Uint8Array
  input: number
  output: number
}

/** The WebAssembly compressor of this thread (a worker loads its own), or undefined without WebAssembly. */
const wasm = instantiate()

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
  return { compress, memory: new Uint8Array(memory.buffer), input, output }
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
