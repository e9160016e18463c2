/**
 * The Parquet bytes of encodeParquetFiles() must not change when its internals do: files are
 * compared by sha256 with the output of the plain hyparquet-writer encoder (ParquetWriter.write
 * per row group), recorded before the fast column writer existed.
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { identityBatches, identityColumns, identityHashes } from "./identity.fixture.ts"

/**
 * Recorded with the hyparquet-writer-only encoder (ParquetWriter.write() per row group, as in commit
 * 854a760) over the same fixture: any change to these bytes is a change of output.
 */
const RECORDED: Record<string, string[]> = {
  "3 files, row groups of 700, batches of 333": [
    "6bb613da30275c8d7cb2dea607d2892fa4cb18a96f84052a3a97b0b9136afa4a",
    "bfa4322a47e163eb226660e273ceb68731c13554514e87fc69a22626f597e72d",
    "63eaed3e01a12788892089667e4f545ce2960dcfd49f2880672185d7ae63db38",
  ],
  "1 file, one row group, one batch": [
    "6b01a80cec6785475d0fec4435a562559ff9b3dc923c621900935b761789b5fd",
  ],
}

describe("encodeParquetFiles output bytes", () => {
  const columns = identityColumns(5000)
  const packings = {
    "arrays of Uint8Array (hyparquet-writer's writeColumn)": () => false,
    "ByteColumns (the decoder's, chunk.ts)": () => true,
    "both, alternating by batch": (b: number) => b % 2 === 0,
  }
  for (
    const [name, chunkSize, rowGroupSize, batchRows] of [
      ["3 files, row groups of 700, batches of 333", 2000, 700, 333],
      ["1 file, one row group, one batch", 5000, 5000, 5000],
    ] as const
  ) {
    for (const [packing, packed] of Object.entries(packings)) {
      it(`equals the recorded bytes: ${name}, ${packing}`, async () => {
        const batches = identityBatches(columns, batchRows, packed)
        assert.deepEqual(await identityHashes(batches, { chunkSize, rowGroupSize }), RECORDED[name])
      })
    }
  }
})
