/**
 * The persistence port. The service (src/service/) writes each request's unit of work once, as a
 * function of a `Tx`: the small transactional interface below. An engine adapter only runs a unit at
 * the right isolation, retries contention with the one shared policy (retry.ts), and holds the SQL
 * that differs. Only `store/` knows which engine is underneath.
 */
import { AppError } from '../errors.ts'
import type { BlockedValue, BlockKind, BlockList } from '../identity/blocklist.ts'
import type { Contact, Link, StoredContact } from '../identity/contact.ts'
import type { EventData, NewEvent, StoredEvent } from '../identity/events.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import type { Created, NewContact } from '../identity/reconcile.ts'

export type Engine = 'sqlite' | 'postgres'

/** SQLite answers synchronously, PostgreSQL asynchronously; units always `await`. */
export type Awaitable<T> = T | Promise<T>

/** Which identity to read: the one holding a live contact, or a value. */
export type IdentitySelector =
  | { readonly contactId: number }
  | { readonly email: string }
  | { readonly phoneNumber: string }

/** An identity as stored: its live contacts oldest first, and the links naming any of its values. */
export interface IdentityRecord {
  readonly contacts: StoredContact[]
  readonly links: Link[]
}

/** What `loadTouched` finds for a request. */
export interface Touched {
  /**
   * Every live contact of every identity the request touches: those holding its email or phone
   * number, and those a link joins to a value of it that no live contact holds (SPEC §6: a link
   * joins again once a live contact holds its value — the request's new contact will).
   */
  readonly contacts: Contact[]
  /** How each identity reached only through a link was reached, so a blocked value's link can be dropped. */
  readonly throughLinks: readonly LinkPartner[]
}

/** A link met by a read: its values, and the root of the identity holding its *other* value. */
export interface LinkPartner {
  readonly root: number
  readonly email: string
  readonly phoneNumber: string
  /** Which of its values the read asked for. */
  readonly side: 'email' | 'phoneNumber'
}

/** A prefetch: the identities, and every link naming an asked value with the root of its other value's holder. */
export interface Prefetched {
  readonly contacts: Contact[]
  readonly links: readonly LinkPartner[]
}

export const NOTHING_TOUCHED: Touched = { contacts: [], throughLinks: [] }

/** Events concerning any of `contactIds` with an id below `before` (null: no bound). */
export interface HistoryScope {
  readonly contactIds: readonly number[]
  readonly before: number | null
}

/** An event that records an identity's members before a change that may split it. */
export interface LineageEvent {
  readonly eventId: number
  readonly members: readonly number[]
}

/** `GET /insights/hubs`: where junk hides (SPEC §9). */
export interface Hubs {
  readonly values: readonly { kind: BlockKind; value: string; contacts: number }[]
  readonly identities: readonly { primaryContatctId: number; contacts: number }[]
}

/** A block-list entry to store. */
export type NewBlockedValue = Omit<BlockedValue, 'id' | 'createdAt'>

/**
 * The block list changed since the store last read it: the unit decided with a stale one. The store
 * refreshes its copy and reruns the unit.
 */
export class BlocklistChanged extends Error {
  readonly code = 'BLOCKLIST_CHANGED'
  constructor() {
    super('the block list changed while the unit ran')
    this.name = 'BlocklistChanged'
  }
}

/**
 * The operations a unit of work runs, inside one transaction (or one savepoint of one). The
 * transaction is the value passed first: `identify(tx, input)`. Reads see the unit's own writes.
 */
export interface Tx {
  readonly engine: Engine
  /** The request this unit serves, carried into every event it appends. */
  readonly requestId: string | null

  /**
   * The block list as the store last read it (no I/O). A unit that filters with it must also call
   * `loadTouched`, which confirms it is still current in the same read (or throws
   * `BlocklistChanged`, and the unit is rerun with the new one).
   */
  blocklist(): BlockList
  /**
   * Every live contact of every identity holding the input's email or phone number (rule 2's input),
   * and confirmation that `blocklist()` is current (with both values null, only that).
   */
  loadTouched(input: IdentifyInput): Awaitable<Touched>
  /** The identity holding a live contact or a value, with its links; null when none does. */
  identity(selector: IdentitySelector): Awaitable<IdentityRecord | null>
  /** One contact, live or deleted; null when there is none (or it was erased). */
  contact(id: number): Awaitable<StoredContact | null>
  /** The splitting events in `scope`, with the members they recorded (history's lineage). */
  lineage(scope: HistoryScope): Awaitable<LineageEvent[]>
  /** Events in any of `scopes` with an id above `after`, ascending, at most `limit`. */
  events(scopes: readonly HistoryScope[], after: number, limit: number): Awaitable<StoredEvent[]>
  link(id: number): Awaitable<Link | null>
  /** Live contacts holding any of `values` (of `kind`). */
  holders(kind: BlockKind, values: readonly string[]): Awaitable<Contact[]>
  /** Every distinct value of `kind` live contacts hold (for matching a pattern). */
  distinctValues(kind: BlockKind): Awaitable<string[]>
  /** Links naming any of `values` as their `kind`. */
  linksNaming(kind: BlockKind, values: readonly string[]): Awaitable<Link[]>
  /** The block list as stored now, oldest first. */
  blockedValues(): Awaitable<BlockedValue[]>
  hubs(limit: number): Awaitable<Hubs>

  /** Rule 2: the primary `fromRoot` and its secondaries become secondaries of `toPrimary`. */
  relink(fromRoot: number, toPrimary: number): Awaitable<void>
  /** Rules 1 and 3: stores the contact, stamped no earlier than `notBefore` nor the newest contact. */
  insertContact(contact: NewContact): Awaitable<Created>
  /** SPEC §6: the evidence of a merge. */
  insertLink(email: string, phoneNumber: string): Awaitable<void>
  appendEvent(event: NewEvent): Awaitable<void>

  /** SPEC §8: the contact takes no part in matching or answers from now on. */
  softDeleteContact(id: number): Awaitable<void>
  /** Regrouping: each contact's new primary (null: it becomes a primary). */
  setLinks(changes: readonly { readonly id: number; readonly linkedId: number | null }[]): Awaitable<void>
  deleteLinks(ids: readonly number[]): Awaitable<void>
  /** Erasure: the rows removed for good. */
  eraseContacts(ids: readonly number[]): Awaitable<void>
  /** Erasure: events keep ids, types, times and contact ids; their data is replaced. */
  rewriteEventData(changes: readonly { readonly id: number; readonly data: EventData }[]): Awaitable<void>
  /** Values a link names that no live contact holds any more: a request bringing one joins the link's other side. */
  markUnheld(kind: BlockKind, values: readonly string[]): Awaitable<void>
  clearUnheld(kind: BlockKind, values: readonly string[]): Awaitable<void>
  insertBlockedValue(entry: NewBlockedValue): Awaitable<BlockedValue>
  deleteBlockedValue(id: number): Awaitable<void>
}

/** A unit of work: everything one request does, as one atomic change. Must be safe to rerun. */
export type Unit<T> = (tx: Tx) => Promise<T>

export interface RunOptions {
  /** `read` never writes (a read snapshot, no write lock); `write` may. */
  readonly mode: 'read' | 'write'
  readonly requestId?: string | null
  /** What the unit is, for metrics: `identify`, `read`, `operator`… */
  readonly kind?: string
}

/** Facts about the store when an import batch's transaction began, for the importer's cache. */
export interface BatchStart {
  /** Contacts read in earlier batches may still be trusted: nobody else wrote since, and the engine keeps them. */
  readonly cacheValid: boolean
  /** Someone else wrote since the previous batch: keep batches short. */
  readonly othersWrote: boolean
  /** The store holds no contact: a value nobody was seen holding is absent. */
  readonly empty: boolean
}

/** A unit of work over one import batch: many rows, one transaction. */
export interface BatchTx extends Tx {
  readonly start: BatchStart
  /** The same transaction, with events carrying `requestId`. */
  forRequest(requestId: string): Tx
  /**
   * Every live contact of every identity holding one of these values, in one statement. Engines
   * where a round trip costs (PostgreSQL) have it; the importer then asks once per batch.
   */
  prefetch?(emails: readonly string[], phoneNumbers: readonly string[]): Awaitable<Prefetched>
}

export interface BatchOptions {
  readonly attempts?: number
  /** The caller splits a batch that fails for lack of resources; false for a batch of one row. */
  readonly splittable?: boolean
  readonly onRetry?: () => void
}

/** An import batch kept losing races with other writers; a smaller batch may get through. */
export class BatchContentionError extends AppError {
  constructor(attempts: number, options?: ErrorOptions) {
    super(
      'ERR_STORAGE_UNAVAILABLE',
      `an import batch kept losing races with other writers after ${attempts} attempts`,
      options,
    )
  }
}

/** One line of the export: a live contact, or a link of its identity (SPEC §6). */
export type ExportRow =
  | {
      readonly kind: 'contact'
      readonly root: number
      readonly id: number
      readonly email: string | null
      readonly phoneNumber: string | null
      readonly linkPrecedence: Contact['linkPrecedence']
      readonly createdAt: number
    }
  | {
      readonly kind: 'link'
      readonly root: number
      readonly id: number
      readonly email: string
      readonly phoneNumber: string
      readonly createdAt: number
    }

/** Where a store reports its work (src/metrics.ts implements it); every method is optional to call. */
export interface StoreObserver {
  /** One unit of work finished (a request's transaction, an operator operation, an import batch). */
  unit(engine: Engine, kind: string, seconds: number, ok: boolean): void
  /** A unit was rerun: 'sqlite_busy', 'sqlite_busy_snapshot', 'pg_40001', 'pg_40P01', 'pg_23505', 'pg_stale_read', 'blocklist_changed', 'connection_lost'. */
  retry(engine: Engine, reason: string): void
  /** SQLite: how long a unit waited for another process's write lock. */
  lockWait(seconds: number): void
}

export interface Store {
  readonly engine: Engine
  /**
   * Runs `unit` as one atomic change (SPEC §4) and resolves with its result once committed.
   * Contention is retried inside; storage failures reject with `ERR_STORAGE_UNAVAILABLE`.
   *
   * @example
   * const view = await store.run((tx) => identify(tx, input), { mode: 'write', requestId })
   */
  run<T>(unit: Unit<T>, options: RunOptions): Promise<T>
  /**
   * Runs `work` over one import batch in one write transaction; rerun whole (up to `attempts`,
   * calling `onRetry` before each rerun) when it loses a race with another writer, then rejected
   * with `BatchContentionError`.
   */
  batch<T>(work: (tx: BatchTx) => Promise<T>, options?: BatchOptions): Promise<T>
  /** Every live contact and link, grouped by identity in primary-id order, from one snapshot. */
  exportRows(): AsyncIterable<ExportRow>
  /** Every stored row, deleted ones included, by id. For invariant checks and small stores. */
  listContacts(): Promise<StoredContact[]>
  listLinks(): Promise<Link[]>
  listEvents(): Promise<StoredEvent[]>
  /** The applied schema version. */
  schemaVersion(): Promise<number>
  /** Resolves when storage answers a trivial query; rejects with `ERR_STORAGE_UNAVAILABLE` otherwise. */
  ping(): Promise<void>
  /** Releases connections; queued and in-flight units finish first. */
  close(): Promise<void>
}
