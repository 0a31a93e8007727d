/**
 * The importer's promise, as properties, on every engine: importing a file leaves the store exactly
 * as posting its rows one by one to the service would (the store's own identify on a second
 * database), row by row, from an empty store or one that already holds data, whatever the format
 * and batch size; rejected rows are reported on their lines; importing the same file again changes
 * nothing; another writer between batches is taken into account. On PostgreSQL, also an import
 * while another store instance answers requests on the same database: I1–I4 hold.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { normalizeIdentifyInput } from '../../src/identity/normalize.ts'
import type { ImportFormat } from '../../src/import/record.ts'
import type { Store } from '../../src/store/port.ts'
import { openPostgresStore } from '../../src/store/postgres.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'
import { type EngineCase, engines } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'
import { identifyIn } from '../support/store.ts'
import {
  applyOneByOne,
  assertSameStore,
  emptyPostgres,
  importFile,
  type Row,
  snapshot,
  storePool,
  tempDir,
  writeRows,
} from './helpers.ts'

const email = fc.constantFrom('a@x.io', 'A@X.io', ' b@x.io ', 'c@y.org', 'd@y.org', 'e@z.net', '', '  ', 'no-at-sign')
const phone = fc.oneof(
  fc.constantFrom('123', '456', '+1 (555) 0100', '789', '0042', '', ' ', 'abc'),
  fc.constantFrom(123, 456, 789, 15550100),
)
const row: fc.Arbitrary<Row> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ email, phoneNumber: phone }, { requiredKeys: [] }) },
  { weight: 4, arbitrary: fc.record({ email: fc.option(email), phoneNumber: fc.option(phone) }) },
  { weight: 1, arbitrary: fc.constant({ raw: '{"email": nope}' }) },
)
const format = fc.constantFrom<ImportFormat>('csv', 'ndjson', 'json')

/** CSV cannot carry a line that is not CSV the way JSON can; keep raw rows to the JSON formats. */
const forFormat = (rows: Row[], f: ImportFormat) => (f === 'csv' ? rows.filter((r) => !('raw' in r)) : rows)

/** PostgreSQL runs cost round trips; fewer runs keep the suite short (SQLite covers the breadth). */
const runs = (engine: EngineCase, sqlite: number, postgres: number) => (engine.name === 'sqlite' ? sqlite : postgres)

for (const engine of engines()) {
  describe(`${engine.name}: import equals posting the rows one by one`, () => {
    test('from an empty store and from one that holds data; rejects on their lines; idempotent', async (t) => {
      const dir = tempDir(t)
      const importedPool = await storePool(engine)
      const referencePool = await storePool(engine)
      t.after(() => importedPool.close())
      t.after(() => referencePool.close())
      await fc.assert(
        fc.asyncProperty(
          fc.array(row, { maxLength: 40 }),
          fc.array(row, { maxLength: 40 }),
          format,
          fc.integer({ min: 1, max: 8 }),
          fc.nat(4),
          async (prefixRows, fileRows, f, batchSize, blankEvery) => {
            const imported = await importedPool.next()
            const reference = await referencePool.next()
            // Data already in the store, put there by the service itself.
            const prefix = writeRows(dir, forFormat(prefixRows, 'ndjson'), 'ndjson')
            await applyOneByOne(imported, prefix.bodies)
            await applyOneByOne(reference, prefix.bodies)

            const file = writeRows(dir, forFormat(fileRows, f), f, blankEvery)
            const { stats, rejects } = await importFile(imported, file.path, { batchSize, targetBatchMs: 0 })
            const rejectedRows = await applyOneByOne(reference, file.bodies)

            await assertSameStore(imported, reference)
            assert.deepEqual(
              rejects.map((r) => r.line),
              rejectedRows.map((i) => file.lines[i]),
            )
            assert.equal(stats.rowsRead, file.bodies.length)
            assert.equal(stats.rejected, rejectedRows.length)
            assertInvariants(await imported.listContacts(), await imported.listLinks())

            const before = await snapshot(imported)
            const again = await importFile(imported, file.path, { batchSize: 3, targetBatchMs: 0 })
            assert.deepEqual(await snapshot(imported), before, 'a second import changes nothing')
            assert.equal(again.stats.contactsCreated, 0)
            assert.equal(again.stats.identitiesMerged, 0)
          },
        ),
        { numRuns: runs(engine, 150, 15) },
      )
    })

    test('another writer commits between batches: the index is dropped and the result still matches', async (t) => {
      const dir = tempDir(t)
      // SQLite: a second connection to one file per run. PostgreSQL: a second store instance on
      // the one database, emptied per run. Either is the service, as far as the importer can tell.
      const pg = engine.name === 'postgres' ? await engine.open() : null
      const pgService = pg === null ? null : await openPostgresStore({ url: pg.databaseUrl, poolSize: 2 })
      const referencePool = await storePool(engine)
      t.after(async () => {
        await pgService?.close()
        await pg?.drop()
        await referencePool.close()
      })
      await fc.assert(
        fc.asyncProperty(
          fc.array(row, { minLength: 1, maxLength: 30 }),
          fc.array(row, { minLength: 1, maxLength: 10 }),
          fc.integer({ min: 1, max: 6 }),
          async (fileRows, otherRows, batchSize) => {
            let imported: Store
            let service: Store
            let closeRun = async () => {}
            if (pg !== null && pgService !== null) {
              await emptyPostgres(pg.store)
              imported = pg.store
              service = pgService
            } else {
              const run = join(dir, `run-${Math.random().toString(36).slice(2)}`)
              const a = new SqliteStore({ path: join(run, 'imported.db') })
              const b = new SqliteStore({ path: join(run, 'imported.db') })
              imported = a
              service = b
              closeRun = async () => {
                await a.close()
                await b.close()
              }
            }
            const reference = await referencePool.next()
            try {
              const file = writeRows(dir, forFormat(fileRows, 'ndjson'), 'ndjson')
              const others = writeRows(dir, forFormat(otherRows, 'ndjson'), 'ndjson').bodies
              let batch = 0
              await importFile(imported, file.path, {
                batchSize,
                targetBatchMs: 0,
                onBatch: async () => {
                  const body = others[batch++ % others.length]
                  await applyOneByOne(service, [body])
                },
              })
              // The same history, one request at a time: each batch's rows, then the service's request.
              for (let i = 0, b = 0; i < file.bodies.length; i += batchSize, b++) {
                await applyOneByOne(reference, file.bodies.slice(i, i + batchSize))
                await applyOneByOne(reference, [others[b % others.length]])
              }
              await assertSameStore(imported, reference)
              assertInvariants(await imported.listContacts(), await imported.listLinks())
            } finally {
              await closeRun()
            }
          },
        ),
        { numRuns: runs(engine, 25, 8) },
      )
    })

    if (engine.name === 'postgres') {
      test('import while another instance answers requests on the same database: I1–I4 hold', async (t) => {
        const dir = tempDir(t)
        const db = await engine.open()
        const service = await openPostgresStore({ url: db.databaseUrl, poolSize: 4 })
        t.after(async () => {
          await service.close()
          await db.drop()
        })
        const rows: { email: string | null; phoneNumber: string | null }[] = []
        for (let i = 0; i < 6000; i++) {
          const k = (i * 37) % 1500
          rows.push(
            i % 3 === 0
              ? { email: `c${k}@x.io`, phoneNumber: null }
              : { email: `c${k}@x.io`, phoneNumber: `${k % 900}` },
          )
        }
        const file = writeRows(dir, rows, 'ndjson')

        // Four clients post requests that overlap the file's values until the import is done.
        const requests: { email: string; phoneNumber: string }[] = []
        let importing = true
        const client = async (seed: number) => {
          for (let i = 0; importing; i++) {
            const k = (seed * 7919 + i * 13) % 1700
            const body = { email: `c${k}@x.io`, phoneNumber: `${(k * 3) % 1000}` }
            requests.push(body)
            await identifyIn(service, normalizeIdentifyInput(body))
          }
        }
        const clients = [1, 2, 3, 4].map(client)
        const { stats } = await importFile(db.store, file.path, { batchSize: 300, targetBatchMs: 0 }).finally(() => {
          importing = false
        })
        await Promise.all(clients)
        t.diagnostic(
          `${stats.batches} batches, ${stats.retries} reruns after losing a race; ${requests.length} concurrent requests, ${service.stats.retries} request retries`,
        )
        assert.equal(stats.rowsRead, rows.length)
        assert.ok(requests.length > 0)
        const all = [...rows, ...requests].map((r) => normalizeIdentifyInput(r))
        assertInvariants(await db.store.listContacts(), all)

        // Everything the file says is now in the store: a second import changes nothing.
        const before = await snapshot(db.store)
        const again = await importFile(db.store, file.path, { targetBatchMs: 0 })
        assert.equal(again.stats.contactsCreated, 0)
        assert.deepEqual(await snapshot(db.store), before)
      })
    }
  })
}
