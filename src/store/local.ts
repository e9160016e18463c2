/**
 * A local folder as an object store (`file:///DIR`), with the same layout and manifest as S3:
 * for ops hosts, the demo and fast tests. Writes go to a temporary file that is then renamed,
 * so a reader never sees half an object.
 */
import { randomBytes } from "node:crypto"
import { link, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import {
  ConditionFailed,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./store.ts"

/** A version tag from the file's identity, size and change time: new on every rename into place. */
const etagOf = (s: { ino: bigint; size: bigint; mtimeNs: bigint }) => `${s.ino}-${s.size}-${s.mtimeNs}`

function isMissing(error: unknown): boolean {
  return (error as { code?: string })?.code === "ENOENT"
}

/**
 * An {@link ObjectStore} over a folder. ETags come from the file's inode, size and mtime, so a HEAD
 * need not read the file; every put renames a new file into place, which changes them.
 */
export class LocalStore implements ObjectStore {
  readonly description: string
  readonly #root: string

  constructor(root: string) {
    this.#root = resolve(root)
    this.description = `file://${this.#root}`
  }

  #path(key: string): string {
    const path = resolve(this.#root, key)
    if (key.startsWith("/") || !path.startsWith(this.#root + sep)) {
      throw new Error(`Cannot use object key "${key}": it leaves the store folder`)
    }
    return path
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
      throw error
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const file = await open(this.#path(key), "r")
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
      throw error
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const path = this.#path(key)
    await mkdir(dirname(path), { recursive: true })
    const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`
    await writeFile(temp, body)
    try {
      if (options.ifNoneMatch === "*") {
        // link() fails if the target exists: an atomic create-only
        await link(temp, path).catch((error) => {
          if ((error as { code?: string }).code === "EEXIST") throw new ConditionFailed(`"${key}" exists`)
          throw error
        })
        await unlink(temp)
      } else {
        if (options.ifMatch !== undefined) {
          // not atomic across processes; callers also hold the commit lock in Postgres
          const current = await this.head(key)
          if (current?.etag !== options.ifMatch) throw new ConditionFailed(`"${key}" changed`)
        }
        await rename(temp, path)
      }
    } finally {
      await rm(temp, { force: true })
    }
    return { etag: etagOf(await stat(path, { bigint: true })) }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true })
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.#path(prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/") + 1) + "x" : "x")
    const folder = dirname(base)
    const keys: string[] = []
    const walk = async (dir: string): Promise<void> => {
      let entries
      try {
        entries = await readdir(dir, { withFileTypes: true })
      } catch (error) {
        if (isMissing(error)) return
        throw error
      }
      for (const entry of entries) {
        const full = join(dir, entry.name)
        if (entry.isDirectory()) await walk(full)
        else if (!entry.name.includes(".tmp-")) {
          const key = relative(this.#root, full).split(sep).join("/")
          if (key.startsWith(prefix)) keys.push(key)
        }
      }
    }
    await walk(folder)
    return keys.sort()
  }
}

/** Whether a path is an existing folder (for validating `file://` destinations). */
export async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false
}
