/**
 * The reader matrix: the all-types table, compacted by the compiled binary (make build) into a
 * file:// folder, read back value by value by hyparquet, DuckDB, pyarrow, polars and fastparquet
 * and compared with what Postgres holds, through the recipes of docs/READING.md (folder glob,
 * pyarrow dataset with exclude_invalid_files, the files manifest.json names). fastparquet is held
 * to its documented lossy mappings, not skipped.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { parquetMetadata } from "hyparquet"
import type { Sql } from "../src/pg/hot.ts"
import { type ColumnSpec, describeTable } from "../src/pg/schema.ts"
import { encodeParquetFiles } from "../src/parquet/encode.ts"
import { createAllTypes, normalizeRef, referenceRows, renderValue } from "./alltypes.fixture.ts"
import { IDENTITY_COLUMNS, IDENTITY_OPTIONS, identityBatches, identityColumns } from "./identity.fixture.ts"
import { freshDatabase } from "./helpers.ts"
import {
  fastparquetExpected,
  fastparquetGot,
  polarsExpected,
  readDuck,
  readHyparquet,
  readPython,
  type Rendered,
} from "./readers.fixture.ts"

const BINARY = resolve("dist/parquet_compact")

/** A file's footer as tests/readers.py "footer" prints it (byte values as hex). */
interface Footer {
  created_by: string
  column_orders: boolean[]
  chunks: {
    path: string
    min: string | null
    max: string | null
    min_value: string | null
    max_value: string | null
  }[]
}
const dir = mkdtempSync(join(tmpdir(), "readers-"))
const dataset = join(dir, "1", "blocks")
let sql: Sql
let columns: ColumnSpec[]
let expected: Rendered
let files: string[] // the paths manifest.json names, in order

before(async () => {
  const db = await freshDatabase()
  sql = db.sql
  await createAllTypes(sql, "rm")
  columns = (await describeTable(sql, "rm.t")).columns
  const ref = await referenceRows(sql, "rm", columns)
  expected = Object.fromEntries(
    columns.map((c) => [c.name, ref.map((r) => normalizeRef(c, r[c.name] ?? null))]),
  )
  // 10 rows in files of 3, 3, 3 and 1 rows, row groups of 2: several files, groups and a 1-row file
  const run = spawnSync(BINARY, [
    "compact",
    ...["--chain-id", "1", "--dataset", "blocks", "--source-table", "rm.t", "--blocks-table", "rm.t"],
    ...["--block-column", "id", "--start-block", "1", "--end-block", "10", "--tip", "10"],
    ...["--finality-threshold", "0", "--chunk-size", "3", "--row-group-size", "2"],
    ...["--dest", `file://${dir}`, "--database-url", db.url],
  ], { encoding: "utf8", timeout: 60_000 })
  assert.equal(run.status, 0, `Cannot compact with ${BINARY} (make build first): ${run.stderr}`)
  const manifest = JSON.parse(readFileSync(join(dataset, "manifest.json"), "utf8"))
  files = manifest.partitions.flatMap((p: { files: { key: string }[] }) =>
    p.files.map((f) => join(dir, f.key))
  )
  assert.equal(files.length, 4)
})

after(async () => {
  await sql?.end()
  rmSync(dir, { recursive: true, force: true })
})

/** Asserts every column of `got` equals `want(column, Postgres value)` row by row. */
function assertColumns(
  reader: string,
  got: Rendered,
  want: (c: ColumnSpec, pg: unknown) => unknown = (_, pg) => pg,
  gotOf: (c: ColumnSpec, v: unknown, pg: unknown) => unknown = (_, v) => v,
) {
  for (const c of columns) {
    assert.ok(got[c.name], `${reader}: no column ${c.name}`)
    assert.deepEqual(
      got[c.name]!.map((v, i) => gotOf(c, v, expected[c.name]![i])),
      expected[c.name]!.map((pg) => want(c, pg)),
      `${reader}: column ${c.name} (${c.pgType})`,
    )
  }
}

describe("reader matrix on the binary's files", () => {
  it("writes v1 data pages; column_orders and min_value/max_value (never the legacy min/max)", () => {
    const footers = readPython("footer", files) as unknown as Footer[]
    for (const [i, path] of files.entries()) {
      const meta = parquetMetadata(readFileSync(path).buffer as ArrayBuffer)
      const footer = footers[i]!
      for (const group of meta.row_groups) {
        for (const chunk of group.columns) {
          const pages = chunk.meta_data!.encoding_stats!.filter((s) => s.page_type !== "DICTIONARY_PAGE")
          assert.deepEqual(
            pages.map((s) => s.page_type),
            ["DATA_PAGE"],
            chunk.meta_data!.path_in_schema.join("."),
          )
        }
      }
      const leaves = meta.schema.filter((e) => e.type !== undefined).length
      assert.deepEqual(footer.column_orders, Array(leaves).fill(true), "TYPE_DEFINED_ORDER per leaf")
      assert.ok(footer.chunks.every((c) => c.min === null && c.max === null), "no legacy min/max")
    }
    // row group 1 of file 1: c_text holds only row 1's text (row 2 is NULL); the bound is cut to 16
    // bytes, the max incremented in its last byte
    const text = footers[0]!.chunks.find((c) => c.path === "c_text")!
    assert.equal(text.min_value, Buffer.from("héllo wörld ").toString("hex"))
    assert.equal(text.max_value, Buffer.from("héllo wörld!").toString("hex"))
  })

  it("hyparquet reads every value as Postgres holds it", async () => {
    assertColumns("hyparquet", await readHyparquet(columns, files.map((f) => readFileSync(f))))
  })

  it("DuckDB reads every value, from the folder glob and from the manifest's list", async () => {
    assertColumns("duckdb glob", await readDuck(columns, `read_parquet('${dataset}/*.parquet')`, `src."id"`))
    const list = files.map((f) => `'${f}'`).join(", ")
    assertColumns("duckdb list", await readDuck(columns, `read_parquet([${list}])`, `src."id"`))
  })

  it("pyarrow reads every value, file by file and as a dataset of the folder", () => {
    assertColumns("pyarrow", readPython("pyarrow", files))
    assertColumns("pyarrow dataset", readPython("pyarrow-dataset", [dataset]))
  })

  it("polars reads every value (JSON as Binary), file by file and by folder glob", () => {
    assertColumns("polars", readPython("polars", files), polarsExpected)
    assertColumns("polars scan", readPython("polars-scan", [dataset]), polarsExpected)
  })

  it("fastparquet reads every value, lossy only as documented", () => {
    assertColumns("fastparquet", readPython("fastparquet", files), fastparquetExpected, fastparquetGot)
  })
})

describe("docs/READING.md recipes", () => {
  // <!-- tested: NAME --> then a fenced block: run with /data/cold… pointing at the binary's folder
  const doc = readFileSync("docs/READING.md", "utf8")
  const recipes = [...doc.matchAll(/<!-- tested: ([a-z-]+) -->\s*```(sql|python)\n([\s\S]*?)```/g)]
  const local = (code: string) =>
    code.replaceAll("/data/cold/10143/logs", dataset).replaceAll("10143/logs", "1/blocks").replaceAll(
      "/data/cold",
      dir,
    )

  it("marks the DuckDB, pyarrow and polars recipes as tested", () => {
    assert.deepEqual(recipes.map((r) => r[1]), [
      "duckdb-glob",
      "duckdb-manifest",
      "pyarrow-dataset",
      "pyarrow-manifest",
      "polars-glob",
      "polars-manifest",
    ])
  })

  it("reads all 10 rows and every column with each recipe", async () => {
    for (const [, name, language, code] of recipes) {
      let shape: [number, number]
      if (language === "sql") {
        const db = await DuckDBInstance.create(":memory:")
        const con = await db.connect()
        const result = await con.runAndReadAll(local(code!))
        shape = [result.currentRowCount, result.columnCount]
        con.closeSync()
      } else {
        const tail =
          `\nimport json\nprint(json.dumps([len(table), len(getattr(table, "column_names", None) or table.columns)]))`
        const run = spawnSync(resolve(".venv/bin/python"), ["-c", local(code!) + tail], {
          encoding: "utf8",
          timeout: 60_000,
        })
        assert.equal(run.status, 0, `${name}: ${run.stderr}`)
        shape = JSON.parse(run.stdout)
      }
      assert.deepEqual(shape, [10, columns.length], `recipe ${name}`)
    }
  })
})

describe("reader matrix on multi-page chunks, dictionaries and both page versions", () => {
  // 5000 seeded rows of every kind in 2 row groups: dictionary pages, several data pages per
  // chunk (the 4 kB "data" column), RLE runs and bit-packed levels
  const rows = 5000
  const input = identityColumns(rows)
  const want: Rendered = Object.fromEntries(
    IDENTITY_COLUMNS.map((
      c,
      j,
    ) => [c.name, Array.from(input[j] as ArrayLike<unknown>, (v) => renderValue(c, v))]),
  )
  const order = `src."block_number", src."log_index"`
  const paths: Record<1 | 2, string> = {
    1: join(dir, "identity-v1.parquet"),
    2: join(dir, "identity-v2.parquet"),
  }

  before(async () => {
    for (const pageVersion of [1, 2] as const) {
      const source = async function* () {
        yield* identityBatches(input, 1000, (b) => b % 2 === 0)
      }
      const opts = { chunkSize: rows, rowGroupSize: 2500, pageVersion }
      for await (const f of encodeParquetFiles(source(), { ...IDENTITY_OPTIONS, ...opts })) {
        writeFileSync(paths[pageVersion], f.bytes)
      }
    }
  })

  const check = (
    reader: string,
    got: Rendered,
    map: (c: ColumnSpec, v: unknown) => unknown = (_, v) => v,
  ) => {
    for (const c of IDENTITY_COLUMNS) {
      assert.deepEqual(got[c.name], want[c.name]!.map((v) => map(c, v)), `${reader}: column ${c.name}`)
    }
  }

  for (const version of [1, 2] as const) {
    it(`v${version}: pyarrow, polars and DuckDB read every value`, async () => {
      const path = paths[version]
      const meta = parquetMetadata(readFileSync(path).buffer as ArrayBuffer)
      const pages = meta.row_groups.flatMap((g) => g.columns.flatMap((c) => c.meta_data!.encoding_stats!))
      assert.ok(pages.some((p) => p.page_type === "DICTIONARY_PAGE"))
      assert.ok(pages.some((p) => p.page_type !== "DICTIONARY_PAGE" && p.count > 1), "a multi-page chunk")
      assert.ok(pages.every((p) => p.page_type !== (version === 1 ? "DATA_PAGE_V2" : "DATA_PAGE")))
      check("pyarrow", readPython("pyarrow", [path]))
      check("polars", readPython("polars", [path]), polarsExpected)
      check("duckdb", await readDuck(IDENTITY_COLUMNS, `read_parquet('${path}')`, order))
    })
  }

  for (const version of [1, 2] as const) {
    it(`v${version}: fastparquet reads every value, lossy only as documented`, () => {
      const got = readPython("fastparquet", [paths[version]])
      for (const c of IDENTITY_COLUMNS) {
        const expect = want[c.name]!
        assert.deepEqual(
          got[c.name]!.map((v, i) => fastparquetGot(c, v, expect[i])),
          expect.map((v) => fastparquetExpected(c, v)),
          `fastparquet: column ${c.name}`,
        )
      }
    })
  }
})
