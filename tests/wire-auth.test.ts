/**
 * Logging in with src/pg/wire.ts for real: cleartext, md5 and SCRAM-SHA-256 roles, a wrong password
 * (exit code 2), and TLS as postgres.js maps `ssl`/`sslmode`. The harness (tests/harness/postgres.ts)
 * gives these roles their pg_hba lines and the server a self-signed certificate.
 */
import { after, before, describe, it } from "node:test"
import assert from "node:assert/strict"
import { readFile } from "node:fs/promises"
import postgres from "postgres"
import { exitCodeOf } from "../src/errors.ts"
import { copyOut } from "../src/pg/copyout.ts"
import { openWire, wireOptions } from "../src/pg/wire.ts"
import { testServices } from "./env.ts"

const base = testServices().pgUrl
const sql = postgres(base, { max: 1, onnotice: () => {} })
/** A password that needs percent-encoding in a URL. */
const PASSWORD = "p@ss w:rd/é%"

/** The test URL as `user` with `password`, and query parameters. */
function urlAs(user: string, password: string | undefined, query = ""): string {
  const url = new URL(base)
  url.username = user
  url.password = password === undefined ? "" : encodeURIComponent(password)
  url.search = query
  return url.toString()
}

async function createRole(name: string, encryption: "md5" | "scram-sha-256") {
  await sql.unsafe(`DROP ROLE IF EXISTS ${name}`)
  await sql.unsafe(`SET password_encryption = '${encryption}'`)
  await sql.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD '${PASSWORD.replaceAll("'", "''")}'`)
  await sql.unsafe(`RESET password_encryption`)
}

before(async () => {
  await createRole("wire_md5", "md5")
  await createRole("wire_scram", "scram-sha-256")
  await createRole("wire_clear", "scram-sha-256")
  await createRole("wire_tls", "scram-sha-256")
})

after(async () => {
  for (const role of ["wire_md5", "wire_scram", "wire_clear", "wire_tls"]) {
    await sql.unsafe(`DROP ROLE IF EXISTS ${role}`).catch(() => {})
  }
  await sql.end()
})

/** Who the wire client logged in as, its application name and whether the session uses TLS. */
async function session(options: Parameters<typeof openWire>[0]) {
  const wire = await openWire(options)
  try {
    const [row] = await wire.query(
      `SELECT current_user, current_setting('application_name'), ssl::text
       FROM pg_stat_ssl WHERE pid = pg_backend_pid()`,
    )
    return row
  } finally {
    wire.close()
  }
}

describe("logging in with the wire client", { timeout: 60_000 }, () => {
  it("logs in with cleartext, md5 and SCRAM-SHA-256 passwords (also a password function)", async () => {
    for (const role of ["wire_clear", "wire_md5", "wire_scram"]) {
      assert.deepEqual(await session(wireOptions(urlAs(role, PASSWORD), "wire test")), [
        role,
        "wire test",
        "false",
      ])
    }
    const fromFunction = {
      ...wireOptions(urlAs("wire_scram", undefined), "wire test"),
      pass: () => Promise.resolve(PASSWORD),
    }
    assert.deepEqual(await session(fromFunction), ["wire_scram", "wire test", "false"])
  })

  it("refuses a wrong password with the server's 28P01 (exit code 2)", async () => {
    for (const role of ["wire_clear", "wire_md5", "wire_scram"]) {
      await assert.rejects(openWire(wireOptions(urlAs(role, "wrong"), "wire test")), (error: unknown) => {
        assert.ok(error instanceof postgres.PostgresError)
        assert.equal(error.code, "28P01")
        assert.match(error.message, /password authentication failed/)
        assert.equal(exitCodeOf(error), 2)
        return true
      })
    }
  })

  it("uses TLS for sslmode require and prefer, and verifies the certificate when asked", async () => {
    assert.deepEqual(
      await session(wireOptions(urlAs("wire_tls", PASSWORD, "?sslmode=require"), "wire test")),
      ["wire_tls", "wire test", "true"],
    )
    assert.deepEqual(
      await session(wireOptions(urlAs("postgres", undefined, "?sslmode=prefer"), "wire test")),
      ["postgres", "wire test", "true"],
    )
    // pg_hba refuses wire_tls without TLS
    await assert.rejects(
      openWire(wireOptions(urlAs("wire_tls", PASSWORD), "wire test")),
      (error: unknown) => (error as { code?: string }).code === "28000",
    )
    // the certificate is self-signed: verify-full refuses it, unless it is given as the CA
    await assert.rejects(
      openWire(wireOptions(urlAs("wire_tls", PASSWORD, "?sslmode=verify-full"), "wire test")),
    )
    const [dir] = await sql`SELECT current_setting('data_directory') AS d`
    const ca = await readFile(`${dir!.d}/server.crt`, "utf8")
    const verified = wireOptions(urlAs("wire_tls", PASSWORD), "wire test", { ssl: { ca } })
    assert.deepEqual(await session(verified), ["wire_tls", "wire test", "true"])
  })

  it("streams a big COPY over TLS byte for byte as postgres.js does over plain TCP", async () => {
    const statement =
      `COPY (SELECT g, md5(g::text) FROM generate_series(1, 100000) g) TO STDOUT (FORMAT binary)`
    const parts: Uint8Array[] = []
    for await (const chunk of copyOut(sql, statement)) parts.push(chunk.slice())
    const expected = Buffer.concat(parts)
    const wire = await openWire(wireOptions(base, "wire test", { ssl: "require" }))
    const got: Uint8Array[] = []
    try {
      for await (const chunk of wire.copy(statement)) got.push(chunk.slice())
    } finally {
      wire.close()
    }
    assert.ok(expected.length > 1_000_000)
    assert.ok(Buffer.concat(got).equals(expected))
  })
})
