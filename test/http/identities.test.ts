/**
 * The operator's read API (SPEC §7) through `app.inject()`, on every engine: identities by contact
 * id and by normalised value, contacts, history with its cursor, explain; the key guard's 401/403;
 * 404/409 with their codes; and reads that store nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { engines, type TestDatabase } from '../support/engines.ts'

const KEY = 'operator-key-for-tests-0123456789'
const auth = { authorization: `Bearer ${KEY}` }

for (const engine of engines()) {
  describe(`operator read API (${engine.name})`, () => {
    let db: TestDatabase
    let app: FastifyInstance
    const post = (body: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/identify', payload: body, headers: { 'x-request-id': 'req-test-1' } })
    const get = (url: string, headers: Record<string, string> = auth) => app.inject({ method: 'GET', url, headers })

    before(async () => {
      db = await engine.open()
      app = await buildApp({
        config: loadConfig({ ADMIN_API_KEYS: `other-key-aaaaaaaaaaaa, ${KEY}` }),
        store: db.store,
      })
      // Lorraine and her son share a phone; George arrives alone and is joined to them by a request
      // that creates nothing (a link); Doc stays apart.
      for (const body of [
        { email: 'lorraine@hillvalley.edu', phoneNumber: '123456' },
        { email: 'mcfly@hillvalley.edu', phoneNumber: '123456' },
        { email: 'george@hillvalley.edu', phoneNumber: '919191' },
        { email: 'lorraine@hillvalley.edu', phoneNumber: '919191' },
        { email: 'doc@hillvalley.edu', phoneNumber: '555' },
      ]) {
        assert.equal((await post(body)).statusCode, 200)
      }
    })
    after(async () => {
      await app.close()
      await db.drop()
    })

    test('GET /identities/{contactId}: the /identify view, contacts oldest first, the link', async () => {
      const ids = (await db.store.listContacts()).map((c) => c.id)
      const res = await get(`/identities/${ids[2]}`)
      assert.equal(res.statusCode, 200)
      const body = res.json()
      assert.deepEqual(body.contact, {
        primaryContatctId: ids[0],
        emails: ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu', 'george@hillvalley.edu'],
        phoneNumbers: ['123456', '919191'],
        secondaryContactIds: [ids[1], ids[2]],
      })
      assert.deepEqual(
        body.contacts.map((c: Record<string, unknown>) => [c.id, c.email, c.phoneNumber, c.linkedId, c.linkPrecedence]),
        [
          [ids[0], 'lorraine@hillvalley.edu', '123456', null, 'primary'],
          [ids[1], 'mcfly@hillvalley.edu', '123456', ids[0], 'secondary'],
          [ids[2], 'george@hillvalley.edu', '919191', ids[0], 'secondary'],
        ],
      )
      for (const c of body.contacts) {
        assert.deepEqual(Object.keys(c).sort(), [
          'createdAt',
          'email',
          'id',
          'linkPrecedence',
          'linkedId',
          'phoneNumber',
          'updatedAt',
        ])
        assert.match(c.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      }
      assert.equal(body.links.length, 1)
      assert.deepEqual(
        { email: body.links[0].email, phoneNumber: body.links[0].phoneNumber },
        { email: 'lorraine@hillvalley.edu', phoneNumber: '919191' },
      )
      assert.match(body.links[0].createdAt, /Z$/)
    })

    test('GET /identities?email=|phoneNumber= normalises as /identify does', async () => {
      const byEmail = await get('/identities?email=%20GEORGE@HillValley.edu%20')
      assert.equal(byEmail.statusCode, 200)
      const byPhone = await get(`/identities?phoneNumber=${encodeURIComponent('(123) 456')}`)
      assert.equal(byPhone.statusCode, 200)
      assert.deepEqual(byEmail.json(), byPhone.json())
      assert.equal((await get('/identities?email=nobody@x.io')).json().code, 'ERR_NOT_FOUND')
      assert.equal((await get('/identities?phoneNumber=000')).statusCode, 404)
      for (const bad of ['/identities', '/identities?email=a@b.io&phoneNumber=1', '/identities?email=not-an-email']) {
        const res = await get(bad)
        assert.equal(res.statusCode, 400, bad)
        assert.equal(res.json().code, 'ERR_INVALID_INPUT')
      }
    })

    test('GET /contacts/{id}: the contact with deletedAt; unknown 404; not a number 400', async () => {
      const [first] = await db.store.listContacts()
      const res = await get(`/contacts/${first?.id}`)
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().email, 'lorraine@hillvalley.edu')
      assert.equal(res.json().deletedAt, null)
      assert.equal((await get('/contacts/999999')).json().code, 'ERR_NOT_FOUND')
      for (const bad of ['/contacts/abc', '/contacts/0', '/contacts/1.5', '/identities/-1']) {
        const r = await get(bad)
        assert.equal(r.statusCode, 400, bad)
        assert.equal(r.json().code, 'ERR_INVALID_INPUT')
      }
    })

    test('history: every event of the identity in order, with request ids, paged by a cursor', async () => {
      const ids = (await db.store.listContacts()).map((c) => c.id)
      const all = await get(`/identities/${ids[1]}/history`)
      assert.equal(all.statusCode, 200)
      const { events, next } = all.json()
      assert.equal(next, null)
      assert.deepEqual(
        events.map((e: { type: string; contactIds: number[] }) => [e.type, e.contactIds]),
        [
          ['contact.created', [ids[0]]],
          ['contact.created', [ids[0], ids[1]].sort((a, b) => (a as number) - (b as number))],
          ['contact.created', [ids[2]]],
          ['identity.merged', [ids[0], ids[2]]],
        ],
      )
      assert.equal(events[3].survivorId, ids[0])
      assert.equal(events[3].mergedPrimaryId, ids[2])
      assert.deepEqual(events[3].via, { link: { email: 'lorraine@hillvalley.edu', phoneNumber: '919191' } })
      assert.equal(events[1].contactId, ids[1])
      assert.equal(events[1].linkedId, ids[0])
      for (const e of events) assert.equal(e.requestId, 'req-test-1')
      // Doc's history is his alone.
      const doc = (await get(`/identities/${ids[3]}/history`)).json()
      assert.deepEqual(
        doc.events.map((e: { contactIds: number[] }) => e.contactIds),
        [[ids[3]]],
      )

      const pages: unknown[] = []
      let cursor: number | null = 0
      while (cursor !== null) {
        const page: { events: unknown[]; next: number | null } = (
          await get(`/identities/${ids[0]}/history?limit=1&after=${cursor}`)
        ).json()
        assert.ok(page.events.length <= 1)
        pages.push(...page.events)
        cursor = page.next
      }
      assert.deepEqual(pages, events)
      for (const bad of ['limit=0', 'limit=501', 'limit=x', 'after=-1']) {
        assert.equal((await get(`/identities/${ids[0]}/history?${bad}`)).statusCode, 400, bad)
      }
      assert.equal((await get('/identities/999999/history')).statusCode, 404)
    })

    test('explain: the shortest chain, through the link; other identity 409; no `to` 400', async () => {
      const ids = (await db.store.listContacts()).map((c) => c.id)
      const res = await get(`/identities/${ids[1]}/explain?to=${ids[2]}`)
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.json(), {
        path: [
          { contactId: ids[1] },
          { contactId: ids[0], via: { phoneNumber: '123456' } },
          { contactId: ids[2], via: { link: { email: 'lorraine@hillvalley.edu', phoneNumber: '919191' } } },
        ],
      })
      assert.deepEqual((await get(`/identities/${ids[0]}/explain?to=${ids[0]}`)).json(), {
        path: [{ contactId: ids[0] }],
      })
      const other = await get(`/identities/${ids[0]}/explain?to=${ids[3]}`)
      assert.equal(other.statusCode, 409)
      assert.equal(other.json().code, 'ERR_NOT_SAME_IDENTITY')
      const noTo = await get(`/identities/${ids[0]}/explain`)
      assert.equal(noTo.statusCode, 400)
      assert.equal(noTo.json().code, 'ERR_INVALID_INPUT')
      assert.equal((await get(`/identities/${ids[0]}/explain?to=999999`)).statusCode, 404)
    })

    test('no key or a wrong one: 401 ERR_UNAUTHORIZED on every operator route', async () => {
      for (const url of [
        '/identities/1',
        '/identities?email=a@b.io',
        '/contacts/1',
        '/identities/1/history',
        '/identities/1/explain?to=2',
      ]) {
        const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-key' }, { authorization: KEY }]
        for (const headers of attempts) {
          const res = await get(url, headers)
          assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers)}`)
          assert.equal(res.json().code, 'ERR_UNAUTHORIZED')
        }
      }
      assert.equal((await get('/identities/1', { authorization: 'Bearer other-key-aaaaaaaaaaaa' })).statusCode, 200)
    })

    test('reads store nothing: contact, link and event counts are unchanged', async () => {
      const count = async () => [
        (await db.store.listContacts()).length,
        (await db.store.listLinks()).length,
        (await db.store.listEvents()).length,
      ]
      const beforeReads = await count()
      const [first] = await db.store.listContacts()
      for (const url of [
        `/identities/${first?.id}`,
        '/identities?email=lorraine@hillvalley.edu',
        '/identities?phoneNumber=999999',
        `/contacts/${first?.id}`,
        `/identities/${first?.id}/history`,
        `/identities/${first?.id}/explain?to=${first?.id}`,
      ]) {
        await get(url)
      }
      assert.deepEqual(await count(), beforeReads)
    })
  })
}

describe('operator API without ADMIN_API_KEYS', () => {
  test('403 ERR_OPERATOR_API_DISABLED saying how to enable it; /identify stays open', async () => {
    const db = await engines()[0]!.open()
    const app = await buildApp({ config: loadConfig({}), store: db.store })
    try {
      const res = await app.inject({ method: 'GET', url: '/identities/1', headers: auth })
      assert.equal(res.statusCode, 403)
      assert.equal(res.json().code, 'ERR_OPERATOR_API_DISABLED')
      assert.match(res.json().message, /ADMIN_API_KEYS/)
      const open = await app.inject({ method: 'POST', url: '/identify', payload: { email: 'a@b.io' } })
      assert.equal(open.statusCode, 200)
    } finally {
      await app.close()
      await db.drop()
    }
  })

  test('API_KEYS guards /identify the same way; the operator keys do not open it', async () => {
    const db = await engines()[0]!.open()
    const app = await buildApp({
      config: loadConfig({ API_KEYS: 'client-key-0123456789abcdef', ADMIN_API_KEYS: KEY }),
      store: db.store,
    })
    try {
      const body = { email: 'a@b.io' }
      const none = await app.inject({ method: 'POST', url: '/identify', payload: body })
      assert.equal(none.statusCode, 401)
      assert.equal(none.json().code, 'ERR_UNAUTHORIZED')
      const admin = await app.inject({ method: 'POST', url: '/identify', payload: body, headers: auth })
      assert.equal(admin.statusCode, 401)
      const ok = await app.inject({
        method: 'POST',
        url: '/identify',
        payload: body,
        headers: { authorization: 'Bearer client-key-0123456789abcdef' },
      })
      assert.equal(ok.statusCode, 200)
      assert.equal((await db.store.listContacts()).length, 1, 'the refused requests stored nothing')
    } finally {
      await app.close()
      await db.drop()
    }
  })
})
