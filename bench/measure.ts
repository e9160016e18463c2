/**
 * Runs a shell pipeline with GNU time around each command: wall seconds, the peak RSS of its
 * heaviest process, CPU-seconds (user + sys) summed over its processes, and the last command's
 * stdout. CPU-seconds compare fairly on a machine shared with other work; wall time does not.
 * After each run, and outside its time, `sync` writes back what it left dirty.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

const TIME = "/usr/bin/time"

/** One measured run. */
export interface Measured {
  readonly seconds: number
  /** Peak RSS of the heaviest process, MiB. */
  readonly rssMb: number
  /** user + sys seconds of all the pipeline's processes. */
  readonly cpu: number
  readonly stdout: string
  /** Output bytes, when the caller knows them. */
  readonly bytes?: number
}

/**
 * Runs `script` (commands joined by " | ") under GNU time per command; its stdout is kept only when
 * `capture` (a COPY's output is not).
 */
export async function measure(
  script: string,
  { env = {}, capture = false }: { env?: Record<string, string>; capture?: boolean } = {},
): Promise<Measured> {
  if (!existsSync(TIME)) {
    throw new Error(`Cannot measure peak RSS: ${TIME} is missing; apt-get install -y time`)
  }
  const dir = await mkdtemp(join(tmpdir(), "bench-"))
  const timed = script.split(" | ").map((cmd, i) => `${TIME} -f "%M %U %S" -o ${dir}/time${i} ${cmd}`)
    .join(" | ")
  const started = performance.now()
  let stdout = ""
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", timed], {
      stdio: ["ignore", capture ? "pipe" : "ignore", "inherit"],
      env: { ...process.env, ...env },
    })
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.on(
      "exit",
      (code) => (code === 0 ? resolve() : reject(new Error(`Cannot finish "${script}": exit ${code}`))),
    )
  })
  const seconds = (performance.now() - started) / 1000
  // untimed: the run's dirty pages are written back now, not during the next run (the bench's
  // outputs are ~100 MB to 0.5 GB, whose writeback would otherwise land on whatever runs next)
  spawnSync("sync")
  let rssKb = 0
  let cpu = 0
  for (let i = 0; existsSync(`${dir}/time${i}`); i++) {
    const [kb = "0", user = "0", sys = "0"] = (await readFile(`${dir}/time${i}`, "utf8")).trim().split("\n")
      .at(-1)!
      .split(" ")
    rssKb = Math.max(rssKb, Number(kb))
    cpu += Number(user) + Number(sys)
  }
  await rm(dir, { recursive: true, force: true })
  return { seconds, rssMb: rssKb / 1024, cpu, stdout }
}

/** The run of median wall time of `runs` runs. */
export async function median(runs: number, label: string, f: () => Promise<Measured>): Promise<Measured> {
  const all: Measured[] = []
  for (let i = 0; i < runs; i++) {
    const m = await f()
    console.error(
      `  ${label} run ${i + 1}: ${m.seconds.toFixed(2)} s, ${m.rssMb.toFixed(0)} MiB, ${
        m.cpu.toFixed(1)
      } CPU-s`,
    )
    all.push(m)
  }
  all.sort((a, b) => a.seconds - b.seconds)
  return all[Math.floor(all.length / 2)]!
}
