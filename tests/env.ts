/**
 * Where the integration tests find the real services. `tests/run.ts` (make test) starts
 * PostgreSQL 15 and radosgw on 127.0.0.1 and sets these variables; a missing one fails
 * the test that asks for it (never a silent skip).
 */
import { S3Client } from "@aws-sdk/client-s3"
import { S3Store } from "../src/store/s3.ts"

/** Connection details of the real services started for this test run. */
export interface TestServices {
  /** postgres://… URL of a database the tests may create tables in. */
  readonly pgUrl: string
  readonly s3: {
    readonly endpoint: string
    readonly region: string
    readonly accessKeyId: string
    readonly secretAccessKey: string
    /** Whether the server honours If-Match / If-None-Match on PutObject (radosgw: yes). */
    readonly conditionalWrites: boolean
  }
}

function need(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(
      `Cannot find ${name}: run the tests with "make test" (tests/run.ts starts Postgres and S3 and sets it)`,
    )
  }
  return value
}

/** The services of this run; throws when the runner did not start them. */
export function testServices(): TestServices {
  return {
    pgUrl: need("PARQUET_COMPACT_TEST_PG_URL"),
    s3: {
      endpoint: need("PARQUET_COMPACT_TEST_S3_ENDPOINT"),
      region: process.env.PARQUET_COMPACT_TEST_S3_REGION ?? "us-east-1",
      accessKeyId: need("PARQUET_COMPACT_TEST_S3_ACCESS_KEY_ID"),
      secretAccessKey: need("PARQUET_COMPACT_TEST_S3_SECRET_ACCESS_KEY"),
      conditionalWrites: process.env.PARQUET_COMPACT_TEST_S3_CONDITIONAL !== "0",
    },
  }
}

/** An SDK client of this run's radosgw (path-style, no CRC checksums: radosgw rejects them). */
export function testS3Client(services: TestServices = testServices()): S3Client {
  return new S3Client({
    endpoint: services.s3.endpoint,
    region: services.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: services.s3.accessKeyId, secretAccessKey: services.s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
  })
}

/** An S3Store on `bucket` of this run's radosgw whose parts are S3's smallest (5 MiB): a few MiB make several. */
export function smallPartStore(bucket: string, services: TestServices = testServices()): S3Store {
  return new S3Store({
    bucket,
    endpoint: services.s3.endpoint,
    region: services.s3.region,
    forcePathStyle: true,
    multipartThreshold: 5 * 1024 * 1024,
  })
}
