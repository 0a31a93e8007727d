/**
 * HTTP/1.1 framing on a real listening server, over bare sockets (issue 11, items 4–6): a parse
 * error in bytes that follow a request never replaces that request's real answer; every refusal,
 * including those of Node's HTTP parser, carries the error shape with a code from the table; and
 * ambiguous framing is refused with nothing stored.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { engines, type TestDatabase } from '../support/engines.ts'
import { assertErrorShape, exchange, identifyRequest, responsesIn } from '../support/raw-http.ts'

/** Sends the request and shuts down the sending side at once (`socket.end(bytes)`), then reads the answer. */
async function halfClosed(port: number, bytes: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.end(bytes)
  await once(socket, 'close')
  return Buffer.concat(chunks).toString()
}

for (const engine of engines()) {
  describe(`HTTP framing on a listening server (${engine.name})`, () => {
    let db: TestDatabase
    let app: FastifyInstance
    let port: number

    before(async () => {
      db = await engine.open()
      app = await buildApp({ config: loadConfig({}), store: db.store })
      await app.listen({ host: '127.0.0.1', port: 0 })
      port = (app.server.address() as { port: number }).port
    })
    after(async () => {
      await app.close()
      await db.drop()
    })

    const emails = async () => (await db.store.listContacts()).map((c) => c.email)

    describe('a request that was committed is answered with its real 200 (item 4)', () => {
      test('bytes beyond Content-Length: the 200 goes out with Connection: close, then the close', async () => {
        const { raw, closed } = await exchange(port, `${identifyRequest('{"email":"tb2@x.test"}')}}`)
        const [first, ...more] = responsesIn(raw)
        assert.equal(first?.status, 200, raw)
        assert.deepEqual(JSON.parse(first.body).contact.emails, ['tb2@x.test'])
        assert.equal(first.headers.connection, 'close')
        assert.deepEqual(more, [], 'no refusal after the answer')
        assert.ok(closed, 'the server closes the connection')
        assert.ok((await emails()).includes('tb2@x.test'))
      })

      test('a request pipelined after Connection: close does not replace the first answer', async () => {
        const first = identifyRequest('{"email":"tb3@x.test"}', 'Connection: close\r\n')
        const { raw, closed } = await exchange(port, `${first}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`)
        const answers = responsesIn(raw)
        assert.deepEqual(
          answers.map((a) => a.status),
          [200],
          raw,
        )
        assert.deepEqual(JSON.parse(answers[0]!.body).contact.emails, ['tb3@x.test'])
        assert.ok(closed)
      })

      test('two pipelined requests and then garbage: both are answered, in order, then the close', async () => {
        const bytes = `${identifyRequest('{"email":"tb4@x.test"}')}${identifyRequest('{"email":"tb5@x.test"}')}\x01\x02garbage`
        const { raw, closed } = await exchange(port, bytes)
        const answers = responsesIn(raw)
        assert.deepEqual(
          answers.map((a) => [a.status, JSON.parse(a.body).contact?.emails]),
          [
            [200, ['tb4@x.test']],
            [200, ['tb5@x.test']],
          ],
          raw,
        )
        assert.equal(answers[1]!.headers.connection, 'close')
        assert.ok(closed)
      })

      test('a client that half-closes its socket after the request still gets the answer', async () => {
        // RFC 9112: a half-closed connection neither ends a request nor says the client lost interest.
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) => halfClosed(port, identifyRequest(`{"email":"half${i}@x.test"}`))),
        )
        for (const [i, raw] of answers.entries()) {
          const [answer] = responsesIn(raw)
          assert.equal(answer?.status, 200, `request ${i}: ${JSON.stringify(raw)}`)
        }
      })

      test('a malformed body cut by the parser is refused (nothing of it can have committed)', async () => {
        const before = (await emails()).length
        const chunked =
          'POST /identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
          'zz\r\n{"email":"tb6@x.test"}\r\n0\r\n\r\n'
        const { raw, closed } = await exchange(port, chunked)
        const [answer] = responsesIn(raw)
        assert.ok(answer, raw)
        assertErrorShape(answer, 400)
        assert.ok(closed)
        assert.equal((await emails()).length, before)
      })
    })

    describe('every refusal has the error shape, including those of the HTTP parser (item 5)', () => {
      const cases: [string, string, number][] = [
        ['an unknown method', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
        ['garbage instead of a request', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400],
        ['headers over 16 KiB', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431],
        ['no Host header', 'GET /healthz HTTP/1.1\r\n\r\n', 400],
        ['an empty Host header', 'GET /healthz HTTP/1.1\r\nHost:\r\n\r\n', 400],
        ['an unknown expectation', 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 999-bogus\r\n\r\n', 417],
        ['a bad percent escape in the path', 'GET /identify%zz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
        [
          'a malformed chunk size',
          'POST /identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n',
          400,
        ],
        ['a space before the colon', 'GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n', 400],
        ['an invalid header name', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad(Header): 1\r\n\r\n', 400],
      ]
      for (const [name, bytes, status] of cases) {
        test(name, async () => {
          const { raw } = await exchange(port, bytes)
          const answers = responsesIn(raw)
          assert.equal(answers.length, 1, `one answer for ${name}: ${JSON.stringify(raw)}`)
          assertErrorShape(answers[0]!, status)
          assert.equal(answers[0]!.headers['content-type']?.split(';')[0], 'application/json')
        })
      }
    })

    test('headers that do not arrive in time: 408 in the error shape', async () => {
      const slow = await buildApp({ config: loadConfig({}), store: db.store })
      // Node checks header deadlines every connectionsCheckingInterval; both are read at listen.
      Object.assign(slow.server, { headersTimeout: 200, connectionsCheckingInterval: 50 })
      await slow.listen({ host: '127.0.0.1', port: 0 })
      try {
        const { raw } = await exchange(
          (slow.server.address() as { port: number }).port,
          'GET /healthz HTTP/1.1\r\nHost: x\r\n',
          {
            quietMs: 3000,
          },
        )
        const [answer] = responsesIn(raw)
        assert.ok(answer, raw)
        assertErrorShape(answer, 408)
      } finally {
        await slow.close()
      }
    })

    describe('ambiguous framing is refused and stores nothing (item 6)', () => {
      const json = (email: string) => `{"email":"${email}"}`
      const cases: [string, string, string][] = [
        [
          'two Host headers',
          'amb1@x.test',
          `POST /identify HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n${json('amb1@x.test')}`,
        ],
        [
          'a request line without an HTTP version',
          'amb2@x.test',
          `POST /identify\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n${json('amb2@x.test')}`,
        ],
        [
          'Transfer-Encoding: gzip, chunked with a plain chunked body',
          'amb3@x.test',
          `POST /identify HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nContent-Type: application/json\r\n\r\n17\r\n${json('amb3@x.test')}\r\n0\r\n\r\n`,
        ],
        [
          'Transfer-Encoding: chunked next to Content-Length',
          'amb4@x.test',
          `POST /identify HTTP/1.1\r\nHost: a\r\nContent-Length: 23\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n17\r\n${json('amb4@x.test')}\r\n0\r\n\r\n`,
        ],
        [
          'two different Content-Length headers',
          'amb5@x.test',
          `POST /identify HTTP/1.1\r\nHost: a\r\nContent-Length: 23\r\nContent-Length: 24\r\nContent-Type: application/json\r\n\r\n${json('amb5@x.test')} `,
        ],
        [
          'Transfer-Encoding: identity',
          'amb6@x.test',
          `POST /identify HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n${json('amb6@x.test')}`,
        ],
        [
          'Transfer-Encoding split over two header lines',
          'amb7@x.test',
          `POST /identify HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n17\r\n${json('amb7@x.test')}\r\n0\r\n\r\n`,
        ],
      ]
      for (const [name, email, bytes] of cases) {
        test(name, async () => {
          const { raw, closed } = await exchange(port, bytes)
          const answers = responsesIn(raw)
          assert.equal(answers.length, 1, `one answer: ${JSON.stringify(raw)}`)
          assertErrorShape(answers[0]!, 400)
          assert.ok(closed, 'a connection whose framing is in doubt is closed')
          assert.ok(!(await emails()).includes(email), `${email} was stored`)
        })
      }

      test('a well-formed request still answers on the same server', async () => {
        const { raw } = await exchange(port, identifyRequest(json('fine@x.test'), 'Connection: close\r\n'))
        const [answer] = responsesIn(raw)
        assert.equal(answer?.status, 200, raw)
        assert.deepEqual(JSON.parse(answer.body).contact.emails, ['fine@x.test'])
      })
    })
  })
}
