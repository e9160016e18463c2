/**
 * The file side of LocalStore (local.ts): making a temporary file visible under its key with the
 * durability every put promises, and the writer of an object streamed in pieces into its temporary
 * file. Both fsync the file, then link or rename it into place and fsync the folders they touched,
 * so an object they returned for survives a power loss.
 */
import type { FileHandle } from "node:fs/promises"
import { link, mkdir, open, rename, unlink } from "node:fs/promises"
import { dirname } from "node:path"
import { ConditionFailed, type ObjectWriter } from "./store.ts"

const codeOf = (error: unknown) => (error as { code?: string })?.code

/** Flushes a folder's entries (new, renamed or removed names) to disk. */
export async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, "r")
  try {
    await handle.sync()
  } catch (error) {
    if (codeOf(error) !== "EINVAL") throw error // file systems that cannot sync a folder say EINVAL
  } finally {
    await handle.close()
  }
}

/**
 * Makes the synced file `temp` the object at `path` (key `key`, for messages): create-only (link,
 * ConditionFailed if it exists) or by rename, then syncs the folders it touched (the object's own
 * only with `syncFolderNow`; else the caller syncs it later). `ifMatch` runs just before the rename
 * (not atomic across processes; callers also hold the commit lock).
 */
export async function publish(
  temp: string,
  path: string,
  key: string,
  createOnly: boolean,
  ifMatch?: () => Promise<void>,
  syncFolderNow = true,
): Promise<void> {
  const created = await mkdir(dirname(path), { recursive: true })
  if (created !== undefined) {
    // new folders are names in their parents: flush each, up to the one that existed before
    for (let dir = dirname(path); dir.length >= created.length; dir = dirname(dir)) await syncFolder(dir)
    await syncFolder(dirname(created))
  }
  if (createOnly) {
    // link() fails if the target exists: an atomic create-only
    await link(temp, path).catch((error) => {
      if (codeOf(error) === "EEXIST") throw new ConditionFailed(`"${key}" exists`)
      throw error
    })
  } else {
    await ifMatch?.()
    await rename(temp, path)
  }
  if (syncFolderNow) await syncFolder(dirname(path))
}

/**
 * An {@link ObjectWriter} into the temporary file `temp` (in LocalStore's temp folder, named after
 * the `near` key): pieces are written as they come, then fsynced and published like a put, but for
 * the sync of the object's folder, which is left to `unsynced` (LocalStore.sync() makes it once per
 * folder, not once per file). `target` resolves a key to its path (and refuses keys outside the
 * store); `fail` turns a file system error into the store's error.
 */
export class LocalWriter implements ObjectWriter {
  readonly doneOnWrite = true // write() resolves once the bytes are in the file
  readonly #temp: string
  readonly #target: (key: string) => string
  readonly #fail: (error: unknown, action: string) => unknown
  readonly #unsynced: (folder: string) => void
  #file: Promise<FileHandle> | undefined
  #position = 0 // bytes written
  #closed = false

  constructor(
    temp: string,
    target: (key: string) => string,
    fail: (error: unknown, action: string) => unknown,
    unsynced: (folder: string) => void,
  ) {
    this.#temp = temp
    this.#target = target
    this.#fail = fail
    this.#unsynced = unsynced
  }

  #open(): Promise<FileHandle> {
    this.#file ??= mkdir(dirname(this.#temp), { recursive: true }).then(() => open(this.#temp, "wx"))
    return this.#file
  }

  async write(bytes: Uint8Array): Promise<void> {
    try {
      const file = await this.#open()
      for (let done = 0; done < bytes.length;) {
        const { bytesWritten } = await file.write(bytes, done, bytes.length - done, this.#position + done)
        done += bytesWritten
      }
      this.#position += bytes.length
    } catch (error) {
      throw this.#fail(error, `write "${this.#temp}"`)
    }
  }

  async finish(key: string): Promise<void> {
    try {
      const path = this.#target(key)
      const file = await this.#open()
      this.#closed = true
      try {
        await file.sync()
      } finally {
        await file.close()
      }
      await publish(this.#temp, path, key, false, undefined, false)
      this.#unsynced(dirname(path))
    } catch (error) {
      throw this.#fail(error, `write "${key}"`)
    }
  }

  async abort(): Promise<void> {
    if (this.#file === undefined) return
    if (!this.#closed) {
      this.#closed = true
      await this.#file.then((file) => file.close()).catch(() => undefined)
    }
    await unlink(this.#temp).catch(() => undefined) // left to abortIncompleteUploads() when this fails
  }
}
