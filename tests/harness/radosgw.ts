/**
 * A throwaway Ceph cluster serving S3 through radosgw, for the integration tests: one monitor,
 * one OSD on memstore (objects live in the OSD's memory), no cephx, pools of size 1, no mgr,
 * radosgw's beast frontend on a free port of 127.0.0.1. Everything (config, mon store, OSD,
 * sockets, logs) lives in one temp dir and every command gets `--conf` pointing at its
 * ceph.conf, so /etc/ceph is never read or written.
 *
 * Settings that matter (Ceph 16 "pacific", Debian 12):
 * - `ms_*_mode = crc`: daemons default to `secure` mode for monitor connections, which needs
 *   cephx session keys; with `auth * required = none` radosgw then fails authentication (-13)
 *   for 5 minutes instead of starting.
 * - `paxos propose interval` (default 1 s): radosgw creates its pools one monitor command at a
 *   time; with the default, startup takes ~10 s, with 0.01 s it takes well under 1 s.
 * - `osd pool default size/min size = 1`, `mon allow pool size one`, small pg counts.
 */
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3"
import { randomUUID } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type Daemon,
  type Env,
  freePorts,
  killDaemon,
  logTails,
  onCleanup,
  removeDir,
  run,
  startDaemon,
  waitFor,
} from "./proc.ts"

/** A running radosgw started by `startRadosgw`. */
export interface RadosgwService {
  /** http://127.0.0.1:PORT (use path-style addressing) */
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly region: string
  /** Kills the Ceph daemons and removes the cluster's directory. */
  stop(): Promise<void>
}

/** Options of `startRadosgw`. */
export interface RadosgwOptions {
  /** Give up starting after this many milliseconds (default 90 s). */
  readonly timeoutMs?: number
  /** Size of the in-memory OSD (default 4 GiB; memory is only used as objects are written). */
  readonly memstoreBytes?: number
}

const ACCESS_KEY_ID = "PARQUETCOMPACTTEST00"
const SECRET_ACCESS_KEY = "parquet-compact-test-secret-key-000000000"
const REGION = "us-east-1"

/** The Ceph programs the harness runs (Debian packages ceph-mon, ceph-osd, radosgw, ceph-common). */
const PROGRAMS = ["monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw", "radosgw-admin"] as const

function findProgram(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":").concat(["/usr/bin", "/usr/sbin"])) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}

function cephConf(
  dir: string,
  fsid: string,
  monPort: number,
  rgwPort: number,
  memstoreBytes: number,
): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
ms bind ipv6 = false

# No cephx: no keys to create. Connections must then use crc mode (secure mode needs cephx).
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
keyring = ${dir}/keyring

# Everything this cluster writes stays in ${dir}.
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
log to stderr = false
err to stderr = true
mon data = ${dir}/mon/$name
osd data = ${dir}/osd/$name
crash dir = ${dir}/crash

# One monitor, fast commits (radosgw creates its pools one command at a time).
paxos propose interval = 0.01
paxos min wait = 0.001
mon data avail warn = 1
mon data avail crit = 0
mon warn on insecure global id reclaim allowed = false
mon warn on pool no redundancy = false
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000

# One OSD in memory; pools of one replica.
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd op num shards = 2
osd op num threads per shard = 1
mon osd full ratio = 0.99
mon osd backfillfull ratio = 0.98
mon osd nearfull ratio = 0.97

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw thread pool size = 64
rgw dynamic resharding = false
`
}

/** Starts a throwaway Ceph cluster with radosgw and an S3 user; see the module doc. */
export async function startRadosgw(options: RadosgwOptions = {}): Promise<RadosgwService> {
  const timeoutMs = options.timeoutMs ?? 90_000
  const deadline = Date.now() + timeoutMs
  const left = () => Math.max(1_000, deadline - Date.now())
  const missing = PROGRAMS.filter((name) => findProgram(name) === undefined)
  if (missing.length > 0) {
    throw new Error(
      `Cannot find ${missing.join(", ")}: run "bash scripts/install-services.sh" (or "make setup")`,
    )
  }

  const dir = await mkdtemp(join(tmpdir(), "parquet-compact-ceph-"))
  const daemons: Daemon[] = []
  let stopped: Promise<void> | undefined
  const stop = () => (stopped ??= (async () => {
    // radosgw first, then the OSD, then the monitor; SIGKILL: nothing here is worth saving.
    for (const daemon of [...daemons].reverse()) await killDaemon(daemon)
    await removeDir(dir)
    unregister()
  })())
  const unregister = onCleanup(stop)
  const logDir = join(dir, "log")
  const conf = join(dir, "ceph.conf")
  const env: Env = { ...process.env, CEPH_CONF: conf }
  const ceph = (cmd: string, args: string[], timeout = left()) =>
    run(cmd, ["--conf", conf, ...args], { cwd: dir, env, timeoutMs: timeout })
  const daemon = (name: string, cmd: string, args: string[]) => {
    if (stopped !== undefined) throw new Error("stopped while starting")
    const started = startDaemon(name, cmd, ["--conf", conf, "-f", ...args], join(logDir, `${name}.out`), {
      cwd: dir,
      env,
    })
    daemons.push(started)
    return started
  }
  const died = () => {
    const dead = daemons.find((d) => d.exited !== undefined)
    return dead === undefined ? undefined : `${dead.name} exited (${dead.exited})`
  }

  try {
    for (const sub of ["run", "log", "mon", "osd/osd.0", "rgw", "crash"]) {
      await mkdir(join(dir, sub), { recursive: true })
    }
    const [monPort, rgwPort] = await freePorts(2)
    if (monPort === undefined || rgwPort === undefined) throw new Error("Cannot find free ports")
    const fsid = randomUUID()
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort, options.memstoreBytes ?? 4 * 1024 ** 3))
    await writeFile(join(dir, "keyring"), "")

    // Monitor.
    const monmap = join(dir, "monmap")
    await run(
      "monmaptool",
      ["--create", "--fsid", fsid, "--addv", "a", `[v2:127.0.0.1:${monPort}]`, monmap],
      {
        cwd: dir,
        env,
      },
    )
    await ceph("ceph-mon", ["--mkfs", "-i", "a", "--monmap", monmap])
    daemon("mon.a", "ceph-mon", ["-i", "a"])

    // OSD: register it (the ceph CLI waits for the monitor), make its store, start it.
    const osdUuid = randomUUID()
    const created = await ceph("ceph", [
      "--connect-timeout",
      `${Math.ceil(left() / 1000)}`,
      "osd",
      "new",
      osdUuid,
    ])
    const osdId = created.stdout.trim()
    if (osdId !== "0") throw new Error(`"ceph osd new" returned "${osdId}", expected 0`)
    await ceph("ceph-osd", ["-i", "0", "--mkfs", "--osd-uuid", osdUuid])
    daemon("osd.0", "ceph-osd", ["-i", "0"])

    // radosgw creates its pools and the default zone on start, then listens.
    daemon("client.rgw", "radosgw", ["-n", "client.rgw"])
    const endpoint = `http://127.0.0.1:${rgwPort}`
    await waitFor("radosgw HTTP", async () => {
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) })
      await response.body?.cancel()
      return true
    }, { timeoutMs: left(), abortIf: died })

    await ceph("radosgw-admin", [
      "user",
      "create",
      "--uid=test",
      "--display-name=test",
      `--access-key=${ACCESS_KEY_ID}`,
      `--secret-key=${SECRET_ACCESS_KEY}`,
    ])

    const client = new S3Client({
      endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 1,
    })
    try {
      await waitFor("radosgw S3 ListBuckets", async () => {
        await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(5_000) })
        return true
      }, { timeoutMs: left(), abortIf: died })
    } finally {
      client.destroy()
    }
    const dead = died()
    if (dead !== undefined) throw new Error(dead)

    return { endpoint, accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, region: REGION, stop }
  } catch (error) {
    const logs = logTails(
      ["mon.a", "osd.0", "client.rgw"].flatMap((
        name,
      ) => [join(logDir, `${name}.log`), join(logDir, `${name}.out`)]),
      20,
    )
    await stop()
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`radosgw did not start: ${message}${logs === "" ? "" : `\n${logs}`}`, { cause: error })
  }
}
