/**
 * ArrayBuffers handed back by their consumer, to build new data in: a reused buffer costs no fresh
 * pages, which the kernel must fault in and zero, and leaves no garbage. Decoded batches come back
 * from the encoder thread (~0.2 s per million log rows saved), and the encoder's file pieces from the
 * store writer (FilePiece.release: the encoder thread's costliest copy at 10,000-row files).
 */
export class BufferPool {
  #free: ArrayBuffer[] = []
  readonly #keep: number

  /** `keep`: buffers kept at most, the most recent (batches of one shape hold ~3 per column). */
  constructor(keep = 64) {
    this.#keep = keep
  }

  /** Keeps buffers for reuse. */
  give(buffers: readonly ArrayBuffer[]): void {
    this.#free.push(...buffers)
    if (this.#free.length > this.#keep) this.#free.splice(0, this.#free.length - this.#keep)
  }

  /** A kept buffer of `bytes` to twice that plus 4 KiB (the smallest such), else a new one; not zeroed. */
  take(bytes: number): ArrayBuffer {
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      const size = this.#free[i]!.byteLength
      if (size >= bytes && size <= 2 * bytes + 4096 && (best < 0 || size < this.#free[best]!.byteLength)) {
        best = i
      }
    }
    return best < 0 ? new ArrayBuffer(bytes) : this.#free.splice(best, 1)[0]!
  }
}
