/**
 * Structured log lines for people and for log collectors. The run loop logs through a {@link Logger};
 * the CLI decides the format (human lines on a terminal, JSON lines otherwise, fit for CloudWatch)
 * and passes every line it prints through a {@link redactor}, so credentials and connection
 * strings never leave the process, whatever an error message happens to quote.
 */

/** Fields a log line may carry; JSON lines print them as keys. */
export interface LogFields {
  readonly chain_id?: string
  readonly dataset?: string
  readonly partition?: string
  readonly rows?: number
  readonly bytes?: number
  readonly seconds?: number
  readonly [key: string]: unknown
}

/** Where the run loop reports progress. */
export interface Logger {
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

/** A logger that writes the bare message of every line to `write` (tests, simple callers). */
export function lineLogger(write: (line: string) => void): Logger {
  return { info: write, warn: write, error: write }
}

/** Severity of a line. */
export type Level = "info" | "warn" | "error"
/** How lines look: `human` (time, level, message, fields) or `json` (one object per line). */
export type LineFormat = "human" | "json"

/** The format `auto` means: people read a terminal, collectors read everything else. */
export const resolveFormat = (setting: "auto" | LineFormat, isTerminal: boolean): LineFormat =>
  setting === "auto" ? (isTerminal ? "human" : "json") : setting

// bigint block numbers print as decimal strings (JSON has no uint64)
const plain = (_key: string, value: unknown) => typeof value === "bigint" ? value.toString() : value

/** One log line in the given format. Pure: the time is a parameter. */
export function formatLine(
  format: LineFormat,
  level: Level,
  msg: string,
  fields: LogFields,
  at: Date,
): string {
  if (format === "json") return JSON.stringify({ ts: at.toISOString(), level, msg, ...fields }, plain)
  const extra = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" || typeof v === "bigint" ? v : JSON.stringify(v, plain)}`)
  const time = at.toISOString().replace(/\.\d+Z$/, "Z") // seconds: enough for people
  const [head, ...rest] = msg.split("\n") // fields stay on the first line of a multi-line message
  return [[time, level.toUpperCase().padEnd(5), head, ...extra].join(" "), ...rest].join("\n")
}

/** How {@link createLogger} writes. */
export interface LoggerOptions {
  readonly write: (line: string) => void
  /** Read at each line: the CLI settles the format once the settings are known. */
  readonly format: () => LineFormat
  readonly now?: () => Date
}

/** A logger writing formatted lines, each with `fields` merged under the line's own. */
export function createLogger(options: LoggerOptions, fields: LogFields = {}): Logger {
  const line = (level: Level) => (msg: string, own?: LogFields) =>
    options.write(formatLine(options.format(), level, msg, { ...fields, ...own }, (options.now ?? now)()))
  return { info: line("info"), warn: line("warn"), error: line("error") }
}

const now = () => new Date()

/** A logger that adds `fields` (e.g. chain_id and dataset) to every line of `logger`. */
export function withFields(logger: Logger, fields: LogFields): Logger {
  return {
    info: (msg, own) => logger.info(msg, { ...fields, ...own }),
    warn: (msg, own) => logger.warn(msg, { ...fields, ...own }),
    error: (msg, own) => logger.error(msg, { ...fields, ...own }),
  }
}

/** Variables whose values are secrets, or URLs that may hold one. */
export const SECRET_ENV = [
  "DATABASE_URL",
  "PARQUET_COMPACT_DATABASE_URL",
  "PGPASSWORD",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_ACCESS_KEY_ID",
] as const

/** Shorter values would blank out ordinary words; URL passwords are caught by their shape anyway. */
const MIN_SECRET = 6

/** Removes secrets from text; more can be added once the settings are read. */
export interface Redactor {
  (text: string): string
  /** Treats `value` as a secret from now on: whole, and a URL's password alone. */
  add(value: string | undefined): void
}

/**
 * A {@link Redactor} for the values of {@link SECRET_ENV} in `env`, which also replaces the
 * password of any `scheme://user:password@` it sees.
 */
export function redactor(env: Record<string, string | undefined>): Redactor {
  const secrets = new Set<string>()
  let values: string[] = []
  const redact = ((text: string): string => {
    let out = text
    for (const secret of values) out = out.replaceAll(secret, "***")
    return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@"']*:)[^\s@"']*@/gi, "$1***@")
  }) as Redactor
  redact.add = (value) => {
    if (!value) return
    secrets.add(value)
    try {
      const url = new URL(value)
      if (url.password) secrets.add(url.password).add(decodeURIComponent(url.password))
      secrets.add(url.toString()) // the same URL as a URL object prints it
    } catch {
      // not a URL: the whole value is the secret
    }
    // longest first: a URL goes whole before its password alone could leave parts of it behind
    values = [...secrets].filter((s) => s.length >= MIN_SECRET).sort((a, b) => b.length - a.length)
  }
  for (const name of SECRET_ENV) redact.add(env[name])
  return redact
}
