/**
 * A full disk on SQLite (SPEC §3: 503, never a 500; nothing stored): writes answer
 * `503 ERR_STORAGE_UNAVAILABLE` saying the disk is full, `/readyz` reports a store that cannot
 * write, reads keep working, and both recover once there is room. The disk is "full" for real:
 * `PRAGMA max_page_count` stops the file from growing.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { SqliteStore } from '../../src/store/sqlite.ts'
import { sqliteEngine } from '../support/engines.ts'

test('disk full: 503 naming it, /readyz fails, nothing stored; both recover when there is room', async (t) => {
  const db = await sqliteEngine.open({ file: true })
  const app = await buildApp({ config: loadConfig({}), store: db.store })
  t.after(async () => {
    await app.close()
    await db.drop()
  })
  const sqlite = (db.store as SqliteStore).db
  const post = (email: string) => app.inject({ method: 'POST', url: '/identify', payload: { email } })
  assert.equal((await post('first@x.io')).statusCode, 200)
  const pages = sqlite.pragma('page_count', { simple: true }) as number
  sqlite.pragma(`max_page_count = ${pages}`)

  let full: { statusCode: number; json: () => { code: string; message: string } } | null = null
  for (let i = 0; i < 2000 && full === null; i++) {
    const res = await post(`${'x'.repeat(200)}${i}@x.io`)
    if (res.statusCode !== 200) full = res
  }
  assert.ok(full, 'the file filled up')
  assert.equal(full.statusCode, 503)
  assert.equal(full.json().code, 'ERR_STORAGE_UNAVAILABLE')
  assert.match(full.json().message, /disk is full/)
  const stored = (await db.store.listContacts()).length
  const ready = await app.inject('/readyz')
  assert.equal(ready.statusCode, 503, 'a store that cannot write is not ready')
  assert.match(ready.json().message, /disk is full/)
  assert.equal((await post('first@x.io')).statusCode, 200, 'reads still answer')
  assert.equal((await db.store.listContacts()).length, stored, 'the refused writes stored nothing')

  sqlite.pragma('max_page_count = 1073741823')
  assert.equal((await app.inject('/readyz')).statusCode, 200, 'ready again once there is room')
  assert.equal((await post('after@x.io')).statusCode, 200)
})
