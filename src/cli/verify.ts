/**
 * The `verify` subcommand: checks a dataset's cold storage and prints a report (a table, or one JSON
 * object with `--json`); exits 4 (INTEGRITY) when it found any problem.
 */
import { type Command, Option } from "@commander-js/extra-typings"
import { CompactError } from "../errors.ts"
import { openInspectedHotTable } from "./hot.ts"
import { type CommandIo, openDestination, readSettings } from "./read-settings.ts"
import { formatVerifyReport, problemCounts, verifyDataset } from "../verify.ts"

/** Adds `verify` to the program. */
export function addVerifyCommand(
  root: Command,
  env: Record<string, string | undefined>,
  io: CommandIo,
): void {
  root
    .command("verify")
    .description(
      "Check a dataset's cold storage: every file's size, sha256, row count and block span against the " +
        "manifest, overlaps, gaps and orphan objects; --against-hot also compares row counts with Postgres",
    )
    .option("--config <file>", "YAML or JSON config file (the same as compact's)")
    .option("--chain-id <id>", "chain id")
    .option("--dataset <name>", "dataset name: blocks, logs, …")
    .option("--dest <url>", "s3://BUCKET/PREFIX or file:///DIR")
    .option("--against-hot", "compare each partition's row count with the hot table (late rows)")
    .option("--source-table <table>", "hot table for --against-hot (default hot_{dataset})")
    .option("--block-column <name>", "block number column (default block_number)")
    .option("--chain-column <name>", "chain id column of multi-chain tables (default chain_id if present)")
    .option("--s3-endpoint <url>", "S3 endpoint for non-AWS servers (or AWS_ENDPOINT_URL_S3)")
    .option("--s3-region <region>", "S3 region (or AWS_REGION)")
    .option("--s3-force-path-style", "path-style S3 URLs, for non-AWS servers")
    .option("--json", "print the report as one JSON object on stdout")
    .addOption(
      new Option("--database-url <url>", "Postgres URL (default DATABASE_URL or PG* variables)").hideHelp(),
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 no problem, 4 problems found (listed), 2 bad input, 1 worth retrying.",
    )
    .action(async (flags) => {
      const { againstHot, ...rest } = flags
      const settings = await readSettings(rest, env, "verify")
      if (settings.dataset === undefined) {
        throw new CompactError("BAD_INPUT", "Cannot start verify: --dataset is required; pass --dataset NAME")
      }
      const dataset = settings.dataset
      const destination = await openDestination(settings)
      const hot = againstHot ? await openInspectedHotTable(settings, dataset) : undefined
      try {
        const report = await verifyDataset(
          {
            chainId: settings.chainId,
            dataset,
            blockColumn: settings.blockColumn,
            hot: hot && { sql: hot.sql, table: hot.table },
          },
          { store: destination.store, prefix: destination.prefix, log: io.err },
        )
        io.out(settings.json ? JSON.stringify(report) : formatVerifyReport(report))
        if (!report.ok) {
          throw new CompactError(
            "INTEGRITY",
            `Cannot verify ${dataset} of chain ${settings.chainId}: ${problemCounts(report.problems)}; ` +
              "see the report for what to do",
          )
        }
      } finally {
        await hot?.close()
        destination.close()
      }
    })
}
