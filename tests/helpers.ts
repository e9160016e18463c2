/**
 * Shared set-up for integration tests: a fresh database per test on the real Postgres, a fresh
 * bucket per test on the real S3 server, and a way to run the CLI in-process and capture its output.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { randomBytes } from "node:crypto"
import postgres from "postgres"
import { main } from "../cli.ts"
import { createHotTables, seedChain } from "../bench/datagen.ts"
import type { Summary } from "../src/compact.ts"
import { openDatabase, type Sql } from "../src/pg/hot.ts"
import { S3Store } from "../src/store/s3.ts"
import { testS3Client, testServices } from "./env.ts"

const services = testServices()
// the AWS SDK reads credentials from the environment, as it does in production
process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId
process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey
process.env.AWS_REGION = services.s3.region

const admin = postgres(services.pgUrl, { max: 1, onnotice: () => {} })
const s3 = testS3Client(services)

/** A name unique to this test run. */
export const uniqueName = (prefix: string) => `${prefix}${randomBytes(5).toString("hex")}`

const opened: Sql[] = []

/** A new empty database; returns its URL and a pool on it (ended by {@link closeDatabases}). */
export async function freshDatabase(): Promise<{ url: string; sql: Sql }> {
  const name = uniqueName("t_")
  await admin.unsafe(`CREATE DATABASE ${name}`)
  const url = new URL(services.pgUrl)
  url.pathname = "/" + name
  const sql = openDatabase(url.toString())
  opened.push(sql)
  return { url: url.toString(), sql }
}

/** Ends every pool {@link freshDatabase} opened; a test file calls it in `after`. */
export async function closeDatabases(): Promise<void> {
  await Promise.all(opened.splice(0).map((p) => p.end()))
}

/** A fresh database holding the hot tables with blocks and logs 0..last of a chain, and a fresh bucket. */
export async function seededWorld(chainId: bigint, last: bigint) {
  const db = await freshDatabase()
  await createHotTables(db.sql)
  await seedChain(db.sql, { chainId, first: 0n, last })
  return { ...db, ...await freshBucket() }
}

/** A new empty bucket; returns its name and a store on it. */
export async function freshBucket(): Promise<{ bucket: string; store: S3Store }> {
  const bucket = uniqueName("b")
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  return {
    bucket,
    store: new S3Store({
      bucket,
      endpoint: services.s3.endpoint,
      region: services.s3.region,
      forcePathStyle: true,
    }),
  }
}

/** The S3 flags for the CLI. */
export const s3Flags = ["--s3-endpoint", services.s3.endpoint, "--s3-force-path-style"]

/** What one CLI run printed and returned. */
export interface CliRun {
  readonly code: number
  readonly stdout: string[]
  readonly stderr: string[]
  /** The parsed --json summary, when there is one. */
  readonly json: Summary
}

/** Runs `parquet_compact ...argv` in-process against the real services. */
export async function cli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const stdout: string[] = []
  const stderr: string[] = []
  const code = await main(argv, env, { out: (l) => stdout.push(l), err: (l) => stderr.push(l) })
  const last = stdout.at(-1)
  return { code, stdout, stderr, json: (last?.startsWith("{") ? JSON.parse(last) : undefined) as Summary }
}
