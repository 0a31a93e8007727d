/**
 * SIGTERM with keep-alive clients connected (issue 11, item 13): idle connections are closed at
 * once, an in-flight request gets its 200 with `Connection: close`, and the process exits 0 without
 * waiting for clients to hang up. Every line it prints is JSON, including the give-up line when
 * SHUTDOWN_TIMEOUT_MS runs out.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { sqliteEngine, type TestDatabase } from '../support/engines.ts'
import { identifyHead, identifyRequest, responsesIn } from '../support/raw-http.ts'
import { type ServerProcess, startServer } from '../support/server-process.ts'

async function openSocket(port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  let raw = ''
  socket.on('data', (chunk: Buffer) => {
    raw += chunk.toString()
  })
  return { socket, received: () => raw }
}

async function until(what: string, condition: () => boolean, ms = 10000): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    assert.ok(waited < ms, `timed out waiting for ${what}`)
    await sleep(5)
  }
}

async function sigterm(server: ServerProcess): Promise<{ exited: Promise<unknown[]>; at: number }> {
  const exited = once(server.child, 'exit')
  const at = performance.now()
  server.child.kill('SIGTERM')
  await until('the shutting-down line', () => server.logs.some((l) => l.msg === 'shutting down'))
  return { exited, at }
}

/** A server process on a fresh SQLite file, stopped and removed after the test. */
async function serverFor(
  t: TestContext,
  shutdownTimeoutMs: number,
): Promise<{ server: ServerProcess; db: TestDatabase }> {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const server = await startServer({ DATABASE_URL: db.databaseUrl, SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) })
  t.after(() => server.kill())
  return { server, db }
}

/** A keep-alive connection with a request in flight: routed (100 Continue), its body held back. */
async function heldRequest(port: number, bodyLength: number) {
  const held = await openSocket(port)
  held.socket.write(identifyHead(bodyLength, 'Expect: 100-continue\r\n'))
  await until('100 Continue', () => held.received().includes('100 Continue'))
  return held
}

function assertAllJson(server: ServerProcess): void {
  const plain = server.logs.filter((l) => 'raw' in l && l.raw !== '')
  assert.deepEqual(plain, [], 'every line the server prints is JSON')
}

test('SIGTERM with keep-alive clients: idle ones closed, the in-flight one answered with Connection: close, exit 0 at once', async (t) => {
  const { server, db } = await serverFor(t, 8000)

  // An idle keep-alive client: one request answered, connection left open.
  const idle = await openSocket(server.port)
  idle.socket.write(identifyRequest('{"email":"idle@x.test"}'))
  await until('the idle client answer', () => responsesIn(idle.received()).length === 1)
  const idleClosed = once(idle.socket, 'close')

  // A keep-alive client whose request is in flight.
  const body = '{"email":"busy@x.test"}'
  const busy = await heldRequest(server.port, body.length)
  const busyClosed = once(busy.socket, 'close')

  const { exited, at } = await sigterm(server)
  await idleClosed
  busy.socket.write(body)
  await busyClosed
  const [answer] = responsesIn(busy.received())
  assert.equal(answer?.status, 200, busy.received())
  assert.equal(answer.headers.connection, 'close')
  const [code] = await exited
  assert.equal(code, 0, 'graceful shutdown exits 0')
  const seconds = (performance.now() - at) / 1000
  assert.ok(seconds < 4, `the process exited ${seconds.toFixed(1)} s after SIGTERM; it must not wait for clients`)
  assertAllJson(server)
  assert.ok((await db.store.listContacts()).some((c) => c.email === 'busy@x.test'))
})

test('when SHUTDOWN_TIMEOUT_MS runs out the process exits 1 and says so in a JSON line', async (t) => {
  const { server } = await serverFor(t, 300)

  // A request that never completes holds the close until the timeout.
  const stuck = await heldRequest(server.port, 10)
  const closed = once(server.child.stdout!, 'close')
  const { exited } = await sigterm(server)
  const [code] = await exited
  await closed
  stuck.socket.destroy()
  assert.equal(code, 1)
  assertAllJson(server)
  assert.ok(
    server.logs.some((l) => l.level === 50 && /SHUTDOWN_TIMEOUT_MS/.test(String(l.msg))),
    `a JSON error line names SHUTDOWN_TIMEOUT_MS: ${JSON.stringify(server.logs)}`,
  )
})
