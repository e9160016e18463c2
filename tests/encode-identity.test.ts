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
 * (snappy.ts, which replaced snappyjs' compressor: same format, different bytes) over the same fixture.
 */
const RECORDED: Record<string, string[]> = {
  "v1, 3 files, row groups of 700, batches of 333": [
    "04afa89232324a3b36dcb1a9af196ef1db0d5f2b251b854001bbcb6b7581e6ac",
    "40252c40536895141d04fd04a32f1c794787d9ef439ee1f0d3400ebf709de1df",
    "0265e029b0361b75c64cea014ebc274a8060ec0103387eefe2699bbf7f24e66b",
  ],
  "v1, 1 file, one row group, one batch": [
    "8487063332df2e8a3d49c0f9abd09371a07a3132a6d5483f9a9fcbe947134c36",
  ],
  "v2, 3 files, row groups of 700, batches of 333": [
    "65e4ad65765be093aacb422426b3b2739009ad2ad2d6632e8cbaba95d3872f52",
    "410eb4c6fc71466569966e7d080e48629fb9fc1c9fed3b2e79bd2edf37cb95b7",
    "47cb39a818f52d5e9e9b590eca54845e7ba6f9ac54180ccb1de40cfb703b056a",
  ],
  "v2, 1 file, one row group, one batch": [
    "ea7ae1719f88bcff991339b6650b9f67fd54149a9e4246fedc118adfc64051f5",
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
