/**
 * The importer's promise, as properties: importing a file leaves the store exactly as posting its
 * rows one by one to the service would (SqliteStore.identify on a second database), row by row,
 * from an empty store or one that already holds data, whatever the format and batch size; rejected
 * rows are reported on their lines; importing the same file again changes nothing.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { ImportFormat } from '../../src/import/record.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'
import { assertInvariants } from '../support/invariants.ts'
import { applyOneByOne, assertSameStore, importFile, type Row, snapshot, tempDir, writeRows } from './helpers.ts'

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

describe('import equals posting the rows one by one', () => {
  test('from an empty store and from one that holds data; rejects on their lines; idempotent', async (t) => {
    const dir = tempDir(t)
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { maxLength: 40 }),
        fc.array(row, { maxLength: 40 }),
        format,
        fc.integer({ min: 1, max: 8 }),
        fc.nat(4),
        async (prefixRows, fileRows, f, batchSize, blankEvery) => {
          const imported = new SqliteStore({ path: ':memory:' })
          const reference = new SqliteStore({ path: ':memory:' })
          try {
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
            assertInvariants(await imported.listContacts())

            const before = await snapshot(imported)
            const again = await importFile(imported, file.path, { batchSize: 3, targetBatchMs: 0 })
            assert.deepEqual(await snapshot(imported), before, 'a second import changes nothing')
            assert.equal(again.stats.contactsCreated, 0)
            assert.equal(again.stats.identitiesMerged, 0)
          } finally {
            await imported.close()
            await reference.close()
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  test('another writer commits between batches: the index is dropped and the result still matches', async (t) => {
    const dir = tempDir(t)
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 30 }),
        fc.array(row, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 6 }),
        async (fileRows, otherRows, batchSize) => {
          const run = join(dir, `run-${Math.random().toString(36).slice(2)}`)
          const imported = new SqliteStore({ path: join(run, 'imported.db') })
          // A second connection to the same file: the service, as far as the importer can tell.
          const service = new SqliteStore({ path: join(run, 'imported.db') })
          const reference = new SqliteStore({ path: ':memory:' })
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
            assertInvariants(await imported.listContacts())
          } finally {
            await imported.close()
            await service.close()
            await reference.close()
          }
        },
      ),
      { numRuns: 25 },
    )
  })
})
