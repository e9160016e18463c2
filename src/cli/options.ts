/**
 * Options shared by the commands that work on one chain's dataset (compact, plan, backfill, verify,
 * status): where the hot data and cold storage are, the config file, and how output looks. Each
 * command adds its own options after these; {@link Session.settings} reads them all.
 */
import { type Command, Option } from "@commander-js/extra-typings"
import type { Session } from "./session.ts"

/** The exit code table, for every command's --help. */
export const EXIT_HELP = `
Exit codes:
  0  done, or nothing to do
  1  failure worth retrying (network, server, conflict)
  2  bad input or config
  3  range not final yet
  4  refused for integrity (gap in hot data, overlap, late rows, rows changed
     before the delete, verification mismatch, another chain's manifest)
  5  locked by another run
  143  stopped by SIGTERM (130: SIGINT) before finishing; nothing half-committed, rerun to go on`

/** Adds the shared options to a new command (typed: its action sees them). */
export function datasetOptions(command: Command) {
  // a plain Command, not a generic one: Deno's type checker takes minutes over the generic chain
  return command
    .option("--config <file>", "YAML or JSON config file; may be the DAG file verbatim (one node or a list)")
    .option("--node <name>", "the DAG node to take from a config file that lists several")
    .option("--chain-id <id>", "chain id (S3 layout, finality default, chain_id filter)")
    .option("--dataset <name>", "dataset name: blocks, logs, transactions, …")
    .option("--dest <url>", "s3://BUCKET/PREFIX or file:///DIR")
    .option("--finality-threshold <blocks>", "blocks behind the tip that are final (default: per chain)")
    .option("--tip <n>", "chain tip to use instead of max(block) of the blocks table")
    .option("--source-table <table>", "hot table to read (default: first input dataset, else hot_{dataset})")
    .option("--blocks-table <table>", "hot blocks table for the tip and completeness (default hot_blocks)")
    .option("--block-column <name>", "block number column (default block_number)")
    .option(
      "--chain-column <name>",
      "column of multi-chain tables holding the chain id (default chain_id if present)",
    )
    .option("--s3-endpoint <url>", "S3 endpoint for non-AWS servers (or AWS_ENDPOINT_URL_S3)")
    .option("--s3-region <region>", "S3 region (or AWS_REGION)")
    .option("--s3-force-path-style", "path-style S3 URLs, for non-AWS servers")
    .option("--json", "print JSON on stdout: the result, and a JSON result when the run fails")
    .addOption(
      new Option("--log-format <format>", "log lines on stderr (default: human on a terminal, else json)")
        .choices(["auto", "human", "json"] as const),
    )
    .addOption(
      new Option("--database-url <url>", "Postgres URL (default DATABASE_URL or PG* variables)").hideHelp(),
    )
    .addHelpText(
      "after",
      `\nEvery flag can also be set as PARQUET_COMPACT_<FLAG> (e.g. PARQUET_COMPACT_CHAIN_ID).${EXIT_HELP}`,
    )
}

/**
 * Routes commander's own output through the session. Its error messages are not printed here: the
 * CLI reports them as one line through the session, like every other failure.
 */
export function commanderOutput(session: Session) {
  const { io } = session
  return {
    writeOut: (text: string) => io.out(text.replace(/\n$/, "")),
    writeErr: (text: string) => io.err(text.replace(/\n$/, "")),
    outputError: () => {},
  }
}

/** A commander error message as one line: "error: " dropped, its own line breaks joined. */
export function usageMessage(message: string): string {
  const text = message.replace(/^error: /, "").split("\n").map((l) => l.trim()).filter(Boolean).join(" ")
  return `Cannot parse the arguments: ${text}; run with --help for usage`
}
