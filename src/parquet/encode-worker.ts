/**
 * The worker thread (a web Worker) of encodeParquetPiecesThreaded() (threaded.ts): runs
 * encodeParquetPieces() over the batches it is sent and sends each piece of a file back as soon as
 * it is made (a row group, then the footer), its bytes transferred. A compiled binary must list this file as an extra entrypoint:
 * `bun build --compile … cli.ts src/parquet/encode-worker.ts`.
 */
import { CompactError } from "../errors.ts"
import type { ColumnBatch } from "../pg/batch.ts"
import { type EncodeOptions, encodeParquetPieces } from "./encode.ts"
import { BufferPool } from "../buffer-pool.ts"
import { type FromWorker, reviveBatch, type ToWorker, transferList } from "./threaded.ts"

/** The worker's global scope, typed the same under Bun and Deno. */
const port = globalThis as unknown as {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null
  postMessage(message: FromWorker, transfer?: ArrayBuffer[]): void
}
const queue: ColumnBatch[] = []
let begin: (opts: EncodeOptions) => void = () => {}
const options = new Promise<EncodeOptions>((resolve) => (begin = resolve))
let ended = false
let wake: (() => void) | undefined
// pieces in flight: the one being written, two waiting, one being stored
const buffers = new BufferPool(4) // of pieces the main thread is done with

port.onmessage = (event) => {
  const m = event.data
  if ("start" in m) begin(m.start)
  else if ("batch" in m) queue.push(reviveBatch(m.batch))
  else if ("reuse" in m) return buffers.give([m.reuse]) // wakes nothing: no batch came
  else ended = true
  wake?.()
  wake = undefined
}

port.postMessage({ ready: true })

async function* batches(): AsyncGenerator<ColumnBatch> {
  for (;;) {
    const batch = queue.shift()
    if (batch) {
      port.postMessage({ ack: true })
      yield batch
    } else if (ended) {
      return
    } else {
      await new Promise<void>((resolve) => (wake = resolve))
    }
  }
}

try {
  // each batch's buffers go back once encoded, for the decoder to fill again
  const recycle = (batch: ColumnBatch) => {
    const buffers = transferList(batch)
    port.postMessage({ recycle: buffers }, buffers)
  }
  for await (const piece of encodeParquetPieces(batches(), await options, recycle, buffers)) {
    port.postMessage({ piece }, [piece.bytes.buffer as ArrayBuffer])
  }
  port.postMessage({ done: true })
} catch (error) {
  const code = error instanceof CompactError ? error.code : undefined
  const message = error instanceof Error ? error.message : String(error)
  port.postMessage({ error: { code, message } })
}
