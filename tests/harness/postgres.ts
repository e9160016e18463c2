/**
 * A throwaway PostgreSQL 15 server for the integration tests: initdb into a fresh temp dir,
 * listen on a free port of 127.0.0.1 (unix socket in the temp dir), durability switched off.
 * As root, initdb and pg_ctl run as the `postgres` user (Postgres refuses to run as root).
 */
import { appendFile, chmod, mkdtemp, readFile, writeFile } from "node:fs/promises"
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePorts, isRoot, logTails, onCleanup, removeDir, run, type RunOptions } from "./proc.ts"

/** The Debian location of the PostgreSQL 15 binaries (`scripts/install-services.sh` installs them). */
export const PG_BIN = "/usr/lib/postgresql/15/bin"

/** Name of the database created for the tests. */
export const TEST_DATABASE = "parquet_compact_test"

/** A running Postgres started by `startPostgres`. */
export interface PostgresService {
  /** postgres://postgres@127.0.0.1:PORT/parquet_compact_test */
  readonly url: string
  /** Stops the server (pg_ctl stop -m fast) and removes its directory. */
  stop(): Promise<void>
}

/** Kills the postmaster named by a postmaster.pid that pg_ctl stop left behind. */
async function killLeftover(pidFile: string): Promise<void> {
  let pid: number
  try {
    pid = Number.parseInt((await readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10)
  } catch {
    return
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

/** Starts a fresh PostgreSQL 15 with a `parquet_compact_test` database; see the module doc. */
export async function startPostgres(options: { timeoutMs?: number } = {}): Promise<PostgresService> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const initdb = join(PG_BIN, "initdb")
  if (!existsSync(initdb)) {
    throw new Error(`Cannot find ${initdb}: run "bash scripts/install-services.sh" (or "make setup")`)
  }
  const dir = await mkdtemp(join(tmpdir(), "parquet-compact-pg-"))
  const data = join(dir, "data")
  const logFile = join(dir, "postgres.log")
  const root = isRoot()
  // Postgres runs as `postgres` when we are root: it must own the directory.
  if (root) {
    await run("chown", ["postgres:postgres", dir])
    await chmod(dir, 0o700)
  }
  const asOwner = (cmd: string, args: string[], opts: RunOptions = {}) =>
    root
      ? run("runuser", ["-u", "postgres", "--", cmd, ...args], { cwd: dir, ...opts })
      : run(cmd, args, { cwd: dir, ...opts })

  let stopped: Promise<void> | undefined
  let starting: Promise<unknown> | undefined
  const stop = () => (stopped ??= (async () => {
    if (starting !== undefined) {
      await starting.catch(() => {})
      await asOwner(join(PG_BIN, "pg_ctl"), ["-D", data, "stop", "-m", "fast", "-w", "-t", "30"], {
        allowFailure: true,
        timeoutMs: 40_000,
      })
      await killLeftover(join(data, "postmaster.pid"))
    }
    await removeDir(dir)
    unregister()
  })())
  const unregister = onCleanup(stop)

  try {
    await asOwner(initdb, [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ], { timeoutMs })
    // TLS with a throwaway self-signed certificate (for 127.0.0.1 and localhost), and roles that
    // must log in with a password (md5, scram-sha-256, cleartext) or over TLS, for the COPY client
    // of src/pg/wire.ts (tests/wire.test.ts creates the roles); everyone else keeps trust.
    await asOwner("openssl", [
      "req",
      "-x509",
      ...["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"],
      ...["-keyout", join(data, "server.key"), "-out", join(data, "server.crt"), "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ], { timeoutMs })
    await asOwner("chmod", ["600", join(data, "server.key")])
    const hba = join(data, "pg_hba.conf")
    await writeFile(
      hba,
      [
        "hostssl all wire_tls 127.0.0.1/32 scram-sha-256",
        "host all wire_tls 127.0.0.1/32 reject",
        "host all wire_md5 127.0.0.1/32 md5",
        "host all wire_scram 127.0.0.1/32 scram-sha-256",
        "host all wire_clear 127.0.0.1/32 password",
        await readFile(hba, "utf8"),
      ].join("\n"),
    )
    const [port] = await freePorts(1)
    if (port === undefined) throw new Error("Cannot find a free port")
    await appendFile(
      join(data, "postgresql.conf"),
      [
        "",
        "# parquet_compact test harness",
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir.replaceAll("'", "''")}'`,
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "max_connections = 200",
        "ssl = on",
        "ssl_cert_file = 'server.crt'",
        "ssl_key_file = 'server.key'",
        "",
      ].join("\n"),
    )
    if (stopped !== undefined) throw new Error("stopped while starting")
    const pgCtlArgs = ["-D", data, "-l", logFile, "-w", "-t", `${Math.ceil(timeoutMs / 1000)}`, "start"]
    starting = asOwner(join(PG_BIN, "pg_ctl"), pgCtlArgs, { timeoutMs: timeoutMs + 5_000 })
    await starting
    // pg_ctl -w waited until it accepts connections; createdb proves it over TCP.
    await run(
      join(PG_BIN, "createdb"),
      ["-h", "127.0.0.1", "-p", `${port}`, "-U", "postgres", TEST_DATABASE],
      {
        timeoutMs,
      },
    )
    return { url: `postgres://postgres@127.0.0.1:${port}/${TEST_DATABASE}`, stop }
  } catch (error) {
    const logs = logTails([logFile])
    await stop()
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`Postgres did not start: ${message}${logs === "" ? "" : `\n${logs}`}`, { cause: error })
  }
}
