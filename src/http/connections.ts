/**
 * The answers each connection still owes. Node's HTTP parser can fail on bytes that follow a request
 * (bytes beyond Content-Length, a request pipelined after `Connection: close`) while that request is
 * being handled and may commit; answering the parse error then would tell the client that a
 * committed change failed. Knowing what is owed, a connection can finish those answers and close
 * instead, and a closing server can make each connection's last answer say `Connection: close`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

interface Connection {
  /** Unfinished responses, oldest first. */
  readonly responses: ServerResponse[]
  /** The answer we made the connection's last (`Connection: close`), and its keep-alive before that. */
  last?: { readonly res: ServerResponse; readonly keepAlive: boolean }
}

const connections = new WeakMap<Socket, Connection>()
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
    let connection = connections.get(socket)
    if (connection === undefined) {
      connection = { responses: [] }
      connections.set(socket, connection)
    }
    const { responses, last } = connection
    responses.push(res)
    sockets.add(socket)
    // A request pipelined behind the answer meant to be the last (while shutting down): that answer
    // must not close the connection under this one, which becomes the last instead.
    if (last !== undefined && !last.res.headersSent) {
      last.res.shouldKeepAlive = last.keepAlive
      closeAfter(socket, connection, res)
    }
    res.once('close', () => {
      const at = responses.indexOf(res)
      if (at !== -1) responses.splice(at, 1)
      if (responses.length === 0) sockets.delete(socket)
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
  const connection = connections.get(socket)
  const owed = unfinished(connection).filter((res) => res.req.complete || res.headersSent)
  const last = owed.at(-1)
  if (connection === undefined || last === undefined) return false
  closeAfter(socket, connection, last)
  return true
}

/**
 * For shutdown: each connection with an answer in flight closes after its last one, which says
 * `Connection: close`; idle connections are closed by `server.close()` itself.
 *
 * @example
 * app.addHook('preClose', async () => closeBusyConnections(app.server))
 */
export function closeBusyConnections(server: Server): void {
  for (const socket of busy.get(server) ?? []) {
    const connection = connections.get(socket)
    const last = unfinished(connection).at(-1)
    if (connection !== undefined && last !== undefined) closeAfter(socket, connection, last)
  }
}

function unfinished(connection: Connection | undefined): ServerResponse[] {
  return (connection?.responses ?? []).filter((res) => !res.writableFinished)
}

function closeAfter(socket: Socket, connection: Connection, res: ServerResponse): void {
  if (!res.headersSent) {
    // Node then writes `Connection: close` in its head and ends the socket once it is finished.
    connection.last = { res, keepAlive: res.shouldKeepAlive }
    res.shouldKeepAlive = false
  } else {
    res.once('finish', () => socket.destroySoon())
  }
}
