/**
 * Every row of every table of a test database as one string, for tests that must prove a value is
 * gone from everywhere (erasure). Reads the engine directly, not through the service.
 */
import pg from 'pg'
import { SqliteStore } from '../../src/store/sqlite.ts'
import type { TestDatabase } from './engines.ts'

export async function dumpAllTables(db: TestDatabase): Promise<string> {
  if (db.store instanceof SqliteStore) {
    const sqlite = db.store.db
    const tables = sqlite
      .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all()
    return tables.map((t) => `${t}: ${JSON.stringify(sqlite.prepare(`SELECT * FROM "${t}"`).all())}`).join('\n')
  }
  const client = new pg.Client({ connectionString: db.databaseUrl })
  await client.connect()
  try {
    const tables = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    const parts: string[] = []
    for (const { name } of tables.rows) {
      const rows = await client.query(`SELECT * FROM "${name}"`)
      parts.push(`${name}: ${JSON.stringify(rows.rows)}`)
    }
    return parts.join('\n')
  } finally {
    await client.end()
  }
}
