/**
 * Reading an HTTP response body whole, with the two checks the SDK leaves out: a body that stops
 * arriving (idle longer than a bound) and a body that ends short of its Content-Length. Both throw
 * a {@link BodyFault}, which S3Store retries a bounded number of times.
 */
import { idleTimer, sleep } from "../deadline.ts"
import { CompactError } from "../errors.ts"

/** A response body that broke off: reset, stalled or shorter than announced. */
export class BodyFault extends Error {
  override readonly name = "BodyFault"
}

/** The parts of a Node Readable (or any async iterable of bytes) this reader uses. */
type ByteStream = AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void }

/**
 * Reads `body` to the end. Throws BodyFault when no bytes come for `idleMs`, when the stream fails,
 * or when it ends after a number of bytes other than `expected` (when known).
 */
export async function readBody(
  body: unknown,
  idleMs: number,
  expected: number | undefined,
): Promise<Uint8Array> {
  if (body === undefined || body === null) throw new BodyFault("the response has no body")
  const stream = body as ByteStream
  if (typeof stream[Symbol.asyncIterator] !== "function") {
    // not a Node stream (another runtime's fetch body): the SDK's own reader, then the length check
    const bytes = await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()
    return checkLength(bytes, expected)
  }
  const timer = idleTimer(idleMs, () => new BodyFault(`no bytes arrived for ${idleMs} ms`))
  const parts: Uint8Array[] = []
  let size = 0
  const iterator = stream[Symbol.asyncIterator]()
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), timer.expired])
      if (next.done) break
      timer.touch()
      parts.push(next.value)
      size += next.value.length
    }
  } catch (error) {
    stream.destroy?.() // frees the socket of a stalled body
    if (error instanceof BodyFault) throw error
    throw new BodyFault(`the body broke off after ${size} bytes (${(error as Error)?.message ?? error})`, {
      cause: error,
    })
  } finally {
    timer.stop()
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    bytes.set(part, offset)
    offset += part.length
  }
  return checkLength(bytes, expected)
}

function checkLength(bytes: Uint8Array, expected: number | undefined): Uint8Array {
  if (expected !== undefined && bytes.length !== expected) {
    throw new BodyFault(`the body ended after ${bytes.length} of ${expected} bytes`)
  }
  return bytes
}

/**
 * Runs `get` (a request; undefined when there is nothing to read) and reads its body whole, again
 * while the body breaks off, up to `attempts` times with a growing pause; then RETRYABLE, naming `what`.
 */
export async function readWhole<T extends { Body?: unknown; ContentLength?: number | undefined }>(
  get: () => Promise<T | undefined>,
  idleMs: number,
  attempts: number,
  what: string,
): Promise<{ bytes: Uint8Array; answer: T } | undefined> {
  for (let attempt = 1;; attempt++) {
    const answer = await get()
    if (!answer) return undefined
    try {
      return { bytes: await readBody(answer.Body, idleMs, answer.ContentLength), answer }
    } catch (error) {
      if (!(error instanceof BodyFault)) throw error
      if (attempt >= attempts) {
        throw new CompactError(
          "RETRYABLE",
          `Cannot ${what}: ${error.message}, ${attempt} times in a row; nothing was changed, it is worth retrying`,
          { cause: error },
        )
      }
      await sleep(100 * 2 ** attempt) // ms
    }
  }
}
