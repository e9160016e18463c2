/**
 * A minimal Postgres client for one job: the COPY connection of a snapshot (see copyInSnapshot()).
 * postgres.js makes several objects and a stream event per COPY row and copies every socket chunk
 * that ends inside a message: on a million log rows ≈0.25 of the decoding thread's ≈0.9 CPU-s. Here
 * the protocol messages are parsed straight out of each socket chunk (wire-reader.ts) and the
 * CopyData payloads appended to one reusable ≈1 MiB buffer (wire-session.ts): no object and no
 * event per row.
 *
 * It speaks only the simple query protocol, is opened with postgres.js' own parsed settings (see
 * wire-auth.ts) and is closed after its COPY. Every wait is bounded: the connect timeout covers
 * connecting and logging in; see wire-session.ts for the waits after that.
 */
import type net from "node:net"
import type postgres from "postgres"
import { withDeadline } from "../deadline.ts"
import { isConnectionLoss } from "../errors.ts"
import { connect } from "./connect.ts"
import { authenticate, type Message, openSocket, startupMessage, type WireOptions } from "./wire-auth.ts"
import { coded, postgresError, WireConnection, type WireLimits } from "./wire-session.ts"

export type { WireOptions } from "./wire-auth.ts"
export { IDLE_MS, START_MS, WireConnection, type WireLimits } from "./wire-session.ts"

/**
 * Opens a session with postgres.js' parsed settings (`sql.options`), trying each host in turn.
 * Connecting and logging in take at most `connect_timeout` seconds (CONNECT_TIMEOUT, RETRYABLE);
 * a refused login throws the server's error (e.g. 28P01, a wrong password).
 */
export async function openWire(
  options: WireOptions & { readonly connect_timeout?: number | null },
  limits: WireLimits = {},
): Promise<WireConnection> {
  const timeoutS = options.connect_timeout || 30
  let lastError: unknown = coded("CONNECTION_CLOSED", "Cannot connect to Postgres: no host given")
  for (let i = 0; i < Math.max(1, options.host.length); i++) {
    const host = options.host[i] ?? "localhost"
    const port = options.port[i] ?? options.port[0] ?? 5432
    let socket: net.Socket | undefined
    const attempt = async () => {
      const wire = new WireConnection(await openSocket(options, host, port, (s) => (socket = s)), limits)
      wire.write(startupMessage(options))
      const refused = await authenticate(wire, options)
      if (refused) throw refused.type === 0x45 ? postgresError(refused.body) : unexpected(refused)
      for (let m = await wire.next(); m.type !== 0x5a /* Z */; m = await wire.next()) {
        if (m.type === 0x45) throw postgresError(m.body)
      }
      return wire
    }
    try {
      return await withDeadline(attempt(), timeoutS * 1000, () => {
        socket?.destroy()
        return coded("CONNECT_TIMEOUT", `Cannot connect to Postgres at "${host}" within ${timeoutS} s`)
      })
    } catch (error) {
      socket?.destroy()
      if (!isConnectionLoss(error)) throw error // a refused login: the next host would refuse too
      lastError = error
    }
  }
  throw lastError
}

function unexpected(m: Message): Error {
  return coded("08P01", `Cannot log in to Postgres: unexpected message "${String.fromCharCode(m.type)}"`)
}

/**
 * The settings postgres.js parses from `url` (or the PG* variables when undefined) plus connect.ts'
 * timeouts, for {@link openWire}: one parser, so both clients reach the same server as the same
 * user. Throws connect()'s BAD_INPUT for a bad URL, without repeating it. Opens no connection.
 */
export function wireOptions(
  url: string | undefined,
  applicationName: string,
  extra: postgres.Options<Record<string, postgres.PostgresType>> = {},
): WireOptions & { readonly connect_timeout?: number | null } {
  const parsed = connect(url, { ...extra, max: 1, connection: { application_name: applicationName } })
  return parsed.options as unknown as WireOptions
}
