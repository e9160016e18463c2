/**
 * Names of datasets, partitions and S3 objects. Layout of one dataset folder:
 *
 * ```
 * {prefix}/{chainId}/{dataset}/manifest.json
 * {prefix}/{chainId}/{dataset}/{dataset}_{first}_{last}_{part:04}_{digest}.parquet
 * ```
 *
 * The prefix has no leading or trailing slash; the empty prefix means the key starts with the chain id
 * (never with a slash). Block numbers are plain decimals (no padding, no leading zeros); the part
 * number is padded to at least 4 digits and may grow wider. The digest is the first 16 hex digits of
 * the file's sha256: a file's name is fixed by its bytes, so a replacement with other bytes gets other
 * names and a committed object is never overwritten with different content. Pure, no I/O.
 *
 * @example
 * ```ts
 * import { objectKey } from "./naming.ts"
 * objectKey("cold", 1n, "blocks", { first: 0n, last: 9999n }, 0, "0123456789abcdef")
 * // "cold/1/blocks/blocks_0_9999_0000_0123456789abcdef.parquet"
 * ```
 */
import { CompactError } from "../errors.ts"
import type { BlockRange } from "./range.ts"

/** The prefix used when none is configured. */
export const DEFAULT_PREFIX = "cold"

/** What a dataset name must match; at most {@link MAX_DATASET_LENGTH} characters. */
export const DATASET_PATTERN: RegExp = /^[a-z][a-z0-9_]*$/

/** Longest dataset name (the Postgres identifier limit). */
export const MAX_DATASET_LENGTH = 63

const DECIMAL = /^(0|[1-9][0-9]*)$/ // no sign, no leading zeros, no whitespace

/** Whether `name` is a valid dataset name. */
export function isDatasetName(name: string): boolean {
  return name.length <= MAX_DATASET_LENGTH && DATASET_PATTERN.test(name)
}

/** Returns `name` when it is a valid dataset name; otherwise throws BAD_INPUT. */
export function validateDataset(name: string): string {
  if (!isDatasetName(name)) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use dataset name "${name}": it must match ${DATASET_PATTERN.source} and have at most ${MAX_DATASET_LENGTH} characters; pick a name like "blocks" or "erc20_transfers"`,
    )
  }
  return name
}

/** The key of a partition in the manifest: `first-last`, e.g. "0-9999". */
export function partitionKey(range: BlockRange): string {
  return `${range.first}-${range.last}`
}

/** Parses a partition key `first-last`; throws BAD_INPUT on anything else (signs, zeros, spaces). */
export function parsePartitionKey(key: string): BlockRange {
  const dash = key.indexOf("-")
  const first = key.slice(0, dash)
  const last = key.slice(dash + 1)
  if (dash < 0 || !DECIMAL.test(first) || !DECIMAL.test(last)) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot parse partition key "${key}": expected "first-last" in plain decimals, e.g. "0-9999"`,
    )
  }
  if (BigInt(first) > BigInt(last)) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot parse partition key "${key}": the first block "${first}" is above the last "${last}"; write it as "${last}-${first}"`,
    )
  }
  return { first: BigInt(first), last: BigInt(last) }
}

/** The folder of a dataset: `{prefix}/{chainId}/{dataset}`, or `{chainId}/{dataset}` for prefix "". */
export function datasetFolder(prefix: string, chainId: bigint, dataset: string): string {
  checkPrefix(prefix)
  if (chainId < 0n) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use chain id "${chainId}": it is negative; pass the chain's EIP-155 id`,
    )
  }
  validateDataset(dataset)
  return prefix === "" ? `${chainId}/${dataset}` : `${prefix}/${chainId}/${dataset}`
}

/** The key of a dataset's manifest: `{folder}/manifest.json`. */
export function manifestKey(prefix: string, chainId: bigint, dataset: string): string {
  return `${datasetFolder(prefix, chainId, dataset)}/manifest.json`
}

/**
 * What every file of a partition starts with: `{folder}/{dataset}_{first}_{last}_`. The trailing
 * underscore keeps `blocks_1_2_` from being a prefix of `blocks_1_23_`, so listing by it is exact.
 */
export function partitionFilePrefix(
  prefix: string,
  chainId: bigint,
  dataset: string,
  range: BlockRange,
): string {
  return `${datasetFolder(prefix, chainId, dataset)}/${dataset}_${range.first}_${range.last}_`
}

/** Hex digits of a file's sha256 that its name carries. */
export const DIGEST_LENGTH = 16

const DIGEST = /^[0-9a-f]{16}$/

/**
 * The key of part `part` (0, 1, …) of a partition whose bytes have sha256 `sha256` (hex; the first
 * {@link DIGEST_LENGTH} digits are used); throws BAD_INPUT for a bad part, digest or name.
 */
export function objectKey(
  prefix: string,
  chainId: bigint,
  dataset: string,
  range: BlockRange,
  part: number,
  sha256: string,
): string {
  const digest = sha256.slice(0, DIGEST_LENGTH)
  if (!DIGEST.test(digest)) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot name a file by digest "${sha256}": expected at least ${DIGEST_LENGTH} lowercase hex digits of its sha256`,
    )
  }
  if (!Number.isSafeInteger(part) || part < 0) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot name part "${part}" of blocks "${range.first}-${range.last}": parts are whole numbers from 0; number them 0, 1, 2, …`,
    )
  }
  const file = `${String(part).padStart(4, "0")}_${digest}.parquet`
  return partitionFilePrefix(prefix, chainId, dataset, range) + file
}

/** The pieces of an object key, as produced by {@link objectKey}. */
export interface ObjectKeyParts {
  readonly prefix: string
  readonly chainId: bigint
  readonly dataset: string
  readonly range: BlockRange
  readonly part: number
  /** The first {@link DIGEST_LENGTH} hex digits of the file's sha256. */
  readonly digest: string
}

const FILE_TAIL = /^(0|[1-9][0-9]*)_(0|[1-9][0-9]*)_([0-9]{4}|[1-9][0-9]{4,})_([0-9a-f]{16})\.parquet$/

/** Splits a key made by {@link objectKey} back into its pieces; `undefined` for any other key. */
export function parseObjectKey(key: string): ObjectKeyParts | undefined {
  const segments = key.split("/")
  const file = segments.pop()
  const dataset = segments.pop()
  const chain = segments.pop()
  if (file === undefined || dataset === undefined || chain === undefined) return undefined
  if (segments.some((s) => s === "") || !DECIMAL.test(chain) || !isDatasetName(dataset)) return undefined
  if (!file.startsWith(`${dataset}_`)) return undefined
  const match = FILE_TAIL.exec(file.slice(dataset.length + 1))
  if (match === null) return undefined
  const [, first, last, part, digest] = match
  if (first === undefined || last === undefined || part === undefined || digest === undefined) {
    return undefined
  }
  const range = { first: BigInt(first), last: BigInt(last) }
  const partNumber = Number(part)
  if (range.first > range.last || !Number.isSafeInteger(partNumber)) return undefined
  return { prefix: segments.join("/"), chainId: BigInt(chain), dataset, range, part: partNumber, digest }
}

/** Throws BAD_INPUT unless `prefix` is "" or folder names joined by single slashes (no "." or ".."). */
export function checkPrefix(prefix: string): void {
  if (prefix !== "" && prefix.split("/").some((s) => s === "")) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use key prefix "${prefix}": it has a leading, trailing or double slash; write it like "cold" or "archive/cold", or "" for none`,
    )
  }
  if (prefix.split("/").some((s) => s === "." || s === "..")) {
    // URLs and paths resolve them away: the keys written and the keys recorded would differ
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use key prefix "${prefix}": it has a "." or ".." segment; name the folder, like "cold" or "archive/cold"`,
    )
  }
}
