/**
 * `openStore(config)`: the only place that picks an engine from `DATABASE_URL`.
 */
import type { Config } from '../config.ts'
import { SqliteStore } from './sqlite.ts'
import type { ContactStore } from './store.ts'

/**
 * Opens the configured store and applies pending migrations.
 *
 * @example
 * const store = await openStore(loadConfig(process.env))
 */
export async function openStore(config: Config): Promise<ContactStore> {
  const target = config.database
  if (target.engine === 'sqlite') {
    return new SqliteStore({
      path: target.path,
      synchronous: config.sqliteSynchronous,
    })
  }
  throw new Error('PostgreSQL support is not built yet')
}
