/**
 * What keeps the service up, through the real app: rate limits per key and per address (and which
 * address counts behind a proxy), overload shedding with a blocked event loop, and the security
 * headers on JSON and HTML answers with Swagger UI still loading under its CSP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { sqliteEngine, type TestDatabase } from '../support/engines.ts'

const KEY_A = 'client-key-aaaaaaaaaaaaaaaa'
const KEY_B = 'client-key-bbbbbbbbbbbbbbbb'

function assertError(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body)
  const body = res.json()
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
  assert.equal(body.statusCode, status)
  assert.equal(body.code, code)
  assert.equal(typeof body.message, 'string')
}

describe('rate limits (RATE_LIMIT_PER_MINUTE)', () => {
  let db: TestDatabase
  before(async () => {
    db = await sqliteEngine.open()
  })
  after(() => db.drop())

  async function appWith(env: Record<string, string>): Promise<FastifyInstance> {
    return buildApp({ config: loadConfig({ RATE_LIMIT_PER_MINUTE: '3', ...env }), store: db.store })
  }
  const identify = (app: FastifyInstance, headers: Record<string, string> = {}, remoteAddress = '10.1.1.1') =>
    app.inject({ method: 'POST', url: '/identify', payload: { email: 'limit@shop.example' }, headers, remoteAddress })

  test('per API key: the 4th request in the minute is 429 with Retry-After; another key is unaffected', async (t) => {
    const app = await appWith({ API_KEYS: `${KEY_A},${KEY_B}` })
    t.after(() => app.close())
    const a = { authorization: `Bearer ${KEY_A}` }
    for (let i = 0; i < 3; i++) {
      const res = await identify(app, a)
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['x-ratelimit-remaining'], String(2 - i))
    }
    const limited = await identify(app, a)
    assertError(limited, 429, 'ERR_RATE_LIMITED')
    const retryAfter = Number(limited.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`)
    assert.match(limited.json().message, /3 requests a minute/)
    assert.ok(!limited.body.includes(KEY_A), 'the answer does not echo the key')
    // Same address, other key: its own allowance.
    assert.equal((await identify(app, { authorization: `Bearer ${KEY_B}` })).statusCode, 200)
  })

  test('per client address without a key; made-up keys count against the address', async (t) => {
    const app = await appWith({})
    t.after(() => app.close())
    for (let i = 0; i < 3; i++) {
      // A fresh invented key each time must not buy a fresh allowance.
      const res = await identify(app, { authorization: `Bearer invented-${i}-xxxxxxxxxxxxxxxx` }, '10.0.0.1')
      assert.equal(res.statusCode, 200)
    }
    assertError(await identify(app, {}, '10.0.0.1'), 429, 'ERR_RATE_LIMITED')
    assert.equal((await identify(app, {}, '10.0.0.2')).statusCode, 200, 'another address is unaffected')
  })

  test('probes and the scrape are never limited', async (t) => {
    const app = await appWith({ METRICS_PUBLIC: 'true' })
    t.after(() => app.close())
    for (let i = 0; i < 6; i++) {
      for (const url of ['/healthz', '/readyz', '/metrics']) {
        assert.equal((await app.inject({ url, remoteAddress: '10.9.9.9' })).statusCode, 200, url)
      }
    }
  })

  test('TRUST_PROXY decides whether X-Forwarded-For names the client', async (t) => {
    const direct = await appWith({})
    const proxied = await appWith({ TRUST_PROXY: '10.0.0.0/8' })
    t.after(() => Promise.all([direct.close(), proxied.close()]))
    const viaProxy = (app: FastifyInstance, client: string) =>
      identify(app, { 'x-forwarded-for': client }, '10.20.30.40')
    // Behind a trusted proxy, each forwarded client has its own allowance…
    for (let i = 0; i < 6; i++) assert.equal((await viaProxy(proxied, `203.0.113.${i}`)).statusCode, 200)
    // …without TRUST_PROXY the header is ignored: everyone is the proxy's address.
    for (let i = 0; i < 3; i++) assert.equal((await viaProxy(direct, `203.0.113.${i}`)).statusCode, 200)
    assertError(await viaProxy(direct, '203.0.113.99'), 429, 'ERR_RATE_LIMITED')
  })
})

describe('overload shedding (OVERLOAD_*)', () => {
  test('a blocked event loop sheds requests with 503 ERR_OVERLOADED, /healthz stays up, then it recovers', async (t) => {
    const db = await sqliteEngine.open()
    t.after(() => db.drop())
    const app = await buildApp({
      config: loadConfig({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '50', OVERLOAD_SAMPLE_INTERVAL_MS: '100' }),
      store: db.store,
    })
    t.after(() => app.close())
    const identify = () => app.inject({ method: 'POST', url: '/identify', payload: { email: 'busy@shop.example' } })
    assert.equal((await identify()).statusCode, 200, 'not overloaded at rest')

    // Block the loop for a second: the next sample's mean delay is far past 50 ms.
    const until = Date.now() + 1000
    while (Date.now() < until) {}

    let shed: LightMyRequestResponse | undefined
    for (let i = 0; i < 40 && shed === undefined; i++) {
      const res = await identify()
      if (res.statusCode === 503) shed = res
      else await sleep(10)
    }
    assert.ok(shed, 'a request was shed')
    assertError(shed, 503, 'ERR_OVERLOADED')
    assert.equal(shed.headers['retry-after'], '5')
    assert.ok(app.isUnderPressure(), 'still within the overloaded sample')
    assert.equal((await app.inject('/healthz')).statusCode, 200, '/healthz is not shed')

    let recovered = false
    for (let i = 0; i < 100 && !recovered; i++) {
      await sleep(20)
      recovered = (await identify()).statusCode === 200
    }
    assert.ok(recovered, 'answers 200 again once the loop is free')
  })

  test('off by default: nothing is sampled or shed', async (t) => {
    const db = await sqliteEngine.open()
    t.after(() => db.drop())
    const app = await buildApp({ config: loadConfig({}), store: db.store })
    t.after(() => app.close())
    assert.equal(app.hasDecorator('isUnderPressure'), false)
  })
})

describe('security headers (helmet)', () => {
  let db: TestDatabase
  let app: FastifyInstance
  before(async () => {
    db = await sqliteEngine.open()
    app = await buildApp({ config: loadConfig({}), store: db.store })
  })
  after(async () => {
    await app.close()
    await db.drop()
  })

  function assertCommonHeaders(res: LightMyRequestResponse, what: string): void {
    assert.equal(res.headers['x-content-type-options'], 'nosniff', what)
    assert.match(res.headers['strict-transport-security'] as string, /max-age=\d+; includeSubDomains/, what)
    assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', what)
    assert.equal(res.headers['x-powered-by'], undefined, what)
  }

  test('on JSON answers: nothing may load or frame them (success, refusal, not found, shed, probes)', async () => {
    const answers = {
      identify: await app.inject({ method: 'POST', url: '/identify', payload: { email: 'h@shop.example' } }),
      refusal: await app.inject({ method: 'POST', url: '/identify', payload: { email: 'x' } }),
      'not found': await app.inject('/nowhere'),
      healthz: await app.inject('/healthz'),
      openapi: await app.inject('/openapi.json'),
      'no key': await app.inject('/metrics'),
    }
    for (const [what, res] of Object.entries(answers)) {
      assert.match(res.headers['content-type'] as string, /application\/json/, what)
      assertCommonHeaders(res, what)
      assert.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", what)
      assert.equal(res.headers['x-frame-options'], undefined, `${what}: frame-ancestors does its job`)
    }
  })

  test('on the /docs page, whose CSP allows every script and stylesheet it loads', async () => {
    const page = await app.inject('/docs/')
    assert.equal(page.statusCode, 200)
    assert.match(page.headers['content-type'] as string, /text\/html/)
    assertCommonHeaders(page, 'docs')
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN')
    assert.equal(page.headers['referrer-policy'], 'no-referrer')
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin')
    const csp = Object.fromEntries(
      (page.headers['content-security-policy'] as string).split(';').map((d) => {
        const [name = '', ...sources] = d.trim().split(/\s+/)
        return [name, sources]
      }),
    ) as Record<string, string[]>
    assert.deepEqual(csp['default-src'], ["'self'"])
    assert.deepEqual(csp['script-src'], ["'self'"], 'no inline or remote scripts allowed')
    assert.ok(csp['style-src']?.includes("'self'"))
    assert.ok(csp['img-src']?.includes('data:'), 'Swagger UI draws its icons as data: images')
    assert.deepEqual(csp['object-src'], ["'none'"])
    assert.equal(csp['upgrade-insecure-requests'], undefined, 'assets load over plain http too')

    // Every script is an external file from this origin ('self'); none is inline, which script-src would block.
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    assert.ok(scripts.length >= 3)
    const assets = [...page.body.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map(
      (m) => m[1] as string,
    )
    assert.ok(assets.length >= 1)
    for (const [, attributes = '', inline = ''] of scripts) {
      assert.equal(inline.trim(), '', 'no inline script')
      const src = /src="([^"]+)"/.exec(attributes)?.[1]
      assert.ok(src, 'a script with a src')
      assets.push(src)
    }
    assert.ok(!/\sstyle=|<style/i.test(page.body), 'no inline style on the page')
    // The page's scripts then fetch the OpenAPI document from ./json (connect-src falls back to 'self').
    for (const asset of [...assets, './json']) {
      const url = new URL(asset, 'http://service.example/docs/')
      assert.equal(url.host, 'service.example', `${asset} is same-origin`)
      const res = await app.inject(url.pathname)
      assert.equal(res.statusCode, 200, `${url.pathname} loads`)
      assert.equal(res.headers['content-security-policy'], page.headers['content-security-policy'], url.pathname)
    }
  })
})
