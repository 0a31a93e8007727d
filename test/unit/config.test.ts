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
