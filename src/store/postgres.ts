/**
 * PostgreSQL adapter (pg). Runs each unit of work serializably — a single statement for a read, a
 * checked optimistic write, or a SERIALIZABLE transaction (postgres-tx.ts) — so any interleaving
 * across any number of service instances commits what some serial order would (SPEC §4). A unit
 * that loses a race (40001, 40P01, the same fact inserted twice, a failed check) is rerun with the
 * shared policy; the client never sees it. The same SQL runs on CockroachDB and YugabyteDB
 * (docs/postgres.md).
 */
import pg from 'pg'
import { AppError } from '../errors.ts'
import { type BlockedValue, BlockList } from '../identity/blocklist.ts'
import type { Link, StoredContact } from '../identity/contact.ts'
import type { StoredEvent } from '../identity/events.ts'
import { BlocklistState } from './blocklist-state.ts'
import {
  BatchContentionError,
  type BatchOptions,
  type BatchTx,
  BlocklistChanged,
  type ExportRow,
  type RunOptions,
  type Store,
  type StoreObserver,
  type Unit,
} from './port.ts'
import { isConnectionLost, reason, retryReason, toStorageError } from './postgres-errors.ts'
import { migratePostgres } from './postgres-migrate.ts'
import * as SQL from './postgres-sql.ts'
import {
  flush,
  PgBatchTx,
  PgTx,
  type Phase,
  RestartInTransaction,
  resolveIds,
  StaleRead,
  WriteBuffer,
} from './postgres-tx.ts'
import { type RetryPolicy, withRetry } from './retry.ts'

/** The subset of a pino logger the store uses: object first, message second. */
export interface StoreLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` */
  readonly url: string
  /** Connections per instance (DB_POOL_SIZE). */
  readonly poolSize?: number
  /** Server-side `statement_timeout` per statement, 0 for none (DB_STATEMENT_TIMEOUT_MS). */
  readonly statementTimeoutMs?: number
  /** How long to wait for a new connection, or for a free one when all are busy. */
  readonly connectTimeoutMs?: number
  /** Attempts after which a unit that keeps losing races gives up with `503`. */
  readonly maxRetries?: number
  readonly logger?: StoreLogger
  readonly observer?: StoreObserver
}

/** Counters since the store opened; `close()` logs them, the multi-instance test reads them. */
export interface PostgresStoreStats {
  /** Write units committed (reads commit nothing). */
  committed: number
  /** Units rerun after losing a race (serialization failure, deadlock, same fact inserted, failed check). */
  retries: number
  /** Units rerun on a fresh connection after the old one was cut. */
  reconnects: number
}

const silent: StoreLogger = { debug() {}, info() {}, warn() {} }

export class PostgresStore implements Store {
  readonly engine = 'postgres'
  /** The pool, for tests that need to inspect connections. */
  readonly pool: pg.Pool
  readonly stats: PostgresStoreStats = { committed: 0, retries: 0, reconnects: 0 }
  readonly #target: string
  readonly #maxRetries: number
  // After a mass disconnect every pooled connection may be dead before the pool has heard of it;
  // one more than the pool holds guarantees a fresh one. An unreachable server fails at connect.
  readonly #maxReconnects: number
  readonly #log: StoreLogger
  readonly #observer: StoreObserver | undefined
  /** The contact id sequence, for ids drawn by the final statement of a buffered write. */
  #sequence = 'contact_id_seq'
  /** The sequence's value after the last import batch's own ids: anything else means others inserted. */
  #expectedLast: string | null = null
  readonly #blocklist = new BlocklistState()
  #closed = false

  /** Prefer `openPostgresStore`, which also applies migrations. */
  constructor(options: PostgresStoreOptions) {
    this.#target = describeTarget(options.url)
    this.#maxRetries = options.maxRetries ?? 100
    this.#log = options.logger ?? silent
    this.#observer = options.observer
    const statementTimeout = options.statementTimeoutMs ?? 5000
    this.#maxReconnects = (options.poolSize ?? 10) + 1
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10000,
      idleTimeoutMillis: 30000,
      keepAlive: true,
      application_name: 'identity-service',
      // Every statement outside an explicit transaction is a serializable transaction of its own,
      // so a read unit can be answered by one statement and an optimistic write by two.
      // Prepared statements keep one generic plan: the write's final statement is a large CTE whose
      // custom plan took ~1.5 ms to make on every request, twice its run time; every statement is
      // written so that a plan blind to its parameters still reads through an index (the plan test
      // in test/store/postgres.test.ts and docs/performance.md).
      options: '-c default_transaction_isolation=serializable -c plan_cache_mode=force_generic_plan',
      ...(statementTimeout > 0
        ? {
            statement_timeout: statementTimeout,
            // A transaction left open by an instance that lost its connection (a COMMIT that never
            // arrived) must end before the rerun's statement would time out waiting on its rows.
            // Requests are single statements; only operator transactions stay open between two
            // statements, and for milliseconds.
            idle_in_transaction_session_timeout: Math.max(1000, Math.floor(statementTimeout / 2)),
            // Client side too: a silently dropped network would otherwise hang a query for minutes.
            query_timeout: statementTimeout + 2000,
          }
        : {}),
    })
    // An idle connection that dies (server restart, pg_terminate_backend, network cut) is reported
    // here; without a listener Node would crash the process. The pool drops it and connects anew.
    this.pool.on('error', (err) => {
      this.#log.warn(
        { err: { message: reason(err) } },
        'an idle PostgreSQL connection was lost; the pool will reconnect',
      )
    })
    // A connection that dies while checked out emits 'error' on its client, which the pool does not
    // listen to then. The failed query or the next one rejects and the unit is rerun; this listener
    // only keeps the process alive.
    this.pool.on('connect', (client) => {
      client.on('error', (err) => this.#log.debug({ err: { message: reason(err) } }, 'PostgreSQL connection failed'))
    })
  }

  /** Applies pending migrations; see `openPostgresStore` for waiting on a database that is not up yet. */
  async migrate(): Promise<number[]> {
    const client = await this.#connect()
    let failure: unknown
    try {
      const applied = await migratePostgres(client)
      const seq = await client.query<{ seq: string | null }>("SELECT pg_get_serial_sequence('contact', 'id') AS seq")
      this.#sequence = seq.rows[0]?.seq ?? this.#sequence
      return applied
    } catch (err) {
      failure = err
      throw toStorageError(err, `could not migrate PostgreSQL at ${this.#target}`)
    } finally {
      client.release(failure !== undefined && isConnectionLost(failure) ? (failure as Error) : undefined)
    }
  }

  /** The shared retry policy, with this store's limits and messages. */
  #policy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
    return {
      reasonOf: (err) =>
        err instanceof StaleRead
          ? 'pg_stale_read'
          : err instanceof BlocklistChanged
            ? 'blocklist_changed'
            : retryReason(err),
      maxAttempts: this.#maxRetries,
      limits: { connection_lost: this.#maxReconnects, pg_out_of_locks: 8 },
      // Full jitter, capped low: the winner commits within milliseconds.
      capMs: 50,
      stopped: () => this.#closed,
      onRetry: (why, attempt, err) => {
        if (why === 'connection_lost') {
          this.stats.reconnects++
          this.#log.warn({ err: { message: reason(err) }, attempt }, 'PostgreSQL connection lost; retrying')
        } else {
          this.stats.retries++
          const { code, detail, constraint } = err as { code?: string; detail?: string; constraint?: string }
          this.#log.debug({ reason: why, code, detail, constraint, attempt }, 'unit lost a race; retrying')
        }
        this.#observer?.retry('postgres', why)
      },
      exhausted: (err, attempts, why) =>
        this.#closed
          ? closedError()
          : why === 'connection_lost' || why === 'pg_out_of_locks'
            ? toStorageError(err, `PostgreSQL at ${this.#target} failed`)
            : new AppError(
                'ERR_STORAGE_UNAVAILABLE',
                `PostgreSQL at ${this.#target} kept failing the transaction under contention after ${attempts} attempts`,
                { cause: err },
              ),
      ...overrides,
    }
  }

  async run<T>(unit: Unit<T>, options: RunOptions): Promise<T> {
    const started = performance.now()
    let ok = false
    try {
      const result = await withRetry(() => this.#attempt(unit, options), this.#policy())
      ok = true
      if (options.mode === 'write') this.stats.committed++
      return result
    } catch (err) {
      throw this.#closed && !(err instanceof AppError)
        ? closedError()
        : toStorageError(err, `PostgreSQL at ${this.#target} failed`)
    } finally {
      this.#observer?.unit('postgres', options.kind ?? options.mode, (performance.now() - started) / 1000, ok)
    }
  }

  /** One attempt on one connection; a unit that needs a real transaction is rerun in one at once. */
  async #attempt<T>(unit: Unit<T>, options: RunOptions): Promise<T> {
    const client = await this.#connect()
    let phase: Phase = options.mode === 'read' ? 'single' : 'optimistic'
    try {
      for (;;) {
        try {
          const result = await this.#inPhase(client, unit, phase, options)
          client.release()
          return result
        } catch (err) {
          if (!(err instanceof RestartInTransaction) || phase === 'transaction') throw err
          phase = 'transaction'
        }
      }
    } catch (err) {
      // A client whose connection broke is destroyed; a healthy one is rolled back and reused.
      if (isConnectionLost(err)) client.release(err as Error)
      else await rollbackAndRelease(client)
      throw err
    }
  }

  async #inPhase<T>(client: pg.PoolClient, unit: Unit<T>, phase: Phase, options: RunOptions): Promise<T> {
    const requestId = options.requestId ?? null
    if (this.#blocklist.stale) await this.#readBlocklist(client)
    if (phase === 'single') return unit(new PgTx(client, 'single', requestId, null, this.#blocklist))
    if (phase === 'optimistic') {
      const buffer = new WriteBuffer()
      const result = await unit(new PgTx(client, 'optimistic', requestId, buffer, this.#blocklist))
      if (buffer.empty) return result
      const ids = await flush(client, buffer, this.#sequence)
      if (ids === null) throw new StaleRead()
      return resolveIds(result, ids)
    }
    await client.query(
      options.mode === 'read' ? 'BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY' : 'BEGIN ISOLATION LEVEL SERIALIZABLE',
    )
    const result = await unit(new PgTx(client, 'transaction', requestId, null, this.#blocklist))
    await client.query('COMMIT')
    return result
  }

  /** Reads the block list and its version (one statement; only after the version moved). */
  async #readBlocklist(client: pg.ClientBase): Promise<void> {
    const { rows } = await client.query<{ version: string; entries: string }>(SQL.BLOCKLIST)
    const row = rows[0]
    if (row === undefined) return
    this.#blocklist.list = new BlockList(JSON.parse(row.entries) as BlockedValue[])
    this.#blocklist.version = Number(row.version)
    this.#blocklist.stale = false
  }

  /**
   * One import batch: one statement reads the batch's identities fresh (nothing read by an earlier
   * batch is trusted), one checked statement writes everything (postgres-tx.ts, `batch`).
   */
  async batch<T>(work: (tx: BatchTx) => Promise<T>, options: BatchOptions = {}): Promise<T> {
    const started = performance.now()
    let ok = false
    try {
      const result = await withRetry(
        () => this.#batchAttempt(work),
        this.#policy({
          maxAttempts: options.attempts ?? 30,
          // Background work: back off further than a request does, so the requests it races get through.
          capMs: 200,
          // Out of predicate-lock memory (shared by every session of the server): the same batch
          // would likely fail again, a smaller one may not, so give up at once and let the importer
          // split it. A batch of one row cannot be split: it waits, as a request does.
          limits: {
            connection_lost: this.#maxReconnects,
            pg_out_of_locks: options.splittable === false ? 8 : 1,
          },
          onRetry: (why, attempt, err) => {
            this.#policy().onRetry?.(why, attempt, err)
            options.onRetry?.()
          },
          exhausted: (err, attempts, why) =>
            why === 'connection_lost' || this.#closed
              ? toStorageError(err, `PostgreSQL at ${this.#target} failed`)
              : new BatchContentionError(attempts, { cause: err }),
        }),
      )
      ok = true
      return result
    } catch (err) {
      throw toStorageError(err, `PostgreSQL at ${this.#target} failed`)
    } finally {
      this.#observer?.unit('postgres', 'import', (performance.now() - started) / 1000, ok)
    }
  }

  async #batchAttempt<T>(work: (tx: BatchTx) => Promise<T>): Promise<T> {
    const client = await this.#connect()
    try {
      // The sequence only tells whether someone else inserted since our last batch, which sizes
      // batches, never decides a row.
      const seen = await client.query<{ last: string }>(`SELECT last_value::text AS last FROM ${this.#sequence}`)
      const last = seen.rows[0]?.last ?? null
      const othersWrote = this.#expectedLast !== null && last !== this.#expectedLast
      if (this.#blocklist.stale) await this.#readBlocklist(client)
      const buffer = new WriteBuffer()
      const start = { cacheValid: false, othersWrote, empty: false }
      const result = await work(new PgBatchTx(client, start, buffer, this.#blocklist))
      const ids = buffer.empty ? [] : await flush(client, buffer, this.#sequence)
      if (ids === null) throw new StaleRead()
      this.#expectedLast = ids.length > 0 ? String(ids.at(-1)) : last
      client.release()
      return result
    } catch (err) {
      if (isConnectionLost(err)) client.release(err as Error)
      else await rollbackAndRelease(client)
      throw err
    }
  }

  /**
   * Streams with a server-side cursor inside one `SERIALIZABLE READ ONLY DEFERRABLE` transaction:
   * DEFERRABLE waits for a snapshot no concurrent writer can make inconsistent, after which the
   * export runs without predicate locks and can neither fail on nor slow down the service's
   * transactions; memory stays at one chunk.
   */
  async *exportRows(fetchSize = 5000): AsyncIterable<ExportRow> {
    const client = await this.#connect()
    let open = false
    try {
      await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE')
      open = true
      await client.query(`DECLARE export_rows NO SCROLL CURSOR FOR ${SQL.EXPORT_ROWS}`)
      for (;;) {
        const { rows } = await client.query<{
          kind: 'contact' | 'link'
          root: string
          id: string
          email: string | null
          phone_number: string | null
          link_precedence: 'primary' | 'secondary' | null
          created_ms: number
        }>(`FETCH ${fetchSize} FROM export_rows`)
        for (const r of rows) {
          const base = { root: Number(r.root), id: Number(r.id), createdAt: r.created_ms }
          yield r.kind === 'contact'
            ? {
                kind: 'contact',
                ...base,
                email: r.email,
                phoneNumber: r.phone_number,
                linkPrecedence: r.link_precedence ?? 'primary',
              }
            : { kind: 'link', ...base, email: r.email ?? '', phoneNumber: r.phone_number ?? '' }
        }
        if (rows.length < fetchSize) break
      }
      open = false
      await client.query('COMMIT')
      client.release()
    } catch (err) {
      if (open) await rollbackAndRelease(client)
      else client.release(err as Error)
      throw toStorageError(err, `PostgreSQL at ${this.#target} failed`)
    }
  }

  async listContacts(): Promise<StoredContact[]> {
    const rows = await this.#read<SQL.StoredRow>(`SELECT ${SQL.STORED_COLUMNS} FROM contact ORDER BY id`)
    return rows.map(SQL.toStored)
  }

  async listLinks(): Promise<Link[]> {
    const rows = await this.#read<Parameters<typeof SQL.toLink>[0]>(
      `SELECT id, email, phone_number, ${SQL.ms('created_at')} AS created_ms FROM link ORDER BY id`,
    )
    return rows.map(SQL.toLink)
  }

  async listEvents(): Promise<StoredEvent[]> {
    const rows = await this.#read<SQL.EventRow>(
      `SELECT id, type, ${SQL.ms('at')} AS at_ms, request_id, contacts, data FROM event ORDER BY id`,
    )
    return rows.map(SQL.toStoredEvent)
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.#read<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')
    return Number(rows[0]?.v ?? 0)
  }

  async ping(): Promise<void> {
    await this.#read('SELECT 1', `PostgreSQL at ${this.#target} does not answer`)
  }

  /** One statement outside a transaction, rerun on a fresh connection if a pooled one was cut. */
  async #read<R extends pg.QueryResultRow>(
    sql: string,
    failure = `PostgreSQL at ${this.#target} failed`,
  ): Promise<R[]> {
    try {
      return await withRetry(
        async () => {
          const client = await this.#connect()
          try {
            const result = await client.query<R>(sql)
            client.release()
            return result.rows
          } catch (err) {
            client.release(err as Error)
            throw err
          }
        },
        this.#policy({ reasonOf: (err) => (isConnectionLost(err) ? 'connection_lost' : null), capMs: 0 }),
      )
    } catch (err) {
      throw this.#closed ? closedError() : toStorageError(err, failure)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Waits for checked-out connections, so in-flight transactions finish first.
    await this.pool.end()
    this.#log.info({ engine: this.engine, ...this.stats }, 'store closed')
  }

  async #connect(): Promise<pg.PoolClient> {
    if (this.#closed) throw closedError()
    try {
      return await this.pool.connect()
    } catch (err) {
      if (this.#closed) throw closedError()
      // Anything that stops us getting a connection is the database being unavailable to us.
      throw new AppError('ERR_STORAGE_UNAVAILABLE', `PostgreSQL at ${this.#target} is unreachable (${reason(err)})`, {
        cause: err,
      })
    }
  }
}

export interface OpenPostgresOptions extends PostgresStoreOptions {
  /**
   * How long to keep trying when the database is not reachable at start (it may be starting too,
   * as in `docker compose up`). 0 fails at once. Migration errors that are not about reaching the
   * database fail at once either way.
   */
  readonly startupWaitMs?: number
}

/**
 * Opens a PostgreSQL store and applies pending migrations, waiting up to `startupWaitMs` for the
 * database to become reachable; rejects with `ERR_STORAGE_UNAVAILABLE` naming the database and the
 * reason when it does not.
 *
 * @example
 * const store = await openPostgresStore({ url: 'postgres://app@db:5432/identity', startupWaitMs: 30000 })
 */
export async function openPostgresStore(options: OpenPostgresOptions): Promise<PostgresStore> {
  const store = new PostgresStore(options)
  const log = options.logger ?? silent
  const waitMs = options.startupWaitMs ?? 0
  try {
    const applied = await withRetry(() => store.migrate(), {
      reasonOf: (err) =>
        err instanceof AppError && err.code === 'ERR_STORAGE_UNAVAILABLE' && !isMisconfigured(err.cause)
          ? 'unreachable'
          : null,
      maxAttempts: Number.POSITIVE_INFINITY,
      deadlineMs: waitMs,
      // 250 ms doubling to 5 s, in full: waiting for a server to come up, not racing anyone.
      baseMs: 250,
      capMs: 5000,
      jitter: false,
      onRetry: (_why, attempt, err) =>
        log.warn(
          { err: { message: (err as Error).message }, retryInMs: Math.min(5000, 250 * 2 ** attempt) },
          'PostgreSQL is not reachable yet',
        ),
      exhausted: (err) =>
        waitMs === 0
          ? err
          : new AppError('ERR_STORAGE_UNAVAILABLE', `${(err as Error).message}; gave up after waiting ${waitMs} ms`, {
              cause: (err as Error).cause,
            }),
    })
    if (applied.length > 0) log.info({ versions: applied }, 'applied PostgreSQL migrations')
    return store
  } catch (err) {
    await store.close()
    throw explainMisconfiguration(err, describeTarget(options.url))
  }
}

/** No such database, or the server refused the credentials: waiting cannot fix either. */
function isMisconfigured(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && (code === '3D000' || code.startsWith('28'))
}

/** Says how to fix a misconfiguration, or passes the failure through. */
function explainMisconfiguration(err: unknown, target: string): unknown {
  if (!(err instanceof AppError)) return err
  const code = (err.cause as { code?: unknown } | undefined)?.code
  if (code === '3D000') {
    const name = target.split('/')[1] ?? 'the database'
    return new AppError(
      'ERR_STORAGE_UNAVAILABLE',
      `PostgreSQL at ${target}: database "${name}" does not exist; create it (e.g. \`createdb ${name}\`) or fix DATABASE_URL`,
      { cause: err.cause },
    )
  }
  if (typeof code === 'string' && code.startsWith('28')) {
    return new AppError(
      'ERR_STORAGE_UNAVAILABLE',
      `PostgreSQL at ${target} refused the credentials (${code}); check the user and password in DATABASE_URL`,
      { cause: err.cause },
    )
  }
  return err
}

async function rollbackAndRelease(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('ROLLBACK')
    client.release()
  } catch (err) {
    client.release(err as Error)
  }
}

function closedError(): AppError {
  return new AppError('ERR_STORAGE_UNAVAILABLE', 'the database is closed (shutting down)')
}

/** `host:port/database` without credentials, for messages and logs. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url)
    const host = u.hostname || process.env.PGHOST || 'localhost'
    return `${host}:${u.port || '5432'}${u.pathname === '/' ? '' : u.pathname}`
  } catch {
    return 'the configured database'
  }
}
