/**
 * The Parquet bytes of encodeParquetFiles() must not change unless we mean them to: files are
 * compared by sha256 with hashes recorded when the page writer became our own (chunk.ts: DATA_PAGE
 * v1 by default, DATA_PAGE_V2 by option). Whatever the batch packing, the same rows give the same
 * bytes. A change here is a change of every output file: record the new hashes deliberately.
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { identityBatches, identityColumns, identityHashes } from "./identity.fixture.ts"

/**
 * Recorded with the own page writer (chunk.ts, rle.ts, leaf.ts) and the own snappy compressor
 * (snappy.ts, which replaced snappyjs' compressor: same format, different bytes) over the same
 * fixture; re-recorded when pages of PLAIN BYTE_ARRAY values that do not compress (the fixture's
 * random topics and data) became literals and copies of their lengths (snappy-values.ts).
 */
const RECORDED: Record<string, string[]> = {
  "v1, 3 files, row groups of 700, batches of 333": [
    "1c1cef4a850b8442352fb096e14d22c045abe91eda9e734fe01a366fcf5bc086",
    "9509a1dca2cda26701d9011aa8978066d1fb28e53b5234466fff0536129a1b1f",
    "7517777e4c3d0f83262fe384a5f2b8b34251edd9d2564e306e66fd9898322bfc",
  ],
  "v1, 1 file, one row group, one batch": [
    "a0006c66eea34fac7bed7accfe92dcb5e5ac549ddef136f82e565c8a54261e80",
  ],
  "v2, 3 files, row groups of 700, batches of 333": [
    "bbd6ec05e114a396e70cdda459c6168e5c0ae3f99f36b82165a22419762a5d24",
    "34a1b665d8fb503e2b56b420dae7aee77386f37adaed28909d194895cf252525",
    "34d28ec701487209cd3d23bb56324c62e6a70bf184d7a734aaf7c4bbaa26af86",
  ],
  "v2, 1 file, one row group, one batch": [
    "0f5e55a74d5b8ae1acf4e08dec5a9ee271795fbaf980ca787a0c8bcc225f89b3",
  ],
}

describe("encodeParquetFiles output bytes", () => {
  const columns = identityColumns(5000)
  const packings = {
    "arrays of Uint8Array": () => false,
    "ByteColumns (the decoder's)": () => true,
    "both, alternating by batch": (b: number) => b % 2 === 0,
  }
  for (const pageVersion of [1, 2] as const) {
    for (
      const [layout, chunkSize, rowGroupSize, batchRows] of [
        ["3 files, row groups of 700, batches of 333", 2000, 700, 333],
        ["1 file, one row group, one batch", 5000, 5000, 5000],
      ] as const
    ) {
      const name = `v${pageVersion}, ${layout}`
      for (const [packing, packed] of Object.entries(packings)) {
        it(`equals the recorded bytes: ${name}, ${packing}`, async () => {
          const batches = identityBatches(columns, batchRows, packed)
          const hashes = await identityHashes(batches, { chunkSize, rowGroupSize, pageVersion })
          assert.deepEqual(hashes, RECORDED[name])
        })
      }
    }
  }
})
