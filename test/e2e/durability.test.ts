/**
 * SPEC §4 "a 200 means committed", with real processes on a SQLite file: `kill -9` right after the
 * last 200 loses nothing (inserts and merges), nor in the middle of a storm of group-committed
 * writes, and SIGTERM lets in-flight requests finish with 200,
 * exits 0 and leaves their changes on disk.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'node:http'
import { connect } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { IdentityView } from '../../src/identity/contact.ts'
import type { IdentifyInput } from '../../src/identity/normalize.ts'
import { sqliteEngine } from '../support/engines.ts'
import { identify } from '../support/http.ts'
import { assertInvariants } from '../support/invariants.ts'
import { responsesIn } from '../support/raw-http.ts'
import { startServer } from '../support/server-process.ts'

test('kill -9 right after a 200 loses nothing: inserts and merges survive a restart', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const env = { DATABASE_URL: db.databaseUrl }

  // Round 1: 20 writes in a row, interleaved over 4 identities (a primary, then secondaries).
  const GROUPS = 4
  const bodies: IdentifyInput[] = Array.from({ length: 20 }, (_, k) => ({
    email: `g${k % GROUPS}.s${Math.floor(k / GROUPS)}@example.com`,
    phoneNumber: `1000${k % GROUPS}`,
  }))
  const first = await startServer(env)
  const latest = new Map<string, IdentityView>()
  for (const body of bodies) latest.set(body.phoneNumber as string, await identify(first.url, body))
  await first.kill()
  assert.equal(first.child.signalCode, 'SIGKILL')

  const second = await startServer(env)
  for (const body of bodies) {
    const view = await identify(second.url, body)
    assert.deepEqual(view, latest.get(body.phoneNumber as string), `after kill -9: ${JSON.stringify(body)}`)
  }
  assert.equal((await db.store.listContacts()).length, bodies.length, 'a replay after restart created a contact')

  // Round 2: merges rewrite existing rows (a primary demoted, its secondaries relinked) rather than
  // append, so they are killed right after the last 200 too.
  const merges: IdentifyInput[] = [
    { email: 'g0.s0@example.com', phoneNumber: '10001' },
    { email: 'g2.s4@example.com', phoneNumber: '10003' },
  ]
  const merged: IdentityView[] = []
  for (const body of merges) merged.push(await identify(second.url, body))
  await second.kill()

  const third = await startServer(env)
  t.after(() => third.stop())
  for (const [i, body] of merges.entries()) {
    assert.deepEqual(await identify(third.url, body), merged[i], `merge ${i} lost by kill -9`)
  }
  const rows = await db.store.listContacts()
  assert.equal(rows.length, bodies.length, 'merges of known values create no contact')
  assert.equal(rows.filter((r) => r.linkPrecedence === 'primary').length, 2, 'four identities merged into two')
  assertInvariants(rows, [...bodies, ...merges])
  assert.equal(await third.stop(), 0)
})

/** A POST whose headers reached the server (it answered `100 Continue`) but whose body is held back. */
async function heldRequest(url: string, body: IdentifyInput) {
  const json = JSON.stringify(body)
  const req = request(`${url}/identify`, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), expect: '100-continue' },
  })
  const response = once(req, 'response')
  req.flushHeaders()
  // Node answers 100 Continue just before it hands the request to Fastify, so from here on the
  // request is routed and in flight.
  await once(req, 'continue')
  return {
    async finish(): Promise<{ status: number; text: string }> {
      req.end(json)
      const [res] = (await response) as [import('node:http').IncomingMessage]
      let text = ''
      for await (const chunk of res) text += chunk
      return { status: res.statusCode ?? 0, text }
    },
  }
}

test('SIGTERM lets in-flight requests finish with 200, exits 0, and their changes are committed', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const server = await startServer({ DATABASE_URL: db.databaseUrl })
  t.after(() => server.kill())

  const held = Array.from({ length: 10 }, (_, i) => ({ email: `held${i}@example.com`, phoneNumber: `20000${i}` }))
  const inFlight = await Promise.all(held.map((b) => heldRequest(server.url, b)))

  // A burst racing the signal: each may be served, refused (503 / connection closed), never other.
  const burst = Array.from({ length: 50 }, (_, i) => ({ email: `burst${i}@example.com`, phoneNumber: `30000${i}` }))
  const burstResults = burst.map((b) =>
    fetch(`${server.url}/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(b),
    }).then(
      async (res) => ({ status: res.status, text: await res.text() }),
      (err: Error) => ({ status: 0, text: String(err.cause ?? err) }),
    ),
  )
  // Signal once the burst is being served, so some of it is mid-way when the close begins.
  await Promise.race(burstResults)
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  for (let waited = 0; !server.logs.some((l) => l.msg === 'shutting down'); waited += 10) {
    assert.ok(waited < 10000, 'the server never logged that it is shutting down')
    await sleep(10)
  }

  // The server is closing now; the held requests must still be answered.
  const answers = await Promise.all(inFlight.map((r) => r.finish()))
  for (const [i, a] of answers.entries()) assert.equal(a.status, 200, `held request ${i}: ${a.status} ${a.text}`)
  const [code, signal] = await exited
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'graceful shutdown exits 0')

  const burstAnswers = await Promise.all(burstResults)
  for (const a of burstAnswers) assert.ok([0, 200, 503].includes(a.status), `burst answered ${a.status}: ${a.text}`)
  const served = burst.filter((_, i) => burstAnswers[i]?.status === 200)
  t.diagnostic(
    `held 10/10 answered 200; burst of ${burst.length}: ${served.length} served, ` +
      `${burstAnswers.filter((a) => a.status === 503).length} refused with 503, ` +
      `${burstAnswers.filter((a) => a.status === 0).length} connection closed`,
  )

  // Everything answered 200 is on disk, read back through the test's own connection to the file.
  const rows = await db.store.listContacts()
  for (const body of [...held, ...served]) {
    assert.ok(
      rows.some((r) => r.email === body.email && r.phoneNumber === body.phoneNumber),
      `${body.email} was answered 200 but is not stored`,
    )
  }
  assertInvariants(rows, [...held, ...served])
})

test('a request arriving on an open connection during shutdown is served or refused in the contract error shape', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const server = await startServer({ DATABASE_URL: db.databaseUrl })
  t.after(() => server.kill())

  // One keep-alive socket: request A is routed (100 Continue) but its body held back, so the
  // close waits for it; request B is pipelined right behind A's body once shutdown has begun.
  const socket = connect(server.port, '127.0.0.1')
  await once(socket, 'connect')
  let raw = ''
  socket.on('data', (chunk: Buffer) => {
    raw += chunk.toString()
  })
  const body = (email: string) => JSON.stringify({ email })
  const head = (b: string, extra = '') =>
    `POST /identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n${extra}\r\n`
  const a = body('early@example.com')
  const b = body('late@example.com')
  socket.write(head(a, 'Expect: 100-continue\r\n'))
  for (let waited = 0; !raw.includes('100 Continue'); waited += 5) {
    assert.ok(waited < 10000, 'no 100 Continue')
    await sleep(5)
  }
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  for (let waited = 0; !server.logs.some((l) => l.msg === 'shutting down'); waited += 5) {
    assert.ok(waited < 10000, 'the server never logged that it is shutting down')
    await sleep(5)
  }
  socket.write(a + head(b) + b)
  await once(socket, 'close')
  assert.deepEqual((await exited).slice(0, 1), [0])

  const [first, second] = responsesIn(raw)
  assert.equal(first?.status, 200, 'the in-flight request is served')
  assert.ok(second, 'the late request got no answer at all')
  if (second.status !== 200) {
    assert.equal(second.status, 503)
    const error = JSON.parse(second.body) as Record<string, unknown>
    assert.match(String(error.code), /^ERR_/, `late request answered ${second.body}`)
    assert.equal(typeof error.message, 'string')
  }
})

test('kill -9 in the middle of a storm of group-committed writes: every acknowledged write survives', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const env = { DATABASE_URL: db.databaseUrl, METRICS_PUBLIC: 'true' }
  const server = await startServer(env)

  // New customers, and new phone numbers for customers of earlier requests (secondaries), so that
  // groups carry both inserts and writes that depend on rows of the same group.
  const body = (k: number): IdentifyInput =>
    k % 3 === 2
      ? { email: `storm${k - 1}@example.com`, phoneNumber: `7${k}` }
      : { email: `storm${k}@example.com`, phoneNumber: `6${k}` }
  const acknowledged: { body: IdentifyInput; view: IdentityView }[] = []
  let next = 0
  let killed = false
  const KILL_AFTER = 300
  const client = async () => {
    while (!killed) {
      const b = body(next++)
      try {
        const res = await fetch(`${server.url}/identify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(b),
        })
        const text = await res.text()
        if (res.status !== 200) continue
        acknowledged.push({ body: b, view: (JSON.parse(text) as { contact: IdentityView }).contact })
      } catch {
        // The connection died with the process: not acknowledged, so no promise was made.
        continue
      }
      if (acknowledged.length === KILL_AFTER && !killed) {
        // Requests are grouped: the counters say so before the kill.
        const metrics = await (await fetch(`${server.url}/metrics`)).text()
        const largest = Number(/^store_sqlite_largest_group_units (\d+)/m.exec(metrics)?.[1])
        assert.ok(largest > 1, `writes were committed in groups (largest ${largest})`)
        killed = true
        await server.kill()
      }
    }
  }
  await Promise.all(Array.from({ length: 40 }, client))
  assert.ok(acknowledged.length >= KILL_AFTER)

  const after = await startServer(env)
  t.after(() => after.stop())
  const rows = await db.store.listContacts()
  const pairs = new Set(rows.map((r) => `${r.email} ${r.phoneNumber}`))
  for (const { body: b, view } of acknowledged) {
    assert.ok(pairs.has(`${b.email} ${b.phoneNumber}`), `acknowledged ${JSON.stringify(b)} lost by kill -9`)
    // Nothing in the storm merges, so each acknowledged answer still names the same primary.
    assert.equal((await identify(after.url, b)).primaryContatctId, view.primaryContatctId)
  }
  assertInvariants(await db.store.listContacts(), await db.store.listLinks())
  assert.equal(await after.stop(), 0)
})
