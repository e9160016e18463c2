/**
 * The `--auto` branch of `compact`: compacts the ready partitions up to the final tip (src/auto.ts)
 * and prints the report. cli.ts calls it when `auto` is set by flag, environment or DAG activation.
 */
import type { Settings } from "../config.ts"
import { autoCompact } from "../auto.ts"
import { printReport, progressFor, withDeps } from "./many.ts"
import type { Session } from "./session.ts"

/** Runs `compact --auto`; returns the exit code. */
export async function runAuto(
  settings: Settings,
  session: Session,
  signal: AbortSignal | undefined,
  startedAt = Date.now(),
): Promise<number> {
  const report = await withDeps(
    settings,
    session,
    (deps) => autoCompact(settings, deps, { signal, progress: progressFor(session), startedAt }),
  )
  return printReport(report, settings, session, signal)
}
