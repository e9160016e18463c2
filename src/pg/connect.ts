/**
 * Opening Postgres pools with every wait bounded: a connect timeout, TCP keepalives (a peer that
 * vanished is noticed, not waited on for ever), and a URL that is checked before use and never
 * echoed, since it may hold the password.
 */
import postgres from "postgres"
import { CompactError } from "../errors.ts"

/** A postgres.js connection pool. */
export type Sql = postgres.Sql

/** Seconds to open a connection before giving up (RETRYABLE). */
export const CONNECT_TIMEOUT_S = 10
/** Seconds of silence before TCP keepalive probes start on a connection. */
export const KEEPALIVE_S = 30

/** The URL each pool was opened with (undefined: PG* variables), for the lock's own connection. */
const urls = new WeakMap<Sql, string | undefined>()

/** The options every connection shares; `extra` overrides. */
export function connectionOptions(extra: postgres.Options<Record<string, postgres.PostgresType>> = {}) {
  return {
    max: 3,
    onnotice: () => {},
    idle_timeout: 30,
    connect_timeout: CONNECT_TIMEOUT_S,
    keep_alive: KEEPALIVE_S,
    ...extra,
    connection: { application_name: "parquet_compact", ...extra.connection },
  }
}

/**
 * Opens a pool from a URL, or from the standard PG* variables when the URL is undefined. Throws
 * BAD_INPUT for a URL postgres.js cannot use, without repeating it.
 */
export function connect(
  url: string | undefined,
  extra: postgres.Options<Record<string, postgres.PostgresType>> = {},
): Sql {
  const options = connectionOptions(extra)
  if (url === undefined) return remember(postgres(options), url)
  const invalid = (why: string) =>
    new CompactError(
      "BAD_INPUT",
      `Cannot use the database URL: ${why}; fix DATABASE_URL or --database-url ` +
        "(postgres://USER:PASSWORD@HOST:PORT/DATABASE, special characters percent-encoded)",
    )
  if (!/^postgres(ql)?:\/\/./i.test(url)) throw invalid("it does not start with postgres:// or postgresql://")
  try {
    return remember(postgres(url, options), url)
  } catch {
    // the parser's message (an invalid URL, a bad percent escape) may quote the URL: not kept
    throw invalid("it cannot be parsed")
  }
}

function remember(sql: Sql, url: string | undefined): Sql {
  urls.set(sql, url)
  return sql
}

/** The URL a pool of {@link connect} was opened with; `null` for a pool opened elsewhere. */
export function urlOf(sql: Sql): string | undefined | null {
  return urls.has(sql) ? urls.get(sql) : null
}
