/**
 * PostgreSQL adapter (pg). Each `identify` is one SERIALIZABLE transaction — a single statement
 * when the request changes nothing, else load the touched identities, decide, demote, insert,
 * commit — so any interleaving across any number of service instances commits what some serial
 * order would (SPEC §4). A transaction that loses a race
 * (40001, 40P01, or the same fact inserted twice) is rerun with jittered backoff; the client never
 * sees it. The same SQL runs on CockroachDB and YugabyteDB (docs/postgres.md).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { AppError } from '../errors.ts'
import type { Contact, IdentityView } from '../identity/contact.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import { applyDecision, decide, toIdentityView } from '../identity/reconcile.ts'
import { isConnectionLost, isContention, reason, toStorageError } from './postgres-errors.ts'
import { migratePostgres } from './postgres-migrate.ts'
import type { ContactStore, StoredContact } from './store.ts'

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
  /** Attempts after which a request that keeps losing races gives up with `503`. */
  readonly maxRetries?: number
  readonly logger?: StoreLogger
}

/** Counters since the store opened; `close()` logs them, the multi-instance test reads them. */
export interface PostgresStoreStats {
  /** `identify` transactions committed. */
  committed: number
  /** Transactions rerun after losing a race (serialization failure, deadlock, same fact inserted). */
  retries: number
  /** Transactions rerun on a fresh connection after the old one was cut. */
  reconnects: number
}

const silent: StoreLogger = { debug() {}, info() {}, warn() {} }

// Epoch milliseconds computed by the server: exact for TIMESTAMPTZ(3), and a float8 the driver
// turns into a JS number without a global type parser. Ids are int8, which pg returns as strings;
// `toContact` converts them (exact up to 2^53).
export const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`
export const CONTACT_COLUMNS = `id, email, phone_number, linked_id, link_precedence, ${ms('created_at')} AS created_ms`

// The same single statement as the SQLite adapter's: each value names at most one root (I2), and
// one range of the `contact_root` expression index per root reads the whole identity. Under
// SERIALIZABLE, the index ranges it reads are what a concurrent insert or relink conflicts with.
const ROOT_OF = (column: string, param: string) =>
  `(SELECT coalesce(linked_id, id) FROM contact WHERE ${column} = ${param} AND deleted_at IS NULL LIMIT 1)`
// PostgreSQL only: unknown values must not probe `contact_root` at all. A probe for NULL lands on
// the index's last page, where every new primary is inserted, and SSI would then see each pair of
// concurrent new customers as a conflict (measured: 10,000 retries for 6,000 commits). An empty
// array is never searched.
const LOAD_TOUCHED_SQL = `SELECT ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) = ANY(array_remove(ARRAY[${ROOT_OF('email', '$1')}, ${ROOT_OF('phone_number', '$2')}], NULL))
    AND deleted_at IS NULL`
const LOAD_TOUCHED: pg.QueryConfig = { name: 'identity_load_touched', text: LOAD_TOUCHED_SQL }

// Every request starts with this one statement, itself a serializable transaction (the session's
// default). It reads every identity the request touches and, when there is none — rule 1's premise,
// checked at the statement's own snapshot — inserts the new primary in the same statement. So a
// new customer, like every request that changes nothing, is answered in one round trip; rule 1 is
// still decided by `decide` too, which agrees on an empty identity list.
const LOAD_OR_CREATE: pg.QueryConfig = {
  name: 'identity_load_or_create',
  text: `
    WITH touched AS (${LOAD_TOUCHED_SQL}),
    created AS (
      INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
      SELECT $1::text, $2::text, NULL, 'primary', statement_timestamp(), statement_timestamp()
      WHERE NOT EXISTS (SELECT 1 FROM touched)
      RETURNING ${CONTACT_COLUMNS}
    )
    SELECT *, false AS created FROM touched
    UNION ALL
    SELECT *, true AS created FROM created`,
}

// All demoted primaries and their secondaries in one statement (rule 2). Clock: the database's,
// so instances with skewed clocks still stamp one timeline.
const DEMOTE = `
  UPDATE contact SET linked_id = $1, link_precedence = 'secondary', updated_at = statement_timestamp()
  WHERE coalesce(linked_id, id) = ANY($2::int8[]) AND deleted_at IS NULL`

// created_at is the database's clock too, but never older than the surviving primary ($5), so a
// secondary cannot overtake its primary (I3) even across a clock step.
const INSERT = `
  INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
  VALUES ($1, $2, $3, $4, greatest(statement_timestamp(), $5::timestamptz), greatest(statement_timestamp(), $5::timestamptz))
  RETURNING id, ${ms('created_at')} AS created_ms`

const LIST = `SELECT ${CONTACT_COLUMNS}, ${ms('updated_at')} AS updated_ms,
  CASE WHEN deleted_at IS NULL THEN NULL ELSE ${ms('deleted_at')} END AS deleted_ms
  FROM contact ORDER BY id`

const EPOCH = new Date(0).toISOString()

/** A contact row as `CONTACT_COLUMNS` selects it. */
export interface ContactRow {
  id: string | number
  email: string | null
  phone_number: string | null
  linked_id: string | number | null
  link_precedence: Contact['linkPrecedence']
  created_ms: number
}

export class PostgresStore implements ContactStore {
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
  #closed = false

  /** Prefer `openPostgresStore`, which also applies migrations. */
  constructor(options: PostgresStoreOptions) {
    this.#target = describeTarget(options.url)
    this.#maxRetries = options.maxRetries ?? 100
    this.#log = options.logger ?? silent
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
      // so a request that changes nothing can be answered by one statement (see #identifyOnce).
      options: '-c default_transaction_isolation=serializable',
      ...(statementTimeout > 0
        ? {
            statement_timeout: statementTimeout,
            // A transaction left open by a stuck instance must not hold its reads for long.
            idle_in_transaction_session_timeout: Math.max(statementTimeout * 2, 10000),
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
    // A connection that dies while checked out (between two queries of a transaction) emits
    // 'error' on its client, which the pool does not listen to then. The failed query or the next
    // one rejects and `identify` handles it; this listener only keeps the process alive.
    this.pool.on('connect', (client) => {
      client.on('error', (err) => this.#log.debug({ err: { message: reason(err) } }, 'PostgreSQL connection failed'))
    })
  }

  /** Applies pending migrations; see `openPostgresStore` for waiting on a database that is not up yet. */
  async migrate(): Promise<number[]> {
    const client = await this.#connect()
    let failure: unknown
    try {
      return await migratePostgres(client)
    } catch (err) {
      failure = err
      throw toStorageError(err, `could not migrate PostgreSQL at ${this.#target}`)
    } finally {
      client.release(failure !== undefined && isConnectionLost(failure) ? (failure as Error) : undefined)
    }
  }

  async identify(input: IdentifyInput): Promise<IdentityView> {
    let reconnects = 0
    for (let attempt = 0; ; attempt++) {
      const client = await this.#connect()
      try {
        const view = await this.#identifyOnce(client, input)
        client.release()
        this.stats.committed++
        return view
      } catch (err) {
        const lost = isConnectionLost(err)
        // A client whose connection broke is destroyed; a healthy one is rolled back and reused.
        if (lost) client.release(err as Error)
        else await rollbackAndRelease(client)
        // Rerunning is safe even if the lost COMMIT did land: `/identify` is idempotent, so the
        // rerun finds everything in place, changes nothing and answers the same identity.
        if (lost && reconnects < this.#maxReconnects && !this.#closed) {
          reconnects++
          this.stats.reconnects++
          this.#log.warn({ err: { message: reason(err) }, reconnects }, 'PostgreSQL connection lost; retrying')
          continue
        }
        if (isContention(err) && attempt < this.#maxRetries && !this.#closed) {
          this.stats.retries++
          const { code, detail, constraint } = err as { code?: string; detail?: string; constraint?: string }
          this.#log.debug({ code, detail, constraint, attempt }, 'transaction lost a race; retrying')
          // Full jitter, capped low: the winner commits within milliseconds.
          await sleep(Math.random() * Math.min(2 ** attempt, 50))
          continue
        }
        if (isContention(err)) {
          throw new AppError(
            'ERR_STORAGE_UNAVAILABLE',
            `PostgreSQL at ${this.#target} kept failing the transaction under contention after ${attempt + 1} attempts`,
            { cause: err },
          )
        }
        throw toStorageError(err, `PostgreSQL at ${this.#target} failed`)
      }
    }
  }

  async #identifyOnce(client: pg.PoolClient, input: IdentifyInput): Promise<IdentityView> {
    const first = await client.query<ContactRow & { created: boolean }>({
      ...LOAD_OR_CREATE,
      values: [input.email, input.phoneNumber],
    })
    const created = first.rows.find((r) => r.created)
    if (created !== undefined) return toIdentityView([toContact(created)])
    const seen = first.rows.map(toContact)
    const guess = decide(input, seen, Date.now())
    if (guess.create === null && guess.demotedPrimaryIds.length === 0) return toIdentityView(seen)
    // A write reads again inside its own transaction: that first snapshot is already over.
    await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE')
    const loaded = await client.query<ContactRow>({ ...LOAD_TOUCHED, values: [input.email, input.phoneNumber] })
    const touched = loaded.rows.map(toContact)
    const decision = decide(input, touched, Date.now())
    if (decision.demotedPrimaryIds.length > 0) {
      await client.query({
        name: 'identity_demote',
        text: DEMOTE,
        values: [decision.primaryId, decision.demotedPrimaryIds],
      })
    }
    let createdId: number | null = null
    let create = decision.create
    if (create !== null) {
      const survivor = touched.find((c) => c.id === decision.primaryId)
      const notBefore = survivor === undefined ? EPOCH : new Date(survivor.createdAt).toISOString()
      const inserted = await client.query<{ id: string; created_ms: number }>({
        name: 'identity_insert',
        text: INSERT,
        values: [create.email, create.phoneNumber, create.linkedId, create.linkPrecedence, notBefore],
      })
      const row = inserted.rows[0]
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      createdId = Number(row.id)
      create = { ...create, createdAt: row.created_ms }
    }
    await client.query('COMMIT')
    return toIdentityView(applyDecision(touched, { ...decision, create }, createdId))
  }

  async listContacts(): Promise<StoredContact[]> {
    const result = await this.#read<ContactRow & { updated_ms: number; deleted_ms: number | null }>(
      LIST,
      `PostgreSQL at ${this.#target} failed`,
    )
    return result.rows.map((r) => ({ ...toContact(r), updatedAt: r.updated_ms, deletedAt: r.deleted_ms }))
  }

  async ping(): Promise<void> {
    await this.#read('SELECT 1', `PostgreSQL at ${this.#target} does not answer`)
  }

  /** One statement outside a transaction, rerun on a fresh connection if a pooled one was cut. */
  async #read<R extends pg.QueryResultRow>(sql: string, failure: string): Promise<pg.QueryResult<R>> {
    for (let reconnects = 0; ; reconnects++) {
      const client = await this.#connect()
      try {
        const result = await client.query<R>(sql)
        client.release()
        return result
      } catch (err) {
        client.release(err as Error)
        if (isConnectionLost(err) && reconnects < this.#maxReconnects && !this.#closed) continue
        throw this.#closed ? closedError() : toStorageError(err, failure)
      }
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
  const deadline = Date.now() + (options.startupWaitMs ?? 0)
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const applied = await store.migrate()
      if (applied.length > 0) log.info({ versions: applied }, 'applied PostgreSQL migrations')
      return store
    } catch (err) {
      const waitable = err instanceof AppError && err.code === 'ERR_STORAGE_UNAVAILABLE'
      if (!waitable || Date.now() + delay > deadline) {
        await store.close()
        const waited = options.startupWaitMs ?? 0
        if (!waitable || waited === 0) throw err
        throw new AppError('ERR_STORAGE_UNAVAILABLE', `${err.message}; gave up after waiting ${waited} ms`, {
          cause: err.cause,
        })
      }
      log.warn({ err: { message: (err as Error).message }, retryInMs: delay }, 'PostgreSQL is not reachable yet')
      await sleep(delay)
    }
  }
}

async function rollbackAndRelease(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('ROLLBACK')
    client.release()
  } catch (err) {
    client.release(err as Error)
  }
}

/** The rules' view of a row; ids are int8 (strings from pg), exact up to 2^53. */
export function toContact(r: ContactRow): Contact {
  return {
    id: Number(r.id),
    email: r.email,
    phoneNumber: r.phone_number,
    linkedId: r.linked_id === null ? null : Number(r.linked_id),
    linkPrecedence: r.link_precedence,
    createdAt: r.created_ms,
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
