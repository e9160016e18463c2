/**
 * The bytes of a `COPY … TO STDOUT` statement from postgres.js, made safe to use on a pooled
 * connection, for decodeCopyBinary(). (The compaction's own COPY, in copyInSnapshot(), runs on the
 * leaner client of wire.ts instead; this module keeps CONSUMED and the RETRYABLE error both share.)
 *
 * Two postgres.js 3.4.9 behaviours are handled here:
 * - `readable()` gives a Node Readable that gets one push per COPY row; iterating it with
 *   `for await` costs one promise per row. copyOut() joins the rows of each wake-up into one chunk
 *   instead.
 * - When a push fills the Readable, postgres.js pauses its socket and only the Readable's `_read()`
 *   resumes it. If CopyDone arrives in the same socket chunk, the Readable ends with the socket still
 *   paused and the connection hangs on its next query (porsager/postgres#499, fix proposed in PR
 *   #1016; reproduced here with a 45 MiB COPY). copyOut() resumes the socket once the COPY ended.
 */
import type { Readable } from "node:stream"
import type postgres from "postgres"
import { CompactError, isConnectionLoss } from "../errors.ts"

/** The error a lost COPY connection becomes: RETRYABLE, saying what was and was not done. */
export function copyLost(cause: unknown): CompactError {
  const code = (cause as { code?: unknown })?.code
  return new CompactError(
    "RETRYABLE",
    `Cannot copy rows from Postgres: the connection was lost${
      typeof code === "string" ? ` (${code})` : ""
    }; nothing was committed or deleted, rerun the range`,
    { cause },
  )
}

/**
 * Passed to the generator's next() by a consumer that is done with the chunk it was given (the
 * COPY decoder copies what it keeps): the next chunk may then be built in the same buffer, which
 * leaves no garbage behind and touches no fresh pages. `yield*` forwards it through wrappers.
 */
export const CONSUMED: unique symbol = Symbol("copyOut chunk consumed")

/** Bytes of rows buffered before the Readable is paused (and with it, postgres.js' socket). */
const HIGH_WATER = 1 << 20

/**
 * Streams a `COPY … TO STDOUT` statement's bytes; throws the statement's error if it fails.
 * Leaving the loop early drains the rest of the COPY first, so the connection stays usable.
 * Rows are taken one 'data' event at a time (Readable.read() would join them into a fresh buffer)
 * and joined once per wake-up, into the previous chunk's buffer when the consumer passed CONSUMED.
 */
export async function* copyOut(
  sql: postgres.Sql,
  statement: string,
): AsyncGenerator<Uint8Array, void, typeof CONSUMED | undefined> {
  let stream: Readable
  try {
    stream = (await sql.unsafe(statement).readable()) as unknown as Readable
  } catch (error) {
    throw isConnectionLoss(error) ? copyLost(error) : error
  }
  let failure: { error: unknown } | undefined
  let ended = false
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const finished = new Promise<void>((resolve) => {
    stream.on("end", () => {
      ended = true
      notify()
      resolve()
    })
    stream.on("error", (error: unknown) => {
      failure ??= { error } // postgres.js destroys the stream with the statement's error
      notify()
      resolve()
    })
  })
  let parts: Uint8Array[] = []
  let size = 0
  stream.on("data", (row: Uint8Array) => {
    parts.push(row)
    size += row.length
    if (size >= HIGH_WATER) stream.pause()
    notify()
  })
  let scratch = new ArrayBuffer(0) // the last chunk's buffer, when it was built here
  let reuse = false
  try {
    for (;;) {
      if (failure) throw isConnectionLoss(failure.error) ? copyLost(failure.error) : failure.error
      if (parts.length > 0) {
        const taken = parts
        const bytes = size
        parts = []
        size = 0
        if (stream.isPaused()) stream.resume()
        let chunk: Uint8Array
        if (taken.length === 1) chunk = taken[0]!
        else {
          if (!reuse || scratch.byteLength < bytes) {
            scratch = new ArrayBuffer(Math.max(bytes, HIGH_WATER + 65536))
          }
          chunk = join(taken, new Uint8Array(scratch, 0, bytes))
        }
        reuse = (yield chunk) === CONSUMED && chunk.buffer === scratch
      } else if (ended) {
        break
      } else {
        await new Promise<void>((resolve) => (wake = resolve))
      }
    }
  } finally {
    if (!ended && !failure) {
      // Abandoned early: discard the rest until CopyDone, or the connection's next query fails with
      // COPY_IN_PROGRESS. (A cancel request could hit that next query instead, so no cancel.)
      stream.removeAllListeners("data")
      stream.resume()
      resumeSocket(stream)
      await finished
    }
    resumeSocket(stream)
  }
}

/** The parts one after the other in `out`. */
function join(parts: Uint8Array[], out: Uint8Array): Uint8Array {
  let o = 0
  for (const part of parts) {
    out.set(part, o)
    o += part.length
  }
  return out
}

/**
 * postgres.js' Readable resumes its (possibly paused) socket in `_read()`; once the connection is
 * gone that socket is null and `_read()` throws a TypeError, which must not replace the real error.
 */
function resumeSocket(stream: Readable): void {
  try {
    ;(stream as unknown as { _read?: (size: number) => void })._read?.(0)
  } catch {
    // no socket left to resume
  }
}
