/**
 * Where cold data goes: `s3://BUCKET/PREFIX` or `file:///DIR`. The path after the bucket (or the
 * folder) is the prefix under which `{chain}/{dataset}/` folders live, so `s3://bucket/cold`
 * gives the design's `s3://bucket/cold/{chain}/{dataset}/` layout.
 */
import { checkPrefix } from "./core/naming.ts"
import { CompactError } from "./errors.ts"
import { LocalStore } from "./store/local.ts"
import type { ObjectStore } from "./store/store.ts"

/** A parsed destination URL. */
export type Destination =
  | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string }
  | { readonly kind: "file"; readonly dir: string; readonly prefix: string }

/** Parses `s3://BUCKET[/PREFIX]` or `file:///DIR`; the prefix never has leading or trailing slashes. */
export function parseDestination(dest: string): Destination {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(dest)
  if (s3) {
    const prefix = trimSlashes(s3[2]!)
    checkPrefix(prefix) // before anything connects: a bad prefix is a setting to fix
    return { kind: "s3", bucket: s3[1]!, prefix }
  }
  const file = /^file:\/\/(\/.*)$/.exec(dest)
  if (file) return { kind: "file", dir: decodeURIComponent(file[1]!), prefix: "" }
  throw new CompactError(
    "BAD_INPUT",
    `Cannot use destination "${dest}": expected s3://BUCKET/PREFIX or file:///DIR`,
  )
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, "")
}

/** S3 settings that come from flags or environment rather than the URL. */
export interface S3Settings {
  readonly s3Endpoint?: string | undefined
  readonly s3Region?: string | undefined
  readonly s3ForcePathStyle?: boolean | undefined
}

/**
 * Opens the store a destination names. The S3 client (the AWS SDK, ~10 ms of module loading) is
 * loaded only for an s3:// destination.
 */
export async function openStore(destination: Destination, settings: S3Settings): Promise<ObjectStore> {
  if (destination.kind === "file") return new LocalStore(destination.dir)
  const { S3Store } = await import("./store/s3.ts")
  return new S3Store({
    bucket: destination.bucket,
    ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint } : {}),
    ...(settings.s3Region ? { region: settings.s3Region } : {}),
    forcePathStyle: settings.s3ForcePathStyle ?? false,
  })
}
