/**
 * Group commit on SQLite (src/store/sqlite.ts): requests queued while the event loop is busy share
 * one transaction, each in its own savepoint. A unit that fails leaves nothing behind and the
 * others commit; when SQLite rolls back the whole transaction, the others are rerun; a COMMIT that
 * fails fails every unit of the group and stores nothing. Faults are real SQLite behaviour, set up
 * with triggers on the test's database.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AppError } from '../../src/errors.ts'
import { IdentityService } from '../../src/service/service.ts'
import type { SqliteStore } from '../../src/store/sqlite.ts'
import { sqliteEngine } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'

async function open(t: { after: (fn: () => unknown) => void }) {
  const db = await sqliteEngine.open({ file: true })
  t.after(() => db.drop())
  const store = db.store as SqliteStore
  return { store, service: new IdentityService(store) }
}

const bodies = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ email: `${tag}${i}@x.io`, phoneNumber: `${tag.length}${i}` }))

describe('SQLite group commit', () => {
  test('requests queued together commit in one transaction and each answers its own identity', async (t) => {
    const { store, service } = await open(t)
    const before = { ...store.stats }
    const answers = await Promise.all(bodies(40, 'g').map((b) => service.identify(b)))
    assert.equal(store.stats.units - before.units, 40)
    assert.ok(store.stats.commits - before.commits < 40, `40 units in ${store.stats.commits - before.commits} commits`)
    assert.ok(store.stats.largestGroup > 1)
    const rows = await store.listContacts()
    for (const [i, a] of answers.entries())
      assert.equal(a.view.primaryContatctId, rows[i]?.id, 'queue order is creation order')
    // A lone request takes the plain path.
    const lone = { ...store.stats }
    await service.identify({ email: 'lone@x.io', phoneNumber: null })
    assert.equal(store.stats.commits - lone.commits, 1)
    assertInvariants(await store.listContacts(), await store.listLinks())
  })

  test('a unit that fails mid-way leaves nothing behind; the others of its group commit', async (t) => {
    const { store, service } = await open(t)
    // The contact is inserted, then its event's insert fails: the savepoint must take the contact back.
    store.db.exec(`CREATE TRIGGER fail_mid_way BEFORE INSERT ON event
      WHEN NEW.data LIKE '%mid-way@x.io%' BEGIN SELECT RAISE(ABORT, 'forced failure'); END`)
    const requests = [...bodies(5, 'a'), { email: 'mid-way@x.io', phoneNumber: null }, ...bodies(5, 'b')]
    const results = await Promise.allSettled(requests.map((b) => service.identify(b)))
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10)
    assert.equal(results[5]?.status, 'rejected')
    const rows = await store.listContacts()
    assert.equal(rows.length, 10)
    assert.ok(!rows.some((r) => r.email === 'mid-way@x.io'), 'the failed unit left no contact')
    assert.equal((await store.listEvents()).length, 10, 'nor an event')
    assert.ok(store.stats.largestGroup >= 2)
  })

  test('when SQLite rolls back the whole transaction, the other units are rerun and commit', async (t) => {
    const { store, service } = await open(t)
    store.db.exec(`CREATE TRIGGER roll_back_all BEFORE INSERT ON contact
      WHEN NEW.email = 'rollback@x.io' BEGIN SELECT RAISE(ROLLBACK, 'forced rollback'); END`)
    const requests = [...bodies(6, 'c'), { email: 'rollback@x.io', phoneNumber: null }, ...bodies(6, 'd')]
    const results = await Promise.allSettled(requests.map((b) => service.identify(b)))
    assert.equal(results[6]?.status, 'rejected')
    for (const [i, r] of results.entries()) if (i !== 6) assert.equal(r.status, 'fulfilled', `request ${i}`)
    const rows = await store.listContacts()
    assert.deepEqual(
      rows.map((r) => r.email),
      requests.filter((_, i) => i !== 6).map((b) => b.email),
      'the others, in queue order',
    )
    assertInvariants(rows, await store.listLinks())
  })

  test('a COMMIT that fails fails every unit of the group with 503, and stores none of them', async (t) => {
    const { store, service } = await open(t)
    // A deferred foreign key is checked at COMMIT: the group containing this insert cannot commit.
    store.db.exec(`PRAGMA foreign_keys = ON;
      CREATE TABLE commit_trap (x INTEGER REFERENCES contact (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER fail_commit AFTER INSERT ON contact WHEN NEW.email = 'commit@x.io'
        BEGIN INSERT INTO commit_trap VALUES (-1); END`)
    const requests = [...bodies(4, 'e'), { email: 'commit@x.io', phoneNumber: null }, ...bodies(4, 'f')]
    const results = await Promise.allSettled(requests.map((b) => service.identify(b)))
    const failed = results.filter((r) => r.status === 'rejected')
    assert.ok(failed.length >= 2, 'the whole group failed, not only the unit that caused it')
    for (const r of failed) {
      assert.ok(r.reason instanceof AppError && r.reason.code === 'ERR_STORAGE_UNAVAILABLE', String(r.reason))
    }
    const stored = new Set((await store.listContacts()).map((r) => r.email))
    for (const [i, r] of results.entries()) {
      assert.equal(
        stored.has(requests[i]?.email as string),
        r.status === 'fulfilled',
        `request ${i}: answered = stored`,
      )
    }
    // The store is healthy afterwards.
    store.db.exec('DROP TRIGGER fail_commit')
    assert.equal((await service.identify({ email: 'after@x.io', phoneNumber: null })).outcome, 'new_primary')
  })
})
