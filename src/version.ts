/** The tool's version, written into Parquet metadata and manifests (keep in step with package.json). */
export const VERSION = "0.1.0"

/** FNV-1a (32 bits, hex) of a string: a short stable id. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, "0")
}

/**
 * Parquet footer `created_by`, in the `{application} version {semver} (build {hash})` form
 * parquet-java's VersionParser takes (Spark and Hive ignore the min/max statistics of files whose
 * created_by does not parse). The build id is a hash of the version, not of the build, so two
 * builds of the same source write byte-identical files.
 */
export const CREATED_BY = `parquet_compact version ${VERSION} (build ${fnv1a(`parquet_compact ${VERSION}`)})`
