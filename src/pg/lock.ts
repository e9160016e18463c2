/**
 * Session-level advisory locks, on a connection of their own. Killing that connection's backend
 * (pg_terminate_backend, a failover, a network cut) must end the run with RETRYABLE, never hang
 * it: postgres.js 3.4 hangs (and once spun at 100 % CPU) on a query sent over a *reserved*
 * connection whose socket has closed (`TypeError: null is not an object (evaluating 'socket.write')`
 * in a timer). So the lock lives on a one-connection pool whose `onclose` marks the lock lost before
 * any further query is sent, and every query of the lock session runs under a deadline.
 */
import postgres from "postgres"
import { CompactError } from "../errors.ts"
import { sleep, withDeadline } from "../deadline.ts"
import { connect, type Sql, urlOf } from "./connect.ts"

/** Milliseconds any one query of a lock session may take before the session counts as lost. */
export const LOCK_QUERY_MS = 15_000

/** A session-level advisory lock held on a connection of its own until released. */
export interface Lock {
  /** Throws RETRYABLE unless the lock's session is still the one that took it and still holds it. */
  assertHeld(): Promise<void>
  /** Unlocks and closes the session; never throws, never waits longer than LOCK_QUERY_MS. */
  release(): Promise<void>
}

const lostError = (name: string, cause?: unknown) =>
  new CompactError(
    "RETRYABLE",
    `Cannot go on under lock "${name}": its Postgres session was lost; nothing was deleted, rerun the range`,
    { cause },
  )

/**
 * Takes the advisory lock named `name`, polling until `timeoutSeconds` have passed (0: try once).
 * Throws LOCKED when another session holds it. The session opts out of `idle_session_timeout`,
 * since it sits idle while rows are copied and uploaded, and has a short `statement_timeout`.
 */
export async function advisoryLock(sql: Sql, name: string, timeoutSeconds: number): Promise<Lock> {
  const url = urlOf(sql)
  let lost = false
  let acquired = false // before, a failure is the connection's own (refused, bad password): kept as it is
  const session = url === null ? await reserved(sql, name) : connect(url, {
    max: 1,
    idle_timeout: null, // the client must not close an idle lock session, nor recycle it
    max_lifetime: null,
    fetch_types: false, // its queries return booleans and integers: no catalogue round trip first
    // named so that operators (and the fault tests) can tell lock sessions apart in pg_stat_activity
    connection: { application_name: "parquet_compact lock", statement_timeout: LOCK_QUERY_MS },
    onclose: () => (lost = true),
  } as unknown as postgres.Options<Record<string, postgres.PostgresType>>)
  const close = async () => {
    if ("release" in session) (session as postgres.ReservedSql).release()
    else await withDeadline(session.end({ timeout: 1 }), LOCK_QUERY_MS, () => undefined).catch(() => {})
  }
  const query = async <T extends readonly postgres.MaybeRow[]>(run: () => Promise<T>): Promise<T> => {
    if (lost && acquired) throw lostError(name)
    try {
      return await withDeadline(run(), LOCK_QUERY_MS, () => lostError(name))
    } catch (error) {
      if (error instanceof CompactError || !acquired) throw error
      throw lostError(name, error)
    }
  }
  const deadline = Date.now() + timeoutSeconds * 1000
  let pid: number
  try {
    await query(() => session.unsafe("SET idle_session_timeout = 0")).catch(() => {}) // PostgreSQL 14+
    for (;;) {
      const [row] = await query(() =>
        session`SELECT pg_try_advisory_lock(hashtextextended(${name}, 0)) AS ok, pg_backend_pid() AS pid`
      )
      if (row?.ok) {
        pid = row.pid
        acquired = true
        break
      }
      if (Date.now() >= deadline) {
        throw new CompactError(
          "LOCKED",
          `Cannot take lock "${name}": another parquet_compact run holds it; retry when it has finished`,
        )
      }
      await sleep(200)
    }
  } catch (error) {
    await close()
    throw error
  }
  return {
    async assertHeld() {
      // a dropped connection would be reopened silently as a new backend without the lock: compare pids
      const [row] = await query(() =>
        session`
        SELECT pg_backend_pid() = ${pid} AND EXISTS (
          SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
        ) AS held`
      )
      if (!row?.held) throw lostError(name)
    },
    async release() {
      try {
        if (!lost) await query(() => session`SELECT pg_advisory_unlock(hashtextextended(${name}, 0))`)
      } catch {
        // the lock goes with its session; a failed unlock must not hide the run's own outcome
      } finally {
        await close()
      }
    },
  }
}

/** A pool not opened by connect(): fall back to one of its connections, reserved (deadline-bounded). */
async function reserved(sql: Sql, name: string): Promise<postgres.ReservedSql> {
  return await withDeadline(sql.reserve(), LOCK_QUERY_MS, () => lostError(name))
}
