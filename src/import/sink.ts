/**
 * The importer's engine seam. The engine (engine.ts) owns the rules and the in-memory index; a sink
 * owns one engine's transactions and statements. SQLite is sqlite-sink.ts; a PostgreSQL sink
 * implements the same interface (see docs/cli.md for what it must guarantee).
 */
import type { Contact } from '../identity/contact.ts'
import type { NewContact } from '../identity/reconcile.ts'
import type { Engine } from '../store/store.ts'

export type Awaitable<T> = T | Promise<T>

/** What a sink reports when a batch transaction opens. */
export interface BatchStart {
  /**
   * True when someone else may have changed the store since this sink's previous batch committed
   * (and on the first batch): every cached identity must be dropped.
   */
  readonly changed: boolean
  /** The store holds no contact at all: a value missing from the cache is missing, no look-up needed. */
  readonly empty: boolean
  /** The newest contact's `createdAt` (0 when none), so imported rows are never stamped older. */
  readonly newestCreatedAt: number
  /**
   * Someone else wrote since the previous batch, so batches should stay short. Defaults to
   * `changed`; a sink that never trusts its cache (PostgreSQL) reports `changed` always and this apart.
   */
  readonly othersWrote?: boolean
  /** The store's own clock (epoch ms) when the batch began; the importer's clock when absent. */
  readonly clock?: number
}

/**
 * One engine's side of the import. Between `begin` and `commit` the sink holds the store's write
 * lock (or an equivalent serialisation), so what it reads stays true until it commits.
 */
export interface ImportSink {
  readonly engine: Engine
  /** Opens a write transaction, waiting for other writers. */
  begin(): Promise<BatchStart>
  /** Primary ids of the identities holding a live contact with this email or phone number. */
  rootsOf(field: 'email' | 'phoneNumber', value: string): Awaitable<number[]>
  /** Every live contact of the identity whose primary id is `root`. */
  identity(root: number): Awaitable<Contact[]>
  /** Rule 2: `demotedId` and its secondaries become secondaries of `primaryId`. */
  demote(primaryId: number, demotedId: number, now: number): Awaitable<void>
  /** Rules 1 and 3: stores the contact; returns the id the store gave it. */
  insert(contact: NewContact): Awaitable<number>
  /**
   * Optional bulk read: every live contact of every identity holding one of these emails or phone
   * numbers. When a sink has it, the engine calls it once per batch with the values its index does
   * not know, so the per-row path never waits on a round trip (PostgreSQL).
   */
  prefetch?(emails: readonly string[], phoneNumbers: readonly string[]): Promise<Contact[]>
  /** True when `err` means the batch lost a race with another writer and may simply be rerun. */
  isRetryable?(err: unknown): boolean
  commit(): Promise<void>
  rollback(): Promise<void>
}
