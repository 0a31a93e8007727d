/**
 * `npm run bench:import`: generates a synthetic 1,000,000-row CSV with realistic overlap (repeat
 * customers, a second email or phone for some, a few rows joining two customers, a few bad rows),
 * imports it into a fresh SQLite file, imports it again (idempotent: nothing changes), and prints
 * rows/s next to a raw bulk-insert ceiling measured in the same run: plain INSERTs of as many
 * distinct contacts, in transactions of 100, into a scratch file with the same schema.
 * Results go to bench/results/import-<date>.json. BENCH_ROWS overrides the row count.
 *
 * BENCH_DATABASE_URL=postgres://… runs the same against PostgreSQL instead: scratch databases are
 * created on that server (and dropped), the ceiling is multi-row INSERT … SELECT FROM unnest of the
 * same contacts, 10,000 per transaction; results go to bench/results/import-postgres-<date>.json.
 */
import { once } from 'node:events'
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import pg from 'pg'
import { importRecords } from '../src/import/engine.ts'
import { openSource } from '../src/import/source.ts'
import { openPostgresStore } from '../src/store/postgres.ts'
import { migratePostgres } from '../src/store/postgres-migrate.ts'
import { SqliteStore } from '../src/store/sqlite.ts'

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const CUSTOMERS = Math.max(10, Math.round(ROWS / 4))
const PG_URL = process.env.BENCH_DATABASE_URL?.trim() || undefined
const CEILING_BATCH = PG_URL === undefined ? 100 : 10_000

/** mulberry32: a small seeded generator, so every run imports the same file. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function generate(path: string): Promise<void> {
  const rand = random(42)
  const out = createWriteStream(path)
  const email = (k: number) =>
    k % 10 < 3 && rand() < 0.5 ? `c${k}.alt@mail${k % 50}.example` : `c${k}@mail${k % 50}.example`
  const phone = (k: number) => `+1555${String(k % 10 < 2 && rand() < 0.5 ? k + 5_000_000 : k).padStart(7, '0')}`
  let chunk = 'email,phoneNumber\n'
  for (let i = 0; i < ROWS; i++) {
    // Skewed towards low numbers: some customers come back many times, most a few times.
    const k = Math.floor(CUSTOMERS * rand() ** 2)
    const kind = rand()
    if (kind < 0.45) chunk += `${email(k)},${phone(k)}\n`
    else if (kind < 0.75) chunk += `${email(k)},\n`
    else if (kind < 0.994) chunk += `,${phone(k)}\n`
    else if (kind < 0.998)
      chunk += `${email(k)},${phone(Math.floor(CUSTOMERS * rand()))}\n` // joins two customers
    else chunk += kind < 0.999 ? `not-an-email,${phone(k)}\n` : ' , \n'
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  out.end(chunk)
  await finished(out)
}

/** A new database on the BENCH_DATABASE_URL server, migrated; `drop` removes it. */
async function scratchPostgres(label: string): Promise<{ client: pg.Client; url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  const name = `identity_bench_${label}_${process.pid}`
  await admin.query(`DROP DATABASE IF EXISTS ${name}`)
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`)
  const url = new URL(PG_URL as string)
  url.pathname = `/${name}`
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  await migratePostgres(client)
  return {
    client,
    url: url.toString(),
    async drop() {
      await client.end()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

async function importPostgres(url: string, file: string) {
  const store = await openPostgresStore({ url, poolSize: 2, statementTimeoutMs: 0 })
  try {
    const source = await openSource(file)
    const stats = await importRecords(store, source.records)
    return { ...stats, rowsPerSecond: Math.round(stats.rowsRead / (stats.elapsedMs / 1000)) }
  } finally {
    await store.close()
  }
}

async function ceilingPostgres(client: pg.Client): Promise<{ rowsPerSecond: number; elapsedMs: number }> {
  const started = performance.now()
  for (let from = 0; from < ROWS; from += CEILING_BATCH) {
    const n = Math.min(CEILING_BATCH, ROWS - from)
    await client.query('BEGIN')
    await client.query(
      `INSERT INTO contact (email, phone_number, link_precedence, created_at, updated_at)
       SELECT e, p, 'primary', now(), now() FROM unnest($1::text[], $2::text[]) AS t(e, p)`,
      [
        Array.from({ length: n }, (_, i) => `c${from + i}@mail${(from + i) % 50}.example`),
        Array.from({ length: n }, (_, i) => `+1555${from + i}`),
      ],
    )
    await client.query('COMMIT')
  }
  const elapsedMs = performance.now() - started
  return { rowsPerSecond: Math.round(ROWS / (elapsedMs / 1000)), elapsedMs }
}

async function importOnce(dbPath: string, file: string) {
  const store = new SqliteStore({ path: dbPath })
  try {
    const source = await openSource(file)
    const stats = await importRecords(store, source.records)
    return { ...stats, rowsPerSecond: Math.round(stats.rowsRead / (stats.elapsedMs / 1000)) }
  } finally {
    await store.close()
  }
}

function ceiling(dbPath: string): { rowsPerSecond: number; elapsedMs: number } {
  const store = new SqliteStore({ path: dbPath })
  const insert = store.db.prepare(
    `INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
     VALUES (?, ?, NULL, 'primary', ?, ?)`,
  )
  const batch = store.db.transaction((from: number, now: number) => {
    for (let i = from; i < from + CEILING_BATCH; i++) insert.run(`c${i}@mail${i % 50}.example`, `+1555${i}`, now, now)
  })
  const started = performance.now()
  for (let i = 0; i < ROWS; i += CEILING_BATCH) batch.immediate(i, Date.now())
  const elapsedMs = performance.now() - started
  store.db.close()
  return { rowsPerSecond: Math.round(ROWS / (elapsedMs / 1000)), elapsedMs }
}

const dir = mkdtempSync(join(tmpdir(), 'identity-bench-import-'))
try {
  const file = join(dir, 'contacts.csv')
  let t = performance.now()
  await generate(file)
  const fileBytes = statSync(file).size
  console.log(
    `generated ${ROWS} rows (${(fileBytes / 1e6).toFixed(1)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )

  let first: Awaited<ReturnType<typeof importOnce>>
  let again: typeof first
  let raw: { rowsPerSecond: number; elapsedMs: number }
  if (PG_URL === undefined) {
    first = await importOnce(join(dir, 'import.db'), file)
    again = await importOnce(join(dir, 'import.db'), file)
  } else {
    const db = await scratchPostgres('import')
    try {
      first = await importPostgres(db.url, file)
      again = await importPostgres(db.url, file)
    } finally {
      await db.drop()
    }
  }
  console.log(
    `import:    ${first.rowsPerSecond} rows/s (${(first.elapsedMs / 1000).toFixed(1)} s; ${first.contactsCreated} contacts, ` +
      `${first.identitiesMerged} merges, ${first.rejected} rejected, peak heap ${(first.peakHeapBytes / 2 ** 20).toFixed(0)} MiB)`,
  )
  console.log(
    `re-import: ${again.rowsPerSecond} rows/s (${(again.elapsedMs / 1000).toFixed(1)} s; ${again.contactsCreated} contacts created, ${again.identitiesMerged} merges)`,
  )
  t = performance.now()
  if (PG_URL === undefined) raw = ceiling(join(dir, 'ceiling.db'))
  else {
    const db = await scratchPostgres('ceiling')
    try {
      raw = await ceilingPostgres(db.client)
    } finally {
      await db.drop()
    }
  }
  console.log(
    `ceiling:   ${raw.rowsPerSecond} rows/s (${PG_URL === undefined ? 'plain INSERTs' : 'multi-row INSERTs'}, ${CEILING_BATCH} per transaction)`,
  )
  console.log(`import / ceiling: ${(first.rowsPerSecond / raw.rowsPerSecond).toFixed(2)}`)

  const date = new Date().toISOString()
  const result = {
    date,
    engine: PG_URL === undefined ? 'sqlite' : 'postgres',
    rows: ROWS,
    customers: CUSTOMERS,
    fileBytes,
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', node: process.version },
    import: first,
    reimport: again,
    ceiling: { ...raw, batchSize: CEILING_BATCH },
    importOverCeiling: Number((first.rowsPerSecond / raw.rowsPerSecond).toFixed(3)),
  }
  mkdirSync(new URL('results/', import.meta.url), { recursive: true })
  const out = new URL(
    `results/import-${PG_URL === undefined ? '' : 'postgres-'}${date.slice(0, 10)}.json`,
    import.meta.url,
  )
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
  console.log(`saved ${out.pathname}`)
} finally {
  if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true })
  else console.log(dir)
}
