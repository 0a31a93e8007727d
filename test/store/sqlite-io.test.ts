/**
 * The SQLite store's I/O side: checkpoints happen in the checkpointer thread, not at commit, and
 * every statement on a request's path is served by an index — checked with EXPLAIN QUERY PLAN, so a
 * later change cannot silently fall back to a scan of the table (or keep an index nothing uses).
 */
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { IdentityService } from '../../src/service/service.ts'
import type { SqliteStore } from '../../src/store/sqlite.ts'
import * as SQL from '../../src/store/sqlite-sql.ts'
import { sqliteEngine } from '../support/engines.ts'

test('checkpoints run off the event loop: the commit path never checkpoints, the thread does', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const store = db.store as SqliteStore
  assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, 'commits do not checkpoint')
  const path = db.databaseUrl.slice('sqlite:'.length)
  const before = statSync(path).size
  const service = new IdentityService(store)
  for (let i = 0; i < 300; i++) await service.identify({ email: `w${i}@x.io`, phoneNumber: `${i}` })
  // Only a checkpoint copies pages from the log into the database file.
  for (let waited = 0; statSync(path).size === before; waited += 20) {
    assert.ok(waited < 5000, 'the checkpointer thread never copied the log into the file')
    await sleep(20)
  }
})

/** The plan of one statement, as SQLite reports it: one line per step. */
function plan(store: SqliteStore, sql: string, params: unknown[] | Record<string, unknown>): string {
  const rows = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as never) as { detail: string }[]
  return rows.map((r) => r.detail).join('\n')
}

test('every statement on the request path is served by an index, and no index is redundant', async (t) => {
  const db = await sqliteEngine.open()
  t.after(() => db.drop())
  const store = db.store as SqliteStore
  const cases: [string, string, unknown[] | Record<string, unknown>, RegExp[]][] = [
    [
      'load touched',
      SQL.LOAD_TOUCHED,
      { email: 'a@x.io', phoneNumber: '1' },
      [/contact_fact/, /contact_phone_number/, /contact_root/],
    ],
    ['link partners', SQL.LINK_PARTNERS, { email: 'a@x.io', phoneNumber: '1' }, [/link_fact/, /link_phone_number/]],
    ['identity by contact', SQL.IDENTITY_BY.contactId, [1], [/contact_root/]],
    ['identity by email', SQL.IDENTITY_BY.email, ['a@x.io'], [/contact_fact/, /contact_root/]],
    ['identity by phone', SQL.IDENTITY_BY.phoneNumber, ['1'], [/contact_phone_number/, /contact_root/]],
    ['identity of a root', SQL.IDENTITY_OF_ROOT, [1], [/contact_root/]],
    ['links of values', SQL.LINKS_OF, ['["a@x.io"]', '["1"]'], [/link_fact/, /link_phone_number/]],
    ['relink', SQL.RELINK, [1, 0, 2], [/contact_root/]],
    ['holders of emails', SQL.HOLDERS.email, ['["a@x.io"]'], [/contact_fact/]],
    ['holders of phones', SQL.HOLDERS.phoneNumber, ['["1"]'], [/contact_phone_number/]],
    ['history', SQL.eventsInScopes(1), ['[1]', 99, 0, 10], [/event_contact/]],
    ['lineage', SQL.LINEAGE, ['[1]', 99], [/event_contact/]],
  ]
  const used = new Set<string>()
  for (const [name, sql, params, indexes] of cases) {
    const p = plan(store, sql, params)
    assert.doesNotMatch(p, /SCAN contact\b/, `${name} scans the contact table:\n${p}`)
    assert.doesNotMatch(p, /SCAN link\b/, `${name} scans the link table:\n${p}`)
    for (const index of indexes) assert.match(p, index, `${name} does not use ${index}:\n${p}`)
    for (const m of p.matchAll(/INDEX (\w+)/g)) used.add(m[1] as string)
  }
  const indexes = store.db
    .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all()
  // Each index serves a statement above, or a uniqueness guard (I4, one link per pair, one entry per value).
  const guards = new Set(['contact_fact', 'link_fact', 'blocked_value_entry'])
  for (const index of indexes) assert.ok(used.has(index) || guards.has(index), `index ${index} serves nothing`)
  assert.ok(!indexes.includes('contact_email'), 'contact_fact serves email lookups')
})
