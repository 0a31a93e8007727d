/**
 * `openStore(config)`: the only place that picks an engine from `DATABASE_URL`.
 */
import type { Config } from '../config.ts'
import { createLogger } from '../logger.ts'
import type { Store, StoreObserver } from './port.ts'
import { openPostgresStore, type StoreLogger } from './postgres.ts'
import { SqliteStore } from './sqlite.ts'

export interface OpenStoreOptions {
  /** Where the store reports retries, reconnects and its closing summary; defaults to a logger at LOG_LEVEL. */
  readonly logger?: StoreLogger
  readonly observer?: StoreObserver
  /**
   * `cli`: a long-running command (import, export) rather than the service: no statement timeout,
   * since a batch or an export may outlast any request, and a small PostgreSQL pool.
   */
  readonly purpose?: 'service' | 'cli'
}

/**
 * Opens the configured store and applies pending migrations. PostgreSQL that is not reachable yet
 * is waited for up to DB_STARTUP_WAIT_MS (it may be starting alongside us); then this rejects with
 * `ERR_STORAGE_UNAVAILABLE` naming the database and the reason.
 *
 * @example
 * const store = await openStore(loadConfig(process.env))
 */
export async function openStore(config: Config, options: OpenStoreOptions = {}): Promise<Store> {
  const target = config.database
  if (target.engine === 'sqlite') {
    return new SqliteStore({
      path: target.path,
      synchronous: config.sqliteSynchronous,
      observer: options.observer,
      // An import's batches revisit index pages across the whole file: keep them (128 MiB).
      ...(options.purpose === 'cli' ? { cacheSizeKiB: 131072 } : {}),
    })
  }
  const cli = options.purpose === 'cli'
  return openPostgresStore({
    url: target.url,
    poolSize: cli ? 2 : config.dbPoolSize,
    statementTimeoutMs: cli ? 0 : config.dbStatementTimeoutMs,
    startupWaitMs: cli ? 0 : config.dbStartupWaitMs,
    // A command's stdout is its output (`export`, `import --json`): the store reports problems on stderr.
    logger:
      options.logger ??
      (cli ? createLogger('warn', { dest: 2 }) : createLogger(config.logLevel)).child({ component: 'store' }),
    observer: options.observer,
  })
}
