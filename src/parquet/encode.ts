/**
 * Column batches → snappy Parquet files of at most chunkSize rows, in row groups of exactly
 * rowGroupSize rows (the last group of a file may be shorter). Output is a pure function of
 * the rows and options: same rows, same bytes.
 *
 * Dictionary rule (per file, per column): each row group's chunk tries a dictionary (1000 values
 * sampled, then kept only if it at least halves the plain bytes; see dictionary.ts) until a row
 * group of the column comes out without one; the column is then written PLAIN for the rest of the
 * file. So hashes and log data pay for one dictionary attempt per file while addresses, topic0
 * and small integers keep theirs. Decisions never cross files, which keeps output deterministic.
 *
 * Pages are written by chunk.ts (DATA_PAGE v1 by default); hyparquet-writer's public
 * ParquetWriter writes the file's magic, the offset indexes and the footer.
 */
import { createHash } from "node:crypto"
import { CompactError } from "../errors.ts"
import type { ColumnBatch } from "../pg/batch.ts"
import type { ColumnSpec } from "../pg/schema.ts"
import { type EncodeOptions, FileEncoder } from "./file-encoder.ts"
import type { BufferPool } from "../buffer-pool.ts"
import { type EncodedFile, type FilePiece, joinPieces } from "./pieces.ts"

export type { EncodedFile, FilePiece } from "./pieces.ts"
export type { EncodeOptions } from "./file-encoder.ts"

/**
 * Encodes batches into Parquet files, splitting exactly every chunkSize rows. `done` gets each
 * batch once all its rows are written and nothing written refers to its buffers any more (the
 * caller may reuse them then). Each file is held whole: see encodeParquetPieces() for the bytes of
 * a file as they are made.
 */
export function encodeParquetFiles(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  done: (batch: ColumnBatch) => void = () => {},
): AsyncGenerator<EncodedFile> {
  return joinPieces(encodeParquetPieces(batches, opts, done))
}

/**
 * The files of encodeParquetFiles(), byte for byte, as they are made: the first piece of a file is
 * its magic and first row group, then one piece per row group; the last row group and the footer
 * are the last piece (with `end`), so a file of one row group is one piece. Memory is a row group's
 * rows and bytes, whatever the rows per file. Pieces are written into buffers from `buffers` when
 * given (see FilePiece.release).
 */
export async function* encodeParquetPieces(
  batches: AsyncIterable<ColumnBatch>,
  opts: EncodeOptions,
  done: (batch: ColumnBatch) => void = () => {},
  buffers?: BufferPool,
): AsyncGenerator<FilePiece> {
  const { columns, chunkSize, rowGroupSize } = opts
  for (const [name, value] of [["chunkSize", chunkSize], ["rowGroupSize", rowGroupSize]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new CompactError(
        "BAD_INPUT",
        `Cannot encode Parquet with ${name} ${value}: use a positive integer`,
      )
    }
  }
  const blockIndex = columns.findIndex((c) => c.name === opts.blockColumn)
  const blockSpec = columns[blockIndex]
  if (!blockSpec || !["int2", "int4", "int8"].includes(blockSpec.kind)) {
    throw new CompactError(
      "BAD_INPUT",
      `Cannot use block column "${opts.blockColumn}": ` +
        (blockSpec ? `its type "${blockSpec.pgType}" is not an integer` : "no such column") +
        `; set --block-column to an integer column`,
    )
  }
  const file = new FileEncoder(opts, blockIndex, done, buffers)
  // a file's last row group goes out with the footer, in one piece: a full group that ends the
  // rows so far waits for the next rows, or for the end of the stream
  let waiting = false
  for await (const batch of batches) {
    checkBatch(batch, columns)
    if (waiting && batch.rows > 0) {
      yield file.piece()
      waiting = false
    }
    let offset = 0
    while (offset < batch.rows) {
      const take = Math.min(batch.rows - offset, file.roomInGroup())
      file.add(batch, offset, offset + take)
      offset += take
      if (file.roomInGroup() === 0) {
        file.writeGroup()
        if (file.rows < chunkSize && offset < batch.rows) yield file.piece()
        else if (file.rows < chunkSize) waiting = true
      }
      if (file.rows === chunkSize) yield file.finish()
    }
  }
  if (file.groupRows > 0) file.writeGroup()
  if (file.rows > 0) yield file.finish()
}

function checkBatch(batch: ColumnBatch, columns: readonly ColumnSpec[]): void {
  if (batch.columns.length !== columns.length) {
    throw new CompactError(
      "INTEGRITY",
      `Cannot encode a batch of ${batch.columns.length} columns: expected ${columns.length}`,
    )
  }
  batch.columns.forEach((values, i) => {
    if (values.length !== batch.rows) {
      throw new CompactError(
        "INTEGRITY",
        `Cannot encode column "${
          columns[i]?.name
        }": it has ${values.length} values in a batch of ${batch.rows} rows`,
      )
    }
  })
}

/**
 * sha256 (hex) of a canonical description of the columns: name, Postgres type, kind, DECIMAL
 * precision/scale, array element kind and nullability, in column order.
 */
export function schemaHash(columns: readonly ColumnSpec[]): string {
  const canonical = columns.map((c) => [
    c.name,
    c.pgType,
    c.kind,
    c.element ?? null,
    c.precision ?? null,
    c.scale ?? null,
    c.notNull,
  ])
  return createHash("sha256").update(JSON.stringify(["parquet_compact.schema.v1", canonical])).digest("hex")
}
