/**
 * The answers each connection still owes. Node's HTTP parser can fail on bytes that follow a request
 * (bytes beyond Content-Length, a request pipelined after `Connection: close`) while that request is
 * being handled and may commit; answering the parse error then would tell the client that a
 * committed change failed. Knowing what is owed, a connection can finish those answers and close
 * instead, and a closing server can make each connection's last answer say `Connection: close`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

const pending = new WeakMap<Socket, ServerResponse[]>()
const busy = new WeakMap<Server, Set<Socket>>()

/**
 * Records every response on `server` until it closes.
 *
 * @example
 * trackResponses(app.server)
 */
export function trackResponses(server: Server): void {
  const sockets = new Set<Socket>()
  busy.set(server, sockets)
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    let list = pending.get(socket)
    if (list === undefined) {
      list = []
      pending.set(socket, list)
    }
    list.push(res)
    sockets.add(socket)
    const owner = list
    res.once('close', () => {
      const at = owner.indexOf(res)
      if (at !== -1) owner.splice(at, 1)
      if (owner.length === 0) sockets.delete(socket)
    })
  })
}

/**
 * After a parse error on `socket`: closes it once the answers it owes are out — those whose request
 * arrived whole (its handler may commit) or whose answer has started. Returns false when nothing is
 * owed, so the caller may answer the error itself.
 *
 * @example
 * if (!closeAfterOwed(socket)) refuse(socket, err)
 */
export function closeAfterOwed(socket: Socket): boolean {
  const owed = unfinished(socket).filter((res) => res.req.complete || res.headersSent)
  return closeAfter(socket, owed.at(-1))
}

/**
 * For shutdown: each connection with an answer in flight closes after its last one, which says
 * `Connection: close`; idle connections are closed by `server.close()` itself.
 *
 * @example
 * app.addHook('preClose', async () => closeBusyConnections(app.server))
 */
export function closeBusyConnections(server: Server): void {
  for (const socket of busy.get(server) ?? []) closeAfter(socket, unfinished(socket).at(-1))
}

function unfinished(socket: Socket): ServerResponse[] {
  return (pending.get(socket) ?? []).filter((res) => !res.writableFinished)
}

function closeAfter(socket: Socket, last: ServerResponse | undefined): boolean {
  if (last === undefined) return false
  if (!last.headersSent) {
    // Node then writes `Connection: close` in its head and ends the socket once it is finished.
    last.shouldKeepAlive = false
  } else {
    last.once('finish', () => socket.destroySoon())
  }
  return true
}
