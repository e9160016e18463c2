/**
 * The invariants the harness checks after every kill, race and model step, read straight from the
 * store and Postgres (not through the code under test):
 *
 * - the manifest parses, and every file it names exists with the recorded size and sha256;
 * - no key is in cold storage twice;
 * - every expected row is in cold storage with its content, or still hot with its content (never
 *   neither: that is a lost row; a cold copy with other content and no hot row is lost too);
 * - no cold row has content that never existed;
 * - when `final`: no object under the dataset folder is unnamed by the manifest, and (file://) no
 *   temporary file is in the folder either.
 */
import { createHash } from "node:crypto"
import { readdir } from "node:fs/promises"
import { join, relative } from "node:path"
import { parquetReadObjects } from "hyparquet"
import { type Manifest, parseManifest } from "../../src/core/manifest.ts"
import { manifestKey } from "../../src/core/naming.ts"
import type { BlockRange } from "../../src/core/range.ts"
import { CHAIN, hotRows, LOGS, type Rows, type World } from "./lib.ts"

/** What one check found. */
export interface Check {
  readonly rowsChecked: number
  readonly rowsLost: number
  /** Every broken invariant, one line each (empty: all hold). */
  readonly problems: string[]
  readonly cold: Rows
  readonly hot: Rows
  readonly manifest: Manifest | undefined
}

/** What to check against. */
export interface Expect {
  readonly range: BlockRange
  /** Rows that must be in cold storage or hot, with this content (the latest version of each). */
  readonly rows: Rows
  /** Every content a key ever had (cold rows must be one of them); default: `rows`. */
  readonly history?: Map<string, Set<string>>
  /** After a completing run: no unnamed object or temp file under the dataset folder. */
  readonly final?: boolean
  readonly dataset?: string
}

/** Checks the invariants of `world` (see the module comment). */
export async function checkInvariants(world: World, e: Expect): Promise<Check> {
  const dataset = e.dataset ?? "logs"
  const problems: string[] = []
  const mKey = manifestKey(world.prefix, CHAIN, dataset)
  const object = await world.store.get(mKey)
  let manifest: Manifest | undefined
  if (object) {
    try {
      manifest = parseManifest(new TextDecoder().decode(object.bytes))
    } catch (error) {
      problems.push(`manifest does not parse: ${(error as Error).message}`)
    }
  }
  const cold: Rows = new Map()
  const named = new Set([mKey])
  for (const p of manifest?.partitions ?? []) {
    for (const f of p.files) {
      named.add(f.key)
      const bytes = (await world.store.get(f.key))?.bytes
      if (!bytes) {
        problems.push(`manifest names missing file ${f.key}`)
        continue
      }
      if (bytes.length !== f.bytes) problems.push(`${f.key}: ${bytes.length} bytes, manifest says ${f.bytes}`)
      const sha = createHash("sha256").update(bytes).digest("hex")
      if (sha !== f.sha256) problems.push(`${f.key}: sha256 differs from the manifest's`)
      if (f.rows === 0) continue
      const rows = await parquetReadObjects({
        file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        columns: [...LOGS.key, ...LOGS.content],
        utf8: false, // bytea columns are BYTE_ARRAY without a string type: keep them bytes
      }).catch((error: Error) => {
        problems.push(`${f.key} is not a readable Parquet file: ${error.message}`)
        return []
      })
      if (rows.length > 0 && rows.length !== f.rows) {
        problems.push(`${f.key}: ${rows.length} rows, manifest says ${f.rows}`)
      }
      for (const row of rows) {
        const k = LOGS.key.map((c) => String(row[c])).join("|")
        const v = LOGS.content.map((c) => hex(row[c])).join("|")
        if (cold.has(k)) problems.push(`row ${k} is in cold storage twice`)
        cold.set(k, v)
      }
    }
  }
  const hot = await hotRows(world.sql, e.range)
  let rowsLost = 0
  for (const [k, v] of e.rows) {
    if (hot.get(k) === v || cold.get(k) === v) continue
    rowsLost++
    if (rowsLost <= 5) {
      problems.push(
        `row ${k} lost: hot ${hot.has(k) ? "has other content" : "lacks it"}, cold ${
          cold.has(k) ? "has other content" : "lacks it"
        }`,
      )
    }
  }
  const history = e.history ?? new Map([...e.rows].map(([k, v]) => [k, new Set([v])]))
  for (const [k, v] of cold) {
    const block = BigInt(k.split("|")[0]!)
    if (block < e.range.first || block > e.range.last) continue
    if (!history.get(k)?.has(v)) problems.push(`cold row ${k} has content that never existed`)
  }
  if (e.final) problems.push(...await unnamed(world, dataset, named))
  return { rowsChecked: e.rows.size, rowsLost, problems, cold, hot, manifest }
}

/** Objects under the dataset folder that the manifest does not name, and temp files a folder holds. */
async function unnamed(world: World, dataset: string, named: Set<string>): Promise<string[]> {
  const folder = world.prefix ? `${world.prefix}/${CHAIN}/${dataset}/` : `${CHAIN}/${dataset}/`
  const keys = (await world.store.list(folder)).filter((k) => !named.has(k))
  if (world.root) {
    // LocalStore.list hides temp files; a reader globbing the folder would not
    const walk = async (dir: string): Promise<string[]> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
      const out: string[] = []
      for (const entry of entries) {
        const full = join(dir, entry.name)
        if (entry.isDirectory()) out.push(...await walk(full))
        else out.push(relative(world.root!, full))
      }
      return out
    }
    for (const k of await walk(join(world.root, folder))) {
      if (!named.has(k) && !keys.includes(k)) keys.push(k)
    }
  }
  return keys.map((k) => `object ${k} is under the dataset folder but no manifest names it`)
}

function hex(value: unknown): string {
  if (value === null || value === undefined) return "-"
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex")
  return String(value)
}
