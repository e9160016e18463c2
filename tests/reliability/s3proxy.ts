/**
 * A fault-injecting HTTP proxy in front of the real S3 server (radosgw), for the fault tests. Each
 * request that matches a scripted rule takes that rule's next fault; everything else passes through
 * untouched (the Host header too, so SigV4 signatures stay valid). Faults:
 * - `slowdown`: 503 with an S3 `SlowDown` error body (throttling)
 * - `error500`: 500 with an S3 `InternalError` body
 * - `reset`: the request reaches S3, then the connection is destroyed halfway through the response
 *   body (or before any response when the body is empty)
 * - `stall`: the request is never answered (the connection stays open and silent)
 * - `stallBody`: the response head and half the body are sent, then nothing more
 * - `truncate`: the head (with the full Content-Length) and half the body, then a clean close
 */
import {
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from "node:http"
import type { Socket } from "node:net"

/** What the proxy does to one request. */
export type Fault = "pass" | "slowdown" | "error500" | "reset" | "stall" | "stallBody" | "truncate"

/** Every fault kind that breaks a request, in the order the tests try them. */
export const FAULTS: readonly Fault[] = ["slowdown", "error500", "reset", "stall", "stallBody", "truncate"]

/** One request the proxy saw, and what it did. */
export interface Seen {
  readonly method: string
  readonly path: string
  readonly fault: Fault
}

interface Rule {
  readonly method: string | undefined
  readonly pathIncludes: string
  readonly faults: Fault[]
}

const errorBody = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`

/** A running proxy; `close()` it when done. */
export class S3Proxy {
  readonly seen: Seen[] = []
  readonly #rules: Rule[] = []
  readonly #sockets = new Set<Socket>()
  readonly #server: Server
  readonly #upstream: URL
  #port = 0

  private constructor(upstream: string) {
    this.#upstream = new URL(upstream)
    this.#server = createServer((req, res) => void this.#handle(req, res))
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket)
      socket.on("close", () => this.#sockets.delete(socket))
    })
  }

  /** Starts a proxy on a free port of 127.0.0.1 in front of `upstream` (http://host:port). */
  static async start(upstream: string): Promise<S3Proxy> {
    const proxy = new S3Proxy(upstream)
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve))
    proxy.#port = (proxy.#server.address() as { port: number }).port
    return proxy
  }

  /** http://127.0.0.1:PORT */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /**
   * Scripts the next requests whose method is `method` (any when undefined) and whose path holds
   * `pathIncludes`: the first gets `faults[0]`, the next `faults[1]`, …; then they pass.
   */
  script(method: string | undefined, pathIncludes: string, faults: Fault[]): void {
    this.#rules.push({ method, pathIncludes, faults: [...faults] })
  }

  /** Forgets every rule and what was seen. */
  reset(): void {
    this.#rules.length = 0
    this.seen.length = 0
  }

  /** How many scripted faults are still waiting for a request. */
  get pending(): number {
    return this.#rules.reduce((n, r) => n + r.faults.length, 0)
  }

  #next(method: string, path: string): Fault {
    for (const rule of this.#rules) {
      if ((rule.method === undefined || rule.method === method) && path.includes(rule.pathIncludes)) {
        const fault = rule.faults.shift()
        if (fault !== undefined) return fault
      }
    }
    return "pass"
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET"
    const path = req.url ?? "/"
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const fault = this.#next(method, path)
    this.seen.push({ method, path, fault })
    if (fault === "stall") return // never answered; the client's timeout must end it
    if (fault === "slowdown" || fault === "error500") {
      const [status, code, message] = fault === "slowdown"
        ? [503, "SlowDown", "Please reduce your request rate."]
        : [500, "InternalError", "We encountered an internal error. Please try again."]
      const text = errorBody(code, message)
      res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(text) })
      res.end(text)
      return
    }
    const upstream = await this.#forward(method, path, req.headers, body).catch(() => undefined)
    if (!upstream) {
      res.socket?.destroy()
      return
    }
    const { status, headers, payload } = upstream
    if (fault === "pass" || (payload.length < 2 && fault !== "reset")) {
      res.writeHead(status, headers)
      res.end(payload)
      return
    }
    if (fault === "reset" && payload.length < 2) {
      res.socket?.destroy()
      return
    }
    res.writeHead(status, headers) // with the upstream Content-Length: the body will fall short of it
    res.write(payload.subarray(0, payload.length >> 1))
    if (fault === "reset") setTimeout(() => res.socket?.destroy(), 20)
    else if (fault === "truncate") setTimeout(() => res.socket?.end(), 20)
    // stallBody: nothing more is sent
  }

  #forward(
    method: string,
    path: string,
    headers: IncomingMessage["headers"],
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[]>; payload: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = httpRequest({
        host: this.#upstream.hostname,
        port: this.#upstream.port,
        method,
        path,
        headers, // Host included: the signature covers it
      }, async (res) => {
        const parts: Buffer[] = []
        for await (const part of res) parts.push(part as Buffer)
        const payload = Buffer.concat(parts)
        const kept: Record<string, string | string[]> = {}
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined && name !== "transfer-encoding" && name !== "connection") kept[name] = value
        }
        if (method !== "HEAD") kept["content-length"] = String(payload.length)
        resolve({ status: res.statusCode ?? 502, headers: kept, payload })
      })
      out.on("error", reject)
      out.end(body)
    })
  }

  /** Stops listening and cuts every open connection (stalled ones too). */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
