/** The read-only looks of src/inspect.ts on a local folder store: hashing by ranges, footers with and without statistics. */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash, randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parquetWriteBuffer } from "hyparquet-writer"
import { hashObject, listChainDatasets, readFooter } from "../src/inspect.ts"
import { mapLimit } from "../src/limit.ts"
import { LocalStore } from "../src/store/local.ts"

const dirs: string[] = []
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

async function store(): Promise<LocalStore> {
  const dir = await mkdtemp(join(tmpdir(), "inspect-"))
  dirs.push(dir)
  return new LocalStore(dir)
}

describe("hashObject", () => {
  it("equals the sha256 of the whole object for any chunk size, including an empty object", async () => {
    const s = await store()
    const bytes = new Uint8Array(randomBytes(10_007))
    await s.put("a/b.bin", bytes)
    await s.put("a/empty.bin", new Uint8Array(0))
    const expected = createHash("sha256").update(bytes).digest("hex")
    for (const chunk of [1000, 4096, 10_007, 1 << 20]) {
      assert.equal(await hashObject(s, "a/b.bin", bytes.length, chunk), expected)
    }
    assert.equal(await hashObject(s, "a/empty.bin", 0), createHash("sha256").digest("hex"))
  })
})

describe("readFooter", () => {
  const write = (statistics: boolean) =>
    new Uint8Array(parquetWriteBuffer({
      columnData: [
        { name: "block_number", data: [7n, 3n, 12n, 5n, 9n], type: "INT64" },
        { name: "x", data: [1, 2, 3, 4, 5], type: "INT32" },
      ],
      rowGroupSize: 2,
      statistics,
    }))

  it("takes the block span from statistics, or reads the column when there are none", async () => {
    const s = await store()
    for (const statistics of [true, false]) {
      const bytes = write(statistics)
      await s.put(`f${statistics}.parquet`, bytes)
      assert.deepEqual(await readFooter(s, `f${statistics}.parquet`, bytes.length, "block_number"), {
        rows: 5,
        min: 3n,
        max: 12n,
      })
    }
  })

  it("says which column is missing, and fails on bytes that are not Parquet", async () => {
    const s = await store()
    const bytes = write(true)
    await s.put("f.parquet", bytes)
    await assert.rejects(readFooter(s, "f.parquet", bytes.length, "number"), /no column "number"/)
    await s.put("junk.parquet", new Uint8Array(100))
    await assert.rejects(readFooter(s, "junk.parquet", 100, "block_number"))
  })
})

describe("listChainDatasets and mapLimit", () => {
  it("groups keys by dataset folder, skipping names that are not datasets", async () => {
    const s = await store()
    for (
      const key of [
        "cold/1/logs/manifest.json",
        "cold/1/logs/x/y.parquet",
        "cold/1/blocks/a.parquet",
        "cold/1/Bad/a",
        "cold/2/logs/a",
        "cold/1/top.txt",
      ]
    ) {
      await s.put(key, new Uint8Array(1))
    }
    const found = await listChainDatasets(s, "cold", 1n)
    assert.deepEqual([...found], [
      ["blocks", ["cold/1/blocks/a.parquet"]],
      ["logs", ["cold/1/logs/manifest.json", "cold/1/logs/x/y.parquet"]],
    ])
  })

  it("keeps the order and never runs more than the limit at once", async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      peak = Math.max(peak, ++running)
      await new Promise((resolve) => setTimeout(resolve, n))
      running--
      return n * 2
    })
    assert.deepEqual(out, [10, 2, 8, 4, 6, 0])
    assert.equal(peak, 2)
  })

  it("throws the first failure once the calls in flight settled, starting none after it", async () => {
    const started: number[] = []
    let running = 0
    const error = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n)
      running++
      await new Promise((resolve) => setTimeout(resolve, n === 2 ? 1 : 20))
      running--
      if (n === 2) throw new Error("two")
      return n
    }).catch((e) => e)
    assert.equal((error as Error).message, "two")
    assert.equal(running, 0, "nothing still running when it throws")
    assert.deepEqual(started, [1, 2], "no call started after the failure")
  })

  it("throws the failure that came first in time, not the first item's", async () => {
    const error = await mapLimit([50, 5], 2, async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms))
      throw new Error(`after ${ms} ms`)
    }).catch((e) => e)
    assert.equal((error as Error).message, "after 5 ms")
  })
})
