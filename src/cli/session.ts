/**
 * What every command shares: output with secrets removed, the logger, settings loading (config file,
 * environment, flags), and the one way a failed run is reported (a log line, and with `--json` a JSON
 * result on stdout). Commands in src/cli/ take a {@link Session}; cli.ts creates it.
 */
import { readFile } from "node:fs/promises"
import { configFromEnv, mergeLayers, type RangeRule, type Settings, validateSettings } from "../config.ts"
import { parseConfigFile } from "../config-file.ts"
import { CompactError, type ErrorCode, EXIT_CODES, exitCodeOf } from "../errors.ts"
import { createLogger, type LineFormat, type Logger, redactor, resolveFormat } from "../log.ts"
import type { RawConfig } from "../settings.ts"

/** Where output goes: one line at a time to stdout (`out`) and stderr (`err`). */
export interface Io {
  out(line: string): void
  err(line: string): void
  /** Whether stderr is a terminal; callers that pass their own sinks get human lines by default. */
  readonly isTerminal?: boolean
}

/** The result `--json` prints on stdout when a run fails. */
export interface FailureResult {
  readonly ok: false
  readonly exit_code: number
  readonly error: { readonly code: ErrorCode; readonly message: string }
}

/** Shared state of one CLI invocation. */
export interface Session {
  readonly env: Record<string, string | undefined>
  /** stdout and stderr with every secret removed. */
  readonly io: Io
  /** Log lines on stderr, in the settled format, with chain_id and dataset once they are known. */
  readonly logger: Logger
  /** The current line format (human or json). */
  format(): LineFormat
  /** Reads `--config`/`--node`, env and flags into validated settings; settles format and --json. */
  settings(options: Record<string, unknown>, rule?: RangeRule): Promise<Settings>
  /** Reports a failure (log line unless already printed; JSON result with --json); returns its exit code. */
  fail(error: unknown, printed?: boolean): number
}

const BOOL_TRUE = /^(true|1|yes)$/

/** A session over `io`, reading `env`; `argv` only hints --json and --log-format before parsing. */
export function openSession(argv: string[], env: Record<string, string | undefined>, raw: Io): Session {
  const redact = redactor(env)
  const io: Io = {
    out: (line) => raw.out(redact(line)),
    err: (line) => raw.err(redact(line)),
    isTerminal: raw.isTerminal ?? true,
  }
  const flagValue = (flag: string) => {
    const at = argv.findIndex((a) => a === flag || a.startsWith(flag + "="))
    if (at < 0) return undefined
    const arg = argv[at]!
    return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[at + 1]
  }
  redact.add(flagValue("--database-url"))
  let json = argv.includes("--json") || BOOL_TRUE.test(env.PARQUET_COMPACT_JSON ?? "")
  let setting = formatSetting(flagValue("--log-format") ?? env.PARQUET_COMPACT_LOG_FORMAT) ?? "auto"
  const format = () => resolveFormat(setting, io.isTerminal!)
  const context: Record<string, unknown> = {}
  const logger = createLogger({ write: io.err, format }, context)

  return {
    env,
    io,
    logger,
    format,
    async settings(options, rule) {
      const { config: file, node, from, to, ...flags } = options
      const fileLayer: RawConfig = typeof file === "string"
        ? parseConfigFile(await readConfigFile(file), file, typeof node === "string" ? node : undefined)
        : {}
      const merged = mergeLayers(fileLayer, configFromEnv(env), {
        ...flags,
        ...(from === undefined ? {} : { startBlock: from }),
        ...(to === undefined ? {} : { endBlock: to }),
      })
      // settle these before validating, so that a refusal is already reported as asked
      if (typeof merged.databaseUrl === "string") redact.add(merged.databaseUrl)
      setting = formatSetting(merged.logFormat) ?? setting
      json = merged.json === true || BOOL_TRUE.test(String(merged.json ?? "")) || json
      const settings = validateSettings(merged, rule)
      context.chain_id = settings.chainId.toString()
      context.dataset = settings.dataset
      return settings
    },
    fail(error, printed = false) {
      const exitCode = exitCodeOf(error)
      const message = describe(error, exitCode)
      if (!printed) logger.error(message)
      if (!(error instanceof CompactError) && error instanceof Error && env.PARQUET_COMPACT_DEBUG) {
        logger.error(error.stack ?? "")
      }
      if (json) {
        const result: FailureResult = {
          ok: false,
          exit_code: exitCode,
          error: { code: codeOf(error, exitCode), message },
        }
        io.out(JSON.stringify(result))
      }
      return exitCode
    },
  }
}

function formatSetting(value: unknown): "auto" | LineFormat | undefined {
  return value === "auto" || value === "human" || value === "json" ? value : undefined
}

/** The message of a failure, with what to do next for errors that are not our own. */
function describe(error: unknown, exitCode: number): string {
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof CompactError) return message
  if (exitCode === EXIT_CODES.RETRYABLE) return `Cannot finish the run: ${message}; it is worth retrying`
  return `Cannot finish the run: ${message}; check the connection settings and permissions`
}

/** The error code of a failure: a CompactError's own, else the one its exit code stands for. */
function codeOf(error: unknown, exitCode: number): ErrorCode {
  if (error instanceof CompactError) return error.code
  const entry = Object.entries(EXIT_CODES).find(([, code]) => code === exitCode)
  return (entry?.[0] ?? "RETRYABLE") as ErrorCode
}

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8")
  } catch (cause) {
    throw new CompactError("BAD_INPUT", `Cannot read config file "${path}": ${(cause as Error).message}`, {
      cause,
    })
  }
}
