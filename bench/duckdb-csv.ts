/**
 * The peer to beat (D): CSV from `COPY … TO STDOUT (FORMAT csv)` on stdin, written by DuckDB as
 * snappy Parquet. Usage: psql -c "COPY (…) TO STDOUT (FORMAT csv)" | bun bench/duckdb-csv.ts OUT.parquet
 */
import { DuckDBInstance } from "@duckdb/node-api"

const out = process.argv[2]
if (!out) throw new Error("Cannot run: pass the output Parquet path")
const instance = await DuckDBInstance.create(":memory:")
const connection = await instance.connect()
await connection.run(
  `COPY (SELECT * FROM read_csv('/dev/stdin', header = false, auto_detect = true, sample_size = 100000))
   TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION snappy)`,
)
connection.closeSync()
