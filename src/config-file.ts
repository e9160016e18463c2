/**
 * Config files: YAML or JSON, either a flat mapping of snake_case settings, one DAG node (settings
 * under `config:`), or the DAG file as written, a list of nodes from which the parquet_compact one
 * is taken. A node's `activation` picks the mode and its `timeout_seconds` the deadline.
 */
import { parse as parseYaml } from "yaml"
import { CompactError } from "./errors.ts"
import { type RawConfig, SETTINGS, snake } from "./settings.ts"

/** The operator name a DAG node of this job carries. */
export const OPERATOR = "parquet_compact"

/** Top-level keys of a DAG node that are not settings of the job itself. */
const DAG_KEYS = new Set([
  "name",
  "activation",
  "runtime",
  "operator",
  "execution_strategy",
  "config",
  "input_datasets",
  "output_datasets",
  "update_strategy",
  "timeout_seconds",
  "image",
])

/** File key -> setting key. */
const SETTING_KEYS = new Map(SETTINGS.map((s) => [snake(s.key), s.key]))

/** `activation` of a DAG node -> whether the run picks its own ranges (`auto`). */
const ACTIVATIONS: Readonly<Record<string, boolean>> = { reactive: true, cron: true, manual: false }

type Mapping = Record<string, unknown>
const isMapping = (v: unknown): v is Mapping => typeof v === "object" && v !== null && !Array.isArray(v)
const bad = (message: string) => new CompactError("BAD_INPUT", message)
const quoted = (names: unknown[]) => names.map((n) => JSON.stringify(String(n))).join(", ") || "none"

/**
 * Reads a config file's text into settings. `node` names the DAG node to take from a list (or to
 * insist on for a single node); without it a list must hold exactly one `operator: parquet_compact`.
 */
export function parseConfigFile(text: string, name: string, node?: string): RawConfig {
  let doc: unknown
  try {
    // block numbers may pass 2^53 (uint64 chains): never let them round through a double
    doc = parseYaml(text, { intAsBigInt: true })
  } catch (cause) {
    const first = (cause as Error).message.split("\n")[0]
    throw new CompactError("BAD_INPUT", `Cannot parse config file "${name}": ${first}`, { cause })
  }
  const picked = pickNode(doc, name, node)
  // timeout_seconds is both a node key and a setting: it alone does not make a node
  const isNode = Object.keys(picked).some((key) => DAG_KEYS.has(key) && key !== "timeout_seconds")
  return isNode ? nodeSettings(picked, name) : settingsOf(picked, name)
}

/** The one mapping of the document that configures this job. */
function pickNode(doc: unknown, name: string, node: string | undefined): Mapping {
  if (Array.isArray(doc)) {
    const nodes = doc.map((item, i) => {
      if (!isMapping(item)) {
        throw bad(`Cannot use config file "${name}": item ${i + 1} is not a DAG node mapping`)
      }
      return item
    })
    const names = nodes.map((n) => n.name)
    const chosen = node === undefined
      ? nodes.filter((n) => n.operator === OPERATOR)
      : nodes.filter((n) => n.name === node)
    if (chosen.length === 1) return checkOperator(chosen[0]!, name)
    if (node !== undefined) {
      throw bad(`Cannot find node "${node}" in "${name}": its nodes are ${quoted(names)}; fix --node`)
    }
    const what = chosen.length === 0
      ? `no node has operator "${OPERATOR}" (nodes: ${quoted(names)})`
      : `${chosen.length} nodes have operator "${OPERATOR}" (${quoted(chosen.map((n) => n.name))})`
    throw bad(`Cannot pick a node in "${name}": ${what}; choose one with --node NAME`)
  }
  if (!isMapping(doc)) {
    throw bad(`Cannot use config file "${name}": expected a mapping of settings or a list of DAG nodes`)
  }
  if (node !== undefined && doc.name !== node) {
    const holds = doc.name === undefined ? "holds no named node" : `holds one node, ${quoted([doc.name])}`
    throw bad(`Cannot find node "${node}" in "${name}": it ${holds}; fix --node`)
  }
  return checkOperator(doc, name)
}

function checkOperator(node: Mapping, name: string): Mapping {
  if (node.operator !== undefined && node.operator !== OPERATOR) {
    throw bad(
      `Cannot use node ${quoted([node.name])} of "${name}": its operator is ${
        quoted([node.operator])
      }, not "${OPERATOR}"; choose the parquet_compact node with --node NAME`,
    )
  }
  return node
}

/** A DAG node: settings from `config:`, mode from `activation`, deadline, source table. */
function nodeSettings(node: Mapping, name: string): RawConfig {
  const section = node.config ?? {}
  if (!isMapping(section)) {
    throw bad(`Cannot use config file "${name}": "config" must be a mapping of settings`)
  }
  const raw: Record<string, unknown> = settingsOf(section, name)
  const misplaced = Object.keys(node).find((key) => !DAG_KEYS.has(key) && SETTING_KEYS.has(key))
  if (misplaced) {
    throw bad(
      `Cannot use config file "${name}": setting "${misplaced}" of a DAG node belongs under "config:"`,
    )
  }
  const strategy = node.update_strategy
  if (strategy !== undefined && strategy !== "replace") {
    throw bad(
      `Cannot use update_strategy "${
        String(strategy)
      }" in "${name}": parquet_compact only replaces partitions`,
    )
  }
  const activation = node.activation
  if (activation !== undefined) {
    const auto = ACTIVATIONS[String(activation)]
    if (auto === undefined) {
      throw bad(
        `Cannot use activation ${quoted([activation])} in "${name}": expected ${
          quoted(Object.keys(ACTIVATIONS))
        }`,
      )
    }
    raw.auto ??= auto
  }
  if (node.timeout_seconds !== undefined) raw.timeoutSeconds ??= node.timeout_seconds
  const inputs = node.input_datasets
  if (Array.isArray(inputs) && typeof inputs[0] === "string") raw.sourceTable ??= inputs[0]
  return raw
}

/** The known settings of a mapping; an unknown key is refused (a typo must not pass silently). */
function settingsOf(section: Mapping, name: string): RawConfig {
  const raw: Record<string, unknown> = {}
  for (const [fileKey, value] of Object.entries(section)) {
    const key = SETTING_KEYS.get(fileKey)
    if (key) raw[key] = value
    else {
      throw bad(
        `Cannot use config file "${name}": unknown setting "${fileKey}"; see parquet_compact compact --help`,
      )
    }
  }
  return raw
}
