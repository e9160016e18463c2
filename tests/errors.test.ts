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
    ]
    for (const [code, exit] of table) assert.equal(exitCodeOf(new CompactError(code, "x")), exit)
    assert.equal(Object.keys(EXIT_CODES).length, table.length)
  })
  it("treats unknown errors as retryable", () => {
    assert.equal(exitCodeOf(new Error("boom")), 1)
    assert.equal(exitCodeOf("text"), 1)
  })
  it("keeps the cause", () => {
    const cause = new Error("inner")
    assert.equal(new CompactError("RETRYABLE", "outer", { cause }).cause, cause)
  })
})
