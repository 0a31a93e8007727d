/**
 * Fuzzing in CI (issue 11): at least 10,000 seeded inputs per engine — JSON bodies, mutated headers
 * and raw bytes, each on its own connection of a real server process — and, for every one: no
 * 5xx; every answer that is not a 2xx has the error shape with a code from the table; the
 * connection ends (no hang); and nothing is stored by what was refused (each batch stores at most
 * one contact per 2xx answer). A well-formed request after the storm still answers correctly.
 * Set FUZZ_SEED to replay another storm; a failure names the seed and the input.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { engines } from '../support/engines.ts'
import { assertErrorShape, identifyRequest, responsesIn } from '../support/raw-http.ts'
import { startServer } from '../support/server-process.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20261201)
const RUNS = { json: 4000, headers: 3500, bytes: 2500 }
// Enough to overlap requests; more only adds PostgreSQL serialization retries, which the
// concurrency tests are for (test/e2e/concurrency.test.ts), not this one.
const PARALLEL = 8
/** Inputs between two counts of the stored contacts. */
const WINDOW = 128
const EXCHANGE_TIMEOUT_MS = 5000

// ---- inputs ------------------------------------------------------------------------------------

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const nastyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: codeUnit, maxLength: 8 }), // lone surrogates, controls, anything
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800@x.io', 'a@b@c', '@x', 'x@', '+', '++1', '１２３', 'null', '__proto__'),
)
// Mostly distinct values: a few shared ones make merges, but one giant identity that every
// request touches would make the storm a contention benchmark instead of an input fuzzer.
const email = fc.oneof(
  fc.tuple(fc.stringMatching(/^[a-z]{3,8}$/), fc.constantFrom('x.io', 'Y.IO', 'z.test')).map(([l, d]) => `${l}@${d}`),
  fc.stringMatching(/^ ?[A-Za-z0-9.]{1,8}@[a-z]{2,4}\.io ?$/),
  nastyString,
)
const phone = fc.oneof(
  fc.stringMatching(/^\+?[0-9]{6,10}$/),
  fc.stringMatching(/^\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{2,4}$/),
  fc.stringMatching(/^[0-9 ().+-]{1,6}$/),
  fc.integer({ min: 0, max: 10 ** 9 }),
  fc.double(),
  nastyString,
)
const value = (inner: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 6, arbitrary: inner }, fc.constant(null), fc.jsonValue({ maxDepth: 2 }), fc.boolean())
const identifyBody = fc.record(
  { email: value(email), phoneNumber: value(phone), extra: fc.jsonValue({ maxDepth: 1 }) },
  { requiredKeys: [] },
)
/** A body as the bytes sent: mostly JSON text, sometimes poisoned, mangled or not UTF-8. */
const bodyBytes = fc.oneof(
  { weight: 5, arbitrary: identifyBody.map((b) => Buffer.from(JSON.stringify(b))) },
  identifyBody.map((b) => {
    const rest = JSON.stringify(b).slice(1, -1)
    return Buffer.from(`{"__proto__":{"polluted":1}${rest === '' ? '' : `,${rest}`}}`)
  }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  nastyString.map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc
    .tuple(identifyBody, fc.uint8Array({ minLength: 1, maxLength: 4 }))
    .map(([b, junk]) => Buffer.concat([Buffer.from(JSON.stringify(b)), Buffer.from(junk)])),
)

function request(head: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}

/** Well-framed `POST /identify` requests whose body is the variable part. */
const jsonInputs = fc
  .tuple(bodyBytes, fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'))
  .map(([body, type]) =>
    request(
      `POST /identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    ),
  )

const headerValue = fc.oneof(
  fc.stringMatching(/^[ -~]{0,20}$/),
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 12 }),
)
/** Requests whose request line and headers are the variable part. */
const headerInputs = fc
  .record({
    method: fc.constantFrom('POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'FOO', 'post', '', 'P OST'),
    path: fc.constantFrom(
      '/identify',
      '/identify',
      '/identify?x=1',
      '/identify%zz',
      '//identify',
      '/identify/',
      '/healthz',
      '/readyz',
      '/nowhere',
      '*',
      'http://127.0.0.1/identify',
      '',
      `/${'a'.repeat(3000)}`,
    ),
    version: fc.constantFrom(
      'HTTP/1.1',
      'HTTP/1.1',
      'HTTP/1.0',
      'HTTP/2.0',
      'HTTP/1.2',
      'HTTP/9',
      '',
      'HTTP/1.1 x',
      'http/1.1',
    ),
    hosts: fc.constantFrom([], ['127.0.0.1'], ['127.0.0.1'], [''], ['a', 'b'], ['bad host'], ['[::1]:3000'], ['x:y']),
    type: fc.constantFrom(
      undefined,
      'application/json',
      'text/plain',
      'application/json; charset=latin1',
      'multipart/form-data',
      '',
    ),
    framing: fc.constantFrom(
      'length',
      'length',
      'none',
      'short',
      'long',
      'chunked',
      'gzip-chunked',
      'both',
      'two-lengths',
      'bad-length',
    ),
    expect: fc.constantFrom(undefined, undefined, '100-continue', '999-bogus'),
    extra: fc.array(fc.tuple(fc.stringMatching(/^[!-~]{1,12}$/), headerValue), { maxLength: 3 }),
    huge: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    body: bodyBytes,
  })
  .map((r) => {
    const lines = [`${r.method} ${r.path}${r.version === '' ? '' : ` ${r.version}`}`]
    for (const host of r.hosts) lines.push(`Host: ${host}`)
    if (r.type !== undefined) lines.push(`Content-Type: ${r.type}`)
    if (r.expect !== undefined) lines.push(`Expect: ${r.expect}`)
    for (const [name, v] of r.extra) lines.push(`${name}: ${v}`)
    if (r.huge) lines.push(`X-Huge: ${'h'.repeat(17000)}`)
    let body = r.body
    const length = body.length
    switch (r.framing) {
      case 'length':
        lines.push(`Content-Length: ${length}`)
        break
      case 'short':
        lines.push(`Content-Length: ${Math.max(0, length - 3)}`)
        break
      case 'long':
        lines.push(`Content-Length: ${length + 5}`)
        break
      case 'two-lengths':
        lines.push(`Content-Length: ${length}`, `Content-Length: ${length + 1}`)
        break
      case 'bad-length':
        lines.push(`Content-Length: ${length}x`)
        break
      case 'chunked':
      case 'gzip-chunked':
      case 'both':
        lines.push(`Transfer-Encoding: ${r.framing === 'gzip-chunked' ? 'gzip, chunked' : 'chunked'}`)
        if (r.framing === 'both') lines.push(`Content-Length: ${length}`)
        body = Buffer.concat([Buffer.from(`${length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
        break
    }
    lines.push('Connection: close')
    return request(`${lines.join('\r\n')}\r\n\r\n`, body)
  })

const validRequest = fc
  .tuple(fc.stringMatching(/^[a-z]{3,8}$/), fc.stringMatching(/^[0-9]{4,9}$/))
  .map(([l, p]) => Buffer.from(identifyRequest(JSON.stringify({ email: `${l}@raw.io`, phoneNumber: p }))))
type Edit =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
)
function mutate(input: Buffer, edits: readonly Edit[]): Buffer {
  let out = input
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % out.length
    if (e.kind === 'flip') out = Buffer.concat([out.subarray(0, at), Buffer.from([e.byte]), out.subarray(at + 1)])
    else if (e.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(e.bytes), out.subarray(at)])
    else if (e.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + e.length)])
    else out = out.subarray(0, at)
  }
  return out
}
/** Raw bytes: noise, mutated requests, pipelined requests, requests followed by garbage. */
const byteInputs = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 4,
    arbitrary: fc.tuple(validRequest, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([r, e]) => mutate(r, e)),
  },
  { weight: 1, arbitrary: fc.array(validRequest, { minLength: 2, maxLength: 3 }).map((rs) => Buffer.concat(rs)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validRequest, fc.uint8Array({ minLength: 1, maxLength: 40 }))
      .map(([r, junk]) => Buffer.concat([r, Buffer.from(junk)])),
  },
)

// ---- one exchange --------------------------------------------------------------------------------

interface Outcome {
  readonly raw: string
  readonly statuses: number[]
  readonly successes: number
  readonly input: Buffer
}

/** Sends `bytes` on a new connection, half-closes it, and collects everything until the server closes. */
function exchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no end of the exchange within ${EXCHANGE_TIMEOUT_MS} ms`))
    }, EXCHANGE_TIMEOUT_MS)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A reset after the answer (the server closing with unread bytes) is fine; the answer is what counts.
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
    socket.end(bytes)
  })
}

function judge(raw: string, input: Buffer): Outcome {
  const context = () => `seed ${SEED}, input ${JSON.stringify(input.toString('latin1'))}, answer ${JSON.stringify(raw)}`
  const responses = responsesIn(raw)
  const consumed = responses.reduce((n, r) => n + r.head.length + 4 + Buffer.byteLength(r.body, 'latin1'), 0)
  // Interim 100 Continue lines are skipped by responsesIn; strip them before comparing lengths.
  const rest = raw.replace(/HTTP\/1\.1 100 Continue\r\n\r\n/g, '')
  assert.equal(rest.length, consumed, `the server wrote something that is not a complete HTTP response: ${context()}`)
  // Only bytes that hold no request at all (nothing, or blank lines) may go unanswered.
  if (responses.length === 0) assert.equal(input.toString('latin1').trim(), '', `no answer: ${context()}`)
  let successes = 0
  for (const response of responses) {
    assert.ok(response.status < 500, `${response.status}: ${context()}`)
    if (response.status >= 200 && response.status < 300) {
      if (response.head.length > 0 && response.body.includes('"contact"')) successes++
      continue
    }
    try {
      assertErrorShape({ status: response.status, body: Buffer.from(response.body, 'latin1').toString('utf8') })
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${context()}`)
    }
  }
  return { raw, statuses: responses.map((r) => r.status), successes, input }
}

/** `work` over `items` with at most `limit` running at once; results in input order. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const at = next++
      results[at] = await work(items[at]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

// ---- the storm ---------------------------------------------------------------------------------

for (const engine of engines()) {
  describe(`fuzzing a listening server (${engine.name})`, () => {
    test(`${RUNS.json + RUNS.headers + RUNS.bytes} inputs: no 5xx, every refusal in the error shape, nothing stored by a refusal`, async (t) => {
      // The server in its own process (src/server.ts, as deployed): the storm and the service each
      // get a core, and the test reads the same database through its own store.
      const db = await engine.open({ file: true })
      t.after(() => db.drop())
      const server = await startServer({ DATABASE_URL: db.databaseUrl })
      t.after(() => server.kill())
      const port = server.port

      const inputs = [
        ...fc.sample(jsonInputs, { seed: SEED, numRuns: RUNS.json }),
        ...fc.sample(headerInputs, { seed: SEED + 1, numRuns: RUNS.headers }),
        ...fc.sample(byteInputs, { seed: SEED + 2, numRuns: RUNS.bytes }),
      ]
      const tally = new Map<string, number>()
      let stored = (await db.store.listContacts()).length
      for (let at = 0; at < inputs.length; at += WINDOW) {
        const batch = inputs.slice(at, at + WINDOW)
        const outcomes = await inParallel(batch, PARALLEL, async (input) => {
          let raw: string
          try {
            raw = await exchange(port, input)
          } catch (err) {
            throw new Error(
              `${(err as Error).message}: seed ${SEED}, input ${JSON.stringify(input.toString('latin1'))}`,
            )
          }
          return judge(raw, input)
        })
        for (const o of outcomes) {
          const key = o.statuses.length === 0 ? 'closed without an answer' : o.statuses.join('+')
          tally.set(key, (tally.get(key) ?? 0) + 1)
        }
        // A 200 creates at most one contact; a refusal creates none.
        const now = (await db.store.listContacts()).length
        const successes = outcomes.reduce((n, o) => n + o.successes, 0)
        assert.ok(
          now - stored <= successes,
          `inputs ${at}…${at + batch.length - 1} (seed ${SEED}) stored ${now - stored} contacts with ${successes} answers of 200`,
        )
        stored = now
      }
      t.diagnostic(
        `seed ${SEED}: ${inputs.length} inputs; answers ${JSON.stringify(Object.fromEntries([...tally].sort((a, b) => b[1] - a[1])))}; ${stored} contacts stored`,
      )

      // After the storm, an ordinary client is served as usual.
      const res = await fetch(`http://127.0.0.1:${port}/identify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'After.The@Storm.io', phoneNumber: '+1 (555) 000-0001' }),
      })
      assert.equal(res.status, 200)
      const { contact } = (await res.json()) as { contact: { emails: string[]; phoneNumbers: string[] } }
      assert.deepEqual([contact.emails, contact.phoneNumbers], [['after.the@storm.io'], ['+15550000001']])
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200)
    })
  })
}
