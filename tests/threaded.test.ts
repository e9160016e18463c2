/**
 * encodeParquetFilesThreaded(): the same files as encodeParquetFiles(), errors with their codes,
 * and no hang when the caller or the batch source stops early. Runs under bun test and deno test.
 */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { CompactError } from "../src/errors.ts"
import type { ColumnBatch } from "../src/pg/batch.ts"
import {
  type EncodedFile,
  type EncodeOptions,
  encodeParquetFiles,
  encodeParquetPieces,
} from "../src/parquet/encode.ts"
import { BufferPool } from "../src/buffer-pool.ts"
import {
  encodeParquetFilesThreaded,
  encodeParquetPiecesThreaded,
  transferList,
} from "../src/parquet/threaded.ts"
import { IDENTITY_COLUMNS, identityBatches, identityColumns } from "./identity.fixture.ts"

const OPTIONS: EncodeOptions = {
  columns: IDENTITY_COLUMNS,
  chunkSize: 2000,
  rowGroupSize: 700,
  blockColumn: "block_number",
  kvMetadata: [{ key: "k", value: "v" }],
  createdBy: "threaded test",
}

async function* source(batches: ColumnBatch[], after?: () => void): AsyncGenerator<ColumnBatch> {
  try {
    yield* batches
  } finally {
    after?.()
  }
}

const summary = (files: EncodedFile[]) =>
  files.map((f) => ({
    part: f.part,
    rows: f.rows,
    minBlock: f.minBlock,
    maxBlock: f.maxBlock,
    sha256: createHash("sha256").update(f.bytes).digest("hex"),
  }))

describe("encodeParquetFilesThreaded", () => {
  const columns = identityColumns(5000)
  /** The files encodeParquetFiles() writes of the columns in batches of 450 rows. */
  const wholeFiles = async (opts: EncodeOptions) => {
    const whole: EncodedFile[] = []
    for await (const f of encodeParquetFiles(source(identityBatches(columns, 450, () => true)), opts)) {
      whole.push(f)
    }
    return whole
  }

  it("writes the files encodeParquetFiles() writes, in order", async () => {
    for (const batchRows of [333, 700, 5000]) {
      const serial: EncodedFile[] = []
      for await (
        const f of encodeParquetFiles(source(identityBatches(columns, batchRows, () => true)), OPTIONS)
      ) {
        serial.push(f)
      }
      const threaded: EncodedFile[] = []
      const batches = identityBatches(columns, batchRows, () => true)
      for await (const f of encodeParquetFilesThreaded(source(batches), OPTIONS)) threaded.push(f)
      assert.equal(threaded.length, 3)
      assert.deepEqual(summary(threaded), summary(serial), `batches of ${batchRows}`)
    }
  })

  it("hands back a batch's buffers only once nothing written refers to them", async () => {
    // Scribbling over every returned buffer at once must not change a byte of the output
    const scribble = (buffers: ArrayBuffer[]) => buffers.forEach((b) => new Uint8Array(b).fill(0xee))
    const expected: EncodedFile[] = []
    for await (const f of encodeParquetFiles(source(identityBatches(columns, 700, () => true)), OPTIONS)) {
      expected.push(f)
    }
    const serial: EncodedFile[] = []
    const done = (batch: ColumnBatch) => scribble(transferList(batch))
    for await (
      const f of encodeParquetFiles(source(identityBatches(columns, 700, () => true)), OPTIONS, done)
    ) {
      serial.push(f)
    }
    const threaded: EncodedFile[] = []
    let returned = 0
    const recycle = (buffers: ArrayBuffer[]) => {
      returned += buffers.length
      scribble(buffers)
    }
    const batches = identityBatches(columns, 700, () => true)
    for await (const f of encodeParquetFilesThreaded(source(batches), OPTIONS, { recycle })) threaded.push(f)
    assert.ok(returned > 0)
    assert.deepEqual(summary(serial), summary(expected))
    assert.deepEqual(summary(threaded), summary(expected))
  })

  it("writes no file for no rows", async () => {
    const files: EncodedFile[] = []
    for await (const f of encodeParquetFilesThreaded(source([]), OPTIONS)) files.push(f)
    assert.deepEqual(files, [])
  })

  it("rethrows the encoder's CompactError with its code", async () => {
    const [batch] = identityBatches(columns, 10)
    const bad = { ...OPTIONS, blockColumn: "address" }
    await assert.rejects(
      async () => {
        for await (const _ of encodeParquetFilesThreaded(source([batch!]), bad));
      },
      (e: unknown) =>
        e instanceof CompactError && e.code === "BAD_INPUT" && /block column "address"/.test(e.message),
    )
  })

  it("rethrows the batch source's error and ends the source", async () => {
    let ended = false
    async function* failing(): AsyncGenerator<ColumnBatch> {
      try {
        yield* identityBatches(columns, 700, () => true).slice(0, 2)
        throw new CompactError("INTEGRITY", "Cannot decode COPY stream: test")
      } finally {
        ended = true
      }
    }
    await assert.rejects(
      async () => {
        for await (const _ of encodeParquetFilesThreaded(failing(), OPTIONS));
      },
      (e: unknown) => e instanceof CompactError && e.code === "INTEGRITY",
    )
    assert.ok(ended)
  })

  it("pulls the first batch while the worker starts, and keeps it when the worker cannot start", async () => {
    // a source that records when it is first pulled, against when the worker was asked for
    const events: string[] = []
    async function* watched(): AsyncGenerator<ColumnBatch> {
      events.push("pulled")
      yield* identityBatches(columns, 450, () => true)
    }
    const global = globalThis as unknown as { Worker: unknown }
    const real = global.Worker
    global.Worker = class {
      constructor() {
        events.push("worker")
        throw new Error("no threads here")
      }
    }
    const reasons: string[] = []
    const files: EncodedFile[] = []
    try {
      const pieces = encodeParquetFilesThreaded(watched(), OPTIONS, { onFallback: (r) => reasons.push(r) })
      for await (const f of pieces) files.push(f)
    } finally {
      global.Worker = real
    }
    assert.deepEqual(events, ["pulled", "worker"])
    assert.match(reasons.join(), /no threads here.*encoding on the main thread/)
    assert.deepEqual(summary(files), summary(await wholeFiles(OPTIONS)), "every batch, the first included")
    // and leaving early on this path still ends the source
    let ended = false
    global.Worker = class {
      constructor() {
        throw new Error("no threads here")
      }
    }
    try {
      for await (
        const _ of encodeParquetFilesThreaded(
          source(identityBatches(columns, 450, () => true), () => (ended = true)),
          OPTIONS,
        )
      ) break
    } finally {
      global.Worker = real
    }
    assert.ok(ended)
  })

  it("stops the worker and ends the source when the caller leaves early", async () => {
    let ended = false
    const batches = identityBatches(columns, 700, () => true)
    for await (const f of encodeParquetFilesThreaded(source(batches, () => (ended = true)), OPTIONS)) {
      assert.equal(f.part, 0)
      break
    }
    assert.ok(ended)
  })

  it("takes a bounded number of batches while the caller holds a piece, and goes on once it asks for the next", async () => {
    // row groups of one batch each, ten per file: the file is never held whole
    const opts = { ...OPTIONS, chunkSize: 7000, rowGroupSize: 700 }
    const batches = identityBatches(identityColumns(14000), 700, () => true)
    let pulled = 0
    async function* counted() {
      for (const b of batches) {
        pulled++
        yield b
      }
    }
    const parts: number[] = []
    let pieces = 0
    for await (const p of encodeParquetPiecesThreaded(counted(), opts)) {
      if (p.end) parts.push(p.part)
      if (pieces++ === 0) {
        await new Promise((resolve) => setTimeout(resolve, 200)) // a slow store, say
        const settled = pulled
        await new Promise((resolve) => setTimeout(resolve, 200))
        assert.equal(pulled, settled, "batches still taken while a piece was held")
        // this piece, two waiting, one being encoded, one queued in the worker, one pulled
        assert.ok(pulled <= 6, `${pulled} batches taken while the first piece was held`)
      }
    }
    assert.deepEqual(parts, [0, 1])
    assert.equal(pieces, 20) // ten row groups per file, the last one with the footer
    assert.equal(pulled, batches.length)
  })

  it("sends each file in pieces that join into the bytes of encodeParquetFiles()", async () => {
    const opts = { ...OPTIONS, chunkSize: 2000, rowGroupSize: 300 }
    const whole = await wholeFiles(opts)
    const sizes: number[][] = []
    const joined: Uint8Array[][] = []
    for await (
      const p of encodeParquetPiecesThreaded(source(identityBatches(columns, 450, () => true)), opts)
    ) {
      ;(joined[p.part] ??= []).push(p.bytes)
      ;(sizes[p.part] ??= []).push(p.bytes.length)
      if (p.end) {
        assert.deepEqual(p.end, {
          rows: whole[p.part]!.rows,
          minBlock: whole[p.part]!.minBlock,
          maxBlock: whole[p.part]!.maxBlock,
        })
      }
    }
    assert.equal(joined.length, whole.length)
    joined.forEach((pieces, i) => {
      assert.equal(
        pieces.length,
        Math.ceil(whole[i]!.rows / 300),
        `file ${i}: a piece per row group, the last one with the footer`,
      )
      assert.deepEqual(Buffer.concat(pieces), Buffer.from(whole[i]!.bytes), `file ${i}`)
    })
  })

  it("writes the same bytes into released buffers, which go back to the worker", async () => {
    const opts = { ...OPTIONS, chunkSize: 2000, rowGroupSize: 300 }
    const whole = await wholeFiles(opts)
    const joined: Uint8Array[][] = []
    let released = 0
    for await (
      const p of encodeParquetPiecesThreaded(source(identityBatches(columns, 450, () => true)), opts)
    ) {
      ;(joined[p.part] ??= []).push(p.bytes.slice()) // a copy: the piece's own bytes go back below
      assert.ok(p.release, "a threaded piece can be released")
      p.release()
      assert.equal(p.bytes.length, 0, "a released piece's buffer has moved to the worker")
      released++
    }
    assert.ok(released > whole.length)
    assert.equal(joined.length, whole.length)
    joined.forEach((pieces, i) => assert.deepEqual(Buffer.concat(pieces), Buffer.from(whole[i]!.bytes)))
  })

  it("reuses given buffers for later pieces, byte for byte the same files", async () => {
    const opts = { ...OPTIONS, chunkSize: 2000, rowGroupSize: 300 }
    const whole = await wholeFiles(opts)
    const buffers = new BufferPool(4)
    const seen = new Set<ArrayBufferLike>()
    let reused = 0
    const joined: Uint8Array[][] = []
    const batches = source(identityBatches(columns, 450, () => true))
    for await (const p of encodeParquetPieces(batches, opts, () => {}, buffers)) {
      if (seen.has(p.bytes.buffer)) reused++
      seen.add(p.bytes.buffer)
      ;(joined[p.part] ??= []).push(p.bytes.slice())
      // scribbled over, as a reused buffer is before it is written again: no stale byte may show
      new Uint8Array(p.bytes.buffer).fill(0xee)
      buffers.give([p.bytes.buffer as ArrayBuffer])
    }
    assert.ok(reused > 10, `${reused} pieces written into a given buffer`)
    joined.forEach((pieces, i) => assert.deepEqual(Buffer.concat(pieces), Buffer.from(whole[i]!.bytes)))
  })

  it("sends a file's last row group with its footer also when the rows end on a group boundary", async () => {
    // 1,400 rows in files of 2,000 and groups of 700: one file of two whole groups, two pieces
    for (const batchRows of [700, 1400, 200]) {
      const opts = { ...OPTIONS, chunkSize: 2000, rowGroupSize: 700 }
      const batches = () => source(identityBatches(identityColumns(1400), batchRows, () => true))
      const whole: EncodedFile[] = []
      for await (const f of encodeParquetFiles(batches(), opts)) whole.push(f)
      const pieces: Uint8Array[] = []
      for await (const p of encodeParquetPieces(batches(), opts)) pieces.push(p.bytes.slice())
      assert.equal(pieces.length, 2, `batches of ${batchRows}`)
      assert.deepEqual(Buffer.concat(pieces), Buffer.from(whole[0]!.bytes))
    }
  })
})
