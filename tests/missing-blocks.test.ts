/**
 * missingBlocks() (src/pg/hot.ts), the completeness check before a dataset other than blocks is
 * copied: counted with count(*) where a primary key makes each block unique within the chain, and
 * with count(DISTINCT) otherwise, where a duplicated block must not hide a missing one.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { hotTable, missingBlocks, type Sql } from "../src/pg/hot.ts"
import { describeTable } from "../src/pg/schema.ts"
import { freshDatabase } from "./helpers.ts"

let sql: Sql
before(async () => {
  sql = (await freshDatabase()).sql
})
after(async () => {
  await sql?.end()
})

const range = { first: 0n, last: 99n }

describe("missingBlocks", () => {
  it("counts the blocks of a chain keyed by (chain, block), and of one keyed by block alone", async () => {
    await sql.unsafe(
      `CREATE TABLE keyed (chain_id int8, block_number int8, PRIMARY KEY (chain_id, block_number))`,
    )
    await sql.unsafe(`INSERT INTO keyed SELECT c, g FROM generate_series(0, 99) g, (VALUES (1), (2)) v(c)
      WHERE NOT (c = 1 AND g IN (17, 40))`)
    const keyed = hotTable(await describeTable(sql, "keyed"), "block_number", 1n)
    assert.deepEqual(await missingBlocks(sql, keyed, range), { missing: 2n, first: [17n, 40n] })
    assert.deepEqual(
      await missingBlocks(sql, hotTable(await describeTable(sql, "keyed"), "block_number", 2n), range),
      {
        missing: 0n,
        first: [],
      },
    )
    await sql.unsafe(`CREATE TABLE single (block_number int8 PRIMARY KEY)`)
    await sql.unsafe(`INSERT INTO single SELECT g FROM generate_series(0, 99) g WHERE g <> 5`)
    const single = hotTable(await describeTable(sql, "single"), "block_number", 1n)
    assert.deepEqual(await missingBlocks(sql, single, range), { missing: 1n, first: [5n] })
  })

  it("does not let a duplicated block hide a missing one where no key makes blocks unique", async () => {
    // no primary key; and a key that includes another column (a reorged block kept twice)
    await sql.unsafe(`CREATE TABLE loose (chain_id int8, block_number int8)`)
    await sql.unsafe(`CREATE TABLE forked (chain_id int8, block_number int8, hash bytea,
      PRIMARY KEY (chain_id, block_number, hash))`)
    for (const table of ["loose", "forked"]) {
      await sql.unsafe(
        `INSERT INTO ${table} SELECT 1, g, int8send(g) FROM generate_series(0, 99) g WHERE g <> 33`
          .replace(", int8send(g)", table === "loose" ? "" : ", int8send(g)"),
      )
      await sql.unsafe(`INSERT INTO ${table} SELECT 1, 34${table === "loose" ? "" : ", '\\x01'::bytea"}`)
      const t = hotTable(await describeTable(sql, table), "block_number", 1n)
      assert.deepEqual(await missingBlocks(sql, t, range), { missing: 1n, first: [33n] }, table)
    }
    // a chain column that is not filtered on (no chain_id column, another name): not unique per chain
    await sql.unsafe(
      `CREATE TABLE other (network int8, block_number int8, PRIMARY KEY (network, block_number))`,
    )
    await sql.unsafe(
      `INSERT INTO other SELECT n, g FROM generate_series(0, 99) g, (VALUES (1), (2)) v(n) WHERE g <> 60`,
    )
    await sql.unsafe(`INSERT INTO other VALUES (2, 60)`)
    const t = hotTable(await describeTable(sql, "other"), "block_number", 1n)
    assert.deepEqual(await missingBlocks(sql, t, range), { missing: 0n, first: [] }, "block 60 is in chain 2")
  })
})
