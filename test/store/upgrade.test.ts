/**
 * Upgrading from schema 1 (the release before links and events), on every engine: a database that
 * release wrote (test/fixtures/v1, made by it) opens, migrates, reconstructs a link for every merge
 * that left no contact — so I2 holds over stored data from the first start — and answers every
 * request exactly as that release did.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import type { IdentityView } from '../../src/identity/contact.ts'
import { normalizeIdentifyInput } from '../../src/identity/normalize.ts'
import { migrations } from '../../src/store/migrations.ts'
import type { Store } from '../../src/store/port.ts'
import { openPostgresStore } from '../../src/store/postgres.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'
import { createPostgresDatabase, engines } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'
import { identifyIn } from '../support/store.ts'

const FIXTURES = fileURLToPath(new URL('../fixtures/v1/', import.meta.url))
const requests = JSON.parse(readFileSync(join(FIXTURES, 'requests.json'), 'utf8')) as unknown[]
const answers = JSON.parse(readFileSync(join(FIXTURES, 'answers.json'), 'utf8')) as IdentityView[]

/** A store on a copy of the schema-1 database, migrated by opening it. */
async function openUpgraded(engine: string, t: { after: (fn: () => unknown) => void }): Promise<Store> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'identity-upgrade-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'contacts.db')
    copyFileSync(join(FIXTURES, 'contacts.db'), path)
    const store = new SqliteStore({ path })
    t.after(() => store.close())
    return store
  }
  const db = await createPostgresDatabase()
  t.after(db.drop)
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try {
    await client.query(readFileSync(join(FIXTURES, 'postgres.sql'), 'utf8'))
  } finally {
    await client.end()
  }
  const store = await openPostgresStore({ url: db.url })
  t.after(() => store.close())
  return store
}

for (const engine of engines()) {
  describe(`upgrade from schema 1 (${engine.name})`, () => {
    test('links are reconstructed, I2 holds on stored data, answers are unchanged', async (t) => {
      const store = await openUpgraded(engine.name, t)
      assert.equal(await store.schemaVersion(), migrations.at(-1)?.version)
      const contacts = await store.listContacts()
      assert.equal(contacts.length, 9, 'no contact added or lost')

      // Identity 1 was three parts joined by two requests, identity 5 two parts joined by one.
      const links = await store.listLinks()
      assert.equal(links.length, 3)
      assertInvariants(contacts, links)
      const events = await store.listEvents()
      assert.equal(events.filter((e) => e.type === 'contact.created').length, 9, 'one creation per contact')
      assert.equal(events.filter((e) => e.type === 'identity.merged').length, 3, 'one merge per link')
      for (const e of events) assert.equal(e.data.migrated, true)

      for (const [i, body] of requests.entries()) {
        assert.deepEqual(await identifyIn(store, normalizeIdentifyInput(body)), answers[i], `request ${i}`)
      }
      assert.equal((await store.listContacts()).length, 9, 'replaying the history created nothing')
      assert.equal((await store.listLinks()).length, 3, 'and stored no new link')

      // New merges after the upgrade store their link as usual, and old links keep working.
      await identifyIn(store, { email: 'jennifer@hillvalley.edu', phoneNumber: '555' })
      assertInvariants(await store.listContacts(), await store.listLinks())
      assert.equal((await store.listLinks()).length, 4)
    })
  })
}
