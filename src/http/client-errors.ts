/**
 * Answers what Node's HTTP server refuses before Fastify sees a request — parse errors (`clientError`:
 * a malformed request line, header or chunk, headers over the size limit, a header timeout) and
 * unknown `Expect` values (`checkExpectation`) — in the contract's error shape, and closes the
 * connection, whose framing can no longer be trusted. A parse error in bytes that follow a request
 * still being answered is not answered at all: that request's real answer goes out, then the close.
 */
import { type IncomingMessage, maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { type ErrorCode, errorCodes } from '../errors.ts'
import { closeAfterOwed, closeBusyConnections, trackResponses } from './connections.ts'
import { errorBody } from './errors.ts'

interface ClientError extends Error {
  code?: string
  /** llhttp's explanation, e.g. "Invalid method encountered". */
  reason?: string
}

const refused = new WeakSet<Socket>()

/**
 * Fastify's `clientErrorHandler`. Fastify's default writes a bare 400 even while the request before
 * the bad bytes is still being handled, so the client saw a refusal for a change that committed.
 */
export function answerClientError(this: FastifyInstance, err: ClientError, socket: Socket): void {
  // The parser reports again on every later chunk; the first report decided.
  if (err.code === 'ECONNRESET' || socket.destroyed || refused.has(socket)) return
  refused.add(socket)
  if (closeAfterOwed(socket)) return
  const [code, message] = describe(err)
  this.log.info({ statusCode: errorCodes[code].status, code, parserCode: err.code }, 'request refused')
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = JSON.stringify(errorBody(code, message))
  const status = errorCodes[code].status
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  )
}

/**
 * Registers what the server needs besides the handler: the record of owed answers, answers for
 * clients that half-close, the 417 for unknown expectations (Node's own is a bare status line), and, when the app closes, a last answer
 * with `Connection: close` on every busy connection, so that a keep-alive client cannot hold the
 * shutdown open (`server.close()` closes only the connections idle at that moment).
 *
 * @example
 * guardConnections(app)
 */
export function guardConnections(app: FastifyInstance): void {
  trackResponses(app.server)
  // Node's default ends the connection when the client half-closes it, dropping the answers of
  // requests still being handled — which may commit. RFC 9112: a half-closed connection does not
  // mean the client lost interest; with this Node answers them, then closes.
  Object.assign(app.server, { httpAllowHalfOpen: true })
  app.addHook('preClose', async () => closeBusyConnections(app.server))
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(
      errorBody('ERR_EXPECTATION_FAILED', 'the only expectation this server meets is "Expect: 100-continue"'),
    )
    res.writeHead(417, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    })
    res.end(body)
  })
}

function describe(err: ClientError): [ErrorCode, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return ['ERR_HEADERS_TOO_LARGE', `the request headers are larger than ${maxHeaderSize} bytes`]
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return ['ERR_PAYLOAD_TOO_LARGE', 'the chunk extensions of the body are too large']
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return ['ERR_REQUEST_TIMEOUT', 'the request did not arrive in time']
    case 'HPE_INVALID_METHOD':
      return ['ERR_MALFORMED_REQUEST', 'this is not an HTTP/1.1 request, or its method is unknown']
    default:
      return ['ERR_MALFORMED_REQUEST', `the request is not valid HTTP/1.1 (${err.reason ?? err.code ?? err.message})`]
  }
}
