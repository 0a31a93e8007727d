/**
 * The operator's write API (SPEC §8–§9) through `app.inject()`, on every engine: deleting a contact
 * or a link regroups what it joined; a link whose value is gone joins again when a new contact holds
 * it; erasure leaves no trace in any table, the export or the history; blocking and unblocking
 * values split and re-join identities; hubs; the key guard.
 */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { RE2JS } from 're2js'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { exportIdentities } from '../../src/export/export.ts'
import { dumpAllTables } from '../support/dump.ts'
import { engines, type TestDatabase } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'

const KEY = 'operator-key-for-write-tests-0123456789'
const auth = { authorization: `Bearer ${KEY}` }

interface Harness {
  db: TestDatabase
  app: FastifyInstance
  post(
    body: Record<string, unknown>,
  ): Promise<{ primaryContatctId: number; emails: string[]; secondaryContactIds: number[] }>
  call(
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body?: Record<string, unknown>,
  ): Promise<{
    statusCode: number
    // biome-ignore lint/suspicious/noExplicitAny: responses of many shapes, read field by field
    json: () => any
  }>
  ids(): Promise<number[]>
  check(): Promise<void>
}

async function harness(engine: ReturnType<typeof engines>[number], t: { after: (fn: () => unknown) => void }) {
  const db = await engine.open()
  const app = await buildApp({ config: loadConfig({ ADMIN_API_KEYS: KEY }), store: db.store })
  t.after(async () => {
    await app.close()
    await db.drop()
  })
  const h: Harness = {
    db,
    app,
    async post(body) {
      const res = await app.inject({ method: 'POST', url: '/identify', payload: body })
      assert.equal(res.statusCode, 200, res.body)
      return res.json().contact
    },
    async call(method, url, body) {
      const res = await app.inject({ method, url, headers: auth, ...(body ? { payload: body } : {}) })
      return { statusCode: res.statusCode, json: () => res.json() }
    },
    async ids() {
      return (await db.store.listContacts()).map((c) => c.id)
    },
    async check() {
      const blocked = (await db.store.listEvents()).length >= 0 ? await blockedPredicate(h) : () => false
      assertInvariants(await db.store.listContacts(), await db.store.listLinks(), blocked)
    },
  }
  return h
}

async function blockedPredicate(h: Harness) {
  const { blockedValues } = (await h.call('GET', '/blocked-values')).json() as {
    blockedValues: { kind: string; value?: string; pattern?: string }[]
  }
  return (kind: string, value: string) =>
    // RE2 here too: a JavaScript RegExp would backtrack for ever on the pathological pattern below.
    blockedValues.some(
      (b) => b.kind === kind && (b.value === value || (b.pattern && RE2JS.compile(b.pattern).matcher(value).find())),
    )
}

const primaries = (identities: { primaryContatctId: number }[]) => identities.map((i) => i.primaryContatctId)

for (const engine of engines()) {
  describe(`operator write API (${engine.name})`, () => {
    test('deleting a bridging contact splits the identity; each part keeps the history from before', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'a@x.io', phoneNumber: '1' })
      await h.post({ email: 'b@x.io', phoneNumber: '1' }) // 2: secondary, shares 1
      await h.post({ email: 'b@x.io', phoneNumber: '2' }) // 3: shares b
      await h.post({ email: 'c@x.io', phoneNumber: '2' }) // 4: shares 2
      const [one, two, three, four] = await h.ids()
      const res = await h.call('DELETE', `/contacts/${two}`)
      assert.equal(res.statusCode, 200)
      assert.deepEqual(primaries(res.json().identities), [one, three])
      assert.deepEqual(res.json().identities[1].secondaryContactIds, [four])
      assert.equal((await h.call('GET', `/contacts/${two}`)).json().deletedAt?.length > 0, true)
      assert.equal((await h.call('GET', `/identities/${two}`)).statusCode, 404, 'a deleted contact holds no identity')
      await h.check()

      // A later change in one part is that part's alone.
      await h.post({ email: 'd@x.io', phoneNumber: '2' })
      const types = async (id: number) =>
        (await h.call('GET', `/identities/${id}/history`)).json().events.map((e: { type: string }) => e.type)
      const before = ['contact.created', 'contact.created', 'contact.created', 'contact.created']
      assert.deepEqual(await types(one as number), [...before, 'contact.deleted', 'identity.split'])
      assert.deepEqual(await types(three as number), [
        ...before,
        'contact.deleted',
        'identity.split',
        'contact.created',
      ])
      const split = (await h.call('GET', `/identities/${one}/history`)).json().events.at(-1)
      assert.equal(split.primaryBefore, one)
      assert.deepEqual(split.primariesAfter, [one, three])

      assert.equal((await h.call('DELETE', `/contacts/${two}`)).statusCode, 404, 'deleting twice')
      assert.equal((await h.call('DELETE', '/contacts/999999')).json().code, 'ERR_NOT_FOUND')
    })

    test('deleting the primary makes the next oldest contact the primary', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'a@x.io', phoneNumber: '1' })
      await h.post({ email: 'b@x.io', phoneNumber: '1' })
      await h.post({ email: 'c@x.io', phoneNumber: '1' })
      const [one, two, three] = await h.ids()
      const res = await h.call('DELETE', `/contacts/${one}`)
      assert.deepEqual(res.json().identities, [
        { primaryContatctId: two, emails: ['b@x.io', 'c@x.io'], phoneNumbers: ['1'], secondaryContactIds: [three] },
      ])
      assert.deepEqual((await h.post({ phoneNumber: '1' })).primaryContatctId, two)
      await h.check()
    })

    test('DELETE /links/{id} undoes a merge; a link whose value is gone joins again once a contact holds it', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'doc@x.io', phoneNumber: '1' })
      await h.post({ email: 'marty@x.io', phoneNumber: '2' })
      await h.post({ email: 'doc@x.io', phoneNumber: '2' }) // merge: a link, no contact
      const [doc, marty] = await h.ids()
      const [link] = await h.db.store.listLinks()
      assert.ok(link)

      // Marty's contact goes: the link now names a phone number nobody holds, and joins nothing.
      await h.call('DELETE', `/contacts/${marty}`)
      assert.deepEqual((await h.post({ email: 'doc@x.io' })).secondaryContactIds, [])
      // A new contact holding that phone number is joined to Doc by the link (SPEC §6).
      const back = await h.post({ email: 'biff@x.io', phoneNumber: '2' })
      assert.equal(back.primaryContatctId, doc)
      assert.equal(back.secondaryContactIds.length, 1)
      await h.check()

      // Removing the link: biff and doc are apart again.
      const res = await h.call('DELETE', `/links/${link.id}`)
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().identities.length, 2)
      assert.equal((await h.post({ email: 'biff@x.io' })).secondaryContactIds.length, 0)
      assert.equal((await h.call('DELETE', `/links/${link.id}`)).statusCode, 404)
      await h.check()
    })

    test('erasure: no trace of the values in any table, the export or any history', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'erase.me@x.io', phoneNumber: '5550001' })
      await h.post({ email: 'erase.me@x.io', phoneNumber: '5550002' })
      await h.post({ email: 'gone.too@x.io', phoneNumber: '5550003' })
      await h.post({ email: 'erase.me@x.io', phoneNumber: '5550003' }) // merge: a link
      await h.post({ email: 'keep.me@x.io', phoneNumber: '777' })
      const [first, second] = await h.ids()
      // A contact deleted from the identity before the erasure goes too.
      await h.call('DELETE', `/contacts/${second}`)
      const res = await h.call('DELETE', `/identities/${first}`)
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().erasedContactIds.length, 3)
      assert.ok(res.json().erasedContactIds.includes(second))

      const dump = await dumpAllTables(h.db)
      for (const value of ['erase.me@x.io', 'gone.too@x.io', '5550001', '5550002', '5550003']) {
        assert.ok(!dump.includes(value), `${value} is still stored somewhere`)
      }
      assert.ok(dump.includes('keep.me@x.io'), 'the other customer is untouched')
      const out = new PassThrough()
      let text = ''
      out.on('data', (chunk) => {
        text += chunk
      })
      await exportIdentities(h.db.store.exportRows(), out, 'ndjson')
      assert.ok(!text.includes('erase.me'))
      for (const url of [
        `/identities/${first}`,
        `/contacts/${first}`,
        `/contacts/${second}`,
        `/identities/${first}/history`,
      ]) {
        assert.equal((await h.call('GET', url)).statusCode, 404, url)
      }
      assert.equal((await h.call('GET', '/identities?email=erase.me@x.io')).statusCode, 404)
      const erased = (await h.db.store.listEvents()).filter((e) => e.type === 'identity.erased')
      assert.equal(erased.length, 1)
      await h.check()
      // The customer may come back as a stranger.
      assert.deepEqual((await h.post({ email: 'erase.me@x.io' })).secondaryContactIds, [])
    })

    test('erasure leaves alone a link that now joins another identity', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'a@x.io', phoneNumber: '1' }) // 1
      await h.post({ phoneNumber: '4' }) // 2
      await h.post({ email: 'a@x.io', phoneNumber: '4' }) // merge: link a@x.io–4
      await h.post({ email: 'd@x.io', phoneNumber: '1' }) // 3
      // Deleting 1 splits {2} (joined by the link only through 1's email) from {3}.
      assert.deepEqual(primaries((await h.call('DELETE', '/contacts/1')).json().identities), [2, 3])
      // A new contact with a@x.io: the link joins it to 2 again.
      assert.deepEqual((await h.post({ email: 'a@x.io' })).secondaryContactIds, [4])
      const res = await h.call('DELETE', '/identities/3')
      assert.equal(res.statusCode, 200)
      // The link a@x.io–4 is what joins 2 and 4: it is theirs, not the erased customer's.
      assert.equal((await h.db.store.listLinks()).length, 1)
      const other = (await h.call('GET', '/identities/2')).json()
      assert.deepEqual(
        other.contacts.map((c: { id: number }) => c.id),
        [2, 4],
      )
      await h.check()
    })
    test('blocking a hub value splits what it joined; unblocking joins it again; requests treat it as absent', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'test@test.com', phoneNumber: '1' })
      await h.post({ email: 'test@test.com', phoneNumber: '2' })
      await h.post({ email: 'test@test.com', phoneNumber: '3' })
      await h.post({ email: 'real@x.io', phoneNumber: '3' })
      const hubsBefore = (await h.call('GET', '/insights/hubs?limit=2')).json()
      assert.deepEqual(hubsBefore.values[0], { kind: 'email', value: 'test@test.com', contacts: 3, blocked: false })
      assert.equal(hubsBefore.identities[0].contacts, 4)

      const created = await h.call('POST', '/blocked-values', { kind: 'email', value: ' TEST@test.com ' })
      assert.equal(created.statusCode, 201)
      assert.equal(created.json().value, 'test@test.com')
      assert.deepEqual(Object.keys(created.json()).sort(), ['createdAt', 'id', 'kind', 'value'])
      const again = await h.call('POST', '/blocked-values', { kind: 'email', value: 'test@test.com' })
      assert.equal(again.statusCode, 200)
      assert.equal(again.json().id, created.json().id)
      await h.check()
      const [c1, c2, c3] = await h.ids()
      // Three strangers now: 1 and 2 alone, 3 with real@x.io.
      assert.deepEqual((await h.post({ phoneNumber: '1' })).secondaryContactIds, [])
      assert.equal((await h.post({ phoneNumber: '2' })).primaryContatctId, c2)
      assert.equal((await h.post({ email: 'real@x.io' })).primaryContatctId, c3)
      // The contacts keep the value, and answers still list it; it joins nothing.
      assert.deepEqual((await h.post({ phoneNumber: '1' })).emails, ['test@test.com'])
      // Looked up by the blocked value: the oldest holder's identity, naming the others.
      const lookup = (await h.call('GET', '/identities?email=test@test.com')).json()
      assert.equal(lookup.contact.primaryContatctId, c1)
      assert.deepEqual(lookup.otherIdentities, [c2, c3])
      assert.equal((await h.call('GET', '/identities?email=real@x.io')).json().otherIdentities, undefined)
      // A request with a blocked value is served by its other value; all blocked is 422.
      const before = (await h.db.store.listContacts()).length
      assert.equal((await h.post({ email: 'test@test.com', phoneNumber: '9' })).secondaryContactIds.length, 0)
      assert.equal((await h.db.store.listContacts()).at(-1)?.email, null, 'the new contact does not store it')
      const refused = await h.app.inject({ method: 'POST', url: '/identify', payload: { email: 'test@test.com' } })
      assert.equal(refused.statusCode, 422)
      assert.equal(refused.json().code, 'ERR_BLOCKED_VALUE')
      assert.equal((await h.db.store.listContacts()).length, before + 1, 'the refused request stored nothing')
      assert.equal((await h.call('GET', '/insights/hubs')).json().values[0].blocked, true)

      const unblocked = await h.call('DELETE', `/blocked-values/${created.json().id}`)
      assert.equal(unblocked.statusCode, 200)
      assert.deepEqual(primaries(unblocked.json().identities), [c1])
      assert.equal((await h.post({ phoneNumber: '3' })).primaryContatctId, c1)
      assert.equal((await h.call('DELETE', `/blocked-values/${created.json().id}`)).statusCode, 404)
      assert.deepEqual((await h.call('GET', '/blocked-values')).json(), { blockedValues: [] })
      await h.check()
    })

    test('patterns: linear-time ones block, others are refused; bad bodies are 400', async (t) => {
      const h = await harness(engine, t)
      await h.post({ email: 'a@x.io', phoneNumber: '0000' })
      await h.post({ email: 'b@x.io', phoneNumber: '0000' })
      const zeroes = await h.call('POST', '/blocked-values', { kind: 'phoneNumber', pattern: '^0+$' })
      assert.equal(zeroes.statusCode, 201)
      assert.equal(zeroes.json().pattern, '^0+$')
      assert.equal((await h.post({ email: 'b@x.io' })).secondaryContactIds.length, 0, 'the zeroes joined nothing')
      const slow = await h.call('POST', '/blocked-values', { kind: 'email', pattern: '(a+)+$' })
      assert.equal(slow.statusCode, 201, 'RE2 runs it in linear time')
      assert.equal((await h.post({ email: `${'a'.repeat(200)}!@x.io` })).emails.length, 1)
      for (const body of [
        { kind: 'email', pattern: '(a)\\1' },
        { kind: 'email' },
        { kind: 'email', value: 'a@x.io', pattern: 'a' },
        { kind: 'fax', value: '1' },
        { kind: 'email', value: 'not-an-email' },
        { kind: 'phoneNumber', value: '   ' },
      ]) {
        const res = await h.call('POST', '/blocked-values', body)
        assert.equal(res.statusCode, 400, JSON.stringify(body))
        assert.equal(res.json().code, 'ERR_INVALID_INPUT')
      }
      await h.check()
    })

    test('every write route needs an operator key', async (t) => {
      const h = await harness(engine, t)
      for (const [method, url] of [
        ['DELETE', '/contacts/1'],
        ['DELETE', '/links/1'],
        ['DELETE', '/identities/1'],
        ['POST', '/blocked-values'],
        ['GET', '/blocked-values'],
        ['DELETE', '/blocked-values/1'],
        ['GET', '/insights/hubs'],
      ] as const) {
        const res = await h.app.inject({
          method,
          url,
          payload: method === 'POST' ? { kind: 'email', value: 'a@b.io' } : undefined,
        })
        assert.equal(res.statusCode, 401, `${method} ${url}`)
      }
      const off = await buildApp({ config: loadConfig({}), store: h.db.store })
      t.after(() => off.close())
      assert.equal(
        (await off.inject({ method: 'DELETE', url: '/contacts/1' })).json().code,
        'ERR_OPERATOR_API_DISABLED',
      )
    })
  })
}
