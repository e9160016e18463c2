import { describe, it } from "node:test"
import assert from "node:assert/strict"
import {
  configFromEnv,
  envName,
  mergeLayers,
  parseConfigFile,
  requireRange,
  validateConfig,
  validateSettings,
} from "../src/config.ts"
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
    [
      "start after end",
      { startBlock: "100" },
      /--start-block must not be after --end-block 99 \(got "100"\)/,
    ],
    [
      "a missing end",
      { endBlock: undefined },
      /--end-block is required; set it with --end-block, PARQUET_COMPACT_END/,
    ],
    ["a bad log format", { logFormat: "xml" }, /--log-format must be auto, human or json \(got "xml"\)/],
    [
      "a page version of 3",
      { pageVersion: "3" },
      /--page-version must be 1 \(DATA_PAGE\) or 2 \(DATA_PAGE_V2\)/,
    ],
    ["a UUID form of text", { uuidAs: "text" }, /--uuid-as must be uuid or binary \(got "text"\)/],
    ["no concurrency", { concurrency: "0" }, /--concurrency .*PARQUET_COMPACT_CONCURRENCY/],
    ["a zero timeout", { timeoutSeconds: 0 }, /--timeout-seconds .*PARQUET_COMPACT_TIMEOUT_SECONDS/],
    ["a negative threshold", { auto: "true", minBlocks: "-5" }, /--min-blocks must be a whole number/],
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
})

describe("new settings", () => {
  it("defaults auto off, log format auto, one partition in flight, no shards, no deadline", () => {
    const c = validateConfig(base)
    assert.deepEqual(
      [c.auto, c.logFormat, c.concurrency, c.shardIndex, c.shardCount, c.timeoutSeconds, c.minBlocks],
      [false, "auto", 1, undefined, undefined, undefined, undefined],
    )
  })

  it("reads each from flags, PARQUET_COMPACT_* and snake_case file keys", () => {
    const file = parseConfigFile("min_blocks: 500\nconcurrency: 3\nlog_format: json\nauto: true\n", "f.yaml")
    const env = configFromEnv({ PARQUET_COMPACT_TIMEOUT_SECONDS: "60", PARQUET_COMPACT_CONCURRENCY: "4" })
    const s = validateSettings(mergeLayers(base, file, env, { logFormat: "human" }))
    assert.deepEqual([s.auto, s.minBlocks, s.concurrency, s.timeoutSeconds, s.logFormat], [
      true,
      500n,
      4,
      60,
      "human",
    ])
  })

  it("makes the range optional with auto or for plan and backfill, naming their flags", () => {
    const open = { ...base, startBlock: undefined, endBlock: undefined }
    assert.throws(() => validateSettings(open), badInput(/--start-block is required/))
    assert.equal(validateSettings({ ...open, auto: "true" }).startBlock, undefined)
    assert.equal(validateSettings(open, { optional: true }).endBlock, undefined)
    const fromTo = { flags: { startBlock: "--from", endBlock: "--to" } }
    assert.throws(() => validateSettings({ ...open, endBlock: "5" }, fromTo), badInput(/--from is required/))
    assert.throws(
      () => validateSettings({ ...base, startBlock: "9", endBlock: "5" }, fromTo),
      badInput(/--from must not be after --to 5/),
    )
    assert.throws(() => requireRange(validateSettings({ ...open, auto: true })), badInput(/--start-block/))
    assert.equal(requireRange(validateSettings({ ...base, auto: true })).endBlock, 99n)
  })

  it("takes shards from AWS Batch and Kubernetes variables, flags first", () => {
    const batch = configFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: "2", AWS_BATCH_JOB_ARRAY_SIZE: "3" })
    assert.deepEqual([validateSettings({ ...base, ...batch }).shardIndex, batch.shardCount], [2, "3"])
    const k8s = configFromEnv({ JOB_COMPLETION_INDEX: "1", PARQUET_COMPACT_SHARD_COUNT: "3" })
    const s = validateSettings({ ...base, ...k8s })
    assert.deepEqual([s.shardIndex, s.shardCount], [1, 3])
    const own = configFromEnv({
      PARQUET_COMPACT_SHARD_INDEX: "0",
      JOB_COMPLETION_INDEX: "1",
      AWS_BATCH_JOB_ARRAY_SIZE: "2",
    })
    assert.equal(own.shardIndex, "0")
    assert.equal(validateSettings(mergeLayers(base, own, { shardIndex: "1" })).shardIndex, 1)
  })

  it("refuses a shard index without a count, naming the variables, and one out of range", () => {
    assert.throws(
      () => validateSettings({ ...base, ...configFromEnv({ JOB_COMPLETION_INDEX: "1" }) }),
      badInput(
        /--shard-count is required .*JOB_COMPLETION_INDEX.*PARQUET_COMPACT_SHARD_COUNT, AWS_BATCH_JOB_ARRAY_SIZE/,
      ),
    )
    assert.throws(() => validateSettings({ ...base, shardCount: 3 }), badInput(/--shard-index is required/))
    assert.throws(
      () => validateSettings({ ...base, shardIndex: "3", shardCount: "3" }),
      badInput(/--shard-index must be below the shard count 3 \(got "3"\)/),
    )
  })
})

describe("parseDestination", () => {
  it("splits bucket and prefix", () => {
    assert.deepEqual(parseDestination("s3://bucket/cold"), { kind: "s3", bucket: "bucket", prefix: "cold" })
    assert.deepEqual(parseDestination("s3://bucket/a/b/"), { kind: "s3", bucket: "bucket", prefix: "a/b" })
    assert.deepEqual(parseDestination("s3://bucket"), { kind: "s3", bucket: "bucket", prefix: "" })
    assert.deepEqual(parseDestination("file:///tmp/cold"), { kind: "file", dir: "/tmp/cold", prefix: "" })
  })

  it("refuses a prefix with an empty, '.' or '..' segment (BAD_INPUT), before anything connects", () => {
    for (const dest of ["s3://bucket/a//b", "s3://bucket/.", "s3://bucket/cold/..", "s3://bucket/a/./b"]) {
      assert.throws(
        () => parseDestination(dest),
        (e) => e instanceof CompactError && e.code === "BAD_INPUT",
        dest,
      )
    }
  })
})
