/**
 * A local folder as an object store (`file:///DIR`), with the same layout and manifest as S3:
 * for ops hosts, the demo and fast tests. Writes go to a temporary file that is then renamed,
 * so a reader never sees half an object.
 */
import { createHash, randomBytes } from "node:crypto"
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import {
  ConditionFailed,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./store.ts"

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

function isMissing(error: unknown): boolean {
  return (error as { code?: string })?.code === "ENOENT"
}

/** An {@link ObjectStore} over a folder; ETags are the MD5 of the content, as on S3. */
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
      const bytes = new Uint8Array(await readFile(this.#path(key)))
      return { bytes, etag: md5(bytes) }
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
    const object = await this.get(key)
    return object && { size: object.bytes.length, etag: object.etag }
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
    return { etag: md5(body) }
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
