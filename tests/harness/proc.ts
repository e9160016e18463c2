/**
 * Process helpers shared by the service harnesses: run a command to completion, start a
 * daemon with its output in a log file, pick free ports, read log tails, and a registry of
 * cleanups that `tests/run.ts` runs on SIGINT/SIGTERM.
 */
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process"
import { closeSync, openSync, readFileSync } from "node:fs"
import { rm } from "node:fs/promises"
import { createServer, type Server } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { Buffer } from "node:buffer"

/** Environment variables for a child process. */
export type Env = Record<string, string | undefined>

/** Output of a finished command. */
export interface RunResult {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of `run`. */
export interface RunOptions {
  readonly cwd?: string
  readonly env?: Env
  /** Kill the command (SIGKILL) after this many milliseconds; default 60 s. */
  readonly timeoutMs?: number
  /** Resolve even when the command exits non-zero (default: reject). */
  readonly allowFailure?: boolean
}

/** Commands started by `run` that have not finished yet (`runCleanups` kills them). */
const running = new Map<ChildProcess, Promise<void>>()

/** Runs `cmd args` to completion and returns its output; rejects on a non-zero exit unless allowed. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000
  return new Promise((resolve, reject) => {
    // Own process group: runCleanups can kill the command with its children (runuser → initdb).
    const spawnOptions: SpawnOptions = { stdio: ["ignore", "pipe", "pipe"], detached: true }
    if (options.cwd !== undefined) spawnOptions.cwd = options.cwd
    if (options.env !== undefined) spawnOptions.env = options.env
    const child = spawn(cmd, args, spawnOptions)
    running.set(child, new Promise((resolve) => child.on("close", () => resolve())))
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child)
    }, timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      running.delete(child)
      reject(new Error(`Cannot run ${cmd}: ${error.message}`, { cause: error }))
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }
      if (timedOut) {
        reject(new Error(`${describe(cmd, args)} timed out after ${timeoutMs} ms\n${output(result)}`))
      } else if (code !== 0 && !options.allowFailure) {
        const how = signal === null ? `exit code ${code}` : `signal ${signal}`
        reject(new Error(`${describe(cmd, args)} failed (${how})\n${output(result)}`))
      } else {
        resolve(result)
      }
    })
  })
}

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].join(" ")
}

function output(result: RunResult): string {
  return [result.stdout.trim(), result.stderr.trim()].filter((s) => s !== "").join("\n")
}

/** A long-running process started by `startDaemon`. */
export interface Daemon {
  readonly name: string
  readonly child: ChildProcess
  /** Set once the process has exited (code or signal). */
  exited: string | undefined
  readonly done: Promise<void>
}

/**
 * Starts `cmd args` in its own process group (so a Ctrl-C aimed at the test runner does not
 * hit it before the runner can stop it in order) with stdout and stderr appended to `logFile`.
 */
export function startDaemon(
  name: string,
  cmd: string,
  args: readonly string[],
  logFile: string,
  options: { cwd: string; env?: Env },
): Daemon {
  const fd = openSync(logFile, "a")
  try {
    const spawnOptions: SpawnOptions = { stdio: ["ignore", fd, fd], detached: true, cwd: options.cwd }
    if (options.env !== undefined) spawnOptions.env = options.env
    const child = spawn(cmd, args, spawnOptions)
    let markDone: () => void = () => {}
    const done = new Promise<void>((resolve) => (markDone = resolve))
    const daemon: Daemon = { name, child, exited: undefined, done }
    child.on("error", (error) => {
      daemon.exited = `could not start: ${error.message}`
      markDone()
    })
    child.on("exit", (code, signal) => {
      daemon.exited = signal === null ? `exit code ${code}` : `signal ${signal}`
      markDone()
    })
    return daemon
  } finally {
    closeSync(fd)
  }
}

/** Sends SIGKILL to the process group led by `child` (spawned with `detached: true`). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {
    child.kill("SIGKILL")
  }
}

/** Kills a daemon's process group with SIGKILL and waits (at most 10 s) until it is gone. */
export async function killDaemon(daemon: Daemon): Promise<void> {
  if (daemon.exited === undefined) killGroup(daemon.child)
  await withTimeout(daemon.done, 10_000)
}

/** Waits for `promise` at most `ms` milliseconds; resolves to whether it settled in time. */
export async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true, () => true), expired])
  } finally {
    clearTimeout(timer)
  }
}

/** Ports that were free on 127.0.0.1 a moment ago (all held open together, so distinct). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => resolve())
      })
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("Cannot read a listening port")
      ports.push(address.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
  }
}

/** The last `lines` lines of a text file, or "" when it cannot be read. */
export function tailFile(path: string, lines = 25): string {
  try {
    const text = readFileSync(path, "utf8").trimEnd()
    if (text === "") return ""
    return text.split("\n").slice(-lines).join("\n")
  } catch {
    return ""
  }
}

/** Formats the tails of log files for an error message, skipping empty or missing ones. */
export function logTails(paths: readonly string[], lines = 25): string {
  const parts: string[] = []
  for (const path of paths) {
    const tail = tailFile(path, lines)
    if (tail !== "") parts.push(`--- last lines of ${path} ---\n${tail}`)
  }
  return parts.join("\n")
}

/** Removes a directory tree, ignoring a missing one. */
export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 })
}

/** Polls `probe` every `intervalMs` until it returns true; throws the last error after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; abortIf?: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let last: unknown = undefined
  for (;;) {
    const abort = options.abortIf?.()
    if (abort !== undefined) throw new Error(`${what}: ${abort}`)
    try {
      if (await probe()) return
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : last === undefined ? "" : `: ${String(last)}`
      throw new Error(`${what}: not ready after ${options.timeoutMs} ms${why}`)
    }
    await sleep(options.intervalMs ?? 100)
  }
}

const cleanups = new Set<() => Promise<void>>()

/**
 * Registers a cleanup to run by `runCleanups` (the runner calls it on SIGINT/SIGTERM even while
 * services are still starting); the returned function unregisters it.
 */
export function onCleanup(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup)
  return () => cleanups.delete(cleanup)
}

/** Runs (once) every registered cleanup, in parallel; errors are printed, not thrown. */
export async function runCleanups(): Promise<void> {
  // Setup steps still running (initdb, ceph-osd --mkfs, ...) would only race with the cleanups.
  const steps = [...running.values()]
  for (const child of running.keys()) killGroup(child)
  await withTimeout(Promise.all(steps), 10_000)
  const pending = [...cleanups]
  cleanups.clear()
  const results = await Promise.allSettled(pending.map((cleanup) => cleanup()))
  for (const result of results) {
    if (result.status === "rejected") console.error(`cleanup failed: ${String(result.reason)}`)
  }
}

/** Whether this process runs as root (then Postgres must run as the `postgres` user). */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0
}
