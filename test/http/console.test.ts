/**
 * The console's static serving through `app.inject()`: the page, its modules and the vendor
 * libraries with the right types; the strict CSP and security headers on every `/console`
 * response (404s and the redirect too) and not on the JSON API; nothing outside the two folders.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { CONSOLE_CSP, CONSOLE_ROOT } from '../../src/http/console.ts'
import { sqliteEngine, type TestDatabase } from '../support/engines.ts'

describe('operator console: static files and headers', () => {
  let db: TestDatabase
  let app: FastifyInstance
  before(async () => {
    db = await sqliteEngine.open()
    app = await buildApp({ config: loadConfig({ ADMIN_API_KEYS: 'console-test-key-0123456789' }), store: db.store })
  })
  after(async () => {
    await app.close()
    await db.drop()
  })
  const get = (url: string) => app.inject({ method: 'GET', url })

  test('GET /console/ is the page; /console redirects to it', async () => {
    const page = await get('/console/')
    assert.equal(page.statusCode, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.equal(page.body, readFileSync(`${CONSOLE_ROOT}index.html`, 'utf8'))
    assert.match(page.body, /<script type="module" src="js\/main\.js"><\/script>/)
    const bare = await get('/console?x=1')
    assert.equal(bare.statusCode, 301)
    assert.equal(bare.headers.location, '/console/')
    assert.equal((await get('/console/index.html')).statusCode, 200)
  })

  test('modules, styles and the vendor builds are served with their types', async () => {
    for (const [url, type] of [
      ['/console/js/main.js', /javascript/],
      ['/console/js/model.js', /javascript/],
      ['/console/console.css', /^text\/css/],
      ['/console/vendor/cytoscape.mjs', /javascript/],
      ['/console/vendor/re2js.mjs', /javascript/],
    ] as const) {
      const res = await get(url)
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['content-type']), type, url)
      assert.ok(res.headers.etag, `${url} can be revalidated`)
    }
    assert.match((await get('/console/vendor/cytoscape.mjs')).body, /export\s*\{\s*\w+ as default\s*\}/)
    assert.match((await get('/console/vendor/re2js.mjs')).body, /RE2JS/)
  })

  test('every /console response carries the CSP and security headers', async () => {
    for (const url of [
      '/console/',
      '/console/js/main.js',
      '/console',
      '/console/missing.js',
      '/console/vendor/nope.mjs',
    ]) {
      const res = await get(url)
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP, url)
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url)
      assert.equal(res.headers['x-frame-options'], 'DENY', url)
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', url)
    }
    const csp = Object.fromEntries(
      CONSOLE_CSP.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/)
        return [name, values]
      }),
    )
    assert.deepEqual(csp['default-src'], ["'self'"])
    assert.deepEqual(csp['script-src'], ["'self'"], 'no inline or eval script')
    assert.deepEqual(csp['style-src'], ["'self'"], 'styles from files only')
    assert.deepEqual(csp['connect-src'], ["'self'"])
    assert.deepEqual(csp['frame-ancestors'], ["'none'"])
    assert.deepEqual(csp['object-src'], ["'none'"])
    assert.ok(!CONSOLE_CSP.includes('unsafe'), 'nothing unsafe anywhere')
  })

  test('the page itself has no inline script, style or handler the CSP would refuse', async () => {
    const html = (await get('/console/')).body
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src')
    assert.doesNotMatch(html, /<style/)
    assert.doesNotMatch(html, /\sstyle=/)
    assert.doesNotMatch(html, /\son[a-z]+=/)
    assert.doesNotMatch(html, /https?:\/\//, 'no CDN: everything from this origin')
  })

  test('404s are JSON errors; nothing outside the console folder or the vendor list is served', async () => {
    for (const url of [
      '/console/missing.js',
      '/console/vendor/nope.mjs',
      '/console/vendor/..%2F..%2Fpackage.json',
      '/console/..%2Fpackage.json',
      '/console/tsconfig.json',
      '/console/vendor/cytoscape.d.mts',
    ]) {
      const res = await get(url)
      assert.equal(res.statusCode, 404, url)
      assert.equal(res.json().code, 'ERR_NOT_FOUND', url)
    }
  })

  test('the JSON API keeps its own headers, without the console policy', async () => {
    const res = await get('/healthz')
    assert.equal(res.statusCode, 200)
    // The API's own policy (nothing loads from or frames a JSON answer), not the console's.
    assert.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'")
    assert.equal(res.headers['cache-control'], undefined)
    const operator = await get('/blocked-values')
    assert.equal(operator.statusCode, 401, 'the console adds no way around the operator key')
  })
})
