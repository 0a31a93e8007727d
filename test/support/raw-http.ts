/**
 * HTTP/1.1 over a bare `net` socket, for tests of what no HTTP client would send: trailing bytes,
 * pipelining, malformed framing. `exchange` writes the bytes and collects everything the server
 * answers until it closes the connection (or a quiet period passes); `responsesIn` splits it.
 *
 * @example
 * const { raw, closed } = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
 * const [first] = responsesIn(raw)
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { errorCodes } from '../../src/errors.ts'

export interface RawResponse {
  readonly status: number
  /** The status line and header lines, as sent. */
  readonly head: string
  readonly headers: Record<string, string>
  readonly body: string
}

/**
 * Sends `bytes` on a new connection and resolves with what came back: `closed` is true when the
 * server ended the connection, false when it was still open after `quietMs` without new data.
 */
export async function exchange(
  port: number,
  bytes: string | Buffer,
  { quietMs = 1500 }: { quietMs?: number } = {},
): Promise<{ raw: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {}) // a reset after the answer is the server's right; `closed` says it
  await once(socket, 'connect')
  const chunks: Buffer[] = []
  let timer: NodeJS.Timeout | undefined
  const closed = new Promise<boolean>((resolve) => {
    const quiet = () => {
      clearTimeout(timer)
      timer = setTimeout(() => resolve(false), quietMs)
    }
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      quiet()
    })
    socket.on('close', () => resolve(true))
    quiet()
  })
  socket.write(bytes)
  const wasClosed = await closed
  clearTimeout(timer)
  socket.destroy()
  return { raw: Buffer.concat(chunks).toString('utf8'), closed: wasClosed }
}

/** Complete HTTP/1.1 responses in the order they arrived (interim 1xx excluded; Content-Length bodies). */
export function responsesIn(raw: string): RawResponse[] {
  const out: RawResponse[] = []
  let rest = raw
  while (rest.startsWith('HTTP/1.1 ')) {
    const headEnd = rest.indexOf('\r\n\r\n')
    if (headEnd === -1) break
    const head = rest.slice(0, headEnd)
    const headers: Record<string, string> = {}
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const status = Number(head.slice(9, 12))
    const length = Number(headers['content-length'] ?? 0)
    const body = rest.slice(headEnd + 4, headEnd + 4 + length)
    rest = rest.slice(headEnd + 4 + length)
    if (status >= 200) out.push({ status, head, headers, body })
  }
  return out
}

/** Asserts the contract's error shape with a code from the table and the status that code has. */
export function assertErrorShape(response: RawResponse | { status: number; body: string }, status?: number): string {
  let body: Record<string, unknown>
  try {
    body = JSON.parse(response.body)
  } catch {
    assert.fail(`a ${response.status} answer whose body is not JSON: ${JSON.stringify(response.body)}`)
  }
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], response.body)
  const code = String(body.code)
  assert.ok(Object.hasOwn(errorCodes, code), `code ${code} is in src/errors.ts`)
  assert.equal(body.statusCode, response.status)
  assert.equal(errorCodes[code as keyof typeof errorCodes].status, response.status, `${code} has its table status`)
  assert.equal(typeof body.message, 'string')
  if (status !== undefined) assert.equal(response.status, status, response.body)
  return code
}

/** A `POST /identify` request as raw bytes, with exact headers; `extra` lines end in CRLF. */
export function identifyRequest(body: string, extra = ''): string {
  return identifyHead(Buffer.byteLength(body), extra) + body
}

/** The head of a `POST /identify` request announcing `contentLength` body bytes, for bodies sent later. */
export function identifyHead(contentLength: number, extra = ''): string {
  return (
    `POST /identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${contentLength}\r\n${extra}\r\n`
  )
}
