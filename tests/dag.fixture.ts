/** The design's "Example DAG Config", verbatim, as an operator pastes or mounts it. */
export const DAG_FILE = `- name: parquet_compact
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
`
