/**
 * SPEC §4 across processes: three real server processes on ONE SQLite file, storms of overlapping
 * requests spread over them. Within a process the driver serialises; across processes only the
 * file lock (BEGIN IMMEDIATE + busy retry) does, so this is where a lost update would show.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { IdentityView, StoredContact } from '../../src/identity/contact.ts'
import type { IdentifyInput } from '../../src/identity/normalize.ts'
import { sqliteEngine, type TestDatabase } from '../support/engines.ts'
import { identify } from '../support/http.ts'
import { assertInvariants, assertTimeFollowsId, identities } from '../support/invariants.ts'
import { type ServerProcess, startServer } from '../support/server-process.ts'

const PROCESSES = 3
const STORM = 240

let db: TestDatabase
let servers: ServerProcess[] = []
/** Every request that reached the file, for I2's "joined by a chain" half. */
const history: IdentifyInput[] = []

/** Fires all requests at once, round-robin over the processes; answers come back in request order. */
async function storm(
  label: string,
  bodies: readonly IdentifyInput[],
  diagnostic: (m: string) => void,
): Promise<IdentityView[]> {
  history.push(...bodies)
  const started = performance.now()
  const views = await Promise.all(bodies.map((b, i) => identify((servers[i % servers.length] as ServerProcess).url, b)))
  const ms = Math.round(performance.now() - started)
  diagnostic(`${label}: ${bodies.length} requests over ${servers.length} processes in ${ms} ms`)
  return views
}

/** Rows as the file holds them now, read through the test's own connection (WAL: readers never block). */
async function rows(): Promise<StoredContact[]> {
  return db.store.listContacts()
}

describe(`${PROCESSES} server processes on one SQLite file`, () => {
  before(async () => {
    db = await sqliteEngine.open({ file: true })
    // Started together, so their migrations race too; only one may apply each.
    // LOG_LEVEL stays at info: startServer waits for the info-level 'identity service ready' line.
    const started = await Promise.allSettled(
      Array.from({ length: PROCESSES }, () => startServer({ DATABASE_URL: db.databaseUrl })),
    )
    servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) {
      // Stop the ones that did start, or they would keep the test process alive.
      await Promise.all(servers.map((s) => s.kill()))
      servers = []
      throw failed.reason
    }
  })

  after(async () => {
    const codes = await Promise.all(servers.map((s) => s.stop()))
    await db?.drop()
    if (servers.length === 0) return
    assert.deepEqual(
      codes,
      servers.map(() => 0),
      'every process exits 0 on SIGTERM',
    )
  })

  test('identical new requests from every process store exactly one contact', async (t) => {
    const body = { email: 'biff@hillvalley.edu', phoneNumber: '5550101' }
    const views = await storm(
      'identical',
      Array.from({ length: STORM }, () => body),
      (m) => t.diagnostic(m),
    )
    const stored = (await rows()).filter((r) => r.email === body.email || r.phoneNumber === body.phoneNumber)
    assert.equal(stored.length, 1, `expected one contact, found ${stored.length}`)
    const id = (stored[0] as StoredContact).id
    for (const view of views) {
      assert.deepEqual(view, {
        primaryContatctId: id,
        emails: [body.email],
        phoneNumbers: [body.phoneNumber],
        secondaryContactIds: [],
      })
    }
    assertInvariants(await rows(), history)
  })

  test('a star of new phones on one email, from every process, is one identity built one at a time', async (t) => {
    const email = 'jennifer@hillvalley.edu'
    const bodies = Array.from({ length: STORM }, (_, i) => ({ email, phoneNumber: String(7770000 + i) }))
    const views = await storm('star', bodies, (m) => t.diagnostic(m))
    const all = await rows()
    assertInvariants(all, history)
    // Issue 11, item 11: three processes stamping 240 new contacts, each never before the last.
    assertTimeFollowsId(all)
    const star = all.filter((r) => r.email === email)
    assert.equal(star.length, STORM, 'each request brought a new phone, so each stored one contact')
    const primaries = star.filter((r) => r.linkPrecedence === 'primary')
    assert.equal(primaries.length, 1, `expected one primary, found ${primaries.length}`)
    const primaryId = (primaries[0] as StoredContact).id
    // One-at-a-time order (SPEC §4): the answers saw the identity at sizes 1 … STORM, once each.
    const sizes = views.map((v) => v.phoneNumbers.length).sort((a, b) => a - b)
    assert.deepEqual(
      sizes,
      Array.from({ length: STORM }, (_, i) => i + 1),
    )
    for (const [i, view] of views.entries()) {
      assert.equal(view.primaryContatctId, primaryId)
      assert.ok(view.phoneNumbers.includes((bodies[i] as IdentifyInput).phoneNumber as string))
    }
  })

  test('crossing merges from every process end as one identity under the oldest primary', async (t) => {
    const K = 6
    const emailOf = (i: number) => `clara${i}@hillvalley.edu`
    const phoneOf = (i: number) => `88800${i}`
    const seedPrimaries: number[] = []
    for (let i = 0; i < K; i++) {
      const seed = { email: emailOf(i), phoneNumber: phoneOf(i) }
      history.push(seed)
      const server = servers[i % servers.length] as ServerProcess
      seedPrimaries.push((await identify(server.url, seed)).primaryContatctId)
    }
    // A chain that certainly joins all K, then every email × phone crossing, then new values.
    const bodies: IdentifyInput[] = []
    for (let i = 0; i + 1 < K; i++) bodies.push({ email: emailOf(i + 1), phoneNumber: phoneOf(i) })
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) bodies.push({ email: emailOf(i), phoneNumber: phoneOf(j) })
    for (let n = 0; bodies.length < STORM; n++) {
      bodies.push(
        n % 2 === 0
          ? { email: `new${n}@hillvalley.edu`, phoneNumber: phoneOf(n % K) }
          : { email: emailOf(n % K), phoneNumber: `99900${n}` },
      )
    }
    bodies.reverse()
    const views = await storm('crossing', bodies, (m) => t.diagnostic(m))
    const all = await rows()
    assertInvariants(all, history)
    assertTimeFollowsId(all)
    const touched = all.filter((r) => r.email?.startsWith('clara') || r.email?.startsWith('new'))
    const primariesOfTouched = new Set(touched.map((r) => r.linkedId ?? r.id))
    const oldest = Math.min(...seedPrimaries)
    assert.deepEqual([...primariesOfTouched], [oldest], 'the connected set is not one identity under the oldest')
    const final = identities(all).get(oldest) ?? []
    for (const [i, view] of views.entries()) {
      const body = bodies[i] as IdentifyInput
      assert.ok(seedPrimaries.includes(view.primaryContatctId), `answer names ${view.primaryContatctId}`)
      assert.ok(view.emails.includes(body.email as string) && view.phoneNumbers.includes(body.phoneNumber as string))
      for (const id of view.secondaryContactIds) assert.ok(final.some((c) => c.id === id))
    }
    t.diagnostic(`file holds ${all.length} contacts after ${history.length} requests`)
  })
})
