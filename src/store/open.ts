/**
 * `openStore(config)`: the only place that picks an engine from `DATABASE_URL`.
 */
import type { Config } from '../config.ts'
import { createLogger } from '../logger.ts'
import { openPostgresStore, type StoreLogger } from './postgres.ts'
import { SqliteStore } from './sqlite.ts'
import type { ContactStore } from './store.ts'

export interface OpenStoreOptions {
  /** Where the store reports retries, reconnects and its closing summary; defaults to a logger at LOG_LEVEL. */
  readonly logger?: StoreLogger
}

/**
 * Opens the configured store and applies pending migrations. PostgreSQL that is not reachable yet
 * is waited for up to DB_STARTUP_WAIT_MS (it may be starting alongside us); then this rejects with
 * `ERR_STORAGE_UNAVAILABLE` naming the database and the reason.
 *
 * @example
 * const store = await openStore(loadConfig(process.env))
 */
export async function openStore(config: Config, options: OpenStoreOptions = {}): Promise<ContactStore> {
  const target = config.database
  if (target.engine === 'sqlite') {
    return new SqliteStore({
      path: target.path,
      synchronous: config.sqliteSynchronous,
    })
  }
  return openPostgresStore({
    url: target.url,
    poolSize: config.dbPoolSize,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    startupWaitMs: config.dbStartupWaitMs,
    logger: options.logger ?? createLogger(config.logLevel).child({ component: 'store' }),
  })
}
