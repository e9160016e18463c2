/**
 * Reading a dataset folder's manifest.json from the store, with the one check parsing alone cannot
 * make: the manifest must be this folder's. A manifest whose chain_id or dataset is another one's
 * (copied into the wrong folder, a wrong --dest) is refused with INTEGRITY and left as it is; a run
 * that merged into it would overwrite another dataset's record.
 */
import { CompactError } from "./errors.ts"
import { type Manifest, parseManifest } from "./core/manifest.ts"
import { manifestKey } from "./core/naming.ts"
import type { ObjectStore } from "./store/store.ts"

/** A manifest as read: parsed, with the ETag to commit against and its exact text. */
export interface ManifestRead {
  readonly manifest: Manifest
  readonly etag: string
  readonly text: string
}

/**
 * Reads `{prefix}/{chainId}/{dataset}/manifest.json`; undefined when there is none. Throws
 * INTEGRITY when it does not parse or names another chain or dataset.
 *
 * @example
 * const read = await readManifest(store, "cold", 1n, "blocks")
 * const partitions = read?.manifest.partitions ?? []
 */
export async function readManifest(
  store: ObjectStore,
  prefix: string,
  chainId: bigint,
  dataset: string,
): Promise<ManifestRead | undefined> {
  const key = manifestKey(prefix, chainId, dataset)
  const object = await store.get(key)
  if (!object) return undefined
  const text = new TextDecoder().decode(object.bytes)
  const manifest = parseManifest(text)
  if (manifest.chain_id !== chainId || manifest.dataset !== dataset) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot use "${key}": it is the manifest of dataset "${manifest.dataset}" of chain ${manifest.chain_id}, ` +
        `not of "${dataset}" of chain ${chainId}; it was left as it is, move it to its own folder or fix --dest`,
    )
  }
  return { manifest, etag: object.etag, text }
}
