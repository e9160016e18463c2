/** The tool's version, written into Parquet metadata and manifests (keep in step with package.json). */
export const VERSION = "0.1.0"
