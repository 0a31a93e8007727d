/**
 * SQLite import sink. Each batch is one `BEGIN IMMEDIATE` transaction, so the batch runs under the
 * same write lock the service's requests take (src/store/sqlite.ts): a request waits for a batch,
 * a batch waits for a request, and neither sees the other half-done. `PRAGMA data_version`, read
 * with the lock held, tells whether another connection committed since the previous batch.
 * Statements mirror SqliteStore's, so an imported row is stored exactly as a request would be.
 */
import type Database from 'better-sqlite3'
import { AppError } from '../errors.ts'
import type { Contact } from '../identity/contact.ts'
import type { NewContact } from '../identity/reconcile.ts'
import { DEMOTE, IDENTITY, INSERT, ROOT_OF } from '../store/sqlite-sql.ts'
import type { BatchStart, ImportSink } from './sink.ts'

export interface SqliteSinkOptions {
  /** How long a batch waits for another process's write lock before giving up. */
  readonly lockWaitMs?: number
}

/**
 * @example
 * const store = new SqliteStore({ path: 'data/contacts.db' })
 * const stats = await importRecords(new SqliteSink(store.db), source.records)
 */
export class SqliteSink implements ImportSink {
  readonly engine = 'sqlite'
  readonly #db: Database.Database
  readonly #dataVersion: Database.Statement<[], number>
  readonly #anyContact: Database.Statement<[], number>
  readonly #newest: Database.Statement<[], number>
  readonly #rootsByEmail: Database.Statement<[string], number | null>
  readonly #rootsByPhone: Database.Statement<[string], number | null>
  readonly #identity: Database.Statement<[number], Contact>
  readonly #demote: Database.Statement<[number, number, number]>
  readonly #insert: Database.Statement<[string | null, string | null, number | null, string, number, number]>
  #lastDataVersion: number | null = null

  constructor(db: Database.Database, options: SqliteSinkOptions = {}) {
    this.#db = db
    // The importer has nothing else to do while it waits, so the driver may block on the lock.
    db.pragma(`busy_timeout = ${options.lockWaitMs ?? 30000}`)
    // A large page cache keeps the indexes' pages between batches, and a larger WAL before this
    // connection checkpoints means each page is copied and synced once per many batches, not once
    // per batch (the two made the difference between ~60k and ~100k rows/s). Both are per connection.
    db.pragma('cache_size = -131072')
    db.pragma('wal_autocheckpoint = 20000')
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck()
    this.#anyContact = db.prepare<[], number>('SELECT count(*) FROM (SELECT 1 FROM contact LIMIT 1)').pluck()
    this.#newest = db.prepare<[], number>('SELECT created_at FROM contact ORDER BY id DESC LIMIT 1').pluck()
    // The same reads and writes as SqliteStore's identify transaction (src/store/sqlite-sql.ts).
    this.#rootsByEmail = db.prepare<[string], number | null>(`SELECT ${ROOT_OF('email', '?')}`).pluck()
    this.#rootsByPhone = db.prepare<[string], number | null>(`SELECT ${ROOT_OF('phone_number', '?')}`).pluck()
    this.#identity = db.prepare<[number], Contact>(IDENTITY)
    this.#demote = db.prepare<[number, number, number]>(DEMOTE)
    this.#insert = db.prepare<[string | null, string | null, number | null, string, number, number]>(INSERT)
  }

  async begin(): Promise<BatchStart> {
    try {
      this.#db.exec('BEGIN IMMEDIATE')
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        throw new AppError('ERR_STORAGE_UNAVAILABLE', 'the SQLite database stayed locked by another process', {
          cause: err,
        })
      }
      throw err
    }
    const version = this.#dataVersion.get() as number
    const changed = version !== this.#lastDataVersion
    this.#lastDataVersion = version
    const empty = this.#anyContact.get() === 0
    return { changed, empty, newestCreatedAt: empty ? 0 : (this.#newest.get() ?? 0) }
  }

  rootsOf(field: 'email' | 'phoneNumber', value: string): number[] {
    // The scalar subquery yields one row, NULL when no live contact holds the value.
    const root = (field === 'email' ? this.#rootsByEmail : this.#rootsByPhone).get(value)
    return root == null ? [] : [root]
  }

  identity(root: number): Contact[] {
    return this.#identity.all(root)
  }

  demote(primaryId: number, demotedId: number, now: number): void {
    this.#demote.run(primaryId, now, demotedId)
  }

  insert(c: NewContact): number {
    const result = this.#insert.run(c.email, c.phoneNumber, c.linkedId, c.linkPrecedence, c.createdAt, c.createdAt)
    return Number(result.lastInsertRowid)
  }

  async commit(): Promise<void> {
    this.#db.exec('COMMIT')
  }

  async rollback(): Promise<void> {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
  }
}
