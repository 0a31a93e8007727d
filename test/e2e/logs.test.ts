/**
 * What the running server writes to its log (README: "Bodies, client addresses and query strings
 * are never logged at info"; a refusal's line names its error code), and SIGINT as a graceful stop
 * like SIGTERM.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { sqliteEngine } from '../support/engines.ts'
import { startServer } from '../support/server-process.ts'

test('request lines carry id, route, status and time, and no personal data; SIGINT exits 0', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const server = await startServer({ DATABASE_URL: db.databaseUrl, LOG_LEVEL: 'info' })
  t.after(() => server.kill())

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const ok = await post(
    '/identify?token=secret-query-value',
    { email: 'Private.Person@example.com', phoneNumber: '555 000 1111' },
    { 'x-request-id': 'trace-ok' },
  )
  assert.equal(ok.status, 200)
  const bad = await post(
    '/identify',
    { email: 'leaky-not-an-email', phoneNumber: '555 000 2222' },
    { 'x-request-id': 'trace-bad' },
  )
  assert.equal(bad.status, 400)

  const closed = once(server.child.stdout!, 'close')
  server.child.kill('SIGINT')
  const [code] = await once(server.child, 'exit')
  await closed
  assert.equal(code, 0, 'SIGINT is a graceful stop')

  const requestLines = server.logs.filter((l) => l.reqId === 'trace-ok' || l.reqId === 'trace-bad')
  const okLine = requestLines.find((l) => l.reqId === 'trace-ok' && l.msg === 'request completed')
  assert.ok(okLine, `a completion line for trace-ok in ${JSON.stringify(server.logs)}`)
  assert.equal(okLine.route, '/identify')
  assert.equal(okLine.statusCode, 200)
  assert.equal(typeof okLine.ms, 'number')
  assert.equal(okLine.code, undefined, 'a success carries no error code')
  const badLine = requestLines.find((l) => l.reqId === 'trace-bad' && l.msg === 'request completed')
  assert.ok(badLine, 'a completion line for trace-bad')
  assert.equal(badLine.statusCode, 400)
  assert.equal(badLine.code, 'ERR_INVALID_INPUT', 'a refusal names its code')
  assert.ok(server.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGINT'))

  const text = JSON.stringify(requestLines)
  for (const secret of [
    'private.person',
    'Private.Person',
    '5550001111',
    '555 000 1111',
    'secret-query-value',
    'leaky',
    '2222',
    '127.0.0.1',
  ]) {
    assert.ok(!text.includes(secret), `the request log contains ${secret}: ${text}`)
  }
})

test('request lines appear within a second at low traffic, and a 4xx line carries its error code', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const server = await startServer({ DATABASE_URL: db.databaseUrl, LOG_LEVEL: 'info' })
  t.after(() => server.kill())

  const lineFor = async (reqId: string) => {
    const started = performance.now()
    for (;;) {
      const line = server.logs.find((l) => l.reqId === reqId && l.msg === 'request completed')
      if (line) return line
      assert.ok(performance.now() - started < 1500, `no log line for ${reqId} after 1.5 s: the buffer was not flushed`)
      await sleep(20)
    }
  }
  const post = (body: unknown, reqId: string, path = '/identify') =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': reqId },
      body: JSON.stringify(body),
    })

  assert.equal((await post({ email: 'quiet@example.com' }, 'low-traffic')).status, 200)
  assert.equal((await lineFor('low-traffic')).code, undefined, 'a 200 has no error code')
  assert.equal((await post({ email: 'not-an-email' }, 'bad-input')).status, 400)
  assert.equal((await lineFor('bad-input')).code, 'ERR_INVALID_INPUT')
  assert.equal((await post({}, 'no-route', '/nowhere')).status, 404)
  assert.equal((await lineFor('no-route')).code, 'ERR_NOT_FOUND')
})
