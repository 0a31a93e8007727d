/**
 * Everything around /identify: health and readiness, the OpenAPI document and docs page, CORS,
 * request ids, and the error-code table against docs/errors.md.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { errorCodes } from '../../src/errors.ts'
import { engines } from '../support/engines.ts'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

for (const engine of engines()) {
  describe(`operations (${engine.name})`, () => {
    test('/healthz and /readyz answer; /readyz fails with 503 once storage is gone', async () => {
      const db = await engine.open()
      const app = await buildApp({ config: loadConfig({}), store: db.store })
      try {
        assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok' })
        const ready = await app.inject('/readyz')
        assert.equal(ready.statusCode, 200)
        assert.deepEqual(ready.json(), { status: 'ready' })
        await db.store.close()
        const gone = await app.inject('/readyz')
        assert.equal(gone.statusCode, 503)
        assert.equal(gone.json().code, 'ERR_STORAGE_UNAVAILABLE')
        const identify = await app.inject({ method: 'POST', url: '/identify', payload: { email: 'a@b.io' } })
        assert.equal(identify.statusCode, 503)
        assert.equal(identify.json().code, 'ERR_STORAGE_UNAVAILABLE')
        assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok' }, 'alive even without storage')
      } finally {
        await app.close()
        await db.drop()
      }
    })
  })
}

describe('documentation and cross-cutting behaviour', async () => {
  const db = await engines()[0]!.open()
  const app = await buildApp({ config: loadConfig({}), store: db.store })
  const withCors = await buildApp({ config: loadConfig({ CORS_ORIGINS: 'https://shop.example' }), store: db.store })
  after(async () => {
    await app.close()
    await withCors.close()
    await db.drop()
  })

  test('/openapi.json is an OpenAPI 3 document generated from the route schemas', async () => {
    const res = await app.inject('/openapi.json')
    assert.equal(res.statusCode, 200)
    const doc = res.json()
    assert.match(doc.openapi, /^3\./)
    const op = doc.paths['/identify'].post
    const body = op.requestBody.content['application/json'].schema
    assert.deepEqual(Object.keys(body.properties), ['email', 'phoneNumber'])
    const ok = op.responses['200'].content['application/json'].schema
    assert.ok(ok.properties.contact.properties.primaryContatctId, 'the task spelling is documented')
    for (const status of ['400', '413', '415', '503']) assert.ok(op.responses[status], `documents ${status}`)
    assert.ok(doc.paths['/healthz'] && doc.paths['/readyz'])
  })

  test('the OpenAPI document describes each response, names the error schema, and writes null as null (issue 11, item 19)', async () => {
    const doc = (await app.inject('/openapi.json')).json()
    assert.deepEqual(Object.keys(doc.components.schemas), ['Error'], 'the error schema has a real name, not def-0')
    const text = JSON.stringify(doc)
    assert.ok(!text.includes('#/components/schemas/def-'), 'no reference to a def-N schema')

    // No `null` spelt as an object: every schema that admits null says so with type "null".
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return
      const schema = node as Record<string, unknown>
      if (Array.isArray(schema.enum) && schema.enum.includes(null)) {
        assert.notEqual(schema.type, 'object', `${path} renders null as type: object`)
      }
      for (const [key, value] of Object.entries(schema)) walk(value, `${path}/${key}`)
    }
    walk(doc, '#')
    const body = doc.paths['/identify'].post.requestBody.content['application/json'].schema
    assert.deepEqual(body.properties.email.type, ['string', 'null'])
    assert.deepEqual(body.properties.phoneNumber.type, ['string', 'number', 'null'])

    for (const [path, method, statuses] of [
      ['/identify', 'post', ['200', '400', '413', '415', '500', '503', 'default']],
      ['/healthz', 'get', ['200', '500', 'default']],
      ['/readyz', 'get', ['200', '500', '503', 'default']],
    ] as const) {
      const responses = doc.paths[path][method].responses
      assert.deepEqual(Object.keys(responses).sort(), [...statuses].sort(), `${method} ${path} responses`)
      const descriptions = statuses.map((status) => responses[status].description as string)
      for (const [i, description] of descriptions.entries()) {
        assert.ok(description && description !== 'Default Response', `${path} ${statuses[i]} has a real description`)
      }
      assert.equal(new Set(descriptions).size, descriptions.length, `${path}: each status its own description`)
      for (const status of statuses) {
        const media = responses[status].content['application/json']
        assert.ok(media.example !== undefined, `${path} ${status} has an example`)
        if (status === '200') continue
        assert.equal(media.schema.$ref, '#/components/schemas/Error')
        const example = media.example as { statusCode: number; code: keyof typeof errorCodes }
        assert.ok(Object.hasOwn(errorCodes, example.code), `${path} ${status} example code ${example.code}`)
        assert.equal(errorCodes[example.code].status, example.statusCode)
        if (status !== 'default') assert.equal(String(example.statusCode), status)
      }
      assert.equal(responses.default.content['application/json'].example.code, 'ERR_NOT_FOUND', 'the 404 is documented')
    }
  })

  test('/docs serves the interactive documentation', async () => {
    const res = await app.inject('/docs/')
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] as string, /text\/html/)
    assert.match(res.body, /swagger/i)
  })

  test('CORS is off by default', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/identify', headers: { origin: 'https://shop.example' } })
    assert.equal(res.headers['access-control-allow-origin'], undefined)
    const post = await app.inject({
      method: 'POST',
      url: '/identify',
      payload: { email: 'cors@x.io' },
      headers: { origin: 'https://shop.example' },
    })
    assert.equal(post.headers['access-control-allow-origin'], undefined)
  })

  test('CORS_ORIGINS allows the listed origins only', async () => {
    const preflight = await withCors.inject({
      method: 'OPTIONS',
      url: '/identify',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    assert.equal(preflight.statusCode, 204)
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://shop.example')
    const other = await withCors.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example' } })
    assert.equal(other.headers['access-control-allow-origin'], undefined)
  })

  test('CORS_ORIGINS=* allows any origin', async () => {
    const open = await buildApp({ config: loadConfig({ CORS_ORIGINS: '*' }), store: db.store })
    try {
      const res = await open.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://any.example' } })
      assert.ok(['*', 'https://any.example'].includes(res.headers['access-control-allow-origin'] as string))
    } finally {
      await open.close()
    }
  })

  test('every response carries a request id; a caller-supplied one is kept', async () => {
    const generated = await app.inject('/healthz')
    assert.match(generated.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/)
    const given = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'order-42' } })
    assert.equal(given.headers['x-request-id'], 'order-42')
  })

  test('docs/errors.md documents every error code with its status', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    for (const [code, { status }] of Object.entries(errorCodes)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} is in docs/errors.md`)
    }
  })
})

describe('PHONE_DEFAULT_COUNTRY over HTTP and in the importer', () => {
  test('the route and `identity import` store the same E.164 value', async (t) => {
    const db = await engines()[0]!.open({ file: true })
    t.after(() => db.drop())
    const app = await buildApp({ config: loadConfig({ PHONE_DEFAULT_COUNTRY: 'US' }), store: db.store })
    t.after(() => app.close())
    const first = await app.inject({
      method: 'POST',
      url: '/identify',
      payload: { email: 'potus@example.com', phoneNumber: '(202) 456-1111' },
    })
    assert.deepEqual(first.json().contact.phoneNumbers, ['+12024561111'])

    // The same person spelt differently, imported by the CLI with the same setting: nothing new.
    const dir = mkdtempSync(join(tmpdir(), 'identity-country-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'rows.csv')
    writeFileSync(file, 'email,phone\npotus@example.com,+1 202 456 1111\nnew@example.com,202.456.1111\n')
    const run = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'import', file, '--json', '--quiet'], {
      env: { ...process.env, DATABASE_URL: db.databaseUrl, PHONE_DEFAULT_COUNTRY: 'us' },
      encoding: 'utf8',
    })
    assert.equal(run.status, 0, run.stderr)
    const rows = await db.store.listContacts()
    assert.deepEqual(
      rows.map((r) => [r.email, r.phoneNumber, r.linkedId === null]),
      [
        ['potus@example.com', '+12024561111', true],
        ['new@example.com', '+12024561111', false],
      ],
    )
  })
})
