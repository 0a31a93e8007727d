/**
 * The bearer-key guards over HTTP (SPEC §7): `/metrics` behind ADMIN_API_KEYS (401 without a known
 * key, 403 when the operator API is off, open with METRICS_PUBLIC=true), `/identify` behind API_KEYS
 * when set, and no key — right, wrong or admin — ever written to the log.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { sqliteEngine, type TestDatabase } from '../support/engines.ts'

const ADMIN_KEY = 'admin-key-0123456789abcdef'
const OTHER_ADMIN_KEY = 'admin-key-fedcba9876543210'
const CLIENT_KEY = 'client-key-0123456789abcdef'
const WRONG_KEY = 'wrong-key-0123456789abcdef'

describe('operator and client keys', () => {
  let db: TestDatabase
  let guarded: FastifyInstance
  let log = ''

  before(async () => {
    db = await sqliteEngine.open()
    const sink = new Writable({
      write(chunk, _encoding, done) {
        log += String(chunk)
        done()
      },
    })
    guarded = await buildApp({
      config: loadConfig({
        ADMIN_API_KEYS: `${ADMIN_KEY},${OTHER_ADMIN_KEY}`,
        API_KEYS: CLIENT_KEY,
        LOG_LEVEL: 'trace',
      }),
      store: db.store,
      logger: pino({ level: 'trace' }, sink) as FastifyBaseLogger,
    })
  })
  after(async () => {
    await guarded.close()
    await db.drop()
  })

  const metrics = (app: FastifyInstance, authorization?: string) =>
    app.inject({ url: '/metrics', headers: authorization === undefined ? {} : { authorization } })

  test('/metrics: 401 ERR_UNAUTHORIZED without a key or with an unknown one, 200 with any configured key', async () => {
    for (const authorization of [
      undefined,
      `Bearer ${WRONG_KEY}`,
      `Basic ${ADMIN_KEY}`,
      'Bearer ',
      `Bearer ${CLIENT_KEY}`,
    ]) {
      const res = await metrics(guarded, authorization)
      assert.equal(res.statusCode, 401, String(authorization))
      assert.equal(res.json().code, 'ERR_UNAUTHORIZED')
      assert.match(res.json().message, /ADMIN_API_KEYS/)
      assert.match(res.headers['www-authenticate'] as string, /^Bearer /)
    }
    for (const authorization of [`Bearer ${ADMIN_KEY}`, `bearer ${OTHER_ADMIN_KEY}`]) {
      const res = await metrics(guarded, authorization)
      assert.equal(res.statusCode, 200, authorization)
      assert.match(res.body, /^# HELP /m)
    }
  })

  test('/metrics: 403 ERR_OPERATOR_API_DISABLED when ADMIN_API_KEYS is unset, saying how to enable it', async (t) => {
    const off = await buildApp({ config: loadConfig({}), store: db.store })
    t.after(() => off.close())
    const res = await metrics(off, `Bearer ${ADMIN_KEY}`)
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().code, 'ERR_OPERATOR_API_DISABLED')
    assert.match(res.json().message, /set ADMIN_API_KEYS/)
    assert.match(res.json().message, /METRICS_PUBLIC=true/)
  })

  test('METRICS_PUBLIC=true serves /metrics without a key', async (t) => {
    const open = await buildApp({ config: loadConfig({ METRICS_PUBLIC: 'true' }), store: db.store })
    t.after(() => open.close())
    assert.equal((await metrics(open)).statusCode, 200)
  })

  test('/identify needs an API_KEYS key when API_KEYS is set, checked before the body is read', async (t) => {
    const post = (headers: Record<string, string>, payload: unknown = { email: 'keyed@shop.example' }) =>
      guarded.inject({ method: 'POST', url: '/identify', payload: payload as object, headers })
    const refused: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${WRONG_KEY}` },
      { authorization: `Bearer ${ADMIN_KEY}` },
    ]
    for (const headers of refused) {
      const res = await post(headers)
      assert.equal(res.statusCode, 401, JSON.stringify(headers))
      assert.equal(res.json().code, 'ERR_UNAUTHORIZED')
      assert.match(res.json().message, /API_KEYS/)
    }
    assert.equal((await post({}, { email: 'not an address' })).statusCode, 401, 'no key, no validation')
    assert.equal((await post({ authorization: `Bearer ${CLIENT_KEY}` })).statusCode, 200)
    assert.equal((await guarded.inject('/healthz')).statusCode, 200, 'probes stay open')

    const open = await buildApp({ config: loadConfig({}), store: db.store })
    t.after(() => open.close())
    const res = await open.inject({ method: 'POST', url: '/identify', payload: { email: 'open@shop.example' } })
    assert.equal(res.statusCode, 200, 'without API_KEYS /identify is open')
  })

  test('no key appears in the log, even at trace level', () => {
    assert.ok(log.includes('request completed'), 'the log was captured')
    assert.ok(log.includes('"code":"ERR_UNAUTHORIZED"'), 'refusals are logged with their code')
    for (const key of [ADMIN_KEY, OTHER_ADMIN_KEY, CLIENT_KEY, WRONG_KEY]) {
      assert.ok(!log.includes(key), `the log contains ${key}`)
      assert.ok(!log.includes(key.slice(0, 16)), `the log contains part of ${key}`)
    }
  })
})
