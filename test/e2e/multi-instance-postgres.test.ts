/**
 * Several stateless instances on one PostgreSQL database (SPEC §4, §5): three real server processes
 * start at once on a fresh database (racing its migrations), then take 320 overlapping `/identify`
 * requests spread across them. Afterwards the rows — read with SQL, not through the service — must
 * be what some one-at-a-time order would leave. Prints request count, elapsed time and retries.
 */
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import pg from 'pg'
import type { StoredContact } from '../../src/identity/contact.ts'
import type { IdentifyInput } from '../../src/identity/normalize.ts'
import { CONTACT_COLUMNS, type ContactRow, ms, toContact } from '../../src/store/postgres-sql.ts'
import { createPostgresDatabase, POSTGRES_SKIP_REASON, testDatabaseUrl } from '../support/engines.ts'
import { identify } from '../support/http.ts'
import { assertInvariants, identities } from '../support/invariants.ts'
import { type ServerProcess, startServer } from '../support/server-process.ts'

const INSTANCES = 3

async function sql<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  try {
    return (await client.query<R>(text)).rows
  } finally {
    await client.end()
  }
}

/** A seeded generator, so a failing storm can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Three instances on one fresh database, all started at the same moment. */
async function startInstances(t: TestContext): Promise<{ databaseUrl: string; servers: ServerProcess[] }> {
  const db = await createPostgresDatabase()
  t.after(db.drop)
  const servers = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      startServer({ DATABASE_URL: db.url, DB_POOL_SIZE: '8', DB_STARTUP_WAIT_MS: '0', LOG_LEVEL: 'info' }, 60000),
    ),
  )
  t.after(() => Promise.all(servers.map((s) => s.kill())))
  return { databaseUrl: db.url, servers }
}

// Without a server, one skipped test (not a skipped suite) so the closing summary counts it.
if (testDatabaseUrl === undefined)
  test('several instances on one PostgreSQL database', { skip: POSTGRES_SKIP_REASON }, () => {})
else
  describe('several instances on one PostgreSQL database', () => {
    test('320 overlapping requests across 3 processes leave a serial outcome', async (t) => {
      const { databaseUrl, servers } = await startInstances(t)
      const seed = Number(process.env.STORM_SEED ?? Date.now() % 100000)
      const next = random(seed)

      // Crossing merges need identities that exist first; seed 8, oldest first, one at a time.
      const seeds: IdentifyInput[] = Array.from({ length: 8 }, (_, i) => ({
        email: `cross${i}@x.io`,
        phoneNumber: `900${i}`,
      }))
      const seeded: number[] = []
      for (const [i, body] of seeds.entries()) {
        seeded.push((await identify((servers[i % INSTANCES] as ServerProcess).url, body)).primaryContatctId)
      }

      const storm: IdentifyInput[] = []
      // Identical new requests: exactly one contact may come of them.
      for (let i = 0; i < 60; i++) storm.push({ email: 'same@x.io', phoneNumber: '5550000' })
      // A star: one new email, many new phones.
      for (let i = 0; i < 90; i++) storm.push({ email: 'star@x.io', phoneNumber: `777${i}` })
      // Crossing merges: neighbours joined in both directions, so merges race each other.
      for (let i = 0; i < 50; i++) {
        const a = i % 8
        const b = (a + 1 + (i % 3)) % 8
        storm.push(
          i % 2 === 0
            ? { email: `cross${a}@x.io`, phoneNumber: `900${b}` }
            : { email: `cross${b}@x.io`, phoneNumber: `900${a}` },
        )
      }
      // Random traffic over small pools, so values collide and identities chain.
      for (let i = 0; i < 120; i++) {
        const pick = next()
        const email = `r${Math.floor(next() * 25)}@x.io`
        const phone = `300${Math.floor(next() * 25)}`
        storm.push(
          pick < 0.4
            ? { email, phoneNumber: phone }
            : pick < 0.7
              ? { email, phoneNumber: null }
              : { email: null, phoneNumber: phone },
        )
      }
      // Interleave kinds, then spread round-robin over the instances.
      storm.sort(() => next() - 0.5)

      const started = performance.now()
      const views = await Promise.all(
        storm.map((body, i) => identify((servers[i % INSTANCES] as ServerProcess).url, body)),
      )
      const elapsedMs = Math.round(performance.now() - started)

      // Each answer is an identity that holds what was asked.
      for (const [i, view] of views.entries()) {
        const body = storm[i] as IdentifyInput
        if (body.email !== null) assert.ok(view.emails.includes(body.email), `answer ${i} lacks ${body.email}`)
        if (body.phoneNumber !== null)
          assert.ok(view.phoneNumbers.includes(body.phoneNumber), `answer ${i} lacks ${body.phoneNumber}`)
      }
      const sameAnswers = new Set(
        views.filter((_, i) => storm[i]?.email === 'same@x.io').map((v) => v.primaryContatctId),
      )
      assert.equal(sameAnswers.size, 1, 'identical requests all answered with one identity')

      // The rows, straight from PostgreSQL (not through a store instance).
      const rows = (
        await sql<ContactRow & { updated_ms: number }>(
          databaseUrl,
          `SELECT ${CONTACT_COLUMNS}, ${ms('updated_at')} AS updated_ms
           FROM contact WHERE deleted_at IS NULL ORDER BY id`,
        )
      ).map((r): StoredContact => ({ ...toContact(r), updatedAt: r.updated_ms, deletedAt: null }))
      assertInvariants(rows, [...seeds, ...storm])

      // The same invariants again, in SQL, so a bug shared by the checker and the store cannot hide.
      const [violations] = await sql<Record<string, string>>(
        databaseUrl,
        `SELECT
         (SELECT count(*) FROM contact WHERE deleted_at IS NULL AND link_precedence = 'primary' AND linked_id IS NOT NULL) AS i1_primary_linked,
         (SELECT count(*) FROM contact s LEFT JOIN contact p ON p.id = s.linked_id AND p.deleted_at IS NULL
           WHERE s.deleted_at IS NULL AND s.link_precedence = 'secondary'
             AND (p.id IS NULL OR p.link_precedence <> 'primary' OR p.linked_id IS NOT NULL)) AS i1_not_flat,
         (SELECT count(*) FROM contact s JOIN contact p ON p.id = s.linked_id
           WHERE s.deleted_at IS NULL AND (s.created_at < p.created_at OR (s.created_at = p.created_at AND s.id < p.id))) AS i3_older_than_primary,
         (SELECT count(*) FROM (SELECT 1 FROM contact WHERE deleted_at IS NULL
           GROUP BY email, phone_number HAVING count(*) > 1) d) AS i4_duplicates,
         (SELECT count(*) FROM contact a JOIN contact b ON a.id < b.id
           AND (a.email = b.email OR a.phone_number = b.phone_number)
           WHERE a.deleted_at IS NULL AND b.deleted_at IS NULL
             AND coalesce(a.linked_id, a.id) <> coalesce(b.linked_id, b.id)) AS i2_split,
         (SELECT count(*) FROM contact WHERE email = 'same@x.io') AS identical_contacts,
         (SELECT count(*) FROM contact WHERE email = 'star@x.io' AND linked_id IS NULL) AS star_primaries`,
      )
      assert.deepEqual(
        { ...violations },
        {
          i1_primary_linked: '0',
          i1_not_flat: '0',
          i3_older_than_primary: '0',
          i4_duplicates: '0',
          i2_split: '0',
          identical_contacts: '1',
          star_primaries: '1',
        },
      )

      // The crossing merges joined all eight seeded identities under the oldest one.
      const groups = identities(rows)
      const firstSeed = seeded[0] as number
      const crossGroup = groups.get(firstSeed) ?? []
      for (const id of seeded)
        assert.ok(
          crossGroup.some((c) => c.id === id),
          `seed ${id} joined identity ${firstSeed}`,
        )

      // Retries, as each instance's store reports them when it closes.
      const codes = await Promise.all(servers.map((s) => s.stop()))
      assert.deepEqual(codes, [0, 0, 0], 'every instance shut down cleanly')
      const summaries = servers.map((s) => s.logs.find((l) => l.msg === 'store closed'))
      for (const summary of summaries) assert.ok(summary, 'each instance logs its store summary on close')
      const sum = (key: string) => summaries.reduce((n, s) => n + Number(s?.[key] ?? 0), 0)
      const figures = {
        requests: storm.length,
        instances: INSTANCES,
        elapsedMs,
        requestsPerSecond: Math.round((storm.length / elapsedMs) * 1000),
        retries: sum('retries'),
        reconnects: sum('reconnects'),
        committed: sum('committed'),
        contacts: rows.length,
        seed,
      }
      t.diagnostic(`multi-instance storm: ${JSON.stringify(figures)}`)
      assert.equal(figures.committed, storm.length + seeds.length, 'every request committed exactly once')
    })
  })
