/**
 * `export`, on every engine: every identity in primary-id order, primary first; importing an export
 * into an empty store rebuilds the same identities (same contacts, precedences, links and relative
 * order — only ids and timestamps are new), including identities joined by a request that created
 * no contact; importing it into the store it came from changes nothing.
 */
import assert from 'node:assert/strict'
import { createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { type ExportFormat, exportIdentities } from '../../src/export/export.ts'
import type { StoredContact } from '../../src/identity/contact.ts'
import type { Store } from '../../src/store/port.ts'
import { PostgresStore } from '../../src/store/postgres.ts'
import { engines } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'
import { identifyIn } from '../support/store.ts'
import { importFile, snapshot, storePool, tempDir } from './helpers.ts'

async function exportTo(store: Store, path: string, format: ExportFormat) {
  const out = createWriteStream(path)
  // A small fetch size, so that PostgreSQL's cursor is read in several chunks.
  const rows = store instanceof PostgresStore ? store.exportRows(7) : store.exportRows()
  const stats = await exportIdentities(rows, out, format)
  out.end()
  await finished(out)
  return stats
}

/** Identities in primary order, each its contacts in creation order, ids left out. */
function shape(rows: readonly StoredContact[]) {
  const groups = new Map<number, [string | null, string | null, string][]>()
  for (const r of rows) {
    const key = r.linkedId ?? r.id
    const group = groups.get(key) ?? []
    group.push([r.email, r.phoneNumber, r.linkPrecedence])
    groups.set(key, group)
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, contacts]) => contacts)
}

/** Export lines without the ids and times that an import renumbers. */
const withoutIds = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => line.split(',').slice(2, 5).join(','))

for (const engine of engines()) {
  describe(`${engine.name}: export`, () => {
    test('CSV columns, primary first, a link line for a join that created nothing', async (t) => {
      const dir = tempDir(t)
      const db = await engine.open()
      t.after(() => db.drop())
      const store = db.store
      await identifyIn(store, { email: 'doc@hv.edu', phoneNumber: '111' })
      await identifyIn(store, { email: 'marty@hv.edu', phoneNumber: '222' })
      // Joins the two identities without creating a contact: nothing stored says they are linked.
      await identifyIn(store, { email: 'doc@hv.edu', phoneNumber: '222' })
      await identifyIn(store, { email: 'a,"b"@x.io', phoneNumber: null })
      const path = join(dir, 'out.csv')
      const stats = await exportTo(store, path, 'csv')
      assert.deepEqual(stats, { identities: 2, contacts: 3, links: 1 })
      const lines = readFileSync(path, 'utf8').trim().split('\n')
      assert.equal(lines[0], 'primaryId,id,email,phoneNumber,linkPrecedence,createdAt')
      assert.match(lines[1] as string, /^1,1,doc@hv\.edu,111,primary,\d{4}-\d\d-\d\dT/)
      assert.match(lines[2] as string, /^1,2,marty@hv\.edu,222,secondary,/)
      assert.match(lines[3] as string, /^1,1,doc@hv\.edu,222,link,\d{4}-\d\d-\d\dT/)
      assert.match(lines[4] as string, /^3,3,"a,""b""@x\.io",,primary,/)

      const copyDb = await engine.open()
      t.after(() => copyDb.drop())
      const copy = copyDb.store
      const { stats: imported, rejects } = await importFile(copy, path)
      assert.deepEqual(rejects, [])
      assert.equal(imported.identitiesMerged, 1)
      assert.deepEqual(shape(await copy.listContacts()), shape(await store.listContacts()))
    })

    test('round trip: import(export(store)) rebuilds every identity; re-importing into the source changes nothing', async (t) => {
      const dir = tempDir(t)
      const email = fc.constantFrom('a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io', null)
      const phone = fc.constantFrom('1', '2', '3', '4', '5', null)
      const sources = await storePool(engine)
      const copies = await storePool(engine)
      t.after(() => sources.close())
      t.after(() => copies.close())
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ email, phoneNumber: phone }), { maxLength: 30 }),
          fc.constantFrom<ExportFormat>('csv', 'ndjson'),
          async (requests, format) => {
            const source = await sources.next()
            const copy = await copies.next()
            for (const r of requests) if (r.email !== null || r.phoneNumber !== null) await identifyIn(source, r)
            const path = join(dir, `export-${Math.random().toString(36).slice(2)}.${format}`)
            await exportTo(source, path, format)

            const { rejects } = await importFile(copy, path)
            assert.deepEqual(rejects, [])
            assert.deepEqual(shape(await copy.listContacts()), shape(await source.listContacts()))
            assertInvariants(await copy.listContacts(), await copy.listLinks())
            // The links are the stored ones, written back as they were.
            const pairs = async (s: Store) => (await s.listLinks()).map((l) => `${l.email} ${l.phoneNumber}`).sort()
            assert.deepEqual(await pairs(copy), await pairs(source))

            // The copy exports to the same lines, ids aside.
            const again = join(dir, `again-${Math.random().toString(36).slice(2)}.csv`)
            const first = join(dir, `first-${Math.random().toString(36).slice(2)}.csv`)
            await exportTo(copy, again, 'csv')
            await exportTo(source, first, 'csv')
            assert.deepEqual(withoutIds(readFileSync(again, 'utf8')), withoutIds(readFileSync(first, 'utf8')))

            const before = await snapshot(source)
            await importFile(source, path)
            assert.deepEqual(await snapshot(source), before)
          },
        ),
        { numRuns: engine.name === 'sqlite' ? 150 : 15 },
      )
    })
  })
}
