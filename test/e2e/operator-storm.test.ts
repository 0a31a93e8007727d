/**
 * SPEC §8–§9 under concurrency: three real server processes on one database — one SQLite file, and
 * one PostgreSQL database — take a storm of overlapping requests that mixes `/identify` with
 * deleting contacts and links and blocking and unblocking values, all aimed at the same few
 * identities. No request may fail for having raced another; afterwards I1–I4 (with links, blocked
 * values joining nothing) must hold, checked in SQL and by the invariant checker.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { RE2JS } from 're2js'
import { createPostgresDatabase, sqliteEngine, testDatabaseUrl } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'
import { type ServerProcess, startServer } from '../support/server-process.ts'
import { identifyIn } from '../support/store.ts'

const KEY = 'storm-operator-key-0123456789abcdef'
const PROCESSES = 3
const STORM = 240

/** A small deterministic generator, so a failing storm can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

interface Shot {
  method: 'POST' | 'DELETE'
  url: string
  body?: unknown
  /** Statuses this request may answer; anything else fails the storm. */
  ok: number[]
}

async function send(base: string, shot: Shot): Promise<number> {
  const res = await fetch(base + shot.url, {
    method: shot.method,
    headers: { authorization: `Bearer ${KEY}`, ...(shot.body ? { 'content-type': 'application/json' } : {}) },
    body: shot.body ? JSON.stringify(shot.body) : undefined,
  })
  const text = await res.text()
  assert.ok(
    shot.ok.includes(res.status),
    `${shot.method} ${shot.url} ${JSON.stringify(shot.body ?? '')} answered ${res.status}: ${text}`,
  )
  return res.status
}

/** I1, I3, I4 as SQL over the live rows (both engines run it): every count must be 0. */
const VIOLATIONS = `SELECT
  (SELECT count(*) FROM contact WHERE deleted_at IS NULL AND link_precedence = 'primary' AND linked_id IS NOT NULL) AS i1_primary_linked,
  (SELECT count(*) FROM contact c LEFT JOIN contact p ON p.id = c.linked_id
    WHERE c.deleted_at IS NULL AND c.link_precedence = 'secondary'
      AND (p.id IS NULL OR p.deleted_at IS NOT NULL OR p.linked_id IS NOT NULL)) AS i1_not_flat,
  (SELECT count(*) FROM contact c JOIN contact p ON p.id = c.linked_id
    WHERE c.deleted_at IS NULL AND (c.created_at < p.created_at OR (c.created_at = p.created_at AND c.id < p.id))) AS i3_older_than_primary,
  (SELECT count(*) FROM (SELECT 1 FROM contact WHERE deleted_at IS NULL
    GROUP BY coalesce(email, ''), coalesce(phone_number, '') HAVING count(*) > 1) d) AS i4_duplicates`

async function runStorm(
  databaseUrl: string,
  sql: (text: string) => Promise<Record<string, unknown>[]>,
  diagnostic: (m: string) => void,
): Promise<void> {
  const started = await Promise.allSettled(
    Array.from({ length: PROCESSES }, () => startServer({ DATABASE_URL: databaseUrl, ADMIN_API_KEYS: KEY })),
  )
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  try {
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    const at = (i: number) => (servers[i % servers.length] as ServerProcess).url
    const seed = Number(process.env.STORM_SEED ?? Date.now() % 100000)
    const next = random(seed)
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T
    const emails = ['hub@x.io', 'a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io']
    const phones = ['100', '200', '300', '400', '500', '600']

    // Seed: one identity bridged by hub@x.io, others joined through links.
    for (const [email, phoneNumber] of [
      ['hub@x.io', '100'],
      ['hub@x.io', '200'],
      ['a@x.io', '300'],
      ['hub@x.io', '300'],
      ['b@x.io', '400'],
      ['a@x.io', '400'],
    ]) {
      await send(at(0), { method: 'POST', url: '/identify', body: { email, phoneNumber }, ok: [200] })
    }
    const shots: Shot[] = []
    for (let i = 0; i < STORM; i++) {
      const r = next()
      if (r < 0.65) {
        const body =
          next() < 0.5
            ? { email: pick(emails), phoneNumber: pick(phones) }
            : next() < 0.5
              ? { email: pick(emails) }
              : { phoneNumber: pick(phones) }
        // 422 when every value is blocked at that moment.
        shots.push({ method: 'POST', url: '/identify', body, ok: [200, 422] })
      } else if (r < 0.8) {
        shots.push({ method: 'DELETE', url: `/contacts/${1 + Math.floor(next() * 14)}`, ok: [200, 404] })
      } else if (r < 0.85) {
        const body =
          next() < 0.5 ? { kind: 'email', value: pick(emails) } : { kind: 'phoneNumber', value: pick(phones) }
        shots.push({ method: 'POST', url: '/blocked-values', body, ok: [200, 201] })
      } else if (r < 0.95) {
        shots.push({ method: 'DELETE', url: `/blocked-values/${1 + Math.floor(next() * 10)}`, ok: [200, 404] })
      } else {
        shots.push({ method: 'DELETE', url: `/links/${1 + Math.floor(next() * 6)}`, ok: [200, 404] })
      }
    }
    const t0 = performance.now()
    const statuses = await Promise.all(shots.map((s, i) => send(at(i), s)))
    const counts: Record<string, number> = {}
    for (const [i, s] of statuses.entries()) {
      const key = `${shots[i]?.method} ${shots[i]?.url.split('/')[1]} ${s}`
      counts[key] = (counts[key] ?? 0) + 1
    }
    diagnostic(
      `operator storm: ${STORM} requests over ${PROCESSES} processes in ${Math.round(performance.now() - t0)} ms, seed ${seed}: ${JSON.stringify(counts)}`,
    )

    const [violations] = await sql(VIOLATIONS)
    assert.deepEqual(Object.fromEntries(Object.entries(violations ?? {}).map(([k, v]) => [k, Number(v)])), {
      i1_primary_linked: 0,
      i1_not_flat: 0,
      i3_older_than_primary: 0,
      i4_duplicates: 0,
    })
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
  }
}

describe('operator storms: identify racing deletes and blocks', () => {
  test(`${PROCESSES} processes on one SQLite file`, async (t) => {
    const db = await sqliteEngine.open({ file: true })
    t.after(() => db.drop())
    const sqlite = (db.store as unknown as { db: import('better-sqlite3').Database }).db
    await runStorm(
      db.databaseUrl,
      async (text) => [sqlite.prepare(text).get() as Record<string, unknown>],
      (m) => t.diagnostic(m),
    )
    await checkStored(db.store, t)
  })

  test(`${PROCESSES} instances on one PostgreSQL database`, { skip: testDatabaseUrl === undefined }, async (t) => {
    const db = await createPostgresDatabase()
    t.after(db.drop)
    const query = async (text: string) => {
      const client = new pg.Client({ connectionString: db.url })
      await client.connect()
      try {
        return (await client.query(text)).rows
      } finally {
        await client.end()
      }
    }
    await runStorm(db.url, query, (m) => t.diagnostic(m))
    const { openPostgresStore } = await import('../../src/store/postgres.ts')
    const store = await openPostgresStore({ url: db.url, poolSize: 2 })
    t.after(() => store.close())
    await checkStored(store, t)
  })
})

/** I2 with links and blocked values, and a request still answered right after the storm. */
async function checkStored(
  store: import('../../src/store/port.ts').Store,
  t: { diagnostic: (m: string) => void },
): Promise<void> {
  const entries = (await store.run((tx) => Promise.resolve(tx.blockedValues()), { mode: 'read' })) as {
    kind: string
    value: string | null
    pattern: string | null
  }[]
  const blocked = (kind: string, value: string) =>
    entries.some(
      (e) =>
        e.kind === kind &&
        (e.value === value || (e.pattern !== null && RE2JS.compile(e.pattern).matcher(value).find())),
    )
  const rows = await store.listContacts()
  assertInvariants(rows, await store.listLinks(), blocked)
  t.diagnostic(`${rows.filter((r) => r.deletedAt === null).length} live contacts, ${entries.length} blocked values`)
  const view = await identifyIn(store, { email: 'fresh@x.io', phoneNumber: '999' })
  assert.deepEqual(view.emails, ['fresh@x.io'])
}
