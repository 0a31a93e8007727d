/**
 * SQLite adapter (better-sqlite3): runs units of work over one connection. SQLite runs write
 * transactions one at a time across every process on the file, and refuses to let a transaction
 * write on a snapshot another process has since changed, so what a unit reads is what it changes.
 * The driver is synchronous; units are queued and run one after another on the connection, each in
 * its own transaction. A busy lock (another process) is retried asynchronously with the shared
 * policy instead of blocking the event loop or failing the request.
 */
import { mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { AppError } from '../errors.ts'
import { type BlockedValue, type BlockKind, BlockList } from '../identity/blocklist.ts'
import type { Contact, Link, StoredContact } from '../identity/contact.ts'
import type { EventContact, EventData, EventRole, NewEvent, StoredEvent } from '../identity/events.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import type { Created, NewContact } from '../identity/reconcile.ts'
import { BlocklistState } from './blocklist-state.ts'
import { migrations } from './migrations.ts'
import {
  type BatchStart,
  type BatchTx,
  BlocklistChanged,
  type ExportRow,
  type HistoryScope,
  type Hubs,
  type IdentityRecord,
  type IdentitySelector,
  type LineageEvent,
  type LinkPartner,
  type NewBlockedValue,
  type RunOptions,
  type Store,
  type StoreObserver,
  type Touched,
  type Tx,
  type Unit,
} from './port.ts'
import { linksToReconstruct } from './reconstruct.ts'
import { withRetry } from './retry.ts'
import { Checkpointer } from './sqlite-checkpointer.ts'
import * as SQL from './sqlite-sql.ts'

export interface SqliteStoreOptions {
  /** File path, or `:memory:` for a private in-memory database (tests). */
  readonly path: string
  /** `normal` (default): a commit survives a process crash. `full`: it also survives power loss. */
  readonly synchronous?: 'normal' | 'full'
  /** How long a unit may wait for another process's write lock before `503`. */
  readonly lockWaitMs?: number
  /** Page cache of the connection, in KiB (default SQLite's 2 MiB); the importer asks for more. */
  readonly cacheSizeKiB?: number
  readonly observer?: StoreObserver
}

/** Group commit bounds: at most this many units, and this long holding the write lock, per group. */
const MAX_GROUP = 128
const MAX_GROUP_MS = 4

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY'])
const NO_BOUND = Number.MAX_SAFE_INTEGER

type Statement<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>

/** The connection's prepared statements, shared by every unit. */
class Statements {
  readonly loadTouched: Statement<[IdentifyInput], Contact & { kind: 'contact' | 'version' }>
  readonly linkPartners: Statement<[IdentifyInput], Omit<LinkPartner, 'root'> & { root: number | null }>
  readonly blocklistVersion: Statement<[], number>
  readonly blockedValues: Statement<[], BlockedValue>
  readonly insertBlocked: Statement<[string, string | null, string | null, string, number], BlockedValue>
  readonly deleteBlocked: Statement<[number]>
  readonly bumpBlocklist: Statement<[]>
  readonly linkById: Statement<[number], Link>
  readonly linksNaming: Record<BlockKind, Statement<[string], Link>>
  readonly holders: Record<BlockKind, Statement<[string], Contact>>
  readonly distinctValues: Record<BlockKind, Statement<[], string>>
  readonly hubValues: Statement<[number], Hubs['values'][number]>
  readonly hubIdentities: Statement<[number], Hubs['identities'][number]>
  readonly softDelete: Statement<[number, number, number]>
  readonly setLink: Statement<[{ linkedId: number | null; now: number; id: number }]>
  readonly deleteLink: Statement<[number]>
  readonly unlinkErased: Statement<[{ ids: string }]>
  readonly eraseContacts: Statement<[string]>
  readonly rewriteEvent: Statement<[string, number]>
  readonly markUnheld: Statement<[string, string]>
  readonly savepoint: Statement<[]>
  readonly release: Statement<[]>
  readonly rollbackTo: Statement<[]>
  readonly clearUnheld: Statement<[string, string]>
  readonly identityBy: Record<keyof typeof SQL.IDENTITY_BY, Statement<[number | string], StoredContact>>
  readonly identityOfRoot: Statement<[number], Contact>
  readonly linksOf: Statement<[string, string], Link>
  readonly contactById: Statement<[number], StoredContact>
  readonly newest: Statement<[], number>
  readonly relink: Statement<[number, number, number]>
  readonly insertContact: Statement<[string | null, string | null, number | null, string, number, number]>
  readonly insertLink: Statement<[string, string, number]>
  readonly insertEvent: Statement<[string, number, string | null, string, string | null, string]>
  readonly insertEventContact: Statement<[number, number, number]>
  readonly lineage: Statement<[string, number], { eventId: number; members: string | null }>
  readonly #eventsInScopes = new Map<number, Statement<unknown[], EventRow>>()
  readonly #db: Database.Database

  constructor(db: Database.Database) {
    this.#db = db
    this.loadTouched = db.prepare(SQL.LOAD_TOUCHED)
    this.linkPartners = db.prepare(SQL.LINK_PARTNERS)
    this.blocklistVersion = db.prepare<[], number>(SQL.BLOCKLIST_VERSION).pluck()
    this.blockedValues = db.prepare(SQL.BLOCKED_VALUES)
    this.insertBlocked = db.prepare(SQL.INSERT_BLOCKED)
    this.deleteBlocked = db.prepare(SQL.DELETE_BLOCKED)
    this.bumpBlocklist = db.prepare(SQL.BUMP_BLOCKLIST)
    this.linkById = db.prepare(SQL.LINK_BY_ID)
    this.linksNaming = {
      email: db.prepare(SQL.LINKS_NAMING.email),
      phoneNumber: db.prepare(SQL.LINKS_NAMING.phoneNumber),
    }
    this.holders = { email: db.prepare(SQL.HOLDERS.email), phoneNumber: db.prepare(SQL.HOLDERS.phoneNumber) }
    this.distinctValues = {
      email: db.prepare<[], string>(SQL.DISTINCT_VALUES.email).pluck(),
      phoneNumber: db.prepare<[], string>(SQL.DISTINCT_VALUES.phoneNumber).pluck(),
    }
    this.hubValues = db.prepare(SQL.HUB_VALUES)
    this.hubIdentities = db.prepare(SQL.HUB_IDENTITIES)
    this.softDelete = db.prepare(SQL.SOFT_DELETE)
    this.setLink = db.prepare(SQL.SET_LINK)
    this.deleteLink = db.prepare(SQL.DELETE_LINK)
    this.unlinkErased = db.prepare(SQL.UNLINK_ERASED)
    this.eraseContacts = db.prepare(SQL.ERASE_CONTACTS)
    this.rewriteEvent = db.prepare(SQL.REWRITE_EVENT)
    this.markUnheld = db.prepare(SQL.MARK_UNHELD)
    this.savepoint = db.prepare('SAVEPOINT unit')
    this.release = db.prepare('RELEASE unit')
    this.rollbackTo = db.prepare('ROLLBACK TO unit')
    this.clearUnheld = db.prepare(SQL.CLEAR_UNHELD)
    this.identityBy = {
      contactId: db.prepare(SQL.IDENTITY_BY.contactId),
      email: db.prepare(SQL.IDENTITY_BY.email),
      phoneNumber: db.prepare(SQL.IDENTITY_BY.phoneNumber),
    }
    this.identityOfRoot = db.prepare(SQL.IDENTITY_OF_ROOT)
    this.linksOf = db.prepare(SQL.LINKS_OF)
    this.contactById = db.prepare(SQL.CONTACT_BY_ID)
    this.newest = db.prepare<[], number>(SQL.NEWEST_CREATED_AT).pluck()
    this.relink = db.prepare(SQL.RELINK)
    this.insertContact = db.prepare(SQL.INSERT_CONTACT)
    this.insertLink = db.prepare(SQL.INSERT_LINK)
    this.insertEvent = db.prepare(SQL.INSERT_EVENT)
    this.insertEventContact = db.prepare(SQL.INSERT_EVENT_CONTACT)
    this.lineage = db.prepare(SQL.LINEAGE)
  }

  eventsInScopes(scopes: number): Statement<unknown[], EventRow> {
    let statement = this.#eventsInScopes.get(scopes)
    if (statement === undefined) {
      statement = this.#db.prepare(SQL.eventsInScopes(scopes))
      this.#eventsInScopes.set(scopes, statement)
    }
    return statement
  }
}

interface EventRow {
  id: number
  type: StoredEvent['type']
  at: number
  requestId: string | null
  contacts: string
  data: string
}

/** Stamps times for one transaction. */
interface Stamper {
  stamp(notBefore?: number): number
}

/** The clock of one transaction: never behind the newest stored contact, so ids and times agree. */
class Clock implements Stamper {
  #now: number | null = null
  constructor(readonly newest: Statement<[], number>) {}

  /** The transaction's time, read once; `notBefore` raises it for one stamp. */
  stamp(notBefore = 0): number {
    if (this.#now === null) this.#now = Math.max(Date.now(), this.newest.get() ?? 0)
    return Math.max(this.#now, notBefore)
  }
}

/** One unit's view of the transaction: the shared statements and clock, and its own request id. */
class SqliteTx implements Tx {
  readonly engine = 'sqlite'
  readonly #s: Statements
  readonly #clock: Stamper
  readonly #blocklist: BlocklistState
  /** Set when the unit erased rows, so the runner can push the erased pages out of the log. */
  erased = false

  constructor(
    statements: Statements,
    clock: Stamper,
    blocklist: BlocklistState,
    readonly requestId: string | null,
  ) {
    this.#s = statements
    this.#clock = clock
    this.#blocklist = blocklist
  }

  blocklist(): BlockList {
    return this.#blocklist.list
  }

  loadTouched(input: IdentifyInput): Touched {
    const rows = this.#s.loadTouched.all(input)
    const contacts: Contact[] = []
    for (const { kind, ...row } of rows) {
      if (kind === 'contact') contacts.push(row)
      else if (row.id !== this.#blocklist.version) {
        this.#blocklist.stale = true
        throw new BlocklistChanged()
      }
    }
    // Links matter only for a value nobody holds: a held one is already inside its identity.
    const email = input.email !== null && !contacts.some((c) => c.email === input.email) ? input.email : null
    const phoneNumber =
      input.phoneNumber !== null && !contacts.some((c) => c.phoneNumber === input.phoneNumber)
        ? input.phoneNumber
        : null
    if (email === null && phoneNumber === null) return { contacts, throughLinks: [] }
    const throughLinks = this.#s.linkPartners
      .all({ email, phoneNumber })
      .filter((l): l is LinkPartner => l.root !== null)
    if (throughLinks.length === 0) return { contacts, throughLinks }
    const roots = new Set(contacts.map((c) => c.linkedId ?? c.id))
    for (const l of throughLinks) {
      if (roots.has(l.root)) continue
      roots.add(l.root)
      contacts.push(...this.#s.identityOfRoot.all(l.root))
    }
    return { contacts, throughLinks }
  }

  identity(selector: IdentitySelector): IdentityRecord | null {
    const contacts =
      'contactId' in selector
        ? this.#s.identityBy.contactId.all(selector.contactId)
        : 'email' in selector
          ? this.#s.identityBy.email.all(selector.email)
          : this.#s.identityBy.phoneNumber.all(selector.phoneNumber)
    if (contacts.length === 0) return null
    const emails = new Set<string>()
    const phones = new Set<string>()
    for (const c of contacts) {
      if (c.email !== null) emails.add(c.email)
      if (c.phoneNumber !== null) phones.add(c.phoneNumber)
    }
    const links = this.#s.linksOf.all(JSON.stringify([...emails]), JSON.stringify([...phones]))
    return { contacts, links }
  }

  contact(id: number): StoredContact | null {
    return this.#s.contactById.get(id) ?? null
  }

  lineage(scope: HistoryScope): LineageEvent[] {
    return this.#s.lineage
      .all(JSON.stringify(scope.contactIds), scope.before ?? NO_BOUND)
      .map((r) => ({ eventId: r.eventId, members: r.members === null ? [] : (JSON.parse(r.members) as number[]) }))
  }

  events(scopes: readonly HistoryScope[], after: number, limit: number): StoredEvent[] {
    if (scopes.length === 0) return []
    const params: unknown[] = []
    for (const s of scopes) params.push(JSON.stringify(s.contactIds), s.before ?? NO_BOUND)
    params.push(after, limit)
    return this.#s
      .eventsInScopes(scopes.length)
      .all(...params)
      .map(toStoredEvent)
  }

  link(id: number): Link | null {
    return this.#s.linkById.get(id) ?? null
  }

  holders(kind: BlockKind, values: readonly string[]): Contact[] {
    return values.length === 0 ? [] : this.#s.holders[kind].all(JSON.stringify(values))
  }

  distinctValues(kind: BlockKind): string[] {
    return this.#s.distinctValues[kind].all()
  }

  linksNaming(kind: BlockKind, values: readonly string[]): Link[] {
    return values.length === 0 ? [] : this.#s.linksNaming[kind].all(JSON.stringify(values))
  }

  blockedValues(): BlockedValue[] {
    return this.#s.blockedValues.all()
  }

  hubs(limit: number): Hubs {
    return { values: this.#s.hubValues.all(limit), identities: this.#s.hubIdentities.all(limit) }
  }

  relink(fromRoot: number, toPrimary: number): void {
    this.#s.relink.run(toPrimary, this.#clock.stamp(), fromRoot)
  }

  softDeleteContact(id: number): void {
    const now = this.#clock.stamp()
    this.#s.softDelete.run(now, now, id)
  }

  setLinks(changes: readonly { readonly id: number; readonly linkedId: number | null }[]): void {
    const now = this.#clock.stamp()
    for (const c of changes) this.#s.setLink.run({ linkedId: c.linkedId, now, id: c.id })
  }

  deleteLinks(ids: readonly number[]): void {
    for (const id of ids) this.#s.deleteLink.run(id)
  }

  eraseContacts(ids: readonly number[]): void {
    const list = JSON.stringify(ids)
    this.#s.unlinkErased.run({ ids: list })
    this.#s.eraseContacts.run(list)
    this.erased = true
  }

  rewriteEventData(changes: readonly { readonly id: number; readonly data: EventData }[]): void {
    for (const c of changes) this.#s.rewriteEvent.run(JSON.stringify(c.data), c.id)
  }

  markUnheld(kind: BlockKind, values: readonly string[]): void {
    for (const v of values) this.#s.markUnheld.run(kind, v)
  }

  clearUnheld(kind: BlockKind, values: readonly string[]): void {
    for (const v of values) this.#s.clearUnheld.run(kind, v)
  }

  insertBlockedValue(entry: NewBlockedValue): BlockedValue {
    const row = this.#s.insertBlocked.get(entry.kind, entry.value, entry.pattern, entry.source, this.#clock.stamp())
    this.#s.bumpBlocklist.run()
    this.#blocklist.stale = true
    return row as BlockedValue
  }

  deleteBlockedValue(id: number): void {
    this.#s.deleteBlocked.run(id)
    this.#s.bumpBlocklist.run()
    this.#blocklist.stale = true
  }

  insertContact(c: NewContact): Created {
    const createdAt = this.#clock.stamp(c.notBefore)
    const result = this.#s.insertContact.run(c.email, c.phoneNumber, c.linkedId, c.linkPrecedence, createdAt, createdAt)
    return { id: Number(result.lastInsertRowid), createdAt }
  }

  insertLink(email: string, phoneNumber: string): void {
    this.#s.insertLink.run(email, phoneNumber, this.#clock.stamp())
  }

  appendEvent(event: NewEvent): void {
    const { shown, members } = splitRoles(event.contacts)
    const result = this.#s.insertEvent.run(
      event.type,
      this.#clock.stamp(),
      this.requestId,
      JSON.stringify(shown.map((c) => [c.id, c.role])),
      members.length === 0 ? null : JSON.stringify(members),
      JSON.stringify(event.data),
    )
    const eventId = Number(result.lastInsertRowid)
    for (const id of members) this.#s.insertEventContact.run(id, eventId, 1)
    for (const c of shown) this.#s.insertEventContact.run(c.id, eventId, 0)
  }
}

/** An import batch: reads are local and cheap, so the importer asks value by value (no prefetch). */
class SqliteBatchTx extends SqliteTx implements BatchTx {
  readonly #s: Statements
  readonly #clock: Stamper
  readonly #blocklist: BlocklistState
  constructor(
    statements: Statements,
    clock: Stamper,
    blocklist: BlocklistState,
    readonly start: BatchStart,
  ) {
    super(statements, clock, blocklist, null)
    this.#s = statements
    this.#clock = clock
    this.#blocklist = blocklist
  }

  forRequest(requestId: string): Tx {
    return new SqliteTx(this.#s, this.#clock, this.#blocklist, requestId)
  }
}

/** Shown contacts (with roles) and member ids: the roles a stored event keeps apart. */
export function splitRoles(contacts: readonly EventContact[]): { shown: EventContact[]; members: number[] } {
  const shown: EventContact[] = []
  const members: number[] = []
  for (const c of contacts) {
    if (c.role === 'member') members.push(c.id)
    else shown.push(c)
  }
  return { shown, members }
}

function toStoredEvent(r: EventRow): StoredEvent {
  return {
    id: r.id,
    type: r.type,
    at: r.at,
    requestId: r.requestId,
    contacts: (JSON.parse(r.contacts) as [number, EventRole][]).map(([id, role]) => ({ id, role })),
    data: JSON.parse(r.data) as StoredEvent['data'],
  }
}

type Mode = RunOptions['mode'] | 'batch'

interface Job {
  readonly mode: Mode
  readonly work: (tx: SqliteTx) => Promise<unknown>
  readonly requestId: string | null
  readonly kind: string
  readonly resolve: (value: unknown) => void
  readonly reject: (err: unknown) => void
}

/** Counters since the store opened: how group commit is doing (tests and diagnostics). */
export interface SqliteStoreStats {
  /** Transactions committed. */
  commits: number
  /** Units committed, alone or in groups. */
  units: number
  /** The most units one transaction committed. */
  largestGroup: number
}

export class SqliteStore implements Store {
  readonly engine = 'sqlite'
  readonly stats: SqliteStoreStats = { commits: 0, units: 0, largestGroup: 0 }
  /** The underlying connection, for tests that inspect the file. */
  readonly db: Database.Database
  readonly #lockWaitMs: number
  readonly #observer: StoreObserver | undefined
  readonly #s: Statements
  readonly #blocklist = new BlocklistState()
  #checkpointer: Checkpointer | null = null
  /** Why the last write failed for want of space or I/O, until a write succeeds again. */
  #cannotWrite: string | null = null
  readonly #queue: Job[] = []
  #draining: Promise<void> | null = null
  /** `data_version` and `total_changes()` after the last batch: whether its reads still hold. */
  #afterLastBatch: { dataVersion: number; changes: number } | null = null
  #closed = false

  constructor(options: SqliteStoreOptions) {
    this.#lockWaitMs = options.lockWaitMs ?? 15000
    this.#observer = options.observer
    const inMemory = options.path === ':memory:' || options.path.startsWith('file::memory:')
    if (!inMemory) {
      try {
        mkdirSync(dirname(options.path), { recursive: true })
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        const hint = code === 'ENOTDIR' || code === 'EEXIST' ? ' (a part of that path is a file, not a folder)' : ''
        throw storageError(err, `cannot create the folder for the SQLite database at ${options.path}${hint}`)
      }
    }
    try {
      this.db = new Database(options.path)
    } catch (err) {
      const hint = isDirectory(options.path) ? ' (that is a folder: DATABASE_URL must name a file in it)' : ''
      throw storageError(err, `cannot open the SQLite database at ${options.path}${hint}`)
    }
    const db = this.db
    // A generous wait while opening and migrating, when several processes may start together.
    db.pragma('busy_timeout = 10000')
    if (!inMemory) db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${options.synchronous ?? 'normal'}`)
    // Deleted content is overwritten in the file, so an erased value is not left in free pages.
    db.pragma('secure_delete = ON')
    if (options.cacheSizeKiB !== undefined) db.pragma(`cache_size = -${options.cacheSizeKiB}`)
    migrate(db)
    if (!inMemory) {
      // Commits only append to the log; the checkpointer thread copies it into the file.
      db.pragma('wal_autocheckpoint = 0')
      this.#checkpointer = new Checkpointer({ path: options.path })
    }
    // In steady state a busy lock is retried asynchronously (see #attempt), not waited for here.
    db.pragma('busy_timeout = 0')
    this.#s = new Statements(db)
  }

  run<T>(unit: Unit<T>, options: RunOptions): Promise<T> {
    return this.#enqueue(options.mode, unit, options.requestId ?? null, options.kind ?? options.mode)
  }

  /** SQLite batches take the write lock up front (BEGIN IMMEDIATE), so they never lose a race. */
  batch<T>(work: (tx: BatchTx) => Promise<T>): Promise<T> {
    return this.#enqueue('batch', (tx) => work(tx as SqliteBatchTx), null, 'import')
  }

  #enqueue<T>(mode: Mode, work: (tx: SqliteTx) => Promise<T>, requestId: string | null, kind: string): Promise<T> {
    if (this.#closed) return Promise.reject(closedError())
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ mode, work, requestId, kind, resolve: resolve as (value: unknown) => void, reject })
      // Start draining once the requests that arrived in this turn of the event loop have queued,
      // so that they share one transaction (setImmediate is no timer: an idle store starts at once).
      if (this.#draining === null)
        this.#draining = new Promise((done) => setImmediate(() => void this.#drain().then(done)))
    })
  }

  /**
   * Runs the queue. Consecutive requests are grouped into one transaction, each in its own
   * savepoint (group commit): one COMMIT writes their pages to the log once instead of once each.
   * An import batch, or a request alone in the queue, runs in a transaction of its own.
   */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const first = this.#queue[0] as Job
        if (first.mode === 'batch' || this.#queue.length === 1) {
          this.#queue.shift()
          await this.#runAlone(first)
          continue
        }
        const group: Job[] = []
        while (group.length < MAX_GROUP && this.#queue.length > 0 && (this.#queue[0] as Job).mode !== 'batch') {
          group.push(this.#queue.shift() as Job)
        }
        await this.#runGroup(group)
      }
    } finally {
      this.#draining = null
    }
  }

  async #runAlone(job: Job): Promise<void> {
    const started = performance.now()
    let ok = false
    try {
      job.resolve(await this.#withLock(job.mode, job.work, job.requestId))
      ok = true
      if (job.mode !== 'read') this.#cannotWrite = null
    } catch (err) {
      this.#noteWriteFailure(err)
      job.reject(storageError(err, 'the SQLite database failed'))
    }
    this.#observer?.unit('sqlite', job.kind, (performance.now() - started) / 1000, ok)
  }

  /**
   * One transaction for a group of requests, each unit in a savepoint: a unit that fails is rolled
   * back to its savepoint and its caller gets its own error while the others go on; if SQLite rolled
   * back the whole transaction (it does on some errors), that unit fails and the others are rerun.
   * Nothing is answered before the COMMIT returns — a 200 still means committed — and a failed
   * COMMIT fails every unit of the group (nothing of it was committed). A group holds the lock for
   * at most MAX_GROUP_MS: the units it did not reach go back to the head of the queue.
   */
  async #runGroup(jobs: Job[]): Promise<void> {
    const started = performance.now()
    // Units SQLite's own rollback of the whole transaction took down: failed for good, not rerun.
    const lost = new Map<Job, unknown>()
    let failed = new Map<Job, unknown>()
    let pending = jobs
    let done: { job: Job; value: unknown }[] = []
    let erased = false
    try {
      await this.#withRetry(async (attempt) => {
        for (;;) {
          done = []
          failed = new Map()
          erased = false
          const writes = pending.some((j) => j.mode === 'write')
          this.db.exec(attempt > 0 && writes ? 'BEGIN IMMEDIATE' : 'BEGIN')
          let rerun = false
          try {
            if (this.#blocklist.stale) this.#readBlocklist()
            const began = performance.now()
            for (const [i, job] of pending.entries()) {
              if (i > 0 && performance.now() - began > MAX_GROUP_MS) {
                // The rest waits for the next group, in queue order.
                this.#queue.unshift(...pending.slice(i))
                pending = pending.slice(0, i)
                break
              }
              this.#s.savepoint.run()
              try {
                const tx = await this.#unitInSavepoint(job)
                done.push({ job, value: tx.value })
                erased ||= tx.erased
                this.#s.release.run()
              } catch (err) {
                if (busyCode(err) !== null) throw err
                if (!this.db.inTransaction) {
                  lost.set(job, err)
                  rerun = true
                  break
                }
                failed.set(job, err)
                this.#s.rollbackTo.run()
                this.#s.release.run()
              }
            }
            if (rerun) {
              pending = pending.filter((j) => !lost.has(j))
              continue
            }
            this.#commit()
            this.#counted(done.length)
            return
          } catch (err) {
            if (this.db.inTransaction) this.db.exec('ROLLBACK')
            throw err
          }
        }
      })
    } catch (err) {
      // The group did not commit: every unit that had not failed on its own fails with the storage error.
      const failure = storageError(err, 'the SQLite database failed')
      for (const job of pending) if (!failed.has(job)) failed.set(job, failure)
      done = []
    }
    if (erased) this.#afterErasure()
    const seconds = (performance.now() - started) / 1000
    for (const { job, value } of done) {
      job.resolve(value)
      this.#observer?.unit('sqlite', job.kind, seconds, true)
    }
    if (done.length > 0) this.#cannotWrite = null
    for (const [job, err] of [...lost, ...failed]) {
      this.#noteWriteFailure(err)
      job.reject(storageError(err, 'the SQLite database failed'))
      this.#observer?.unit('sqlite', job.kind, seconds, false)
    }
  }

  /** One unit inside the group's savepoint; a stale block list is read again and the unit rerun. */
  async #unitInSavepoint(job: Job): Promise<{ value: unknown; erased: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const tx = new SqliteTx(this.#s, new Clock(this.#s.newest), this.#blocklist, job.requestId)
      try {
        const value = await job.work(tx)
        return { value, erased: tx.erased }
      } catch (err) {
        if (!(err instanceof BlocklistChanged) || attempt >= 3 || !this.db.inTransaction) throw err
        this.#s.rollbackTo.run()
        this.#readBlocklist()
      }
    }
  }

  /**
   * One transaction around `work`, retried while another process holds the lock. A `write` unit
   * starts deferred: most requests change nothing and never take the write lock, and one that does
   * upgrades in place, which SQLite refuses (SQLITE_BUSY_SNAPSHOT) if another process committed
   * since our read. Retries take the lock up front, so a unit under contention waits its turn
   * instead of losing the race again.
   */
  async #withLock<T>(mode: Mode, work: (tx: SqliteTx) => Promise<T>, requestId: string | null): Promise<T> {
    return this.#withRetry(async (attempt) => {
      if (this.#closed) throw closedError()
      const immediate = mode === 'batch' || (mode === 'write' && attempt > 0)
      this.db.exec(immediate ? 'BEGIN IMMEDIATE' : 'BEGIN')
      try {
        // A batch holds the write lock from the start, so the list it reads now stays current.
        if (this.#blocklist.stale || mode === 'batch') this.#readBlocklist()
        const clock = new Clock(this.#s.newest)
        const tx =
          mode === 'batch'
            ? new SqliteBatchTx(this.#s, clock, this.#blocklist, this.#batchStart())
            : new SqliteTx(this.#s, clock, this.#blocklist, requestId)
        const value = await work(tx)
        this.#commit()
        this.#counted(1)
        if (mode === 'batch') this.#afterLastBatch = this.#versions()
        if (tx.erased) this.#afterErasure()
        return value
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK')
        throw err
      }
    })
  }

  #noteWriteFailure(err: unknown): void {
    const code = sqliteCode(err)
    if (code !== null && WRITE_FAILURES.test(code)) this.#cannotWrite = code
  }

  /** A COMMIT that fails committed nothing: whatever SQLite's reason, its units answer 503. */
  #commit(): void {
    try {
      this.db.exec('COMMIT')
    } catch (err) {
      if (busyCode(err) !== null) throw err
      const code = (err as { code?: unknown }).code
      const why =
        code === 'SQLITE_FULL' ? ': the disk is full (SQLITE_FULL)' : typeof code === 'string' ? ` (${code})` : ''
      throw new AppError('ERR_STORAGE_UNAVAILABLE', `the SQLite database could not commit${why}; nothing was changed`, {
        cause: err,
      })
    }
  }

  #counted(units: number): void {
    this.stats.commits++
    this.stats.units += units
    if (units > this.stats.largestGroup) this.stats.largestGroup = units
  }

  /** The shared policy, for SQLite: another process's lock, and a block list read too late. */
  async #withRetry<T>(work: (attempt: number) => Promise<T>): Promise<T> {
    const began = performance.now()
    let waited = false
    const result = await withRetry(work, {
      reasonOf: (err) => {
        if (err instanceof BlocklistChanged) return 'blocklist_changed'
        const code = busyCode(err)
        if (code === null) return null
        waited = true
        return code === 'SQLITE_BUSY_SNAPSHOT' ? 'sqlite_busy_snapshot' : 'sqlite_busy'
      },
      deadlineMs: this.#lockWaitMs,
      maxAttempts: Number.POSITIVE_INFINITY,
      capMs: 25,
      stopped: () => this.#closed,
      onRetry: (reason) => this.#observer?.retry('sqlite', reason),
      exhausted: (err) =>
        this.#closed
          ? closedError()
          : new AppError(
              'ERR_STORAGE_UNAVAILABLE',
              `the SQLite database stayed locked by another process for ${this.#lockWaitMs} ms`,
              { cause: err },
            ),
    })
    if (waited) this.#observer?.lockWait((performance.now() - began) / 1000)
    return result
  }

  #readBlocklist(): void {
    const version = this.#s.blocklistVersion.get() as number
    if (version !== this.#blocklist.version) this.#blocklist.list = new BlockList(this.#s.blockedValues.all())
    this.#blocklist.version = version
    this.#blocklist.stale = false
  }

  /**
   * Erased rows are gone from the tables but their old pages are still in the write-ahead log (and,
   * without secure_delete, in free pages): checkpoint and truncate the log so the file holds the
   * only copy, overwritten (docs/erasure.md says what this does and does not reach).
   */
  #afterErasure(): void {
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)')
    } catch {
      // Another process reading the log keeps it; its pages are reused as the log wraps.
    }
  }

  /**
   * Read with the lock held: `PRAGMA data_version` changes when another connection committed, and
   * `total_changes()` when this one did outside a batch; either makes earlier batches' reads stale.
   */
  #batchStart(): BatchStart {
    const now = this.#versions()
    const last = this.#afterLastBatch
    const othersWrote = last !== null && now.dataVersion !== last.dataVersion
    const cacheValid = last !== null && !othersWrote && now.changes === last.changes
    const empty = this.#s.newest.get() === undefined
    return { cacheValid, othersWrote, empty }
  }

  #versions(): { dataVersion: number; changes: number } {
    return {
      dataVersion: this.db.pragma('data_version', { simple: true }) as number,
      changes: this.db.prepare<[], number>('SELECT total_changes()').pluck().get() as number,
    }
  }

  async *exportRows(): AsyncIterable<ExportRow> {
    // One statement is one read snapshot; iterating it holds the connection until it ends.
    for (const row of this.db.prepare<[], ExportRow & { ord: number }>(SQL.EXPORT_ROWS).iterate()) {
      const { ord: _, ...rest } = row
      yield rest as ExportRow
    }
  }

  async listContacts(): Promise<StoredContact[]> {
    return this.db.prepare<[], StoredContact>(`SELECT ${SQL.STORED_COLUMNS} FROM contact ORDER BY id`).all()
  }

  async listLinks(): Promise<Link[]> {
    return this.db
      .prepare<[], Link>('SELECT id, email, phone_number AS phoneNumber, created_at AS createdAt FROM link ORDER BY id')
      .all()
  }

  async listEvents(): Promise<StoredEvent[]> {
    return this.db.prepare<[], EventRow>(`SELECT ${SQL.EVENT_COLUMNS} FROM event ORDER BY id`).all().map(toStoredEvent)
  }

  async schemaVersion(): Promise<number> {
    return this.db.prepare<[], number>('SELECT max(version) FROM schema_migrations').pluck().get() ?? 0
  }

  /**
   * Readiness: the file answers a read, and — after a write failed for want of space or I/O — a
   * write again (a one-row update, rolled into the queue like any unit). A store that cannot write
   * is not ready, even though it still reads.
   */
  async ping(): Promise<void> {
    if (this.#closed) throw closedError()
    try {
      this.db.prepare('SELECT count(*) FROM schema_migrations').get()
    } catch (err) {
      throw storageError(err, 'the SQLite database does not answer')
    }
    if (this.#cannotWrite === null) return
    // The file must grow by a page and a commit reach the log: insert and remove a page of zeros.
    await this.#enqueue(
      'write',
      async () => {
        this.db.prepare('INSERT INTO write_probe (x) VALUES (zeroblob(8192))').run()
        this.db.prepare('DELETE FROM write_probe').run()
      },
      null,
      'probe',
    )
  }

  async close(): Promise<void> {
    if (this.#closed) return
    // Queued units finish first; new ones are refused from now on.
    this.#closed = true
    await this.#draining
    await this.#checkpointer?.stop()
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
      if (m.step === 'reconstruct-links') reconstructLinks(db)
      record.run(m.version, m.name, Date.now())
    }
  }).immediate()
}

function reconstructLinks(db: Database.Database): void {
  // The iteration holds the connection, so the plan is collected before it is written. Only the
  // tables of schema 2 exist yet: the statements are its own, not the store's.
  const rows = db
    .prepare<[], StoredContact>(
      `SELECT ${SQL.STORED_COLUMNS} FROM contact WHERE deleted_at IS NULL ORDER BY coalesce(linked_id, id), id`,
    )
    .iterate()
  const planned = [...linksToReconstruct(rows)]
  const insertLink = db.prepare(SQL.INSERT_LINK)
  const insertEvent = db.prepare(SQL.INSERT_EVENT)
  const insertEventContact = db.prepare(SQL.INSERT_EVENT_CONTACT)
  for (const link of planned) {
    insertLink.run(link.email, link.phoneNumber, link.createdAt)
    const { shown } = splitRoles(link.event.contacts)
    const event = insertEvent.run(
      link.event.type,
      link.createdAt,
      null,
      JSON.stringify(shown.map((c) => [c.id, c.role])),
      null,
      JSON.stringify(link.event.data),
    )
    for (const c of shown) insertEventContact.run(c.id, Number(event.lastInsertRowid), 0)
  }
}

/** Failures that mean the file cannot take writes now: no space, I/O errors, read-only, gone. */
const WRITE_FAILURES = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/

function sqliteCode(err: unknown): string | null {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return code
  }
  return null
}

function busyCode(err: unknown): string | null {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' && BUSY_CODES.has(code) ? code : null
}

function closedError(): AppError {
  return new AppError('ERR_STORAGE_UNAVAILABLE', 'the database is closed (shutting down)')
}

/** Driver failures become `ERR_STORAGE_UNAVAILABLE` (disk full, I/O error, file gone, read-only…). */
function storageError(err: unknown, message: string): Error {
  if (err instanceof AppError) return err
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new AppError('ERR_STORAGE_UNAVAILABLE', `${message}: ${(err as Error).message}`, { cause: err })
  }
  if (code === 'SQLITE_FULL') {
    return new AppError('ERR_STORAGE_UNAVAILABLE', `${message}: the disk is full (SQLITE_FULL); nothing was changed`, {
      cause: err,
    })
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_') && !code.startsWith('SQLITE_CONSTRAINT')) {
    return new AppError('ERR_STORAGE_UNAVAILABLE', `${message} (${code})`, { cause: err })
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    return closedError()
  }
  return err as Error
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
