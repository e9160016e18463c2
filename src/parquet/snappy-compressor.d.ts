/**
 * Types for snappyjs' own compressor module, which @types/snappyjs leaves out. bench/snappy.ts
 * compares it with src/parquet/snappy.ts (snappyjs' compress() allocates two buffers per call).
 */
declare module "snappyjs/snappy_compressor.js" {
  /** Snappy (raw format) compressor of one input. */
  export class SnappyCompressor {
    constructor(input: Uint8Array)
    /** Bytes the output may need, at most. */
    maxCompressedLength(): number
    /** Compresses into `out` from offset 0; returns the compressed length. */
    compressToBuffer(out: Uint8Array): number
  }
}
