/**
 * Issue 12's storm test: retries show up in `store_retries_total` and the pool in its gauges while
 * two instances on one PostgreSQL database race on the same identities.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import parse from 'parse-prometheus-text-format'
import { createPostgresDatabase, POSTGRES_SKIP_REASON, testDatabaseUrl } from '../support/engines.ts'
import { identify } from '../support/http.ts'
import { value } from '../support/prometheus.ts'
import { startServer } from '../support/server-process.ts'

test('a PostgreSQL storm shows its retries in store_retries_total and the pool in its gauges', {
  skip: testDatabaseUrl === undefined ? POSTGRES_SKIP_REASON : false,
}, async (t) => {
  const db = await createPostgresDatabase()
  t.after(db.drop)
  const env = { DATABASE_URL: db.url, DB_POOL_SIZE: '4', METRICS_PUBLIC: 'true' }
  const servers = await Promise.all([startServer(env, 60000), startServer(env, 60000)])
  t.after(() => Promise.all(servers.map((s) => s.kill())))

  // Four identities, then requests that keep joining them in both directions on both instances.
  for (let i = 0; i < 4; i++) await identify(servers[0]!.url, { email: `hot${i}@x.io`, phoneNumber: `800${i}` })
  const storm = Array.from({ length: 120 }, (_, i) => ({
    email: `hot${i % 4}@x.io`,
    phoneNumber: i % 3 === 0 ? `800${(i + 1) % 4}` : `81${i}`,
  }))
  await Promise.all(storm.map((body, i) => identify(servers[i % 2]!.url, body)))

  const scrapes = await Promise.all(servers.map(async (s) => parse(await (await fetch(`${s.url}/metrics`)).text())))
  const total = (name: string, labels: Record<string, string> = {}) =>
    scrapes.reduce((sum, families) => sum + value(families, name, labels), 0)
  assert.ok(total('store_retries_total', { engine: 'postgres' }) > 0, 'the storm retried and the counter saw it')
  for (const families of scrapes) {
    assert.ok(
      families.some((f) => f.name === 'store_pool_connections'),
      'each instance exposes its pool',
    )
  }
})
