import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { CompactError, EXIT_CODES, exitCodeOf, isConnectionLoss } from "../src/errors.ts"
import { sleep, withDeadline } from "../src/deadline.ts"
import { connect } from "../src/pg/connect.ts"
import { BodyFault, readBody } from "../src/store/body.ts"
import { s3Failure } from "../src/store/s3-errors.ts"

describe("exitCodeOf", () => {
  it("maps each code to its documented exit code", () => {
    const table: [CompactError["code"], number][] = [
      ["RETRYABLE", 1],
      ["BAD_INPUT", 2],
      ["NOT_FINAL", 3],
      ["INTEGRITY", 4],
      ["LOCKED", 5],
      ["INTERRUPTED", 143],
    ]
    for (const [code, exit] of table) assert.equal(exitCodeOf(new CompactError(code, "x")), exit)
    assert.equal(Object.keys(EXIT_CODES).length, table.length)
  })
  it("treats unknown errors as retryable", () => {
    assert.equal(exitCodeOf(new Error("boom")), 1)
    assert.equal(exitCodeOf("text"), 1)
  })
  it("classifies Postgres and S3 errors that no retry can fix", () => {
    const table: [object, number][] = [
      [{ code: "28P01" }, 2], // password authentication failed
      [{ code: "3D000" }, 2], // database does not exist
      [{ code: "42501" }, 2], // permission denied
      [{ code: "23503" }, 4], // foreign key violation
      [{ code: "40001" }, 1], // serialization failure: retry
      [{ code: "ECONNREFUSED" }, 1],
      [{ name: "AccessDenied" }, 2],
      [{ name: "NoSuchBucket" }, 2],
      [{ name: "SlowDown" }, 1],
    ]
    for (const [error, exit] of table) assert.equal(exitCodeOf(Object.assign(new Error("x"), error)), exit)
  })
  it("keeps the cause", () => {
    const cause = new Error("inner")
    assert.equal(new CompactError("RETRYABLE", "outer", { cause }).cause, cause)
  })
})

describe("s3Failure", () => {
  const s3Error = (name: string, status?: number, message = "x") =>
    Object.assign(new Error(message), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) })
  it("names what no retry can fix (exit 2) and keeps the rest retryable (exit 1)", () => {
    const table: [Error, string, RegExp][] = [
      [s3Error("NoSuchBucket", 404), "BAD_INPUT", /bucket "b": it does not exist at http:\/\/h; create it/],
      [s3Error("SignatureDoesNotMatch", 403), "BAD_INPUT", /the S3 secret key or access key id is wrong/],
      [s3Error("InvalidAccessKeyId", 403), "BAD_INPUT", /the S3 secret key or access key id is wrong/],
      [s3Error("AccessDenied", 403), "BAD_INPUT", /Cannot read "k" in bucket "b": access denied/],
      [s3Error("UnknownError", 403), "BAD_INPUT", /access denied/],
      [s3Error("PermanentRedirect", 301), "BAD_INPUT", /another region.*--s3-region/],
      [
        s3Error("CredentialsProviderError", undefined, "Could not load credentials from any providers"),
        "BAD_INPUT",
        /no AWS credentials found; tried the environment \(AWS_ACCESS_KEY_ID.*instance metadata/,
      ],
      [s3Error("TimeoutError"), "RETRYABLE", /did not answer in time/],
      [s3Error("SlowDown", 503), "RETRYABLE", /SlowDown \(HTTP 503\).*worth retrying/],
      [s3Error("InternalError", 500), "RETRYABLE", /InternalError \(HTTP 500\)/],
      [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "RETRYABLE", /socket hang up/],
    ]
    for (const [error, code, message] of table) {
      const mapped = s3Failure(error, `read "k"`, "b", " at http://h")
      assert.ok(mapped instanceof CompactError, error.name)
      assert.equal(mapped.code, code, error.name)
      assert.match(mapped.message, message)
      assert.doesNotMatch(mapped.message, /\n/)
      assert.equal(mapped.cause, error)
    }
  })
  it("leaves CompactErrors and non-errors as they are", () => {
    const own = new CompactError("INTEGRITY", "x")
    assert.equal(s3Failure(own, "a", "b", ""), own)
    assert.equal(s3Failure("text", "a", "b", ""), "text")
  })
})

describe("isConnectionLoss", () => {
  it("knows postgres.js and server codes of a lost connection, and its null-socket TypeErrors", () => {
    for (
      const code of [
        "ECONNRESET",
        "CONNECTION_CLOSED",
        "CONNECTION_ENDED",
        "CONNECT_TIMEOUT",
        "57P01",
        "08006",
      ]
    ) {
      const error = Object.assign(new Error("x"), { code })
      assert.ok(isConnectionLoss(error), code)
      assert.equal(exitCodeOf(error), 1, code)
    }
    assert.ok(isConnectionLoss(new TypeError("null is not an object (evaluating 'socket.write')")))
    assert.ok(isConnectionLoss(new TypeError("Cannot read properties of null (reading 'resume')")))
    assert.ok(!isConnectionLoss(Object.assign(new Error("x"), { code: "42P01" })))
    assert.ok(!isConnectionLoss(new TypeError("x is not a function")))
  })
})

describe("connect", () => {
  it("refuses an invalid database URL with BAD_INPUT and never repeats it", () => {
    for (
      const url of [
        "localhost:5432/db?password=hunter2",
        "postgres://u:hunter2%zz@h/db",
        "mysql://u:hunter2@h/db",
      ]
    ) {
      const error = (() => {
        try {
          connect(url)
        } catch (e) {
          return e
        }
      })()
      assert.ok(error instanceof CompactError, url)
      assert.equal(error.code, "BAD_INPUT")
      assert.match(error.message, /^Cannot use the database URL: /)
      assert.doesNotMatch(error.message, /hunter2/)
      assert.equal(error.cause, undefined, "the cause may quote the URL")
    }
  })
})

describe("deadlines", () => {
  it("withDeadline settles as the promise does, or rejects once the time is up", async () => {
    assert.equal(await withDeadline(Promise.resolve(1), 1000, () => new Error("late")), 1)
    const t0 = performance.now()
    await assert.rejects(withDeadline(new Promise(() => {}), 50, () => new Error("late")), /late/)
    assert.ok(performance.now() - t0 < 1000)
    // a rejection after the deadline is handled, not an unhandled rejection
    const slow = new Promise((_, reject) => setTimeout(() => reject(new Error("after")), 80))
    await assert.rejects(withDeadline(slow, 10, () => new Error("late")), /late/)
    await sleep(100)
  })

  it("readBody returns the whole body, and a BodyFault when it is short, fails or stalls", async () => {
    async function* chunks(parts: string[], then?: "fail" | "stall") {
      for (const p of parts) yield new TextEncoder().encode(p)
      if (then === "fail") throw Object.assign(new Error("aborted"), { code: "ECONNRESET" })
      if (then === "stall") await new Promise(() => {})
    }
    assert.equal(new TextDecoder().decode(await readBody(chunks(["ab", "cd"]), 1000, 4)), "abcd")
    await assert.rejects(
      readBody(chunks(["ab"]), 1000, 4),
      (e) => e instanceof BodyFault && /2 of 4/.test(e.message),
    )
    await assert.rejects(
      readBody(chunks(["ab"], "fail"), 1000, 4),
      (e) => e instanceof BodyFault && /aborted/.test(e.message),
    )
    const t0 = performance.now()
    await assert.rejects(
      readBody(chunks(["ab"], "stall"), 60, 4),
      (e) => e instanceof BodyFault && /60 ms/.test(e.message),
    )
    assert.ok(performance.now() - t0 < 1000)
  })
})
