/**
 * GET /metrics through the real app on every engine: the text parses as Prometheus exposition, the
 * counters move by exactly the requests made, refusals count under their code, routes are patterns
 * (never URLs) and no label carries personal data. Plus the contract the store's service will use:
 * an outcome set on the request is counted and logged.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { metricsHttpPlugin } from '../../src/http/metrics-plugin.ts'
import { RequestLog } from '../../src/http/request-log.ts'
import { requestState } from '../../src/http/request-state.ts'
import { errorSchema } from '../../src/http/schemas.ts'
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts'
import { engines, type TestDatabase } from '../support/engines.ts'
import { counterDelta, histogramCount, labelValues, scrape, value } from '../support/prometheus.ts'

for (const engine of engines()) {
  describe(`/metrics (${engine.name})`, () => {
    let db: TestDatabase
    let app: FastifyInstance
    let metrics: Metrics

    before(async () => {
      db = await engine.open()
      metrics = createMetrics()
      app = await buildApp({ config: loadConfig({ METRICS_PUBLIC: 'true' }), store: db.store, metrics })
    })
    after(async () => {
      await app.close()
      await db.drop()
    })

    const post = (payload: unknown, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url: '/identify', payload: payload as string, headers })

    test('counters move by exactly the requests made; refusals count under their code', async () => {
      const before = await scrape(app)
      const durationBefore = await histogramCount(metrics.registry, 'http_request_duration_seconds', {
        route: '/identify',
        method: 'POST',
      })
      for (let i = 0; i < 7; i++) {
        assert.equal((await post({ email: `person${i}@shop.example`, phoneNumber: `55500${i}` })).statusCode, 200)
      }
      assert.equal((await post({ email: 'not-an-address' })).statusCode, 400)
      assert.equal((await post({ email: 'also not one' })).statusCode, 400)
      assert.equal((await post('email=a@b.io', { 'content-type': 'text/plain' })).statusCode, 415)
      const after = await scrape(app)

      const requests = (status: string) =>
        counterDelta(before, after, 'http_requests_total', { route: '/identify', method: 'POST', status })
      assert.equal(requests('200'), 7)
      assert.equal(requests('400'), 2)
      assert.equal(requests('415'), 1)
      const refused = (code: string) =>
        counterDelta(before, after, 'identify_outcomes_total', { outcome: 'refused', code })
      assert.equal(refused('ERR_INVALID_INPUT'), 2)
      assert.equal(refused('ERR_UNSUPPORTED_MEDIA_TYPE'), 1)
      assert.equal(counterDelta(before, after, 'identify_outcomes_total', { outcome: 'refused' }), 3)
      // The scrape before these requests was itself counted, once, under its own route.
      assert.equal(counterDelta(before, after, 'http_requests_total', { route: '/metrics', status: '200' }), 1)
      const durationAfter = await histogramCount(metrics.registry, 'http_request_duration_seconds', {
        route: '/identify',
        method: 'POST',
      })
      assert.equal(durationAfter - durationBefore, 10)
    })

    test('routes are patterns: unknown paths are "unmatched", and no label holds a URL or personal data', async () => {
      const before = await scrape(app)
      await post({ email: 'Secret.Person@shop.example', phoneNumber: '+44 20 7946 0958' })
      await app.inject({ url: '/people/424242?email=secret.person@shop.example' })
      await app.inject({ url: '/nowhere/secret.person@shop.example' })
      await app.inject({ method: 'DELETE', url: '/identify' })
      // A real route with an id in its path counts under its pattern.
      await app.inject({ url: '/identities/424242?email=secret.person@shop.example' })
      const after = await scrape(app)
      assert.equal(counterDelta(before, after, 'http_requests_total', { route: 'unmatched', status: '404' }), 3)
      assert.equal(counterDelta(before, after, 'http_requests_total', { route: '/identities/:contactId' }), 1)
      assert.equal(
        counterDelta(before, after, 'identify_outcomes_total', { outcome: 'refused' }),
        0,
        'a 404 on another method is not an identify refusal',
      )
      for (const label of labelValues(after)) {
        assert.ok(!/@|424242|7946|secret/i.test(label), `label value ${JSON.stringify(label)}`)
      }
      const routes = new Set(
        after.find((f) => f.name === 'http_requests_total')?.metrics.map((s) => s.labels?.route as string),
      )
      assert.ok(routes.has('/identify') && routes.has('unmatched') && routes.has('/metrics'), [...routes].join(' '))
      for (const route of routes) assert.ok(route === 'unmatched' || route.startsWith('/'), route)
    })

    test('the exposition follows Prometheus naming: counters end in _total, durations in _seconds', async () => {
      const families = await scrape(app)
      for (const family of families) {
        if (family.type === 'COUNTER') assert.match(family.name, /_total$/, family.name)
        if (family.type === 'HISTOGRAM' && /duration|wait|lag/.test(family.name)) {
          assert.match(family.name, /_seconds$/, family.name)
        }
        assert.ok(family.help.length > 0, `${family.name} has help`)
      }
      assert.ok(value(families, 'nodejs_eventloop_lag_seconds') >= 0)
    })
  })
}

describe('the outcome a route leaves on the request', () => {
  test('is counted and written to the request log line', async (t) => {
    const lines: Record<string, unknown>[] = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
        done()
      },
    })
    const metrics = createMetrics()
    const app = Fastify({ loggerInstance: pino(sink) as FastifyBaseLogger, logController: new RequestLog(metrics) })
    t.after(() => app.close())
    app.addSchema(errorSchema)
    await app.register(requestState)
    await app.register(metricsHttpPlugin, { config: loadConfig({ METRICS_PUBLIC: 'true' }), metrics })
    // What the lead's /identify does once the service reports its outcome.
    app.post('/identify', async (request) => {
      request.identifyOutcome = 'merge'
      return {}
    })
    await app.ready()

    const before = await scrape(app)
    await app.inject({ method: 'POST', url: '/identify', payload: {} })
    await app.inject({ method: 'POST', url: '/identify', payload: {} })
    const after = await scrape(app)
    assert.equal(counterDelta(before, after, 'identify_outcomes_total', { outcome: 'merge' }), 2)
    assert.equal(counterDelta(before, after, 'identify_outcomes_total', { outcome: 'nothing_new' }), 0)
    const logged = lines.filter((l) => l.msg === 'request completed' && l.route === '/identify')
    assert.equal(logged.length, 2)
    for (const line of logged) {
      assert.equal(line.outcome, 'merge')
      assert.equal(line.code, undefined)
    }
  })
})
