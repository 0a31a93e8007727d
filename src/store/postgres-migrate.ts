/**
 * PostgreSQL migrations, safe when several instances start at the same moment — without advisory
 * locks or LOCK TABLE (CockroachDB has neither). Each pending migration runs in one transaction that
 * first claims its row in `schema_migrations`; a second starter's claim waits on that primary key
 * and then finds the version taken, so every migration is applied exactly once. The DDL is written
 * with IF NOT EXISTS as well, for engines whose DDL is not transactional (YugabyteDB by default).
 */
import type pg from 'pg'
import { BlocklistState } from './blocklist-state.ts'
import { migrations } from './migrations.ts'
import { isContention } from './postgres-errors.ts'
import * as SQL from './postgres-sql.ts'
import { PgTx } from './postgres-tx.ts'
import { linksToReconstruct, type PlannedLink } from './reconstruct.ts'
import { withRetry } from './retry.ts'

/** Catalog races of concurrent `CREATE … IF NOT EXISTS`: duplicate type/relation/object. */
const CREATE_RACE = new Set(['23505', '42P07', '42710'])

/**
 * Applies pending migrations over `client` and returns the versions this call applied (empty when
 * another instance already did). Connection failures are thrown to the caller, which owns waiting.
 *
 * @example
 * const applied = await migratePostgres(client) // [1, 2] on a new database, [] afterwards
 */
export async function migratePostgres(client: pg.ClientBase): Promise<number[]> {
  // Versions applied by an attempt that then lost a race on a later one stay applied: keep them.
  const applied: number[] = []
  await withRetry(
    async () => {
      try {
        return await applyPending(client, applied)
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      }
    },
    {
      reasonOf: (err) => {
        const code = (err as { code?: unknown }).code
        return isContention(err) || (typeof code === 'string' && CREATE_RACE.has(code)) ? 'migration_race' : null
      },
      maxAttempts: 20,
    },
  )
  return applied
}

async function applyPending(client: pg.ClientBase, now: number[]): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ(3) NOT NULL DEFAULT now())`)
  const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
  const applied = new Set(done.rows.map((r) => Number(r.version)))
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
    if (m.step === 'reconstruct-links') await reconstructLinks(client)
    await client.query('COMMIT')
    now.push(m.version)
  }
}

async function reconstructLinks(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<SQL.StoredRow>(
    `SELECT ${SQL.STORED_COLUMNS} FROM contact WHERE deleted_at IS NULL ORDER BY coalesce(linked_id, id), id`,
  )
  const planned: PlannedLink[] = [...linksToReconstruct(rows.map(SQL.toStored))]
  const tx = new PgTx(client, 'transaction', null, null, new BlocklistState())
  for (const link of planned) {
    await client.query(
      `INSERT INTO link (email, phone_number, created_at) VALUES ($1, $2, timestamptz 'epoch' + $3::float8 * interval '1 millisecond')`,
      [link.email, link.phoneNumber, link.createdAt],
    )
    await tx.appendEvent(link.event)
  }
}
