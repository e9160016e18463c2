/**
 * encodeParquetFiles() on a worker thread, so that decoding the COPY stream (this thread) and
 * encoding + snappy (the worker) use both cores. Batches cross by transfer, not copy: their typed
 * arrays and ByteColumn buffers are moved, so a batch costs a few pointers, not a clone of its
 * values. Files come back the same way, in order, row group by row group (encodeParquetPieces()), so
 * a file is never held whole. Flow control keeps memory bounded: a batch is pulled from the source
 * (decoded) only while less than a row group's rows wait in the worker beside the row group it
 * encodes (what keeps both cores busy), and none while MAX_WAITING pieces wait for the caller: a
 * slow store pauses the COPY through its socket.
 *
 * The worker is src/parquet/encode-worker.ts, a web Worker: Bun and Deno both have them, and
 * Deno 2.9's node:worker_threads took ~4 s per 30 MB message, transferred or not (its web Worker:
 * under 1 ms).
 * `bun build --compile` must be given it as a second entrypoint (see workerUrl()). A worker that
 * cannot start is not fatal: the files are then encoded on this thread, byte for byte the same, and
 * `onFallback` says why.
 */
import { CompactError, type ErrorCode } from "../errors.ts"
import { ByteColumn, type ColumnBatch, type ColumnValues } from "../pg/batch.ts"
import { type EncodedFile, type EncodeOptions, encodeParquetPieces, type FilePiece } from "./encode.ts"
import { PackedList, packLists, revivePacked } from "./packed.ts"
import { joinPieces } from "./pieces.ts"

/** Callbacks of encodeParquetFilesThreaded(). */
export interface ThreadedOptions {
  /** Why the files are encoded on this thread after all (the worker did not start). */
  onFallback?: (reason: string) => void
  /** Buffers of batches the encoder is done with (see BufferPool), to build new batches in. */
  recycle?: (buffers: ArrayBuffer[]) => void
}

/**
 * Main thread → worker: the options first, then batches, then the end; `reuse`: the buffer of a
 * piece the caller released (FilePiece.release), to write later pieces into.
 */
export type ToWorker = { start: EncodeOptions } | { batch: ColumnBatch } | { end: true } | {
  reuse: ArrayBuffer
}
/**
 * Worker → main thread. `ready`: modules loaded; `ack`: the encoder took one batch; `recycle`: the
 * buffers of a batch it is done with.
 */
export type FromWorker =
  | { ready: true }
  | { ack: true }
  | { recycle: ArrayBuffer[] }
  | { piece: FilePiece }
  | { done: true }
  | { error: { code: ErrorCode | undefined; message: string } }

/**
 * Where the worker's module is. From source, next to this file. In a binary made by
 * `bun build --compile cli.ts src/parquet/encode-worker.ts`, every bundled module's URL is the
 * binary's own (file:///$bunfs/root/<name>) and the worker entrypoint sits at its path relative
 * to the project root.
 */
function workerUrl(): URL {
  return import.meta.url.startsWith("file:///$bunfs/")
    ? new URL("./src/parquet/encode-worker.ts", import.meta.url)
    : new URL("./encode-worker.ts", import.meta.url)
}

/** How long a worker may take to load its modules before the files are encoded here instead, in ms. */
const START_TIMEOUT = 30_000

/** Starts the worker and waits for its modules to load; the reason when it cannot. */
async function startWorker(opts: EncodeOptions): Promise<Worker | string> {
  let worker: Worker
  try {
    worker = new Worker(workerUrl().href, { type: "module" })
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const started = await new Promise<true | string>((resolve) => {
    worker.onmessage = () => resolve(true) // the first message is { ready: true }
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault()
      resolve(event.message)
    }
    timer = setTimeout(() => resolve(`it did not start within ${START_TIMEOUT / 1000} s`), START_TIMEOUT)
  })
  clearTimeout(timer)
  if (started !== true) {
    worker.terminate()
    return started
  }
  worker.postMessage({ start: opts } satisfies ToWorker)
  return worker
}

/** Pieces that may wait for the caller before no more batches go to the worker. */
const MAX_WAITING = 2

/**
 * Same files as encodeParquetFiles(batches, opts), encoded on a worker thread, each in one buffer.
 * The batches' buffers are transferred to it: they must not be shared between batches, and the
 * caller must not use a batch after handing it over (decodeCopyBinary()'s batches qualify).
 */
export function encodeParquetFilesThreaded(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  options: ThreadedOptions = {},
): AsyncGenerator<EncodedFile> {
  return joinPieces(encodeParquetPiecesThreaded(batches, opts, options))
}

/**
 * Same pieces as encodeParquetPieces(batches, opts), encoded on a worker thread (see
 * encodeParquetFilesThreaded() for the batches' buffers).
 */
export async function* encodeParquetPiecesThreaded(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  { onFallback, recycle }: ThreadedOptions = {},
): AsyncGenerator<FilePiece> {
  // the first batch is pulled while the worker loads its modules: the source (the COPY) starts at once
  const source = batches[Symbol.asyncIterator]()
  let first: Promise<IteratorResult<ColumnBatch>> | undefined = source.next()
  first.catch(() => {}) // awaited below, where its failure counts
  const worker = await startWorker(opts)
  if (typeof worker === "string") {
    onFallback?.(`Cannot start the Parquet encoder thread (${worker}); encoding on the main thread`)
    try {
      yield* encodeParquetPieces(resumed(first, source), opts, (batch) => recycle?.(transferList(batch)))
    } finally {
      await source.return?.() // also when the encoder stopped before it pulled (options it refused)
    }
    return
  }
  const pieces: FilePiece[] = []
  let failure: { error: unknown } | undefined
  let done = false
  let stop = false
  const queued: number[] = [] // rows of each batch sent and not yet taken by the encoder, oldest first
  let queuedRows = 0
  let waiters: (() => void)[] = []
  const notify = () => {
    const w = waiters
    waiters = []
    for (const resolve of w) resolve()
  }
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve))
  const fail = (error: unknown) => {
    failure ??= { error }
    notify()
  }

  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const m = event.data
    if ("recycle" in m) recycle?.(m.recycle)
    else if ("ack" in m) queuedRows -= queued.shift()!
    else if ("piece" in m) pieces.push(releasable(m.piece))
    else if ("done" in m) done = true
    else if ("error" in m) {
      fail(m.error.code ? new CompactError(m.error.code, m.error.message) : new Error(m.error.message))
    }
    notify()
  }
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault()
    fail(new Error(`Cannot encode Parquet: the encoder thread failed: ${event.message}`))
  }
  /** The piece with a release() that moves its buffer back to the worker (while it runs). */
  const releasable = (piece: FilePiece): FilePiece => {
    const buffer = piece.bytes.buffer as ArrayBuffer
    return {
      ...piece,
      release: () => {
        if (stop || buffer.byteLength === 0) return // the worker is gone, or the buffer already went
        worker.postMessage({ reuse: buffer } satisfies ToWorker, [buffer])
      },
    }
  }

  const feed = (async () => {
    try {
      for (;;) {
        // wait before pulling, not after: a pulled batch is more rows decoded and held
        while (!stop && !failure && (queuedRows >= opts.rowGroupSize || pieces.length >= MAX_WAITING)) {
          await changed()
        }
        if (stop || failure) return
        const next = await (first ?? source.next())
        first = undefined
        if (next.done) break
        if (stop || failure) return
        const batch = next.value
        queued.push(batch.rows)
        queuedRows += batch.rows
        const packed = packLists(batch, opts.columns)
        worker.postMessage({ batch: packed } satisfies ToWorker, transferList(packed))
      }
      worker.postMessage({ end: true } satisfies ToWorker)
    } finally {
      await source.return?.() // ends the batches' iteration early, which drains and closes the COPY
    }
  })().catch(fail)

  let released = 0 // bytes of pieces the caller is done with, since the last collection
  try {
    for (;;) {
      const piece = pieces.shift()
      if (piece) {
        notify() // room for the next batch
        yield piece
        // a released piece's buffer went back to the worker (its bytes now read as empty)
        released = collect(released + piece.bytes.length)
      } else if (failure) {
        throw failure.error
      } else if (done) {
        break
      } else {
        await changed()
      }
    }
  } finally {
    stop = true
    notify()
    await feed // ends the batches' iteration, which drains and closes the COPY
    worker.terminate()
  }
}

/** The iteration `first` (its first step, already asked for) began, to its end (its caller ends `rest`). */
async function* resumed<T>(first: Promise<IteratorResult<T>>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  for (let next = await first; !next.done; next = await rest.next()) yield next.value
}

/** Bytes of released pieces that trigger a collection under Bun. */
const COLLECT_EVERY = 32 << 20

/**
 * Under Bun, collects garbage once the caller is done with 32 MiB of pieces; returns the bytes
 * released since: pieces come from the worker by transfer, which JavaScriptCore's collector does
 * not count as this thread's allocation, so released pieces piled up (peak RSS grew with the bytes
 * made). One collection costs a few milliseconds.
 */
function collect(released: number): number {
  const bun = (globalThis as unknown as { Bun?: { gc(sync: boolean): void } }).Bun
  if (!bun || released < COLLECT_EVERY) return released
  bun.gc(true)
  return 0
}

/** The ArrayBuffers behind a batch's typed arrays and ByteColumns, each once. */
export function transferList(batch: ColumnBatch): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>()
  const add = (view: ArrayBufferView | undefined) => {
    if (view && view.buffer instanceof ArrayBuffer) buffers.add(view.buffer)
  }
  for (const v of batch.columns as (ColumnValues | PackedList)[]) {
    if (v instanceof PackedList) {
      for (const view of [v.rowSlots, v.leaf.def, v.leaf.rep, v.leaf.bytes, v.leaf.offsets]) add(view)
    } else if (v instanceof ByteColumn) {
      add(v.bytes)
      add(v.offsets)
      add(v.nulls)
    } else if (!Array.isArray(v)) {
      add(v)
    }
  }
  return [...buffers]
}

/** A batch as received by the worker: structured cloning turned ByteColumns into plain objects. */
export function reviveBatch(batch: ColumnBatch): ColumnBatch {
  const columns = batch.columns.map((v): ColumnValues => {
    if (Array.isArray(v) || ArrayBuffer.isView(v)) return v
    const packed = revivePacked(v)
    if (packed) return packed as unknown as ColumnValues
    const { bytes, offsets, nulls } = v as ByteColumn
    return new ByteColumn(bytes, offsets, nulls)
  })
  return { rows: batch.rows, columns }
}
