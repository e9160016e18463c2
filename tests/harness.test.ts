/**
 * Checks the services `tests/run.ts` starts: PostgreSQL 15, and radosgw's S3 with the
 * behaviour the compactor relies on (conditional PutObject, ListObjectsV2 pagination).
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import postgres from "postgres"
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3"
import { parseJunit, summaryLine } from "./harness/junit.ts"
import { testServices } from "./env.ts"

describe("test Postgres", () => {
  it("is PostgreSQL 15 with a writable database", async () => {
    const sql = postgres(testServices().pgUrl, { max: 1, onnotice: () => {} })
    try {
      const [row] = await sql<{ version: string }[]>`select version()`
      assert.match(row?.version ?? "", /^PostgreSQL 15\./)
      const [db] = await sql<{ db: string }[]>`select current_database() as db`
      assert.equal(db?.db, "parquet_compact_test")
      await sql`create temp table harness_probe (id int8 primary key)`
      await sql`insert into harness_probe values (1), (2)`
      const [count] = await sql<{ n: string }[]>`select count(*) as n from harness_probe`
      assert.equal(count?.n, "2")
    } finally {
      await sql.end()
    }
  })
})

/** The HTTP status of a failed S3 call. */
async function statusOf(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call
  } catch (error) {
    if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode
    throw error
  }
  return 200
}

describe("test S3 (radosgw)", () => {
  let s3: S3Client
  const bucket = `harness-${randomUUID()}`

  before(async () => {
    const services = testServices()
    s3 = new S3Client({
      endpoint: services.s3.endpoint,
      region: services.s3.region,
      credentials: { accessKeyId: services.s3.accessKeyId, secretAccessKey: services.s3.secretAccessKey },
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    })
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  })

  after(async () => {
    if (s3 === undefined) return
    for (;;) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
      const keys = (listed.Contents ?? []).flatMap((o) => o.Key === undefined ? [] : [{ Key: o.Key }])
      if (keys.length === 0) break
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }))
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
    s3.destroy()
  })

  it("says it honours conditional writes", () => {
    assert.equal(testServices().s3.conditionalWrites, true)
  })

  it("refuses PutObject with If-None-Match: * on an existing key (412)", async () => {
    const Key = "cond/none-match"
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "first", IfNoneMatch: "*" }))
    const status = await statusOf(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "second", IfNoneMatch: "*" })),
    )
    assert.equal(status, 412)
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))
    assert.equal(await got.Body?.transformToString(), "first")
  })

  it("refuses PutObject with a stale If-Match (412) and accepts the current ETag", async () => {
    const Key = "cond/match"
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "v1" }))
    const firstEtag = first.ETag?.replaceAll('"', "")
    assert.ok(firstEtag)
    // radosgw compares If-Match with the bare ETag: send it unquoted.
    const second = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key, Body: "v2", IfMatch: firstEtag }),
    )
    const secondEtag = second.ETag?.replaceAll('"', "")
    assert.ok(secondEtag)
    assert.notEqual(secondEtag, firstEtag)
    const status = await statusOf(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "v3", IfMatch: firstEtag })),
    )
    assert.equal(status, 412)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key }))
    assert.equal(head.ETag?.replaceAll('"', ""), secondEtag)
  })

  it("paginates ListObjectsV2", async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `page/${String(i).padStart(2, "0")}`)
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))))
    const seen: string[] = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: "page/",
          MaxKeys: 3,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      )
      pages++
      assert.ok((page.Contents ?? []).length <= 3)
      seen.push(...(page.Contents ?? []).flatMap((o) => o.Key === undefined ? [] : [o.Key]))
      token = page.IsTruncated ? page.NextContinuationToken : undefined
      if (page.IsTruncated) assert.ok(token, "a truncated page has a continuation token")
    } while (token !== undefined)
    assert.equal(pages, 3)
    assert.deepEqual(seen, keys)
  })
})

describe("JUnit summary", () => {
  it("counts passed, failed and skipped test cases", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="4">
  <testsuite name="a.test.ts" tests="4">
    <testcase name="ok" classname="x" time="0.1" />
    <testcase name="bad &lt;&amp;&gt;" classname="x" time="0.1">
      <failure type="AssertionError" message="1 !== 2">AssertionError</failure>
    </testcase>
    <testcase name="sk" classname="x" time="0"><skipped /></testcase>
    <testcase name="td" classname="x" time="0"><skipped message="TODO" /></testcase>
    <testcase name="ok2" classname="x" time="0.1"></testcase>
  </testsuite>
</testsuites>`
    const counts = parseJunit(xml)
    assert.deepEqual(counts, { passed: 2, failed: 1, skipped: 2 })
    assert.equal(summaryLine(counts), "2 passed, 1 failed, 2 skipped")
    assert.equal(summaryLine({ passed: 3, failed: 0, skipped: 0 }), "3 passed, 0 failed")
  })

  it("rejects what is not a JUnit report", () => {
    assert.throws(() => parseJunit("garbage"), /not a JUnit XML document/)
  })
})
