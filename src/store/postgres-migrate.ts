/**
 * PostgreSQL migrations, safe when several instances start at the same moment — without advisory
 * locks or LOCK TABLE (CockroachDB has neither). Each pending migration runs in one transaction that
 * first claims its row in `schema_migrations`; a second starter's claim waits on that primary key
 * and then finds the version taken, so every migration is applied exactly once. The DDL is written
 * with IF NOT EXISTS as well, for engines whose DDL is not transactional (YugabyteDB by default).
 */
import type pg from 'pg'
import { migrations } from './migrations.ts'
import { isContention } from './postgres-errors.ts'

/** Catalog races of concurrent `CREATE … IF NOT EXISTS`: duplicate type/relation/object. */
const CREATE_RACE = new Set(['23505', '42P07', '42710'])

const MAX_RACE_RETRIES = 20

/**
 * Applies pending migrations over `client` and returns the versions this call applied (empty when
 * another instance already did). Connection failures are thrown to the caller, which owns waiting.
 *
 * @example
 * const applied = await migratePostgres(client) // [1] on a new database, [] afterwards
 */
export async function migratePostgres(client: pg.ClientBase): Promise<number[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await applyPending(client)
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      const code = (err as { code?: unknown }).code
      const racing = isContention(err) || (typeof code === 'string' && CREATE_RACE.has(code))
      if (!racing || attempt >= MAX_RACE_RETRIES) throw err
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50))
    }
  }
}

async function applyPending(client: pg.ClientBase): Promise<number[]> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ(3) NOT NULL DEFAULT now())`)
  const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
  const applied = new Set(done.rows.map((r) => Number(r.version)))
  const now: number[] = []
  for (const m of migrations) {
    if (applied.has(m.version)) continue
    await client.query('BEGIN')
    // The claim: a concurrent starter blocks here until this transaction ends, then inserts
    // nothing because the version is taken (or takes it, if this one rolled back).
    const claim = await client.query(
      'INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING',
      [m.version, m.name],
    )
    if (claim.rowCount === 0) {
      await client.query('ROLLBACK')
      continue
    }
    await client.query(m.sql.postgres)
    await client.query('COMMIT')
    now.push(m.version)
  }
  return now
}
