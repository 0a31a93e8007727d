/**
 * POST /identify over HTTP (inject, no socket), on every engine: each rule, the ordering of the
 * answer, normalisation, and every error path with its code.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { engines, type TestDatabase } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'

for (const engine of engines()) {
  describe(`POST /identify (${engine.name})`, () => {
    let db: TestDatabase
    let app: FastifyInstance
    const sent: { email: string | null; phoneNumber: string | null }[] = []

    before(async () => {
      db = await engine.open()
      app = await buildApp({ config: loadConfig({}), store: db.store })
    })
    after(async () => {
      await app.close()
      await db.drop()
    })

    async function identify(body: Record<string, unknown>) {
      const res = await app.inject({ method: 'POST', url: '/identify', payload: body })
      assert.equal(res.statusCode, 200, res.body)
      const norm = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? null : v)
      sent.push({
        email: (norm(body.email) as string | null | undefined)?.trim().toLowerCase() ?? null,
        phoneNumber: body.phoneNumber == null ? null : String(norm(body.phoneNumber)).replace(/[\s\-.()]/g, ''),
      })
      return res.json().contact
    }

    async function count() {
      return (await db.store.listContacts()).length
    }

    test('rule 1: an unknown customer becomes a primary contact', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/identify',
        payload: { email: 'lorraine@hillvalley.edu', phoneNumber: '123456' },
      })
      assert.equal(res.statusCode, 200)
      assert.match(res.headers['content-type'] as string, /^application\/json/)
      const body = res.json()
      assert.deepEqual(Object.keys(body), ['contact'])
      assert.deepEqual(Object.keys(body.contact), [
        'primaryContatctId',
        'emails',
        'phoneNumbers',
        'secondaryContactIds',
      ])
      assert.deepEqual(body.contact.emails, ['lorraine@hillvalley.edu'])
      assert.deepEqual(body.contact.phoneNumbers, ['123456'])
      assert.deepEqual(body.contact.secondaryContactIds, [])
      sent.push({ email: 'lorraine@hillvalley.edu', phoneNumber: '123456' })
    })

    test('rule 3: a new email with a known phone becomes a secondary (the task example)', async () => {
      const first = await identify({ email: 'lorraine@hillvalley.edu', phoneNumber: '123456' })
      const c = await identify({ email: 'mcfly@hillvalley.edu', phoneNumber: '123456' })
      assert.equal(c.primaryContatctId, first.primaryContatctId)
      assert.deepEqual(c.emails, ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu'])
      assert.deepEqual(c.phoneNumbers, ['123456'])
      assert.equal(c.secondaryContactIds.length, 1)
      // Every way of naming the identity answers the same.
      for (const body of [
        { email: null, phoneNumber: '123456' },
        { email: 'lorraine@hillvalley.edu' },
        { email: 'mcfly@hillvalley.edu', phoneNumber: null },
        { email: 'mcfly@hillvalley.edu', phoneNumber: '123456' },
      ]) {
        assert.deepEqual(await identify(body), c)
      }
    })

    test('a request that brings nothing new creates nothing', async () => {
      const before = await count()
      await identify({ email: 'lorraine@hillvalley.edu', phoneNumber: '123456' })
      await identify({ email: 'mcfly@hillvalley.edu', phoneNumber: 123456 })
      await identify({ phoneNumber: '123456' })
      assert.equal(await count(), before)
    })

    test('rule 2: two identities joined by one request; the older primary survives (the task example)', async () => {
      const george = await identify({ email: 'george@hillvalley.edu', phoneNumber: '919191' })
      const biff = await identify({ email: 'biffsucks@hillvalley.edu', phoneNumber: '717171' })
      await identify({ email: 'biff2@hillvalley.edu', phoneNumber: '717171' }) // a secondary of biff
      const before = await count()
      const merged = await identify({ email: 'george@hillvalley.edu', phoneNumber: '717171' })
      assert.equal(await count(), before, 'both values were known: no new contact')
      assert.equal(merged.primaryContatctId, george.primaryContatctId)
      assert.deepEqual(merged.emails, ['george@hillvalley.edu', 'biffsucks@hillvalley.edu', 'biff2@hillvalley.edu'])
      assert.deepEqual(merged.phoneNumbers, ['919191', '717171'])
      const rows = await db.store.listContacts()
      const demoted = rows.find((r) => r.id === biff.primaryContatctId)
      assert.equal(demoted?.linkPrecedence, 'secondary')
      assert.equal(demoted?.linkedId, george.primaryContatctId)
      // biff's own secondary now points at george, not at biff (I1).
      const biff2 = rows.find((r) => r.email === 'biff2@hillvalley.edu')
      assert.equal(biff2?.linkedId, george.primaryContatctId)
      assert.deepEqual(
        merged.secondaryContactIds,
        rows.filter((r) => r.linkedId === george.primaryContatctId).map((r) => r.id),
      )
    })

    test('a merge that also brings a new value creates one secondary of the survivor', async () => {
      const a = await identify({ email: 'a1@shop.io', phoneNumber: '1001' })
      const b = await identify({ email: 'b1@shop.io', phoneNumber: '1002' })
      const before = await count()
      // New email, and a phone of b: b merges into a? No: only b matches; a is untouched.
      const c = await identify({ email: 'c1@shop.io', phoneNumber: '1002' })
      assert.equal(c.primaryContatctId, b.primaryContatctId)
      assert.equal(await count(), before + 1)
      // Email of a, phone of b: merge, both known, nothing created.
      const m = await identify({ email: 'a1@shop.io', phoneNumber: '1002' })
      assert.equal(m.primaryContatctId, a.primaryContatctId)
      assert.equal(await count(), before + 1)
      assert.deepEqual(m.emails, ['a1@shop.io', 'b1@shop.io', 'c1@shop.io'])
      assert.deepEqual(
        m.secondaryContactIds,
        [...m.secondaryContactIds].sort((x: number, y: number) => x - y),
      )
    })

    test('three identities joined through chains keep a flat tree under the oldest', async () => {
      const x = await identify({ email: 'x@chain.io', phoneNumber: '3001' })
      const y = await identify({ email: 'y@chain.io', phoneNumber: '3002' })
      const z = await identify({ email: 'z@chain.io', phoneNumber: '3003' })
      await identify({ email: 'z@chain.io', phoneNumber: '3002' }) // y joins z? No: y is older, z joins y
      const all = await identify({ email: 'y@chain.io', phoneNumber: '3001' }) // x is oldest
      assert.equal(all.primaryContatctId, x.primaryContatctId)
      assert.deepEqual(all.emails, ['x@chain.io', 'y@chain.io', 'z@chain.io'])
      assert.deepEqual(all.phoneNumbers, ['3001', '3002', '3003'])
      assert.ok(all.secondaryContactIds.includes(y.primaryContatctId))
      assert.ok(all.secondaryContactIds.includes(z.primaryContatctId))
    })

    test('when the primary has no email, the emails start with the oldest secondary', async () => {
      const p = await identify({ phoneNumber: '4001' })
      await identify({ email: 'second@order.io', phoneNumber: '4001' })
      const c = await identify({ email: 'first@order.io', phoneNumber: '4001' })
      assert.equal(c.primaryContatctId, p.primaryContatctId)
      assert.deepEqual(c.emails, ['second@order.io', 'first@order.io'])
      assert.deepEqual(c.phoneNumbers, ['4001'])
    })

    test('normalisation: case, white space, separators and JSON numbers name the same values', async () => {
      const c = await identify({ email: '  Marty@HillValley.EDU ', phoneNumber: '+1 (555) 010-0199' })
      assert.deepEqual(c.emails, ['marty@hillvalley.edu'])
      assert.deepEqual(c.phoneNumbers, ['+15550100199'])
      const again = await identify({ email: 'marty@hillvalley.edu', phoneNumber: '+1.555.010.0199' })
      assert.deepEqual(again, c)
      const n = await identify({ phoneNumber: 5550100 })
      assert.deepEqual(n.phoneNumbers, ['5550100'])
      assert.deepEqual(await identify({ phoneNumber: '555-0100' }), n)
      // Blank values count as absent.
      assert.deepEqual(await identify({ email: '   ', phoneNumber: 5550100 }), n)
      assert.deepEqual(await identify({ email: 'marty@hillvalley.edu', phoneNumber: '' }), c)
    })

    test('the largest exact JSON number is kept digit for digit', async () => {
      const c = await identify({ phoneNumber: 9007199254740991 })
      assert.deepEqual(c.phoneNumbers, ['9007199254740991'])
    })

    test('stored rows satisfy I1–I4 after all of the above', async () => {
      assertInvariants(await db.store.listContacts(), sent)
    })

    describe('errors', () => {
      async function expectError(
        request: { payload?: unknown; body?: string | Buffer; headers?: Record<string, string> },
        status: number,
        code: string,
        message?: RegExp,
      ) {
        const before = await count()
        const res = await app.inject({
          method: 'POST',
          url: '/identify',
          ...(request.body !== undefined ? { body: request.body } : { payload: request.payload as object }),
          headers: request.headers ?? { 'content-type': 'application/json' },
        })
        assert.equal(res.statusCode, status, res.body)
        const body = res.json()
        assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
        assert.equal(body.statusCode, status)
        assert.equal(body.code, code)
        assert.equal(typeof body.error, 'string')
        if (message) assert.match(body.message, message)
        assert.equal(await count(), before, 'a refused request stores nothing')
      }

      test('neither email nor phone', async () => {
        await expectError({ payload: {} }, 400, 'ERR_INVALID_INPUT', /email, a phoneNumber, or both/)
        await expectError({ payload: { email: null, phoneNumber: null } }, 400, 'ERR_INVALID_INPUT')
        await expectError({ payload: { email: '  ', phoneNumber: '' } }, 400, 'ERR_INVALID_INPUT')
      })
      test('an email that does not look like one', async () => {
        await expectError({ payload: { email: 'nope' } }, 400, 'ERR_INVALID_INPUT', /"@"/)
        await expectError({ payload: { email: 'a@b@c' } }, 400, 'ERR_INVALID_INPUT', /exactly one/)
        await expectError({ payload: { email: `${'a'.repeat(260)}@x.io` } }, 400, 'ERR_INVALID_INPUT', /254/)
      })
      test('values that are not well-formed Unicode are refused, every time (issue 11, item 1)', async () => {
        // A lone surrogate used to be stored as U+FFFD; the second identical request then hit the
        // unique index (500 on SQLite, 503 after retries on PostgreSQL).
        for (let i = 0; i < 2; i++) {
          await expectError({ body: '{"email":"\\ud800@x.test"}' }, 400, 'ERR_INVALID_INPUT', /Unicode/)
          await expectError({ body: '{"email":"\\udc00@x.test"}' }, 400, 'ERR_INVALID_INPUT', /Unicode/)
          await expectError({ body: '{"phoneNumber":"12\\ud83d"}' }, 400, 'ERR_INVALID_INPUT', /Unicode/)
        }
      })
      test('wrong types', async () => {
        await expectError({ payload: { email: 42 } }, 400, 'ERR_INVALID_INPUT', /email must be a string or null/)
        await expectError({ payload: { phoneNumber: true } }, 400, 'ERR_INVALID_INPUT', /phoneNumber must be/)
        await expectError({ payload: { phoneNumber: ['1'] } }, 400, 'ERR_INVALID_INPUT', /phoneNumber must be/)
        await expectError({ payload: { email: { a: 1 } } }, 400, 'ERR_INVALID_INPUT')
      })
      test('phone numbers that are not phone numbers', async () => {
        await expectError({ payload: { phoneNumber: 'call me' } }, 400, 'ERR_INVALID_INPUT', /digits/)
        await expectError({ payload: { phoneNumber: '1'.repeat(21) } }, 400, 'ERR_INVALID_INPUT', /20/)
        await expectError({ payload: { phoneNumber: '+' } }, 400, 'ERR_INVALID_INPUT')
      })
      test('JSON numbers that cannot be held exactly are refused, not rounded', async () => {
        await expectError({ body: '{"phoneNumber": 9007199254740993}' }, 400, 'ERR_INVALID_INPUT', /too large/)
        await expectError({ body: '{"phoneNumber": 12345678901234567890123}' }, 400, 'ERR_INVALID_INPUT')
        await expectError({ body: '{"phoneNumber": -123}' }, 400, 'ERR_INVALID_INPUT', /non-negative/)
        await expectError({ body: '{"phoneNumber": 12.5}' }, 400, 'ERR_INVALID_INPUT', /whole number/)
        await expectError({ body: '{"phoneNumber": 1e400}' }, 400, 'ERR_INVALID_INPUT')
      })
      test('bodies that are not a JSON object', async () => {
        await expectError({ body: '[{"email":"a@b.io"}]' }, 400, 'ERR_INVALID_INPUT', /object/)
        await expectError({ body: 'null' }, 400, 'ERR_INVALID_INPUT')
        await expectError({ body: '"a@b.io"' }, 400, 'ERR_INVALID_INPUT')
        await expectError({ body: '{"email": "a@b.io"' }, 400, 'ERR_INVALID_INPUT', /JSON/)
        await expectError({ body: '' }, 400, 'ERR_INVALID_INPUT', /empty/)
        await expectError({ body: '{"__proto__": {"email": "a@b.io"}}' }, 400, 'ERR_INVALID_INPUT')
      })
      test('a body that is not valid UTF-8 is refused, not decoded with U+FFFD (issue 11, item 2)', async () => {
        // \xff and \xfe used to land in one identity as a\ufffd@x.test.
        const bytes = (text: string) => Buffer.from(text, 'latin1')
        for (const body of [
          bytes('{"email":"a\xff@x.test"}'),
          bytes('{"email":"a\xfe@x.test"}'),
          bytes('{"email":"a\xc0\xaf@x.test"}'), // an overlong "/"
          bytes('{"email":"a\xed\xa0\x80@x.test"}'), // a surrogate encoded as UTF-8
          Buffer.concat([Buffer.from('{"email":"a@x.test","x":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
        ]) {
          await expectError({ body }, 400, 'ERR_INVALID_INPUT', /UTF-8/)
        }
      })
      test('a UTF-8 byte-order mark and multi-byte characters are fine', async () => {
        const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"email":"zoë@x.test"}')])
        const res = await app.inject({
          method: 'POST',
          url: '/identify',
          body,
          headers: { 'content-type': 'application/json' },
        })
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(res.json().contact.emails, ['zoë@x.test'])
        sent.push({ email: 'zoë@x.test', phoneNumber: null })
      })
      test('"__proto__" and "constructor" keys are ignored like any unknown key, and pollute nothing (item 3)', async () => {
        for (const body of [
          '{"__proto__":{},"email":"proto1@x.test"}',
          '{"__proto__":{"polluted":"yes"},"email":"proto2@x.test"}',
          '{"constructor":{"prototype":{"polluted":"yes"}},"email":"proto3@x.test"}',
          '{"email":"proto4@x.test","nested":{"__proto__":{"polluted":"yes"}}}',
        ]) {
          const res = await app.inject({
            method: 'POST',
            url: '/identify',
            body,
            headers: { 'content-type': 'application/json' },
          })
          assert.equal(res.statusCode, 200, `${body} answered ${res.body}`)
          const email = (JSON.parse(body) as { email: string }).email
          assert.deepEqual(res.json().contact.emails, [email])
          sent.push({ email, phoneNumber: null })
          assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
        }
        // Only the poisoned key is dropped: what is left is judged as usual.
        await expectError({ body: '{"__proto__":{"email":"a@b.io"}}' }, 400, 'ERR_INVALID_INPUT', /neither was given/)
      })
      test('a body over the limit is 413', async () => {
        await expectError({ payload: { email: `${'a'.repeat(70000)}@x.io` } }, 413, 'ERR_PAYLOAD_TOO_LARGE', /limit/)
      })
      test('a body that is not JSON is 415', async () => {
        await expectError(
          { body: 'email=a@b.io', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          415,
          'ERR_UNSUPPORTED_MEDIA_TYPE',
          /application\/json/,
        )
        await expectError(
          { body: '{"email":"a@b.io"}', headers: { 'content-type': 'text/plain' } },
          415,
          'ERR_UNSUPPORTED_MEDIA_TYPE',
        )
      })
      test('an unknown route or method is 404 with the same shape', async () => {
        for (const [method, url] of [
          ['GET', '/identify'],
          ['POST', '/nothing-here'],
        ] as const) {
          const res = await app.inject({ method, url })
          assert.equal(res.statusCode, 404)
          assert.equal(res.json().code, 'ERR_NOT_FOUND')
        }
      })
    })
  })
}
