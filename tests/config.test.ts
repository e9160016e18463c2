import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { configFromEnv, envName, mergeLayers, parseConfigFile, validateConfig } from "../src/config.ts"
import { parseDestination } from "../src/destination.ts"
import { CompactError } from "../src/errors.ts"

const base = {
  chainId: "10143",
  dataset: "blocks",
  startBlock: "0",
  endBlock: "99",
  dest: "s3://bucket/cold",
}
const badInput = (pattern: RegExp) => (e: unknown) =>
  e instanceof CompactError && e.code === "BAD_INPUT" && pattern.test(e.message) && !e.message.includes("\n")

const DAG_NODE = `
- name: parquet_compact
  activation: reactive
  runtime: ecs_rust
  operator: parquet_compact
  execution_strategy: Bulk
  config:
    chain_id: 10143
    dataset: blocks
    chunk_size: 10000
    delete_after_compact: true
  input_datasets: [hot_blocks]
  output_datasets: [cold_blocks]
  update_strategy: replace
  timeout_seconds: 1800
`.replace(/^- /m, "").replace(/^ {2}/gm, "")

describe("config", () => {
  it("applies defaults and derives the source table from the dataset", () => {
    const c = validateConfig(base)
    assert.equal(c.chainId, 10143n)
    assert.equal(c.chunkSize, 10_000)
    assert.equal(c.sourceTable, "hot_blocks")
    assert.equal(c.blocksTable, "hot_blocks")
    assert.equal(c.blockColumn, "block_number")
    assert.equal(c.deleteAfterCompact, false)
    assert.equal(c.partitionSize, undefined)
  })

  it("reads the design's DAG node verbatim", () => {
    const raw = parseConfigFile(DAG_NODE, "dag.yaml")
    assert.deepEqual(raw, {
      chainId: 10143,
      dataset: "blocks",
      chunkSize: 10000,
      deleteAfterCompact: true,
      sourceTable: "hot_blocks",
    })
    const c = validateConfig(mergeLayers(raw, { startBlock: "0", endBlock: "9", dest: "file:///tmp/x" }))
    assert.equal(c.deleteAfterCompact, true)
  })

  it("takes the first input dataset as the source table", () => {
    const raw = parseConfigFile(`{"config": {"dataset": "logs"}, "input_datasets": ["raw_logs"]}`, "n.json")
    assert.equal(raw.sourceTable, "raw_logs")
  })

  it("orders precedence flags > environment > file > defaults", () => {
    const file = parseConfigFile(
      "chunk_size: 5\nrow_group_size: 7\nblock_column: f\ndataset: logs\n",
      "f.yaml",
    )
    const env = configFromEnv({ [envName("chunkSize")]: "6", [envName("rowGroupSize")]: "8" })
    const flags = { chunkSize: "9" }
    const c = validateConfig(mergeLayers(base, file, env, flags))
    assert.equal(c.chunkSize, 9) // flag
    assert.equal(c.rowGroupSize, 8) // env over file
    assert.equal(c.blockColumn, "f") // file over default
    assert.equal(c.dataset, "logs")
    assert.equal(c.lockTimeout, 60) // default
  })

  it("reads DATABASE_URL and AWS_ENDPOINT_URL_S3", () => {
    const raw = configFromEnv({ DATABASE_URL: "postgres://x", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000" })
    assert.equal(raw.databaseUrl, "postgres://x")
    assert.equal(raw.s3Endpoint, "http://127.0.0.1:9000")
  })

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ["a missing chain id", { chainId: undefined }, /--chain-id is required/],
    ["a negative start", { startBlock: "-1" }, /--start-block must be a whole number/],
    ["start after end", { startBlock: "100" }, /--start-block must not be after end_block/],
    ["a bad dataset", { dataset: "Blocks!" }, /--dataset must match/],
    [
      "an injected table",
      { sourceTable: "x; drop table y" },
      /--source-table must be a lower-case table name/,
    ],
    ["an injected column", { blockColumn: 'a"b' }, /--block-column must be a lower-case SQL identifier/],
    ["a bad destination", { dest: "http://x" }, /--dest must be s3:\/\/BUCKET\/PREFIX or file:\/\/\/DIR/],
    ["a zero chunk size", { chunkSize: "0" }, /--chunk-size/],
    ["a bad boolean", { deleteAfterCompact: "maybe" }, /--delete-after-compact/],
  ]
  for (const [what, change, pattern] of refusals) {
    it(`refuses ${what} in one line`, () => {
      assert.throws(() => validateConfig({ ...base, ...change }), badInput(pattern))
    })
  }

  it("never prints the database URL", () => {
    assert.throws(
      () => validateConfig({ ...base, databaseUrl: 42 }),
      (e) => e instanceof CompactError && !e.message.includes("42"),
    )
  })

  it("refuses unknown settings and other update strategies in config files", () => {
    assert.throws(() => parseConfigFile("chunk_sise: 5", "f.yaml"), badInput(/unknown setting "chunk_sise"/))
    assert.throws(
      () => parseConfigFile("config: {dataset: blocks}\nupdate_strategy: append", "f.yaml"),
      badInput(/update_strategy "append"/),
    )
    assert.throws(() => parseConfigFile("[1, 2", "f.yaml"), badInput(/Cannot parse config file "f.yaml"/))
  })
})

describe("parseDestination", () => {
  it("splits bucket and prefix", () => {
    assert.deepEqual(parseDestination("s3://bucket/cold"), { kind: "s3", bucket: "bucket", prefix: "cold" })
    assert.deepEqual(parseDestination("s3://bucket/a/b/"), { kind: "s3", bucket: "bucket", prefix: "a/b" })
    assert.deepEqual(parseDestination("s3://bucket"), { kind: "s3", bucket: "bucket", prefix: "" })
    assert.deepEqual(parseDestination("file:///tmp/cold"), { kind: "file", dir: "/tmp/cold", prefix: "" })
  })
})
