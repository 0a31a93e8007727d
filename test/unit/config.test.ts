/**
 * loadConfig: defaults, the DATABASE_URL forms, and a clear error for each unusable value.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.ts'

describe('loadConfig', () => {
  test('defaults need no environment at all', () => {
    const config = loadConfig({})
    assert.equal(config.databaseUrl, 'sqlite:./data/contacts.db')
    assert.deepEqual(config.database, { engine: 'sqlite', path: './data/contacts.db' })
    assert.equal(config.port, 3000)
    assert.equal(config.host, '0.0.0.0')
    assert.deepEqual(config.corsOrigins, [])
    assert.equal(config.sqliteSynchronous, 'normal')
    assert.ok(Object.isFrozen(config))
  })

  test('protection and metrics are off or open by default', () => {
    const config = loadConfig({})
    assert.deepEqual(config.adminApiKeys, [])
    assert.deepEqual(config.apiKeys, [])
    assert.equal(config.metricsPublic, false)
    assert.equal(config.rateLimitPerMinute, 0)
    assert.equal(config.trustProxy, false)
    assert.deepEqual(config.overload, {
      maxEventLoopDelayMs: 0,
      maxEventLoopUtilization: 0,
      maxHeapUsedBytes: 0,
      maxRssBytes: 0,
      sampleIntervalMs: 1000,
    })
    assert.ok(Object.isFrozen(config.overload))
  })

  test('keys, limits, proxies and overload bounds', () => {
    const config = loadConfig({
      ADMIN_API_KEYS: ' admin-key-0123456789 , second-admin-key-0123 ,',
      API_KEYS: 'client-key-0123456789',
      METRICS_PUBLIC: 'TRUE',
      RATE_LIMIT_PER_MINUTE: '600',
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1, ::1, fd00::/8, loopback',
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '200',
      OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.98',
      OVERLOAD_MAX_HEAP_BYTES: '1073741824',
      OVERLOAD_SAMPLE_INTERVAL_MS: '250',
    })
    assert.deepEqual(config.adminApiKeys, ['admin-key-0123456789', 'second-admin-key-0123'])
    assert.deepEqual(config.apiKeys, ['client-key-0123456789'])
    assert.equal(config.metricsPublic, true)
    assert.equal(config.rateLimitPerMinute, 600)
    assert.equal(config.trustProxy, '10.0.0.0/8,127.0.0.1,::1,fd00::/8,loopback')
    assert.equal(config.overload.maxEventLoopDelayMs, 200)
    assert.equal(config.overload.maxEventLoopUtilization, 0.98)
    assert.equal(config.overload.maxHeapUsedBytes, 1073741824)
    assert.equal(config.overload.sampleIntervalMs, 250)
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2)
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  })

  test('a bad key is refused without being echoed; any printable key is accepted', () => {
    assert.throws(
      () => loadConfig({ ADMIN_API_KEYS: 'long-enough-key-0123456789,secret\twith-a-tab' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes('ADMIN_API_KEYS') &&
        err.message.includes('key 2') &&
        !err.message.includes('with-a-tab'),
    )
    // Short keys are the operator's choice (the docs say to use long random ones).
    assert.deepEqual(loadConfig({ ADMIN_API_KEYS: 'k1,secret' }).adminApiKeys, ['k1', 'secret'])
  })

  test('DATABASE_URL picks the engine', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///var/data/c.db' }).database, {
      engine: 'sqlite',
      path: '/var/data/c.db',
    })
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database, { engine: 'sqlite', path: ':memory:' })
    assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://u@h:5432/db' }).database, {
      engine: 'postgres',
      url: 'postgres://u@h:5432/db',
    })
    assert.equal(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).database.engine, 'postgres')
  })

  test('CORS_ORIGINS is a comma-separated list', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'https://a.shop, https://b.shop,' }).corsOrigins, [
      'https://a.shop',
      'https://b.shop',
    ])
  })

  test('CORS_ORIGINS entries are origins: * or scheme://host[:port], kept in their serialised form', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'HTTPS://Shop.Example/, http://localhost:5173' }).corsOrigins, [
      'https://shop.example',
      'http://localhost:5173',
    ])
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, ['*'])
    for (const bad of [
      'not a url',
      'shop.example',
      'https://shop.example/path',
      'ftp://x.io',
      'https://u@x.io',
      'https://x.io?q',
    ]) {
      assert.throws(
        () => loadConfig({ CORS_ORIGINS: `https://fine.example,${bad}` }),
        (err: unknown) => err instanceof ConfigError && /CORS_ORIGINS/.test(err.message) && err.message.includes(bad),
        bad,
      )
    }
  })

  test('PHONE_DEFAULT_COUNTRY: two letters that name no country are "unknown", other shapes are not two letters', () => {
    assert.throws(
      () => loadConfig({ PHONE_DEFAULT_COUNTRY: 'XX' }),
      (err: unknown) =>
        err instanceof ConfigError && /unknown country code/.test(err.message) && !/two-letter/.test(err.message),
    )
    assert.throws(
      () => loadConfig({ PHONE_DEFAULT_COUNTRY: 'USA' }),
      (err: unknown) => err instanceof ConfigError && /two-letter/.test(err.message),
    )
    assert.equal(loadConfig({ PHONE_DEFAULT_COUNTRY: 'in' }).phoneDefaultCountry, 'IN')
  })

  test('unusable values name the variable', () => {
    const cases: Record<string, string>[] = [
      { DATABASE_URL: 'mysql://x' },
      { DATABASE_URL: 'sqlite:' },
      { PORT: 'eighty' },
      { PORT: '70000' },
      { LOG_LEVEL: 'loud' },
      { SQLITE_SYNCHRONOUS: 'off' },
      { BODY_LIMIT: '-1' },
      { ADMIN_API_KEYS: 'héllo-key' },
      { API_KEYS: 'has a space in it 0123456789' },
      { METRICS_PUBLIC: 'yes' },
      { RATE_LIMIT_PER_MINUTE: '-5' },
      { TRUST_PROXY: 'my-proxy.example' },
      { TRUST_PROXY: '10.0.0.0/33' },
      { TRUST_PROXY: '0' },
      { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: 'lots' },
      { OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '1.5' },
      { OVERLOAD_MAX_HEAP_BYTES: '1.5e9' },
      { OVERLOAD_SAMPLE_INTERVAL_MS: '1' },
    ]
    for (const env of cases) {
      const name = Object.keys(env)[0] as string
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.message.includes(name.split('_')[0] as string),
        name,
      )
    }
  })
})
