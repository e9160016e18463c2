import { describe, it } from "node:test"
import assert from "node:assert/strict"
import { CompactError, EXIT_CODES, exitCodeOf } from "../src/errors.ts"

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
