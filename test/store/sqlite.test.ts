/**
 * SQLite settings the README promises: WAL, synchronous NORMAL by default and FULL on request,
 * and a clear storage error when the file cannot be created.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { AppError } from '../../src/errors.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'

test('a file database runs in WAL mode, synchronous NORMAL by default and FULL when asked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'identity-sqlite-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const normal = new SqliteStore({ path: join(dir, 'nested', 'a.db') })
  assert.equal(normal.db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(normal.db.pragma('synchronous', { simple: true }), 1)
  await normal.close()
  const full = new SqliteStore({ path: join(dir, 'b.db'), synchronous: 'full' })
  assert.equal(full.db.pragma('synchronous', { simple: true }), 2)
  await full.close()
})

test('a path that cannot be created is ERR_STORAGE_UNAVAILABLE naming the path', () => {
  assert.throws(
    () => new SqliteStore({ path: '/etc/passwd/contacts.db' }),
    (err: unknown) =>
      err instanceof AppError && err.code === 'ERR_STORAGE_UNAVAILABLE' && /\/etc\/passwd/.test(err.message),
  )
})
