/**
 * SPEC §4 under real contention: a listening server per engine, storms of 200+ overlapping
 * `/identify` requests over real sockets, then the stored rows must be what some one-at-a-time order
 * would leave (I1–I4, one contact per fact) and every response the identity right after its change.
 */
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { IdentityView, StoredContact } from '../../src/identity/contact.ts'
import type { IdentifyInput } from '../../src/identity/normalize.ts'
import type { Store } from '../../src/store/port.ts'
import { type EngineCase, engines } from '../support/engines.ts'
import { identify } from '../support/http.ts'
import { assertInvariants, identities } from '../support/invariants.ts'

const STORM = 200

interface Server {
  readonly app: FastifyInstance
  readonly store: Store
  readonly url: string
}

/** A fresh database and a server listening on an ephemeral port, both closed after the test. */
async function serve(engine: EngineCase, t: TestContext): Promise<Server> {
  const db = await engine.open({ file: true })
  const app = await buildApp({ config: loadConfig({}), store: db.store })
  t.after(async () => {
    await app.close()
    await db.drop()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  assert.ok(typeof address === 'object' && address !== null)
  return { app, store: db.store, url: `http://127.0.0.1:${address.port}` }
}

/** Fires every request at once, so they overlap on the server, and keeps answers in request order. */
async function storm(url: string, bodies: readonly IdentifyInput[]): Promise<{ views: IdentityView[]; ms: number }> {
  const started = performance.now()
  const views = await Promise.all(bodies.map((b) => identify(url, b)))
  return { views, ms: Math.round(performance.now() - started) }
}

/** The response SPEC §3 prescribes for the identity whose primary is `primaryId`, from stored rows. */
function viewOf(rows: readonly StoredContact[], primaryId: number): IdentityView {
  const members = (identities(rows).get(primaryId) ?? []).toSorted((a, b) => a.createdAt - b.createdAt || a.id - b.id)
  const primary = members.find((c) => c.id === primaryId)
  assert.ok(primary, `no live primary ${primaryId}`)
  const ordered = [primary, ...members.filter((c) => c.id !== primaryId)]
  const unique = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))]
  return {
    primaryContatctId: primaryId,
    emails: unique(ordered.map((c) => c.email)),
    phoneNumbers: unique(ordered.map((c) => c.phoneNumber)),
    secondaryContactIds: members
      .filter((c) => c.id !== primaryId)
      .map((c) => c.id)
      .sort((a, b) => a - b),
  }
}

/** Every answer names the values its own request brought. */
function assertListsRequest(view: IdentityView, request: IdentifyInput): void {
  if (request.email !== null) assert.ok(view.emails.includes(request.email), `${request.email} missing from answer`)
  if (request.phoneNumber !== null) {
    assert.ok(view.phoneNumbers.includes(request.phoneNumber), `${request.phoneNumber} missing from answer`)
  }
}

/**
 * Serial replay: once the storm is over, identifying any single stored value again must answer the
 * identity as stored and create nothing.
 */
async function assertReplayStable(server: Server): Promise<void> {
  const before = await server.store.listContacts()
  const live = before.filter((r) => r.deletedAt === null)
  const emails = new Set(live.flatMap((r) => (r.email === null ? [] : [r.email])))
  const phones = new Set(live.flatMap((r) => (r.phoneNumber === null ? [] : [r.phoneNumber])))
  const primaryOfValue = new Map<string, number>()
  for (const r of live) {
    if (r.email !== null) primaryOfValue.set(`e:${r.email}`, r.linkedId ?? r.id)
    if (r.phoneNumber !== null) primaryOfValue.set(`p:${r.phoneNumber}`, r.linkedId ?? r.id)
  }
  for (const email of emails) {
    const view = await identify(server.url, { email })
    assert.deepEqual(view, viewOf(before, primaryOfValue.get(`e:${email}`) as number), `replay of ${email}`)
  }
  for (const phoneNumber of phones) {
    const view = await identify(server.url, { phoneNumber })
    assert.deepEqual(view, viewOf(before, primaryOfValue.get(`p:${phoneNumber}`) as number), `replay of ${phoneNumber}`)
  }
  assert.deepEqual(await server.store.listContacts(), before, 'a replay of stored values changed the store')
}

/** Deterministic pseudo-random numbers, so a failing storm can be replayed with the same requests. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

for (const engine of engines()) {
  describe(`concurrent /identify on ${engine.name}`, () => {
    test(`${STORM} identical new requests store exactly one contact`, async (t) => {
      const server = await serve(engine, t)
      // Different spellings of one fact: normalisation happens before the race, so it is one fact.
      const spellings = [
        { email: 'Marty@HillValley.edu', phoneNumber: '+1 (555) 010-0199' },
        { email: '  marty@hillvalley.edu ', phoneNumber: '+1.555.010.0199' },
        { email: 'marty@hillvalley.edu', phoneNumber: '+15550100199' },
      ]
      const bodies = Array.from({ length: STORM }, (_, i) => spellings[i % spellings.length] as IdentifyInput)
      const { views, ms } = await storm(server.url, bodies)
      t.diagnostic(`${engine.name}: ${bodies.length} identical requests in ${ms} ms`)

      const rows = await server.store.listContacts()
      assert.equal(rows.length, 1, `expected one contact, found ${rows.length}`)
      const only = rows[0] as StoredContact
      assert.equal(only.linkPrecedence, 'primary')
      const expected: IdentityView = {
        primaryContatctId: only.id,
        emails: ['marty@hillvalley.edu'],
        phoneNumbers: ['+15550100199'],
        secondaryContactIds: [],
      }
      for (const view of views) assert.deepEqual(view, expected)
      assertInvariants(rows, [{ email: 'marty@hillvalley.edu', phoneNumber: '+15550100199' }])
      await assertReplayStable(server)
    })

    test(`a star of ${STORM} new phones on one new email makes one primary and the rest secondaries`, async (t) => {
      const server = await serve(engine, t)
      const email = 'doc@hillvalley.edu'
      const bodies: IdentifyInput[] = Array.from({ length: STORM }, (_, i) => ({
        email,
        phoneNumber: String(5550000 + i),
      }))
      const { views, ms } = await storm(server.url, bodies)
      t.diagnostic(`${engine.name}: ${bodies.length} star requests in ${ms} ms`)

      const rows = await server.store.listContacts()
      assertInvariants(rows, bodies)
      assert.equal(rows.length, STORM, 'every request brought a new phone, so each stores one contact')
      const primaries = rows.filter((r) => r.linkPrecedence === 'primary')
      assert.equal(primaries.length, 1, `expected one primary, found ${primaries.length}`)
      const primaryId = (primaries[0] as StoredContact).id
      const final = viewOf(rows, primaryId)
      for (const [i, view] of views.entries()) {
        assert.equal(view.primaryContatctId, primaryId)
        assertListsRequest(view, bodies[i] as IdentifyInput)
      }
      // Each request added exactly one contact, so if the requests ran in some one-at-a-time order
      // (SPEC §4) their answers are the identity at sizes 1, 2, … STORM, each a prefix of the next.
      const bySize = views.toSorted((a, b) => a.phoneNumbers.length - b.phoneNumbers.length)
      for (const [i, view] of bySize.entries()) {
        assert.equal(view.phoneNumbers.length, i + 1, 'two answers saw the identity at the same size')
        assert.deepEqual(view.phoneNumbers, final.phoneNumbers.slice(0, i + 1), 'an answer is not a serial prefix')
        assert.deepEqual(view.emails, [email])
      }
      assert.deepEqual(bySize.at(-1), final)
      await assertReplayStable(server)
    })

    test('crossing merges of several identities end as one identity under the oldest primary', async (t) => {
      const server = await serve(engine, t)
      const K = 8
      const emailOf = (i: number) => `person${i}@example.com`
      const phoneOf = (i: number) => `+4420700${String(i).padStart(4, '0')}`
      // Seeds, one at a time: K identities, each with a primary and one secondary.
      const seeds: IdentifyInput[] = []
      const seedPrimaries = new Set<number>()
      for (let i = 0; i < K; i++) {
        const first = { email: emailOf(i), phoneNumber: phoneOf(i) }
        const second = { email: `alt.${emailOf(i)}`, phoneNumber: phoneOf(i) }
        const view = await identify(server.url, first)
        assert.deepEqual(view.secondaryContactIds, [], 'seeds must start separate identities')
        seedPrimaries.add(view.primaryContatctId)
        await identify(server.url, second)
        seeds.push(first, second)
      }
      const oldest = Math.min(...seedPrimaries)

      // The storm: a chain that certainly joins all K, crossings of email i with phone j, and
      // requests that add a new value to an existing identity. None can create a primary, so every
      // answer's primary must be one of the seed primaries.
      const next = random(42)
      const pick = () => Math.floor(next() * K)
      const bodies: IdentifyInput[] = []
      for (let i = 0; i + 1 < K; i++) bodies.push({ email: emailOf(i + 1), phoneNumber: phoneOf(i) })
      while (bodies.length < STORM) {
        const kind = next()
        const n = bodies.length
        if (kind < 0.6) bodies.push({ email: emailOf(pick()), phoneNumber: phoneOf(pick()) })
        else if (kind < 0.8) bodies.push({ email: `new${n}@example.com`, phoneNumber: phoneOf(pick()) })
        else bodies.push({ email: `alt.${emailOf(pick())}`, phoneNumber: `+1999${n}` })
      }
      // Shuffle so the joining chain is spread through the storm, not fired first.
      for (let i = bodies.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[bodies[i], bodies[j]] = [bodies[j] as IdentifyInput, bodies[i] as IdentifyInput]
      }
      const { views, ms } = await storm(server.url, bodies)
      t.diagnostic(`${engine.name}: ${bodies.length} crossing requests in ${ms} ms after ${seeds.length} seeds`)

      const rows = await server.store.listContacts()
      assertInvariants(rows, [...seeds, ...bodies])
      const groups = identities(rows)
      assert.equal(groups.size, 1, `the connected set is split into ${groups.size} identities`)
      assert.deepEqual([...groups.keys()], [oldest], 'the surviving primary is not the oldest contact')
      const final = viewOf(rows, oldest)
      for (const [i, view] of views.entries()) {
        assert.ok(seedPrimaries.has(view.primaryContatctId), `answer names ${view.primaryContatctId}, never a primary`)
        assertListsRequest(view, bodies[i] as IdentifyInput)
        // Nothing is ever deleted or unlinked, so every answer is contained in the final identity.
        for (const e of view.emails) assert.ok(final.emails.includes(e))
        for (const p of view.phoneNumbers) assert.ok(final.phoneNumbers.includes(p))
        for (const id of view.secondaryContactIds) assert.ok(final.secondaryContactIds.includes(id))
      }
      // Facts are never stored twice, however many requests raced to bring the same new one.
      assert.equal(new Set(rows.map((r) => JSON.stringify([r.email, r.phoneNumber]))).size, rows.length)
      await assertReplayStable(server)
    })
  })
}
