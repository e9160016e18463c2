/**
 * Reads the counts out of the JUnit XML that `bun test --reporter=junit` writes: one
 * `<testcase>` per test, with a `<failure>` or `<error>` child when it failed and a `<skipped>`
 * child when it was skipped or marked todo.
 */

/** Test counts of one run. */
export interface JunitCounts {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

const TESTCASE = /<testcase\b[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g

/** Counts the test cases of a JUnit XML document (attribute values never contain a raw `>`). */
export function parseJunit(xml: string): JunitCounts {
  if (!/<testsuites?\b/.test(xml)) throw new Error("not a JUnit XML document (no <testsuites> element)")
  let passed = 0
  let failed = 0
  let skipped = 0
  for (const match of xml.matchAll(TESTCASE)) {
    const body = match[1] ?? ""
    if (/<(?:failure|error)\b/.test(body)) failed++
    else if (/<skipped\b/.test(body)) skipped++
    else passed++
  }
  return { passed, failed, skipped }
}

/** The summary line CI reads: `N passed, N failed`, plus `, N skipped` when any were skipped. */
export function summaryLine(counts: JunitCounts): string {
  const line = `${counts.passed} passed, ${counts.failed} failed`
  return counts.skipped > 0 ? `${line}, ${counts.skipped} skipped` : line
}
