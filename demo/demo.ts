/**
 * `make demo`: the compaction job on an embedded default, with nothing to install. PGlite (Postgres
 * compiled to WebAssembly) serves generated chain data on 127.0.0.1; `parquet_compact compact` runs
 * against it into a file:// destination; then the manifest and a few rows read back are shown.
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { parquetReadObjects } from "hyparquet"
import { mkdtemp, readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { main } from "../cli.ts"
import { openDatabase } from "../src/pg/hot.ts"
import { createHotTables, seedChain } from "../bench/datagen.ts"

const CHAIN = 10143n // Monad testnet: finality threshold 100 blocks by default

const db = await PGlite.create()
const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 8 })
await server.start()
const port = (server as unknown as { server: { address(): { port: number } } }).server.address().port
const url = `postgres://postgres@127.0.0.1:${port}/postgres`
const out = await mkdtemp(join(tmpdir(), "parquet_compact-demo-"))
let code = 1
try {
  const sql = openDatabase(url)
  await createHotTables(sql)
  const seeded = await seedChain(sql, { chainId: CHAIN, first: 0n, last: 2999n })
  await sql.end()
  console.error(
    `Seeded PGlite with ${seeded.blocks} blocks and ${seeded.logs} logs of chain ${CHAIN} (tip 2999)`,
  )

  const common = [
    "--chain-id",
    `${CHAIN}`,
    "--start-block",
    "0",
    "--end-block",
    "2499",
    "--partition-size",
    "1000",
  ]
  const dest = ["--dest", `file://${out}/cold`, "--database-url", url]
  for (const dataset of ["blocks", "logs"]) {
    console.error(
      `\n$ parquet_compact compact --dataset ${dataset} ${
        common.join(" ")
      } --chunk-size 1000 --dest file://${out}/cold`,
    )
    code = await main(["compact", "--dataset", dataset, ...common, "--chunk-size", "1000", ...dest], {})
    if (code !== 0) throw new Error(`compact ${dataset} exited ${code}`)
  }
  console.error(
    `\n$ parquet_compact compact --dataset blocks --start-block 2800 --end-block 2999 …  (not final yet)`,
  )
  const notFinal = await main([
    "compact",
    "--dataset",
    "blocks",
    ...common.slice(0, 2),
    "--start-block",
    "2800",
    "--end-block",
    "2999",
    ...dest,
  ], {})
  console.error(`exit code ${notFinal}`)

  const folder = join(out, "cold", `${CHAIN}`, "logs")
  const manifest = JSON.parse(await readFile(join(folder, "manifest.json"), "utf8"))
  console.log(`\n${folder}/manifest.json (first partition):`)
  console.log(
    JSON.stringify({ ...manifest, partitions: manifest.partitions.slice(0, 1), schema: undefined }, null, 2),
  )
  const first = manifest.partitions[0].files[0]
  const bytes = await readFile(join(out, "cold", first.key))
  const rows = await parquetReadObjects({
    file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    rowEnd: 3,
    utf8: false, // bytea columns stay bytes
  })
  const hex = (v: unknown) => (v instanceof Uint8Array ? "0x" + Buffer.from(v).toString("hex") : v)
  console.log(`\nFirst rows of ${first.key}:`)
  for (const row of rows) console.log(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, hex(v)])))
  console.log(`\nCold storage is in ${out}/cold`)
  code = 0
} finally {
  await server.stop()
  await db.close()
}
process.exit(code)
