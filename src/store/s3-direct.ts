/**
 * The two requests S3Store makes once per Parquet file, sent as signed fetches past the SDK's
 * middleware stack: the content-addressed PUT and the read-back of an object's end (its size and
 * Parquet footer in one GET). Through the SDK each cost 1–2 ms of CPU (PUT 2.3–3.6 ms, HEAD 0.7,
 * footer GET 0.9 against radosgw), a quarter of the client's CPU at 10,000-row files.
 *
 * Everything else stays the SDK's: the endpoint comes from its endpoint rules for the bucket (once),
 * the credentials from its default chain (which refreshes them), the signature from its SigV4
 * signer. Failures are shaped like its errors (`name` is the S3 error code, `$metadata.httpStatusCode`
 * the status), so s3Failure() and the callers read both alike. Waits are bounded as on the SDK path:
 * response headers within the request timeout when a body is sent, else within the idle timeout; a
 * response body silent for the idle timeout breaks off. Retries follow the SDK's standard mode.
 */
import type { S3Client } from "@aws-sdk/client-s3"
import { SignatureV4 } from "@smithy/signature-v4"
import { sleep } from "../deadline.ts"
import { BodyFault, readBody } from "./body.ts"
import { answerError, isClockSkew, retryKind, S3ResponseError } from "./s3-answer.ts"
import { checkSha256, IDLE_TIMEOUT_MS, REQUEST_TIMEOUT_MS, type S3Options } from "./s3-client.ts"
import type { ObjectTail } from "./store.ts"

/** Bounds of every request, as S3Options gives them. */
export interface DirectBounds {
  readonly maxAttempts: number
  /** Milliseconds to the response headers when a body is sent. */
  readonly requestTimeout: number
  /** Milliseconds of silence: to the headers when no body is sent, and between body bytes. */
  readonly idleTimeout: number
}

/** One request to send: `ok` says which answers are not failures. */
interface Call {
  readonly method: "GET" | "PUT"
  readonly key: string
  readonly headers: Record<string, string>
  readonly body: Uint8Array | undefined
  readonly ok: (status: number) => boolean
}

/** Signed requests to one bucket. */
export class DirectS3 {
  readonly #signer: SignatureV4
  readonly #bucketUrl: URL
  readonly #bounds: DirectBounds
  /** The client's config: its clock offset, which the SDK corrects from the server's Date. */
  readonly #clock: { systemClockOffset: number }

  private constructor(
    signer: SignatureV4,
    bucketUrl: URL,
    bounds: DirectBounds,
    clock: { systemClockOffset: number },
  ) {
    this.#signer = signer
    this.#bucketUrl = bucketUrl
    this.#bounds = bounds
    this.#clock = clock
  }

  /** Whether a fetch can name `key`: a URL's "." and ".." segments are resolved away, the SDK sends them. */
  static names(key: string): boolean {
    return !key.split("/").some((segment) => segment === "." || segment === "..")
  }

  /** The direct path for an S3Store's client and options, unless they turn it off. */
  static async forStore(client: S3Client, options: S3Options): Promise<DirectS3 | undefined> {
    if (options.directRequests === false) return undefined
    return await DirectS3.open(client, options.bucket, options.endpoint, {
      maxAttempts: options.maxAttempts ?? 6,
      requestTimeout: options.requestTimeout ?? REQUEST_TIMEOUT_MS,
      idleTimeout: options.idleTimeout ?? IDLE_TIMEOUT_MS,
    })
  }

  /**
   * The direct path to `bucket` as the client reaches it, or undefined where the SDK's endpoint
   * rules sign it otherwise than with plain SigV4 (S3 Express, multi-region access points).
   */
  static async open(
    client: S3Client,
    bucket: string,
    endpoint: string | undefined,
    bounds: DirectBounds,
  ): Promise<DirectS3 | undefined> {
    // Bun's and Deno's fetch take HTTP(S)_PROXY from the environment, the SDK's node:http handler does
    // not: where one is set, the SDK sends these requests too, so every request goes the same way
    if (PROXY_VARIABLES.some((name) => process.env[name])) return undefined
    const config = client.config
    const resolved = config.endpointProvider({
      Bucket: bucket,
      Region: await config.region(),
      UseFIPS: await config.useFipsEndpoint(),
      UseDualStack: await config.useDualstackEndpoint(),
      ForcePathStyle: config.forcePathStyle,
      Accelerate: config.useAccelerateEndpoint,
      ...(endpoint ? { Endpoint: endpoint } : {}),
    })
    const scheme =
      (resolved.properties?.authSchemes as { name?: string; signingRegion?: string }[] | undefined)?.[0]
    if (endpoint === undefined && config.isCustomEndpoint) return undefined
    // AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, endpoint_url: the SDK reads them at its first request only
    if (
      endpoint === undefined && !config.ignoreConfiguredEndpointUrls &&
      await config.serviceConfiguredEndpoint?.()
    ) {
      return undefined
    }
    if (!scheme || scheme.name !== "sigv4" || !scheme.signingRegion) return undefined
    const signer = new SignatureV4({
      credentials: config.credentials,
      region: scheme.signingRegion,
      service: "s3",
      sha256: config.sha256,
      uriEscapePath: false, // S3 signs the path as sent, encoded once
      applyChecksum: false,
    })
    return new DirectS3(signer, new URL(resolved.url.href), bounds, config)
  }

  /**
   * PUTs `body`, which the server checks against `sha256` (the signed payload hash) before storing
   * it; with `ifNoneMatch` only where no object is (412 PreconditionFailed otherwise).
   */
  async put(key: string, body: Uint8Array, sha256: string, contentType: string, ifNoneMatch: boolean) {
    checkSha256(sha256)
    const headers: Record<string, string> = { "content-type": contentType, "x-amz-content-sha256": sha256 }
    if (ifNoneMatch) headers["if-none-match"] = "*"
    const { response } = await this.#request({
      method: "PUT",
      key,
      headers,
      body,
      ok: (status) => status === 200,
    })
    return { etag: response.headers.get("etag") ?? "" }
  }

  /** The last `length` bytes of an object and its size, from one ranged GET. */
  async tail(key: string, length: number): Promise<ObjectTail> {
    const headers = { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", range: `bytes=-${length}` }
    // 416: a suffix range is unsatisfiable only on an empty object (RFC 9110, 14.1.2)
    const ok = (status: number) => status === 206 || status === 200 || status === 416
    const { response, bytes } = await this.#request({ method: "GET", key, headers, body: undefined, ok })
    if (response.status === 200) return { size: bytes.length, bytes: bytes.subarray(-length) } // range ignored
    if (response.status === 416) {
      if (!/^bytes \*\/0$/.test(response.headers.get("content-range") ?? "bytes */0")) {
        throw new S3ResponseError(
          416,
          "InvalidRange",
          `the server refuses the last ${length} bytes of a non-empty object`,
        )
      }
      return { size: 0, bytes: new Uint8Array(0) }
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("content-range") ?? "")
    if (
      !range || Number(range[2]) + 1 !== Number(range[3]) ||
      Number(range[2]) - Number(range[1]) + 1 !== bytes.length
    ) {
      throw new S3ResponseError(
        206,
        "InvalidContentRange",
        `the answer's Content-Range does not fit its body`,
      )
    }
    return { size: Number(range[3]), bytes }
  }

  /** One request, retried like the SDK's standard mode; an answer `ok` rejects leaves as an S3ResponseError. */
  async #request(call: Call): Promise<{ response: Response; bytes: Uint8Array }> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#once(call)
      } catch (error) {
        const kind = retryKind(error)
        if (!kind || attempt >= this.#bounds.maxAttempts) throw error
        // full jitter, as the SDK: up to 100 ms (500 ms when throttled) times 2^attempt, at most 20 s
        await sleep(Math.random() * Math.min(20_000, (kind === "throttled" ? 500 : 100) * 2 ** attempt))
      }
    }
  }

  async #once({ method, key, headers, body, ok }: Call): Promise<{ response: Response; bytes: Uint8Array }> {
    const url = new URL(this.#bucketUrl.href)
    url.pathname = `${url.pathname.replace(/\/$/, "")}/${encodeKey(key)}`
    const signed = await this.#signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: {},
      headers: { ...headers, host: url.host },
      body,
    }, { signingDate: new Date(Date.now() + (this.#clock.systemClockOffset ?? 0)) })
    const controller = new AbortController()
    const wait = body
      ? this.#bounds.requestTimeout
      : Math.min(this.#bounds.requestTimeout, this.#bounds.idleTimeout)
    const timer = setTimeout(() => controller.abort(), wait)
    const { host: _, ...send } = signed.headers // fetch sets Host from the URL, as signed
    let response: Response
    try {
      const payload = (body ?? null) as Uint8Array<ArrayBuffer> | null // our bodies are never shared memory
      response = await fetch(url, {
        method,
        headers: send,
        body: payload,
        signal: controller.signal,
        redirect: "manual",
      })
    } catch (error) {
      if (controller.signal.aborted) {
        throw Object.assign(new Error(`no answer within ${wait} ms`), { name: "TimeoutError" })
      }
      // refused, reset, DNS: what the SDK calls network errors
      throw Object.assign(new Error((error as Error)?.message ?? String(error)), {
        name: "NetworkError",
        cause: error,
      })
    } finally {
      clearTimeout(timer)
    }
    let bytes: Uint8Array = new Uint8Array(0)
    try {
      const length = response.headers.get("content-length")
      const expected = length === null ? undefined : Number(length)
      if (response.body) bytes = await readBody(response.body, this.#bounds.idleTimeout, expected)
      else if (expected) throw new BodyFault(`the answer has no body but a Content-Length of ${expected}`)
    } catch (error) {
      controller.abort() // frees the connection of a stalled body
      throw error
    }
    if (!ok(response.status)) {
      const error = answerError(response.status, bytes)
      const serverTime = Date.parse(response.headers.get("date") ?? "")
      if (isClockSkew(error) && !Number.isNaN(serverTime)) {
        this.#clock.systemClockOffset = serverTime - Date.now() // as the SDK does; then retried
      }
      throw error
    }
    return { response, bytes }
  }
}

const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"]

/** A key as a URL path, each segment encoded as the SDK does (RFC 3986, `!'()*` too). */
export function encodeKey(key: string): string {
  return key.split("/").map((part) =>
    encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  ).join("/")
}
