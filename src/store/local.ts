/**
 * A local folder as an object store (`file:///DIR`), with the same layout and manifest as S3:
 * for ops hosts, the demo and fast tests. A put writes a temporary file in `{root}/.parquet_compact-tmp/`
 * (outside every dataset prefix, so no reader globbing a dataset folder ever sees one), fsyncs it,
 * renames or links it into place and fsyncs the folders it touched, so an object a put returned for
 * survives a power loss: the manifest commit and the hot delete that follow it rely on that.
 */
import { randomBytes } from "node:crypto"
import { mkdir, open, readdir, rm, stat, unlink } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import { CompactError } from "../errors.ts"
import { LocalWriter, publish, syncFolder } from "./local-writer.ts"
import {
  ConditionFailed,
  type ObjectInfo,
  type ObjectStore,
  type ObjectWriter,
  type PutOptions,
  type StoredObject,
} from "./store.ts"

/** The folder under the store's root that holds temporary files; never a key's first segment. */
export const TEMP_FOLDER = ".parquet_compact-tmp"
/** A temporary file's name: the key's, then `~{pid}-{random}.tmp`. */
const TEMP_SUFFIX = /~\d+-[0-9a-f]+\.tmp$/
/** Temporary files of versions before TEMP_FOLDER, which wrote them next to their object. */
const LEGACY_TEMP = /\.tmp-\d+-[0-9a-f]+$/

/** A version tag from the file's identity, size and change time: new on every rename into place. */
const etagOf = (s: { ino: bigint; size: bigint; mtimeNs: bigint }) => `${s.ino}-${s.size}-${s.mtimeNs}`

const codeOf = (error: unknown) => (error as { code?: string })?.code
const isMissing = (error: unknown) => codeOf(error) === "ENOENT"

/** Errors of the folder itself that no retry can fix. */
const UNUSABLE: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "a folder is in the way of a file",
  ENAMETOOLONG: "a path is too long",
}

/**
 * An {@link ObjectStore} over a folder. ETags come from the file's inode, size and mtime, so a HEAD
 * need not read the file; every put renames a new file into place, which changes them.
 */
export class LocalStore implements ObjectStore {
  readonly description: string
  /** Streaming into the temporary file costs what one put costs, without holding the file. */
  readonly streamAbove = 0
  readonly #root: string
  /** Folders of objects that writers finished without syncing the folder (see sync()). */
  readonly #unsynced = new Set<string>()
  #syncing: Promise<void> = Promise.resolve()

  constructor(root: string) {
    this.#root = resolve(root)
    this.description = `file://${this.#root}`
  }

  #path(key: string): string {
    const path = resolve(this.#root, key)
    if (key.startsWith("/") || !path.startsWith(this.#root + sep) || key.split("/")[0] === TEMP_FOLDER) {
      throw new Error(`Cannot use object key "${key}": it leaves the store folder`)
    }
    return path
  }

  /** A CompactError for a failure of the folder: BAD_INPUT when no retry can fix it. */
  #fail(error: unknown, action: string): unknown {
    const code = codeOf(error)
    if (code && UNUSABLE[code]) {
      return new CompactError(
        "BAD_INPUT",
        `Cannot ${action} in folder "${this.#root}": ${UNUSABLE[code]} (${code}); ` +
          "choose a folder this user can write, or fix --dest",
        { cause: error },
      )
    }
    if (code === "ENOSPC" || code === "EDQUOT") {
      return new CompactError(
        "RETRYABLE",
        `Cannot ${action} in folder "${this.#root}": the disk is full (${code}); free space and rerun`,
        { cause: error },
      )
    }
    return error
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const file = await open(this.#path(key), "r")
      try {
        const etag = etagOf(await file.stat({ bigint: true }))
        return { bytes: new Uint8Array(await file.readFile()), etag }
      } finally {
        await file.close()
      }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.#fail(error, `read "${key}"`)
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const file = await open(this.#path(key), "r").catch((error) => {
      throw this.#fail(error, `read "${key}"`)
    })
    try {
      const out = new Uint8Array(end - start)
      const { bytesRead } = await file.read(out, 0, out.length, start)
      return out.subarray(0, bytesRead)
    } finally {
      await file.close()
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.#path(key), { bigint: true })
      return { size: Number(info.size), etag: etagOf(info) }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.#fail(error, `read "${key}"`)
    }
  }

  /** A new temporary file's path for an object whose key starts with `near`. */
  #temp(near: string): string {
    return join(this.#root, TEMP_FOLDER, `${near}~${process.pid}-${randomBytes(6).toString("hex")}.tmp`)
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const path = this.#path(key)
    const temp = this.#temp(key)
    try {
      await mkdir(dirname(temp), { recursive: true })
      const file = await open(temp, "wx")
      try {
        await file.writeFile(body)
        await file.sync()
      } finally {
        await file.close()
      }
      const ifMatch = options.ifMatch === undefined ? undefined : async () => {
        const current = await this.head(key)
        if (current?.etag !== options.ifMatch) throw new ConditionFailed(`"${key}" changed`)
      }
      await publish(temp, path, key, options.ifNoneMatch === "*", ifMatch)
      return { etag: etagOf(await stat(path, { bigint: true })) }
    } catch (error) {
      throw this.#fail(error, `write "${key}"`)
    } finally {
      await unlink(temp).catch(() => undefined) // gone after a rename; the link's other name otherwise
    }
  }

  create(near: string): ObjectWriter {
    this.#path(near) // refuses a key outside the folder before anything is written
    return new LocalWriter(
      this.#temp(near),
      (key) => this.#path(key),
      (error, action) => this.#fail(error, action),
      (folder) => this.#unsynced.add(folder),
    )
  }

  /**
   * Syncs the folders of the objects writers finished since, and of `keys`, once each. A call waits
   * for one in flight: what another partition's call took from the set is durable before this one
   * resolves.
   */
  sync(keys: readonly string[] = []): Promise<void> {
    for (const key of keys) this.#unsynced.add(dirname(this.#path(key)))
    const run = this.#syncing.catch(() => undefined).then(async () => {
      const folders = [...this.#unsynced]
      this.#unsynced.clear()
      for (const [i, folder] of folders.entries()) {
        try {
          await syncFolder(folder)
        } catch (error) {
          for (const f of folders.slice(i)) this.#unsynced.add(f)
          throw this.#fail(error, `sync "${folder}"`)
        }
      }
    })
    this.#syncing = run
    return run
  }

  async putIfAbsent(key: string, body: Uint8Array, _sha256: string): Promise<"created" | "exists"> {
    // a stat costs next to nothing here: no conditional create needed to save a round trip
    if ((await this.head(key))?.size === body.length) return "exists"
    await this.put(key, body)
    return "created"
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key)
    try {
      await unlink(path)
      await syncFolder(dirname(path)) // a deleted superseded file must not come back after a power loss
    } catch (error) {
      if (!isMissing(error)) throw this.#fail(error, `delete "${key}"`)
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = []
    await this.#walk(this.#folderOf(prefix), (full, name) => {
      const key = relative(this.#root, full).split(sep).join("/")
      if (key.startsWith(prefix) && !LEGACY_TEMP.test(name)) keys.push(key)
    })
    return keys.sort()
  }

  async abortIncompleteUploads(prefix: string): Promise<number> {
    const temps: string[] = []
    const tempRoot = join(this.#root, TEMP_FOLDER)
    await this.#walk(this.#folderOf(prefix, tempRoot), (full) => {
      const key = relative(tempRoot, full).split(sep).join("/").replace(TEMP_SUFFIX, "")
      if (key.startsWith(prefix) && TEMP_SUFFIX.test(full)) temps.push(full)
    }, tempRoot)
    await this.#walk(this.#folderOf(prefix), (full, name) => {
      const key = relative(this.#root, full).split(sep).join("/")
      if (key.startsWith(prefix) && LEGACY_TEMP.test(name)) temps.push(full)
    })
    for (const temp of temps) {
      await rm(temp, { force: true }).catch((error) => {
        throw this.#fail(error, `remove "${temp}"`)
      })
    }
    return temps.length
  }

  /** The deepest folder that holds every key with this prefix. */
  #folderOf(prefix: string, base = this.#root): string {
    const slash = prefix.lastIndexOf("/")
    return slash < 0 ? base : join(base, prefix.slice(0, slash))
  }

  /** Calls `visit` for every file under `dir`, skipping the temp folder unless walking it. */
  async #walk(dir: string, visit: (full: string, name: string) => void, base = this.#root): Promise<void> {
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      if (isMissing(error)) return
      throw this.#fail(error, `list "${relative(this.#root, dir)}"`)
    }
    for (const entry of entries) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (base === this.#root && dir === this.#root && entry.name === TEMP_FOLDER) continue
        await this.#walk(full, visit, base)
      } else visit(full, entry.name)
    }
  }
}

/** Whether a path is an existing folder (for validating `file://` destinations). */
export async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false
}
