/** Config files: flat settings, one DAG node, the DAG file as written (pure, also under deno test). */
import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { mergeLayers, parseConfigFile, validateConfig, validateSettings } from "../src/config.ts"
import { CompactError } from "../src/errors.ts"
import { DAG_FILE } from "./dag.fixture.ts"

const base = {
  chainId: "10143",
  dataset: "blocks",
  startBlock: "0",
  endBlock: "99",
  dest: "s3://bucket/cold",
}
const badInput = (pattern: RegExp) => (e: unknown) =>
  e instanceof CompactError && e.code === "BAD_INPUT" && pattern.test(e.message) && !e.message.includes("\n")

// the same node on its own, as a mapping
const DAG_NODE = DAG_FILE.replace(/^- /m, "").replace(/^ {2}/gm, "")

describe("config files", () => {
  it("reads the design's DAG file verbatim, and the node alone, as auto mode with its timeout", () => {
    for (const text of [DAG_FILE, DAG_NODE]) {
      const raw = parseConfigFile(text, "dag.yaml")
      assert.deepEqual(raw, {
        chainId: 10143n,
        dataset: "blocks",
        chunkSize: 10000n,
        deleteAfterCompact: true,
        auto: true,
        timeoutSeconds: 1800n,
        sourceTable: "hot_blocks",
      })
      const s = validateSettings(mergeLayers(raw, { dest: "file:///tmp/x" }))
      assert.equal(s.auto, true)
      assert.equal(s.timeoutSeconds, 1800)
      assert.equal(s.startBlock, undefined)
      assert.equal(s.minBlocks, undefined)
      const c = validateConfig(mergeLayers(raw, { startBlock: "0", endBlock: "9", dest: "file:///tmp/x" }))
      assert.equal(c.deleteAfterCompact, true)
      assert.equal(c.chunkSize, 10000)
    }
  })

  it("takes the first input dataset as the source table", () => {
    const raw = parseConfigFile(`{"config": {"dataset": "logs"}, "input_datasets": ["raw_logs"]}`, "n.json")
    assert.equal(raw.sourceTable, "raw_logs")
  })

  it("keeps block numbers above 2^53 exact in files", () => {
    const raw = parseConfigFile(
      "start_block: 18446744073709551614\nend_block: 18446744073709551615",
      "f.yaml",
    )
    const c = validateConfig(mergeLayers(base, raw))
    assert.equal(c.endBlock, 18446744073709551615n)
    assert.equal(c.startBlock, 18446744073709551614n)
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

describe("DAG files", () => {
  const node = (name: string, operator: string) =>
    `- name: ${name}\n  operator: ${operator}\n  activation: manual\n  config: {dataset: d_${name}}\n`
  const dag = node("follow", "block_follower") + node("cold", "parquet_compact") +
    node("cold2", "parquet_compact")

  it("takes the parquet_compact node, or the one --node names", () => {
    const one = node("follow", "block_follower") + node("cold", "parquet_compact")
    assert.deepEqual(parseConfigFile(one, "d.yaml"), { dataset: "d_cold", auto: false })
    assert.equal(parseConfigFile(dag, "d.yaml", "cold2").dataset, "d_cold2")
    assert.equal(parseConfigFile(DAG_FILE, "d.yaml", "parquet_compact").chainId, 10143n)
  })

  it("refuses an ambiguous or missing node, listing the names", () => {
    assert.throws(() => parseConfigFile(dag, "d.yaml"), badInput(/2 nodes .*"cold", "cold2".*--node NAME/))
    assert.throws(
      () => parseConfigFile(dag, "d.yaml", "nope"),
      badInput(/"nope" .*"follow", "cold", "cold2"/),
    )
    assert.throws(
      () => parseConfigFile(node("follow", "block_follower"), "d.yaml"),
      badInput(/no node has operator "parquet_compact" \(nodes: "follow"\)/),
    )
    assert.throws(() => parseConfigFile(dag, "d.yaml", "follow"), badInput(/operator is "block_follower"/))
    assert.throws(
      () => parseConfigFile(DAG_NODE, "d.yaml", "other"),
      badInput(/holds one node, "parquet_compact"/),
    )
    assert.throws(() => parseConfigFile("- 1\n", "d.yaml"), badInput(/item 1 is not a DAG node/))
  })

  it("maps activation to the mode and refuses unknown ones and misplaced settings", () => {
    const with_ = (extra: string) => parseConfigFile(`operator: parquet_compact\n${extra}`, "n.yaml")
    assert.equal(with_("activation: cron").auto, true)
    assert.equal(with_("activation: manual").auto, false)
    assert.equal(with_("activation: reactive\nconfig: {min_blocks: 1000}").minBlocks, 1000n)
    assert.throws(
      () => with_("activation: sometimes"),
      badInput(/activation "sometimes" .*"reactive", "cron", "manual"/),
    )
    assert.throws(
      () => with_("chain_id: 1"),
      badInput(/setting "chain_id" of a DAG node belongs under "config:"/),
    )
    assert.equal(with_("timeout_seconds: 5\nconfig: {timeout_seconds: 9}").timeoutSeconds, 9n)
  })
})
