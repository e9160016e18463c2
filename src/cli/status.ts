/**
 * The `status` subcommand: what is where for a chain, drawn as coverage bars and a table, or one JSON
 * object with `--json`. Exits 0 whatever it finds: `verify` is the command that judges.
 */
import { type Command, Option } from "@commander-js/extra-typings"
import { CompactError } from "../errors.ts"
import { probeDatabase } from "../inspect.ts"
import { openDatabase } from "../pg/hot.ts"
import { chainStatus, type StatusOptions } from "../status.ts"
import { DEFAULT_BAR_WIDTH, formatStatus } from "../status-view.ts"
import { type CommandIo, openDestination, readSettings } from "./read-settings.ts"

/** Seconds to wait for Postgres before showing cold storage alone. */
const PROBE_SECONDS = 10

/** Adds `status` to the program. */
export function addStatusCommand(
  root: Command,
  env: Record<string, string | undefined>,
  io: CommandIo,
): void {
  root
    .command("status")
    .description(
      "Show what is where for a chain: per dataset, committed partitions, the hot range, gaps, late rows, " +
        "bytes and files, with the tip and final tip, as a coverage bar per dataset",
    )
    .option("--config <file>", "YAML or JSON config file (the same as compact's)")
    .option("--chain-id <id>", "chain id")
    .option("--dataset <name>", "one dataset (default: every dataset found under the chain)")
    .option("--dest <url>", "s3://BUCKET/PREFIX or file:///DIR")
    .option("--source-table <table>", "hot table of --dataset (default hot_{dataset})")
    .option("--blocks-table <table>", "hot blocks table, for the tip (default hot_blocks)")
    .option("--block-column <name>", "block number column (default block_number)")
    .option("--chain-column <name>", "chain id column of multi-chain tables (default chain_id if present)")
    .option("--finality-threshold <blocks>", "blocks behind the tip that are final (default: per chain)")
    .option("--no-hot", "do not connect to Postgres: show cold storage only")
    .option("--width <chars>", `width of the coverage bars (default ${DEFAULT_BAR_WIDTH})`)
    .option("--s3-endpoint <url>", "S3 endpoint for non-AWS servers (or AWS_ENDPOINT_URL_S3)")
    .option("--s3-region <region>", "S3 region (or AWS_REGION)")
    .option("--s3-force-path-style", "path-style S3 URLs, for non-AWS servers")
    .option("--json", "print the status as one JSON object on stdout")
    .addOption(
      new Option("--database-url <url>", "Postgres URL (default DATABASE_URL or PG* variables)").hideHelp(),
    )
    .action(async (flags) => {
      const { hot: useHot, width: widthFlag, ...rest } = flags
      const settings = await readSettings(rest, env, "status")
      const width = widthFlag === undefined ? DEFAULT_BAR_WIDTH : Number(widthFlag)
      if (!Number.isInteger(width) || width < 8 || width > 1000) {
        throw new CompactError(
          "BAD_INPUT",
          `Cannot draw bars ${JSON.stringify(widthFlag)} characters wide; pass --width from 8 to 1000`,
        )
      }
      if (settings.sourceTable !== undefined && settings.dataset === undefined) {
        throw new CompactError(
          "BAD_INPUT",
          "Cannot use --source-table without --dataset: each dataset has its own hot table; pass --dataset",
        )
      }
      const destination = await openDestination(settings)
      const sql = useHot ? openDatabase(settings.databaseUrl) : undefined
      try {
        const failure = sql === undefined
          ? "Postgres not consulted (--no-hot)"
          : await probeDatabase(sql, PROBE_SECONDS)
        const hot: StatusOptions["hot"] = sql !== undefined && failure === undefined ? { sql } : {
          unavailable: sql === undefined
            ? failure!
            : `Cannot reach Postgres (${failure}): showing cold storage only; set DATABASE_URL or pass --no-hot`,
        }
        const report = await chainStatus({
          chainId: settings.chainId,
          dataset: settings.dataset,
          blockColumn: settings.blockColumn,
          chainColumn: settings.chainColumn,
          finalityThreshold: settings.finalityThreshold,
          sourceTable: settings.sourceTable,
          blocksTable: settings.blocksTable,
          hot,
        }, { store: destination.store, prefix: destination.prefix })
        io.out(settings.json ? JSON.stringify(report) : formatStatus(report, width))
      } finally {
        await sql?.end({ timeout: 5 })
        destination.close()
      }
    })
}
