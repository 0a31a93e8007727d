/**
 * Framing that Node's parser lets through but HTTP/1.1 (RFC 9112) says to refuse, because two
 * parties could read the same bytes as different requests: no HTTP version (HTTP/0.9), a missing,
 * empty, invalid or repeated Host (§3.2), and a Transfer-Encoding other than exactly `chunked`,
 * which this server decodes no other coding of (§6.1). Refused before the body is read, with the
 * connection closed. Node's parser itself refuses Content-Length next to Transfer-Encoding,
 * conflicting Content-Lengths and a Transfer-Encoding that does not end in `chunked`.
 */
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'

// uri-host [ ":" port ] (RFC 3986): an IP literal in brackets or a reg-name / IPv4 address.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::\d*)?$/

/**
 * @example
 * refuseAmbiguousFraming(app)
 */
export function refuseAmbiguousFraming(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const problem = framingProblem(request.raw)
    if (problem !== null) {
      // What follows on this connection cannot be told apart from this request's body.
      void reply.header('connection', 'close')
      throw new AppError('ERR_MALFORMED_REQUEST', problem)
    }
  })
}

/** Why the request's framing is refused, or null. */
export function framingProblem(req: IncomingMessage): string | null {
  if (req.httpVersionMajor !== 1) {
    return 'the request line has no valid HTTP version; send "METHOD /path HTTP/1.1"'
  }
  const hosts: string[] = []
  const codings: string[] = []
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    if (name === 'host') hosts.push(raw[i + 1]!)
    else if (name === 'transfer-encoding') codings.push(raw[i + 1]!)
  }
  if (hosts.length > 1) return 'the request has more than one Host header'
  if (hosts.length === 0 && req.httpVersionMinor >= 1) return 'an HTTP/1.1 request needs a Host header'
  if (hosts.length === 1 && !HOST.test(hosts[0]!)) return 'the Host header is empty or not a host[:port]'
  if (codings.length > 0) {
    if (req.httpVersionMinor === 0) return 'Transfer-Encoding is not allowed in an HTTP/1.0 request'
    if (codings.length > 1 || codings[0]!.trim().toLowerCase() !== 'chunked') {
      return `Transfer-Encoding must be exactly "chunked" (got "${codings.join(', ')}"); no other coding is decoded`
    }
  }
  return null
}
