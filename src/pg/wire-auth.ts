/**
 * Opening a Postgres session for the wire client of wire.ts: the socket (TCP or unix, TLS the way
 * postgres.js maps `ssl`), the startup message and the password exchanges (cleartext, md5,
 * SCRAM-SHA-256 per RFC 5802/7677 without channel binding). The settings are postgres.js' own,
 * parsed by it from the URL and PG* variables, so both clients reach the same server the same way.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto"
import net from "node:net"
import tls from "node:tls"

/** The parsed settings this client uses, as postgres.js' `sql.options` holds them. */
export interface WireOptions {
  readonly host: readonly string[]
  readonly port: readonly number[]
  readonly path?: string | false | undefined
  readonly user: string
  readonly pass?: string | null | (() => string | Promise<string>) | undefined
  readonly database: string
  readonly ssl?: unknown
  readonly sslnegotiation?: string | null | undefined
  readonly connection: Readonly<Record<string, unknown>>
  /** Seconds before TCP keepalive probes start; 0 or undefined: off. */
  readonly keep_alive?: number | null | undefined
}

/** A protocol message other than the start: its type byte and its body. */
export interface Message {
  readonly type: number
  readonly body: Buffer
}

/** What the handshake needs of a connection: the next message, and a way to send one. */
export interface Link {
  next(): Promise<Message>
  write(bytes: Uint8Array): void
}

/** A message of `type` (one letter) with `body` (strings are NUL-terminated, UTF-8). */
export function frame(type: string, ...parts: (Uint8Array | string)[]): Buffer {
  const bytes = parts.map((p) => typeof p === "string" ? Buffer.from(p + "\0") : p)
  const length = 4 + bytes.reduce((n, b) => n + b.length, 0)
  const out = Buffer.allocUnsafe(1 + length)
  out[0] = type.charCodeAt(0)
  out.writeInt32BE(length, 1)
  let o = 5
  for (const b of bytes) {
    out.set(b, o)
    o += b.length
  }
  return out
}

const int32 = (n: number) => {
  const b = Buffer.allocUnsafe(4)
  b.writeInt32BE(n)
  return b
}

/** Whether `ssl` asks for TLS but accepts a server that has none (postgres.js: only 'prefer'). */
const optionalTls = (ssl: unknown) => ssl === "prefer" || ssl === "allow"

/**
 * Opens the socket to one host: TCP (or the unix socket of `path`), keepalive on, then TLS when
 * `ssl` asks for it: an SSLRequest first unless `sslnegotiation` is 'direct'; 'require', 'allow' and
 * 'prefer' skip certificate checks, an object is passed to tls.connect, anything else truthy
 * verifies the certificate, as postgres.js does. The caller bounds the time and destroys `onSocket`.
 */
export async function openSocket(
  options: WireOptions,
  host: string,
  port: number,
  onSocket: (socket: net.Socket) => void,
): Promise<net.Socket> {
  const raw = options.path ? net.connect({ path: options.path }) : net.connect({ host, port })
  onSocket(raw)
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", resolve)
    raw.once("error", reject)
  })
  raw.removeAllListeners("error")
  raw.on("error", () => {}) // reported by the caller's own listeners from here on
  if (options.keep_alive) raw.setKeepAlive(true, 1000 * options.keep_alive)
  const ssl = options.ssl
  if (!ssl) return raw
  const direct = options.sslnegotiation === "direct"
  if (!direct) {
    raw.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])) // SSLRequest: length 8, code 80877103
    const answer = await new Promise<number>((resolve, reject) => {
      raw.once("data", (b: Buffer) => resolve(b[0] ?? 0))
      raw.once(
        "close",
        () =>
          reject(
            Object.assign(new Error("Cannot open a TLS session: the server closed the connection"), {
              code: "CONNECTION_CLOSED",
            }),
          ),
      )
    })
    raw.removeAllListeners("close")
    if (answer !== 83 /* S */) {
      if (optionalTls(ssl)) return raw
      raw.destroy()
      throw Object.assign(
        new Error(`Cannot open a TLS session: the server at "${host}" does not offer one`),
        {
          code: "08004",
        },
      )
    }
  }
  const tlsOptions: tls.ConnectionOptions = { socket: raw }
  if (!net.isIP(host)) tlsOptions.servername = host
  if (direct) tlsOptions.ALPNProtocols = ["postgresql"]
  if (ssl === "require" || optionalTls(ssl)) tlsOptions.rejectUnauthorized = false
  else if (typeof ssl === "object") Object.assign(tlsOptions, ssl)
  const secure = tls.connect(tlsOptions)
  onSocket(secure)
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve)
    secure.once("error", reject)
  })
  secure.removeAllListeners("error")
  return secure
}

/** The StartupMessage (protocol 3.0): user, database, UTF8 and the `connection` parameters. */
export function startupMessage(options: WireOptions): Buffer {
  const params = Object.entries<unknown>({
    user: options.user,
    database: options.database,
    client_encoding: "UTF8",
    ...options.connection,
  }).filter(([, v]) => v !== undefined && v !== null && v !== false && v !== "")
  const body = Buffer.from(params.map(([k, v]) => `${k}\0${String(v)}\0`).join("") + "\0")
  return Buffer.concat([int32(8 + body.length), int32(196608), body])
}

/**
 * Answers the server's authentication requests until AuthenticationOk (then returns undefined: the
 * session's ParameterStatus, BackendKeyData and ReadyForQuery follow), or returns the first other
 * message, such as an ErrorResponse, for the caller to report.
 */
export async function authenticate(link: Link, options: WireOptions): Promise<Message | undefined> {
  let scram: { nonce: string; firstBare: string; serverSignature?: Buffer } | undefined
  for (;;) {
    const message = await link.next()
    if (message.type !== 82 /* R */) return message
    const body = message.body
    const kind = body.readInt32BE(0)
    if (kind === 0) return undefined // AuthenticationOk
    if (kind === 3) link.write(frame("p", await password(options)))
    else if (kind === 5) {
      const inner = md5(Buffer.from((await password(options)) + options.user))
      link.write(frame("p", "md5" + md5(Buffer.concat([Buffer.from(inner), body.subarray(4, 8)]))))
    } else if (kind === 10) {
      if (!body.toString("utf8", 4).split("\0").includes("SCRAM-SHA-256")) {
        throw unsupported("SASL without SCRAM-SHA-256")
      }
      const nonce = randomBytes(18).toString("base64")
      scram = { nonce, firstBare: `n=*,r=${nonce}` }
      const first = Buffer.from(`n,,${scram.firstBare}`)
      link.write(frame("p", "SCRAM-SHA-256", int32(first.length), first))
    } else if (kind === 11 && scram) {
      const { reply, serverSignature } = scramProof(body.toString("utf8", 4), scram, await password(options))
      scram.serverSignature = serverSignature
      link.write(frame("p", Buffer.from(reply)))
    } else if (kind === 12 && scram?.serverSignature) {
      const v = body.toString("utf8", 4).split(",").find((a) => a.startsWith("v="))
      const got = Buffer.from(v?.slice(2) ?? "", "base64")
      if (got.length !== scram.serverSignature.length || !timingSafeEqual(got, scram.serverSignature)) {
        throw Object.assign(new Error("Cannot trust the server: its SCRAM signature is wrong"), {
          code: "28000",
        })
      }
    } else throw unsupported(`authentication request ${kind}`)
  }
}

/** The client-final message of SCRAM-SHA-256 and the server signature to expect. */
function scramProof(
  serverFirst: string,
  scram: { nonce: string; firstBare: string },
  pass: string,
): { reply: string; serverSignature: Buffer } {
  const attrs = new Map(serverFirst.split(",").map((a) => [a.slice(0, 1), a.slice(2)]))
  const nonce = attrs.get("r") ?? ""
  const salt = Buffer.from(attrs.get("s") ?? "", "base64")
  const iterations = Number.parseInt(attrs.get("i") ?? "", 10)
  if (!nonce.startsWith(scram.nonce) || !(iterations > 0)) {
    throw Object.assign(new Error("Cannot trust the server: its SCRAM challenge is malformed"), {
      code: "28000",
    })
  }
  const salted = pbkdf2Sync(pass, salt, iterations, 32, "sha256")
  const clientKey = hmac(salted, "Client Key")
  const withoutProof = `c=biws,r=${nonce}`
  const auth = `${scram.firstBare},${serverFirst},${withoutProof}`
  const signature = hmac(createHash("sha256").update(clientKey).digest(), auth)
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!))
  return {
    reply: `${withoutProof},p=${proof.toString("base64")}`,
    serverSignature: hmac(hmac(salted, "Server Key"), auth),
  }
}

const hmac = (key: Uint8Array, text: string) => createHmac("sha256", key).update(text).digest()
const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex")

async function password(options: WireOptions): Promise<string> {
  const pass = options.pass
  return String((typeof pass === "function" ? await pass() : pass) ?? "")
}

function unsupported(what: string): Error {
  return Object.assign(
    new Error(`Cannot log in to Postgres: ${what} is not supported; use password, md5 or scram-sha-256`),
    { code: "28000" },
  )
}
