/**
 * Deterministic synthetic EVM-style chain data for the demo, the benchmark and tests: hot_blocks
 * and hot_logs generated inside Postgres with generate_series, so a million blocks take seconds.
 * Same arguments, same rows.
 */
import type { Sql } from "../src/pg/hot.ts"

/** Creates the hot tables (if missing) in the shape a block follower would write. */
export async function createHotTables(sql: Sql): Promise<void> {
  await sql.unsafe(`
    CREATE TABLE IF NOT EXISTS hot_blocks (
      chain_id int8 NOT NULL,
      block_number int8 NOT NULL,
      block_hash bytea NOT NULL,
      parent_hash bytea NOT NULL,
      "timestamp" timestamptz NOT NULL,
      miner bytea NOT NULL,
      gas_used int8 NOT NULL,
      gas_limit int8 NOT NULL,
      base_fee_per_gas numeric(78, 0),
      difficulty numeric NOT NULL,
      tx_count int4 NOT NULL,
      extra_data bytea,
      PRIMARY KEY (chain_id, block_number)
    );
    CREATE TABLE IF NOT EXISTS hot_logs (
      chain_id int8 NOT NULL,
      block_number int8 NOT NULL,
      log_index int4 NOT NULL,
      transaction_hash bytea NOT NULL,
      transaction_index int4 NOT NULL,
      address bytea NOT NULL,
      topic0 bytea,
      topic1 bytea,
      topic2 bytea,
      topic3 bytea,
      data bytea NOT NULL,
      PRIMARY KEY (chain_id, block_number, log_index)
    );
  `)
}

/** What to generate: blocks `first..last` (inclusive) of one chain, with 0-10 logs per block (5 on average). */
export interface SeedOptions {
  readonly chainId: bigint
  readonly first: bigint
  readonly last: bigint
}

/** Inserts blocks and logs for a range; deterministic in the block number and chain. */
export async function seedChain(
  sql: Sql,
  { chainId, first, last }: SeedOptions,
): Promise<{ blocks: number; logs: number }> {
  const c = chainId.toString()
  const blocks = await sql.unsafe(`
    INSERT INTO hot_blocks
    SELECT ${c}, n,
      sha256(int8send(n) || int8send(${c})),
      sha256(int8send(n - 1) || int8send(${c})),
      timestamptz '2024-01-01 00:00:00+00' + n * interval '400 milliseconds' + (n % 997) * interval '1 microsecond',
      substring(sha256(int8send(n % 64)) from 1 for 20),
      (n * 7919) % 30000000,
      30000000,
      CASE WHEN n % 50 = 0 THEN NULL ELSE (1000000000 + n % 1000)::numeric(78, 0) END,
      (2::numeric ^ 200 + n)::numeric,
      (n % 11)::int4,
      CASE WHEN n % 3 = 0 THEN NULL ELSE substring(sha256(int8send(n)) from 1 for (n % 33)::int) END
    FROM generate_series(${first}::int8, ${last}::int8) AS n
    ON CONFLICT DO NOTHING`)
  const logs = await sql.unsafe(`
    INSERT INTO hot_logs
    SELECT ${c}, n, i,
      sha256(int8send(n) || int4send(i / 3)),
      i / 3,
      substring(sha256(int8send((n * 31 + i) % 500)) from 1 for 20),
      substring(sha256(int4send((i % 7))) from 1 for 32),
      CASE WHEN i % 4 = 3 THEN NULL ELSE sha256(int8send(n % 1000) || int4send(i)) END,
      CASE WHEN i % 2 = 1 THEN NULL ELSE sha256(int8send(n) || int4send(i) || '\\x01'::bytea) END,
      CASE WHEN i % 5 <> 0 THEN NULL ELSE sha256(int8send(n + i)) END,
      substring(h || h || h || h || h || h || h || h from 1 for ((n * 37 + i * 11) % 257)::int)
    FROM generate_series(${first}::int8, ${last}::int8) AS n, generate_series(0, (n % 11)::int - 1) AS i,
      LATERAL (SELECT sha256(int8send(n) || int4send(i)) AS h) AS x
    ON CONFLICT DO NOTHING`)
  return { blocks: blocks.count, logs: logs.count }
}

/**
 * hot_logs_topics: the logs of hot_logs with their topics in one `topics bytea[]` column (NULL
 * topics left out), the layout some indexers use; the array-column case of the benchmark.
 */
export async function createArrayLogs(sql: Sql): Promise<void> {
  await sql.unsafe(`
    DROP TABLE IF EXISTS hot_logs_topics;
    CREATE TABLE hot_logs_topics AS
    SELECT chain_id, block_number, log_index, transaction_hash, transaction_index, address,
      array_remove(ARRAY[topic0, topic1, topic2, topic3], NULL) AS topics, data
    FROM hot_logs;
    ALTER TABLE hot_logs_topics ALTER COLUMN topics SET NOT NULL,
      ADD PRIMARY KEY (chain_id, block_number, log_index);
  `)
}
