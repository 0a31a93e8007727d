/**
 * SQLite adapter (better-sqlite3). Each `identify` is one transaction. SQLite runs write
 * transactions one at a time across every process on the file, and refuses to let a transaction
 * write on a snapshot another process has since changed, so what a request reads is what it
 * changes. Within a process the driver is synchronous, so requests never interleave; across
 * processes a busy lock is retried asynchronously (jittered backoff) instead of blocking the event
 * loop or failing the request.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { AppError } from '../errors.ts'
import type { Contact, IdentityView } from '../identity/contact.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import { applyDecision, decide, toIdentityView } from '../identity/reconcile.ts'
import { migrations } from './migrations.ts'
import { CONTACT_COLUMNS, DEMOTE, INSERT, ROOT_OF } from './sqlite-sql.ts'
import type { ContactStore, StoredContact } from './store.ts'

export interface SqliteStoreOptions {
  /** File path, or `:memory:` for a private in-memory database (tests). */
  readonly path: string
  /** `normal` (default): a commit survives a process crash. `full`: it also survives power loss. */
  readonly synchronous?: 'normal' | 'full'
  /** How long a request may wait for another process's write lock before `503`. */
  readonly lockWaitMs?: number
}

// Every live contact of every identity that shares the email or the phone number: each value names
// at most one root, and one range scan of `contact_root` per root reads the identity. The cost
// follows the size of the identities touched, never the size of the table.
const LOAD_TOUCHED = `SELECT ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) IN (${ROOT_OF('email', '@email')}, ${ROOT_OF('phone_number', '@phoneNumber')})
    AND deleted_at IS NULL`

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY'])

export class SqliteStore implements ContactStore {
  readonly engine = 'sqlite'
  /** The underlying connection, for the batch importer and tests that inspect the file. */
  readonly db: Database.Database
  readonly #lockWaitMs: number
  readonly #identifyTx: Database.Transaction<(input: IdentifyInput, now: number) => IdentityView>
  #closed = false

  constructor(options: SqliteStoreOptions) {
    this.#lockWaitMs = options.lockWaitMs ?? 15000
    const inMemory = options.path === ':memory:' || options.path.startsWith('file::memory:')
    if (!inMemory) {
      try {
        mkdirSync(dirname(options.path), { recursive: true })
      } catch (err) {
        throw storageError(err, `cannot create the folder for the SQLite database at ${options.path}`)
      }
    }
    try {
      this.db = new Database(options.path)
    } catch (err) {
      throw storageError(err, `cannot open the SQLite database at ${options.path}`)
    }
    const db = this.db
    // A generous wait while opening and migrating, when several processes may start together.
    db.pragma('busy_timeout = 10000')
    if (!inMemory) db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${options.synchronous ?? 'normal'}`)
    migrate(db)
    // In steady state a busy lock is retried asynchronously (see identify), not waited for here.
    db.pragma('busy_timeout = 0')

    const load = db.prepare<[IdentifyInput], Contact>(LOAD_TOUCHED)
    const demote = db.prepare<[number, number, number]>(DEMOTE)
    const insert = db.prepare<[string | null, string | null, number | null, string, number, number]>(INSERT)
    this.#identifyTx = db.transaction((input: IdentifyInput, now: number) => {
      const touched = load.all(input)
      const decision = decide(input, touched, now)
      for (const demotedId of decision.demotedPrimaryIds) {
        demote.run(decision.primaryId as number, now, demotedId)
      }
      let createdId: number | null = null
      if (decision.create !== null) {
        const c = decision.create
        const result = insert.run(c.email, c.phoneNumber, c.linkedId, c.linkPrecedence, c.createdAt, c.createdAt)
        createdId = Number(result.lastInsertRowid)
      }
      return toIdentityView(applyDecision(touched, decision, createdId))
    })
  }

  async identify(input: IdentifyInput): Promise<IdentityView> {
    const deadline = Date.now() + this.#lockWaitMs
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new AppError('ERR_STORAGE_UNAVAILABLE', 'the database is closed (shutting down)')
      try {
        // First try: a deferred transaction. Most requests change nothing and never take the write
        // lock; one that does upgrades in place, which SQLite refuses (SQLITE_BUSY_SNAPSHOT) if
        // another process committed since our read. Retries take the lock up front, so a request
        // under contention waits its turn instead of losing the race again.
        return attempt === 0
          ? this.#identifyTx.deferred(input, Date.now())
          : this.#identifyTx.immediate(input, Date.now())
      } catch (err) {
        if (!isBusy(err)) throw storageError(err, 'the SQLite database failed')
        if (Date.now() >= deadline) {
          throw new AppError(
            'ERR_STORAGE_UNAVAILABLE',
            `the SQLite database stayed locked by another process for ${this.#lockWaitMs} ms`,
          )
        }
        await sleep(Math.random() * Math.min(2 ** attempt, 25))
      }
    }
  }

  async listContacts(): Promise<StoredContact[]> {
    return this.db
      .prepare<[], StoredContact>(
        `SELECT ${CONTACT_COLUMNS}, updated_at AS updatedAt, deleted_at AS deletedAt FROM contact ORDER BY id`,
      )
      .all()
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new AppError('ERR_STORAGE_UNAVAILABLE', 'the database is closed (shutting down)')
    try {
      this.db.prepare('SELECT count(*) FROM schema_migrations').get()
    } catch (err) {
      throw storageError(err, 'the SQLite database does not answer')
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.db.close()
  }
}

/** Applies pending migrations under the write lock, so simultaneous starts apply each one once. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
    const row = db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_migrations').get()
    const current = row?.v ?? 0
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
    for (const m of migrations) {
      if (m.version <= current) continue
      db.exec(m.sql.sqlite)
      record.run(m.version, m.name, Date.now())
    }
  }).immediate()
}

function isBusy(err: unknown): boolean {
  return typeof err === 'object' && err !== null && BUSY_CODES.has((err as { code?: string }).code ?? '')
}

/** Driver failures become `ERR_STORAGE_UNAVAILABLE` (disk full, I/O error, file gone, read-only…). */
function storageError(err: unknown, message: string): Error {
  if (err instanceof AppError) return err
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new AppError('ERR_STORAGE_UNAVAILABLE', `${message}: ${(err as Error).message}`, { cause: err })
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_') && !code.startsWith('SQLITE_CONSTRAINT')) {
    return new AppError('ERR_STORAGE_UNAVAILABLE', `${message} (${code})`, {
      cause: err,
    })
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    return new AppError('ERR_STORAGE_UNAVAILABLE', 'the database is closed (shutting down)', { cause: err })
  }
  return err as Error
}
