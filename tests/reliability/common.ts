/** Small helpers shared by the reliability tests. */

/** Runs `run` and returns its value or error and how long it took (milliseconds). */
export async function timed<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now()
  try {
    return { value: await run(), ms: performance.now() - t0 }
  } catch (error) {
    return { error, ms: performance.now() - t0 }
  }
}

/** One fault run for docs/RELIABILITY.md: what was broken, what the caller saw, how long it took. */
export interface FaultRow {
  readonly target: string // "S3 GET manifest.json", "Postgres lock session", …
  readonly fault: string
  readonly times: string // "once", "every request"
  readonly outcome: string // "ok after retry", "RETRYABLE (exit 1)", …
  readonly seconds: number
  readonly bound_seconds: number
}

/**
 * A report of fault runs, written to $REL_REPORT_DIR/NAME.json by `write()` when REL_REPORT_DIR is
 * set (one per test file: bun runs several files in one process).
 */
export function faultReport(name: string): {
  record(row: Omit<FaultRow, "seconds"> & { ms: number }): void
  write(): Promise<void>
} {
  const rows: FaultRow[] = []
  return {
    record({ ms, ...rest }) {
      rows.push({ ...rest, seconds: Math.round(ms) / 1000 })
    },
    async write() {
      const dir = process.env.REL_REPORT_DIR
      if (!dir) return
      const { mkdir, writeFile } = await import("node:fs/promises")
      await mkdir(dir, { recursive: true })
      await writeFile(`${dir}/${name}.json`, JSON.stringify(rows, null, 2) + "\n")
    },
  }
}
