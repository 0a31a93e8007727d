/**
 * createMetrics at the unit level: each registry counts only its own events, identify outcomes and
 * the store observer move by exactly what was reported, labels stay bounded, the pool gauges are
 * read at scrape time, and outcomeOf names what a decision does.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import parse from 'parse-prometheus-text-format'
import type { Histogram } from 'prom-client'
import type { Contact } from '../../src/identity/contact.ts'
import { outcomeOf } from '../../src/identity/outcome.ts'
import { decide } from '../../src/identity/reconcile.ts'
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts'
import { histogramCount, labelValues, value } from '../support/prometheus.ts'

async function read(metrics: Metrics) {
  return parse(await metrics.text())
}

describe('createMetrics', () => {
  test('each app has its own registry; the process metrics are in every one', async () => {
    const a = createMetrics()
    const b = createMetrics()
    a.identifyOutcome('merge')
    a.identifyOutcome('merge')
    const [fa, fb] = [await read(a), await read(b)]
    assert.equal(value(fa, 'identify_outcomes_total', { outcome: 'merge' }), 2)
    assert.equal(value(fb, 'identify_outcomes_total', { outcome: 'merge' }), 0)
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
    ]) {
      assert.ok(
        fb.some((f) => f.name === name),
        `${name} is exposed`,
      )
    }
  })

  test('identify outcomes start at 0 and move by one per report; refusals carry their code', async () => {
    const metrics = createMetrics()
    const start = await read(metrics)
    for (const outcome of ['new_primary', 'new_secondary', 'merge', 'nothing_new']) {
      const sample = start
        .find((f) => f.name === 'identify_outcomes_total')
        ?.metrics.find((s) => s.labels?.outcome === outcome)
      assert.equal(sample?.value, '0', `${outcome} is exposed before it happens`)
    }
    metrics.identifyOutcome('new_primary')
    metrics.identifyOutcome('nothing_new')
    metrics.identifyOutcome('nothing_new')
    metrics.identifyOutcome('nothing_new')
    metrics.identifyOutcome('refused', 'ERR_INVALID_INPUT')
    metrics.identifyOutcome('refused', 'ERR_RATE_LIMITED')
    metrics.identifyOutcome('refused', 'ERR_RATE_LIMITED')
    const after = await read(metrics)
    const count = (labels: Record<string, string>) => value(after, 'identify_outcomes_total', labels)
    assert.equal(count({ outcome: 'new_primary' }), 1)
    assert.equal(count({ outcome: 'new_secondary' }), 0)
    assert.equal(count({ outcome: 'nothing_new' }), 3)
    assert.equal(count({ outcome: 'refused', code: 'ERR_INVALID_INPUT' }), 1)
    assert.equal(count({ outcome: 'refused', code: 'ERR_RATE_LIMITED' }), 2)
    assert.equal(count({ outcome: 'refused' }), 3)
  })

  test('the store observer: units by engine and kind, failures, retries by reason, lock waits', async () => {
    const metrics = createMetrics()
    metrics.store.unit('sqlite', 'identify', 0.0002, true)
    metrics.store.unit('sqlite', 'identify', 0.0003, true)
    metrics.store.unit('postgres', 'identify', 0.004, false)
    metrics.store.unit('postgres', 'import_batch', 0.2, true)
    metrics.store.retry('postgres', 'pg_40001')
    metrics.store.retry('postgres', 'pg_40001')
    metrics.store.retry('sqlite', 'sqlite_busy_snapshot')
    metrics.store.retry('postgres', 'something the store made up')
    metrics.store.retry('sqlite', 'blocklist_changed')
    metrics.store.lockWait(0.02)
    const f = await read(metrics)
    const units = (engine: string, kind: string) =>
      histogramCount(metrics.registry, 'store_unit_duration_seconds', { engine, kind })
    assert.equal(await units('sqlite', 'identify'), 2)
    assert.equal(await units('postgres', 'identify'), 1)
    assert.equal(await units('postgres', 'import_batch'), 1)
    assert.equal(value(f, 'store_unit_errors_total', { engine: 'postgres', kind: 'identify' }), 1)
    assert.equal(value(f, 'store_unit_errors_total', { engine: 'sqlite' }), 0)
    assert.equal(value(f, 'store_retries_total', { engine: 'postgres', reason: 'pg_40001' }), 2)
    assert.equal(value(f, 'store_retries_total', { engine: 'sqlite', reason: 'sqlite_busy_snapshot' }), 1)
    assert.equal(value(f, 'store_retries_total', { engine: 'postgres', reason: 'other' }), 1)
    assert.equal(value(f, 'store_retries_total', { engine: 'sqlite', reason: 'blocklist_changed' }), 1)
    // An unlabelled histogram the parser reads whole.
    const lock = f.find((x) => x.name === 'store_write_lock_wait_seconds')?.metrics[0]
    assert.equal(lock?.count, '1')
    assert.equal(lock?.buckets?.['0.025'], '1')
    assert.equal(lock?.buckets?.['0.01'], '0')
  })

  test('store kinds stay a bounded set whatever the caller passes', async () => {
    const metrics = createMetrics()
    for (let i = 0; i < 100; i++) metrics.store.unit('sqlite', `kind_${i}`, 0.001, true)
    metrics.store.unit('sqlite', 'Has Spaces and an email a@b.io', 0.001, true)
    const kinds = new Set(
      (await metrics.registry.getMetricsAsJSON())
        .find((m) => m.name === 'store_unit_duration_seconds')
        ?.values.map((v) => String(v.labels.kind)),
    )
    assert.ok(kinds.size <= 33, `${kinds.size} kinds`)
    assert.ok(kinds.has('other'))
    assert.ok(![...kinds].some((k) => k.includes('@')))
  })

  test('pool gauges appear once a source is set and are read at each scrape', async () => {
    const metrics = createMetrics()
    assert.ok(!(await read(metrics)).some((f) => f.name === 'store_pool_connections'), 'no pool on SQLite')
    let stats = { total: 10, idle: 4, waiting: 0 }
    metrics.setPoolSource(() => stats)
    let f = await read(metrics)
    assert.equal(value(f, 'store_pool_connections', { state: 'in_use' }), 6)
    assert.equal(value(f, 'store_pool_connections', { state: 'idle' }), 4)
    assert.equal(value(f, 'store_pool_waiting_requests'), 0)
    stats = { total: 10, idle: 0, waiting: 7 }
    f = await read(metrics)
    assert.equal(value(f, 'store_pool_connections', { state: 'in_use' }), 10)
    assert.equal(value(f, 'store_pool_waiting_requests'), 7)
  })

  test('HTTP series: route patterns, unmatched, methods outside the known set are "other"', async () => {
    const metrics = createMetrics()
    metrics.http.request('/identities/:contactId', 'GET', 200, 0.001)
    metrics.http.request(undefined, 'GET', 404, 0.0001)
    metrics.http.request(undefined, 'PROPFIND', 404, 0.0001)
    const f = await read(metrics)
    assert.equal(value(f, 'http_requests_total', { route: '/identities/:contactId', method: 'GET', status: '200' }), 1)
    assert.equal(value(f, 'http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }), 1)
    assert.equal(value(f, 'http_requests_total', { route: 'unmatched', method: 'other', status: '404' }), 1)
    assert.ok(!labelValues(f).includes('PROPFIND'))
    assert.equal(
      await histogramCount(metrics.registry, 'http_request_duration_seconds', { route: 'unmatched', method: 'other' }),
      1,
    )
  })
})

describe('the request latency histogram', () => {
  test('buckets are cumulative, bounds inclusive (le), with _sum and _count per series', async () => {
    const metrics = createMetrics()
    for (const seconds of [0.0001, 0.0005, 0.003, 20]) metrics.http.request('/identify', 'POST', 200, seconds)
    metrics.http.request('/healthz', 'GET', 200, 0.0002)
    const { values } = await (metrics.registry.getSingleMetric('http_request_duration_seconds') as Histogram).get()
    const identify = values.filter((v) => v.labels.route === '/identify')
    const bucket = (le: string) =>
      identify.find((v) => v.metricName === 'http_request_duration_seconds_bucket' && String(v.labels.le) === le)?.value
    assert.equal(bucket('0.0005'), 2, '0.0005 itself is in le="0.0005"')
    assert.equal(bucket('0.001'), 2)
    assert.equal(bucket('0.005'), 3)
    assert.equal(bucket('10'), 3)
    assert.equal(bucket('+Inf'), 4)
    assert.equal(identify.find((v) => v.metricName === 'http_request_duration_seconds_count')?.value, 4)
    const sum = identify.find((v) => v.metricName === 'http_request_duration_seconds_sum')?.value ?? 0
    assert.ok(Math.abs(sum - 20.0036) < 1e-9, String(sum))
    assert.equal(await histogramCount(metrics.registry, 'http_request_duration_seconds', { route: '/healthz' }), 1)
    // The text format prom-client writes from these samples is what Prometheus reads.
    const text = await metrics.text()
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m)
    assert.match(text, /^http_request_duration_seconds_bucket\{route="\/identify",method="POST",le="\+Inf"\} 4$/m)
    assert.match(text, /^http_requests_total\{route="\/identify",method="POST",status="200"\} 4$/m)
  })
})

describe('outcomeOf', () => {
  const contact = (id: number, email: string | null, phoneNumber: string | null, linkedId: number | null): Contact => ({
    id,
    email,
    phoneNumber,
    linkedId,
    linkPrecedence: linkedId === null ? 'primary' : 'secondary',
    createdAt: id,
  })
  const a = contact(1, 'a@x.io', '111', null)
  const b = contact(2, 'b@x.io', '222', null)

  test('names what the decision does', () => {
    assert.equal(outcomeOf(decide({ email: 'new@x.io', phoneNumber: null }, [])), 'new_primary')
    assert.equal(outcomeOf(decide({ email: 'a@x.io', phoneNumber: '111' }, [a])), 'nothing_new')
    assert.equal(outcomeOf(decide({ email: 'a@x.io', phoneNumber: '999' }, [a])), 'new_secondary')
    assert.equal(outcomeOf(decide({ email: 'a@x.io', phoneNumber: '222' }, [a, b])), 'merge')
  })
})
