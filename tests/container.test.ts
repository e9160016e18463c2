/**
 * The container image's contents, without a container engine (none runs here): the root the
 * Dockerfile ships (scripts/image-root.sh: the binary, the C library files it links, CA certificates,
 * passwd) with /proc and /dev mounted as a runtime does, entered with chroot as the image's
 * unprivileged user on a read-only root, compacting against the real services with the design's DAG file as its config.
 * Needs root (mount, chroot) and dist/parquet_compact (make build).
 */
import { after, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { createHotTables, seedChain } from "../bench/datagen.ts"
import { parseManifest } from "../src/core/manifest.ts"
import type { Sql } from "../src/pg/hot.ts"
import { freshBucket, freshDatabase, s3Flags } from "./helpers.ts"
import { DAG_FILE } from "./dag.fixture.ts"

const BINARY = resolve("dist/parquet_compact")
const USER = "65532:65532" // the Dockerfile's USER

const pools: Sql[] = []
after(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

function sh(command: string, args: string[]) {
  const out = spawnSync(command, args, { encoding: "utf8", timeout: 60_000 })
  assert.equal(out.status, 0, `${command} ${args.join(" ")}: ${out.stderr}`)
}

/** Every file under dir, relative to it. */
function files(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, join(prefix, e.name)) : [join(prefix, e.name)]
  )
}

describe("container image root", () => {
  it("is what the Dockerfile ships: this root, from scratch, as this user, the binary as entrypoint", () => {
    const dockerfile = readFileSync("Dockerfile", "utf8")
    const [build, runtime] = dockerfile.split(/^FROM scratch$/m) as [string, string | undefined]
    assert.ok(runtime !== undefined, "the runtime stage is FROM scratch")
    assert.match(
      build,
      /RUN make build \\\n.*\n\s+&& sh scripts\/image-root\.sh \/image dist\/parquet_compact\n/,
    )
    assert.deepEqual(runtime.split("\n").filter((l) => /^[A-Z]/.test(l)), [
      "COPY --from=build /image/ /",
      "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\",
      `USER ${USER}`,
      'ENTRYPOINT ["/usr/local/bin/parquet_compact"]',
      'CMD ["compact"]',
    ])
    assert.match(runtime, /^ {2}HOME=\/home\/nonroot$/m)
  })

  it("runs compact from the DAG file, unprivileged on a read-only root holding only the binary, libc and CA certificates", async () => {
    assert.ok(existsSync(BINARY), `Cannot find ${BINARY}: run make build before the tests`)
    assert.equal(process.getuid?.(), 0, "mount and chroot need root (CI runs as root)")
    const db = await freshDatabase()
    pools.push(db.sql)
    await createHotTables(db.sql)
    await seedChain(db.sql, { chainId: 10143n, first: 0n, last: 299n })
    const { bucket, store } = await freshBucket()

    const root = mkdtempSync(join(tmpdir(), "image-"))
    chmodSync(root, 0o755)
    const mounted: string[] = []
    try {
      sh("sh", ["scripts/image-root.sh", root, BINARY])
      const shipped = files(root).sort()
      assert.deepEqual(shipped.filter((f) => !/^(lib|lib64|usr\/lib)\//.test(f)), [
        "etc/group",
        "etc/passwd",
        "etc/ssl/certs/ca-certificates.crt",
        "usr/local/bin/parquet_compact",
      ])
      assert.ok(
        shipped.some((f) => /libc\.so\.6$/.test(f)) && shipped.some((f) => /ld-linux/.test(f)),
        `${shipped}`,
      )
      mkdirSync(join(root, "etc/parquet_compact"))
      writeFileSync(join(root, "etc/parquet_compact/dag.yaml"), DAG_FILE)
      for (const dir of ["proc", "dev"]) mkdirSync(join(root, dir))
      // read-only, as ECS readonlyRootFilesystem (docs/DEPLOY.md) makes it: the binary writes nothing
      sh("mount", ["--bind", root, root])
      mounted.push(root)
      sh("mount", ["-o", "remount,bind,ro", root])
      sh("mount", ["-t", "proc", "proc", join(root, "proc")])
      mounted.push(join(root, "proc"))
      sh("mount", ["--bind", "/dev", join(root, "dev")])
      mounted.push(join(root, "dev"))

      const argv = [
        "compact",
        "--config",
        "/etc/parquet_compact/dag.yaml",
        "--dest",
        `s3://${bucket}/cold`,
        ...s3Flags,
      ]
      const run = spawnSync("chroot", [
        `--userspec=${USER}`,
        root,
        "/usr/local/bin/parquet_compact",
        ...argv,
        "--json",
      ], {
        env: {
          PATH: process.env.PATH, // to find chroot itself; the image has nothing else to find
          HOME: "/home/nonroot", // as the Dockerfile's ENV
          NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt",
          DATABASE_URL: db.url,
          // activation: reactive is auto mode: the ready whole partitions of this size
          PARQUET_COMPACT_PARTITION_SIZE: "200",
          AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
          AWS_REGION: process.env.AWS_REGION,
        },
        encoding: "utf8",
        timeout: 60_000,
      })
      assert.equal(run.status, 0, `${run.error ?? ""} ${run.stderr}`)
      assert.equal(JSON.parse(run.stdout.trim().split("\n").at(-1)!).rows, 200)
      for (const line of run.stderr.trim().split("\n")) assert.equal(JSON.parse(line).level, "info") // a pipe: JSON
    } finally {
      for (const dir of mounted.reverse()) spawnSync("umount", [dir])
      // never delete through a mount that did not come off (that would reach the host's /dev)
      const left = spawnSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" }).stdout
      if (!left.includes(root)) rmSync(root, { recursive: true, force: true })
    }

    const object = await store.get("cold/10143/blocks/manifest.json")
    assert.ok(object, "the manifest exists")
    const manifest = parseManifest(new TextDecoder().decode(object.bytes))
    assert.deepEqual(manifest.partitions.map((p) => [p.partition_key, p.row_count]), [["0-199", 200]])
    const [hot] = await db.sql`SELECT count(*)::int AS n, min(block_number)::int AS first FROM hot_blocks`
    assert.deepEqual([hot?.n, hot?.first], [100, 200]) // delete_after_compact: true in the DAG node
  })
})
