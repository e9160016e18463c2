/**
 * The bad inputs about the services and what they hold: the database, the destination (bucket,
 * credentials, folder) and a manifest of another chain or dataset in the folder. See badinput.cases.ts.
 */
import assert from "node:assert/strict"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { emptyManifest, serializeManifest } from "../../src/core/manifest.ts"
import { readManifest } from "../../src/manifest-io.ts"
import { LocalStore } from "../../src/store/local.ts"
import { type BadInput, cmd, config, type Context, s3 } from "./badinput.cases.ts"

/** A folder holding, under 10143/logs/, the manifest of another chain or dataset. */
async function foreignManifest(
  ctx: Context,
  folder: string,
  chainId: bigint,
  dataset: string,
): Promise<string> {
  const dir = join(ctx.scratch, folder, "10143", "logs")
  await mkdir(dir, { recursive: true })
  const path = join(dir, "manifest.json")
  await writeFile(path, serializeManifest(emptyManifest(chainId, dataset, "another run")))
  return path
}

const foreign = (folder: string, chainId: bigint, dataset: string): BadInput => ({
  name: `manifest.json of ${dataset} of chain ${chainId} in the folder of logs of chain 10143`,
  args: () => [],
  exit: 4,
  message: new RegExp(`it is the manifest of dataset "${dataset}" of chain ${chainId}.*left as it is`),
  setup: async (ctx) => void (await foreignManifest(ctx, folder, chainId, dataset)),
  direct: {
    describe: `readManifest(file://SCRATCH/${folder}, chain 10143, dataset logs)`,
    run: (ctx) => readManifest(new LocalStore(join(ctx.scratch, folder)), "", 10143n, "logs"),
  },
  check: async (ctx) => {
    const path = join(ctx.scratch, folder, "10143", "logs", "manifest.json")
    assert.equal(
      await readFile(path, "utf8"),
      serializeManifest(emptyManifest(chainId, dataset, "another run")),
    )
  },
  note: "through readManifest(), which the run loop calls",
})

/** Cases of the database, the destination and the folder. */
export const SERVICE_CASES: BadInput[] = [
  // the database
  {
    name: "a source table that does not exist",
    args: (c) => cmd(c, { "--source-table": "hot_logz" }),
    exit: 2,
    message: /"hot_logz".*does not exist/,
  },
  {
    name: "a blocks table that does not exist",
    args: (c) => cmd(c, { "--blocks-table": "blockz" }),
    exit: 2,
    message: /"blockz".*does not exist/,
  },
  {
    name: "a block column that does not exist",
    args: (c) => cmd(c, { "--block-column": "height" }),
    exit: 2,
    message: /no column "height"/,
  },
  {
    name: "a chain column that does not exist",
    args: (c) => cmd(c, { "--chain-column": "network" }),
    exit: 2,
    message: /no column "network"/,
  },
  {
    name: "an order-by column that does not exist",
    args: (c) => cmd(c, { "--order-by": "block_number,idx" }),
    exit: 2,
    message: /"idx"/,
  },
  {
    name: "a column type with no Parquet mapping",
    args: (c) => cmd(c, { "--dataset": "weird" }),
    exit: 2,
    message: /point/,
  },
  {
    name: "a range that is not final yet",
    args: (c) => cmd(c, { "--start-block": "1000", "--end-block": "1199" }),
    exit: 3,
    message: /1199|final/,
  },
  {
    name: "a DATABASE_URL that is not a URL",
    args: (c) => cmd(c, { "--database-url": null }),
    env: (c) => ({ DATABASE_URL: `localhost:5432/db?password=${c.dbUrl.split(":")[2]!.split("@")[0]}` }),
    exit: 2,
    message: /Cannot use the database URL: it does not start with postgres:\/\//,
  },
  {
    name: "a database URL with a bad percent escape",
    args: (c) => cmd(c, { "--database-url": c.dbUrl.replace("@", "%zz@") }),
    exit: 2,
    message: /Cannot use the database URL: it cannot be parsed/,
  },
  {
    name: "a MySQL URL",
    args: (c) => cmd(c, { "--database-url": c.dbUrl.replace("postgres://", "mysql://") }),
    exit: 2,
    message: /Cannot use the database URL/,
  },
  {
    name: "a database that does not exist",
    args: (c) => cmd(c, { "--database-url": c.dbUrl.replace(/\/[^/]*$/, "/no_such_db") }),
    exit: 2,
    message: /no_such_db.*does not exist/,
  },
  {
    name: "a database role that does not exist",
    args: (c) => cmd(c, { "--database-url": c.dbUrl.replace("//postgres:", "//nobody_here:") }),
    exit: 2,
    message: /nobody_here/,
  },
  // the destination
  {
    name: "an ftp:// destination",
    args: (c) => cmd(c, { "--dest": "ftp://host/cold" }),
    exit: 2,
    message: /--dest .*s3:\/\/BUCKET\/PREFIX or file:\/\/\/DIR/,
  },
  {
    name: "an s3:// destination without a bucket",
    args: (c) => cmd(c, { "--dest": "s3://" }),
    exit: 2,
    message: /--dest/,
  },
  {
    name: "a relative file:// path",
    args: (c) => cmd(c, { "--dest": "file://cold" }),
    exit: 2,
    message: /--dest/,
  },
  {
    name: "a bucket name S3 does not allow",
    args: (c) => cmd(c, { "--dest": "s3://My_Bucket/cold" }),
    exit: 2,
    message: /--dest/,
  },
  {
    name: "an S3 endpoint that is not a URL",
    args: (c) => cmd(c, { "--s3-endpoint": "localhost" }),
    exit: 2,
    message: /--s3-endpoint/,
  },
  {
    name: "a bucket that does not exist",
    args: (c) => s3(c, { "--dest": "s3://no-such-bucket-here/cold" }),
    exit: 2,
    message: /bucket "no-such-bucket-here": it does not exist/,
  },
  {
    name: "a bucket that does not exist, dry run",
    args: (c) => s3(c, { "--dest": "s3://no-such-bucket-here/cold" }, "--dry-run"),
    exit: 2,
    message: /bucket "no-such-bucket-here": it does not exist/,
  },
  {
    name: "a wrong S3 secret key",
    args: (c) => s3(c),
    env: (c) => ({ AWS_SECRET_ACCESS_KEY: c.wrongSecret }),
    exit: 2,
    message: /the S3 secret key or access key id is wrong/,
  },
  {
    name: "an unknown S3 access key id",
    args: (c) => s3(c),
    env: () => ({ AWS_ACCESS_KEY_ID: "AKIAUNKNOWN000000000" }),
    exit: 2,
    message: /the S3 secret key or access key id is wrong/,
  },
  {
    name: "no S3 credentials anywhere",
    args: (c) => s3(c),
    noAws: true,
    env: () => ({ AWS_REGION: "us-east-1" }),
    exit: 2,
    message:
      /no AWS credentials found; tried the environment \(AWS_ACCESS_KEY_ID.*AWS_PROFILE.*container.*instance metadata/,
  },
  {
    name: "a file:// folder under a regular file",
    args: (c) => cmd(c, { "--dest": `file://${c.scratch}/plain-file/cold` }),
    setup: config("plain-file", "not a folder\n"),
    exit: 2,
    message: /a part of the path is a file, not a folder \(ENOTDIR\)/,
  },
  {
    name: "a file:// folder this user may not write",
    args: (c) => cmd(c, { "--dest": `file://${c.scratch}/root-only` }),
    user: "nobody",
    setup: async (c) => void (await mkdir(join(c.scratch, "root-only"), { recursive: true })),
    exit: 2,
    message: /permission denied \(EACCES\)/,
  },
  // what is already in the folder
  foreign("other-chain", 1n, "logs"),
  foreign("other-dataset", 10143n, "blocks"),
]
