/**
 * A test-only hook: `PARQUET_COMPACT_TEST_CRASH_AT=STEP[:N]` kills the process with SIGKILL the Nth
 * time (default the first) a partition reaches step STEP (see STEPS in src/execute.ts). The
 * reliability harness uses it to prove that a kill at any step loses no row. Unset, it does nothing.
 */

/** The checkpoint function for a `STEP[:N]` spec, or undefined when the spec is empty. */
export function crashPoint(spec: string | undefined): ((step: string) => void) | undefined {
  if (!spec) return undefined
  const [step, nth] = spec.split(":")
  let left = Number(nth ?? "1")
  return (reached) => {
    if (reached === step && --left === 0) process.kill(process.pid, "SIGKILL")
  }
}
