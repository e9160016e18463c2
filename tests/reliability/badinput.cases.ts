/**
 * The bad inputs of tests/reliability/badinput.test.ts, as a table: what a new user typed, the exit
 * code it must give and the one line it must print. `direct` cases exercise a check on the real
 * store through the function the run loop calls, where the CLI does not reach it yet.
 */
import { writeFile } from "node:fs/promises"
import { join } from "node:path"

/** What every case may use: the seeded database, the bucket, the folder, a scratch folder. */
export interface Context {
  /** postgres://postgres:PASSWORD@host:port/db (trust auth: the password is accepted, never printed) */
  readonly dbUrl: string
  readonly pgHostPort: string
  readonly bucket: string
  readonly s3Endpoint: string
  /** The file:// destination of most cases; must stay byte-identical. */
  readonly folder: string
  /** An empty HOME: no ~/.aws files. */
  readonly home: string
  /** The working S3 credentials, given to every case unless `noAws`. */
  readonly aws: Record<"AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_REGION", string>
  readonly wrongSecret: string
  /** For files the cases make (config files, other folders). */
  readonly scratch: string
}

/** One bad input. */
export interface BadInput {
  readonly name: string
  readonly args: (ctx: Context) => string[]
  readonly exit: number
  /** The one error line must match this. */
  readonly message: RegExp
  readonly env?: (ctx: Context) => Record<string, string>
  /** Run without any AWS_* variable. */
  readonly noAws?: boolean
  /** Run as this user (runuser), e.g. one that may not write the folder. */
  readonly user?: string
  readonly setup?: (ctx: Context) => Promise<void>
  readonly check?: (ctx: Context) => Promise<void>
  readonly direct?: { readonly describe: string; run(ctx: Context): Promise<unknown> }
  readonly note?: string
}

type Flags = Record<string, string | null>

/** A valid command for logs 0-999 of chain 10143 into the folder, with `over` replacing flags (null: left out). */
export const cmd = (ctx: Context, over: Flags = {}, ...extra: string[]) => {
  const flags: Flags = {
    "--chain-id": "10143",
    "--dataset": "logs",
    "--start-block": "0",
    "--end-block": "999",
    "--dest": `file://${ctx.folder}`,
    "--database-url": ctx.dbUrl,
    ...over,
  }
  return ["compact", ...Object.entries(flags).flatMap(([k, v]) => (v === null ? [] : [k, v])), ...extra]
}

/** The same to the bucket on radosgw. */
export const s3 = (ctx: Context, over: Flags = {}, ...extra: string[]) =>
  cmd(
    ctx,
    { "--dest": `s3://${ctx.bucket}/cold`, ...over },
    "--s3-endpoint",
    ctx.s3Endpoint,
    "--s3-force-path-style",
    ...extra,
  )

/** A setup step that writes a file into the scratch folder. */
export const config = (name: string, text: string) => async (ctx: Context) => {
  await writeFile(join(ctx.scratch, name), text)
}

/** Cases of the command line and config files. */
export const CLI_CASES: BadInput[] = [
  // the command line
  { name: "an unknown command", args: () => ["compcat"], exit: 2, message: /unknown command 'compcat'/ },
  {
    name: "an unknown flag",
    args: (c) => cmd(c, {}, "--chain", "1"),
    exit: 2,
    message: /unknown option '--chain'/,
  },
  {
    name: "a flag without its value",
    args: (c) => [...cmd(c, { "--dest": null }), "--dest"],
    exit: 2,
    message: /--dest.*argument missing/,
  },
  {
    name: "no --chain-id",
    args: (c) => cmd(c, { "--chain-id": null }),
    exit: 2,
    message: /--chain-id is required/,
  },
  {
    name: "no --dataset",
    args: (c) => cmd(c, { "--dataset": null }),
    exit: 2,
    message: /--dataset is required/,
  },
  {
    name: "no --start-block",
    args: (c) => cmd(c, { "--start-block": null }),
    exit: 2,
    message: /--start-block is required/,
  },
  {
    name: "no --end-block",
    args: (c) => cmd(c, { "--end-block": null }),
    exit: 2,
    message: /--end-block is required/,
  },
  { name: "no --dest", args: (c) => cmd(c, { "--dest": null }), exit: 2, message: /--dest is required/ },
  {
    name: "a chain id that is not a number",
    args: (c) => cmd(c, { "--chain-id": "monad" }),
    exit: 2,
    message: /--chain-id .*"monad"/,
  },
  {
    name: "a negative chain id",
    args: (c) => cmd(c, { "--chain-id": "-1" }),
    exit: 2,
    message: /--chain-id .*"-1"/,
  },
  {
    name: "a start block in exponent notation",
    args: (c) => cmd(c, { "--start-block": "1e3" }),
    exit: 2,
    message: /--start-block .*"1e3"/,
  },
  {
    name: "a fractional end block",
    args: (c) => cmd(c, { "--end-block": "99.5" }),
    exit: 2,
    message: /--end-block .*"99.5"/,
  },
  {
    name: "a start block above the end block",
    args: (c) => cmd(c, { "--start-block": "500", "--end-block": "100" }),
    exit: 2,
    message: /--start-block must not be after/,
  },
  {
    name: "a chunk size of 0",
    args: (c) => cmd(c, { "--chunk-size": "0" }),
    exit: 2,
    message: /--chunk-size/,
  },
  {
    name: "a chunk size above the limit",
    args: (c) => cmd(c, { "--chunk-size": "1000000000000" }),
    exit: 2,
    message: /--chunk-size/,
  },
  {
    name: "a partition size of 0",
    args: (c) => cmd(c, { "--partition-size": "0" }),
    exit: 2,
    message: /--partition-size/,
  },
  {
    name: "a row group size of 0",
    args: (c) => cmd(c, { "--row-group-size": "0" }),
    exit: 2,
    message: /--row-group-size/,
  },
  {
    name: "a negative finality threshold",
    args: (c) => cmd(c, { "--finality-threshold": "-5" }),
    exit: 2,
    message: /--finality-threshold/,
  },
  {
    name: "a tip that is not a number",
    args: (c) => cmd(c, { "--tip": "latest" }),
    exit: 2,
    message: /--tip .*"latest"/,
  },
  {
    name: "a negative lock timeout",
    args: (c) => cmd(c, { "--lock-timeout": "-1" }),
    exit: 2,
    message: /--lock-timeout/,
  },
  {
    name: "a dataset in capitals",
    args: (c) => cmd(c, { "--dataset": "Logs" }),
    exit: 2,
    message: /--dataset .*"Logs"/,
  },
  {
    name: "a dataset that climbs folders",
    args: (c) => cmd(c, { "--dataset": "../etc" }),
    exit: 2,
    message: /--dataset .*"\.\.\/etc"/,
  },
  {
    name: "a dataset with a space",
    args: (c) => cmd(c, { "--dataset": "my logs" }),
    exit: 2,
    message: /--dataset .*"my logs"/,
  },
  {
    name: "a chain without a finality default",
    args: (c) => cmd(c, { "--chain-id": "424242" }),
    exit: 2,
    message: /424242.*--finality-threshold|--finality-threshold.*424242/,
  },
  {
    name: "a source table name with SQL in it",
    args: (c) => cmd(c, { "--source-table": "hot_logs; drop table x" }),
    exit: 2,
    message: /--source-table/,
  },
  // config files
  {
    name: "a config file that does not exist",
    args: (c) => cmd(c, {}, "--config", join(c.scratch, "nope.yaml")),
    exit: 2,
    message: /Cannot read config file/,
  },
  {
    name: "a config file that is not YAML",
    args: (c) => cmd(c, {}, "--config", join(c.scratch, "bad.yaml")),
    setup: config("bad.yaml", "chain_id: [1,\n  dataset: : :\n"),
    exit: 2,
    message: /bad\.yaml/,
  },
  {
    name: "a config file that is a list",
    args: (c) => cmd(c, {}, "--config", join(c.scratch, "list.yaml")),
    setup: config("list.yaml", "- 1\n- 2\n"),
    exit: 2,
    message: /expected a mapping/,
  },
  {
    name: "a config file with a bad value",
    args: (c) => cmd(c, { "--chunk-size": null }, "--config", join(c.scratch, "val.yaml")),
    setup: config("val.yaml", "chunk_size: lots\n"),
    exit: 2,
    message: /--chunk-size/,
  },
]
