/**
 * The Parquet bytes of encodeParquetFiles() must not change unless we mean them to: files are
 * compared by sha256 with hashes recorded when the page writer became our own (chunk.ts: DATA_PAGE
 * v1 by default, DATA_PAGE_V2 by option). Whatever the batch packing, the same rows give the same
 * bytes. A change here is a change of every output file: record the new hashes deliberately.
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { identityBatches, identityColumns, identityHashes } from "./identity.fixture.ts"

/** Recorded with the own page writer (chunk.ts, rle.ts, leaf.ts) over the same fixture. */
const RECORDED: Record<string, string[]> = {
  "v1, 3 files, row groups of 700, batches of 333": [
    "cb6e1955d38fb676d6a8282b8e6860901d73e15ffd5a6facc40665f56bd6f6ad",
    "2b43cd39af4309a448e24b43f449a6f9f4b697e655687c88f04fe59487af3c24",
    "38e313a019fbf4d8af2d9caf01ba47c2fb621443d79623525efe699e2dfc0ed1",
  ],
  "v1, 1 file, one row group, one batch": [
    "552e0e538e7b34f0a8148884ce289c244a24e2eec0bab5e34a03380bc4043367",
  ],
  "v2, 3 files, row groups of 700, batches of 333": [
    "b6396f7b8cdcb295653056601ddb068a14374ba3b427d08fe6039cccdcd36b57",
    "8a1f68a03221dcb403a2667fae5ae31ef4d3484545d29bf02610fa534377698f",
    "a387de9fb4d428e719bc4e2879ca0f14fac8c0c9ca8d0da449b7d5cf257e7252",
  ],
  "v2, 1 file, one row group, one batch": [
    "3901ca5713db17b5b3700e6b39245b411df1e8400afb73fa8fd9e22211ec0568",
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
