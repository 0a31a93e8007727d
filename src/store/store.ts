/**
 * The persistence port. Everything above `store/` talks to this interface; only the adapters know
 * which engine is underneath. Each adapter runs `identify` as one transaction that is safe against
 * any concurrency its engine allows (SPEC §4) and retries contention itself.
 */
import type { Contact, IdentityView } from '../identity/contact.ts'
import type { IdentifyInput } from '../identity/normalize.ts'

/** A stored row: the rules' view plus bookkeeping (epoch milliseconds). */
export interface StoredContact extends Contact {
  readonly updatedAt: number
  readonly deletedAt: number | null
}

export type Engine = 'sqlite' | 'postgres'

export interface ContactStore {
  readonly engine: Engine
  /**
   * Applies `/identify` rules 1–3 as one transaction and answers with the identity as it stands
   * right after this request's own change.
   *
   * @example
   * const view = await store.identify({ email: 'doc@hillvalley.edu', phoneNumber: null })
   */
  identify(input: IdentifyInput): Promise<IdentityView>
  /** Every stored row, deleted ones included, by id. For invariant checks and small exports. */
  listContacts(): Promise<StoredContact[]>
  /** Resolves when storage answers a trivial query; rejects with `ERR_STORAGE_UNAVAILABLE` otherwise. */
  ping(): Promise<void>
  /** Releases connections; in-flight calls finish first. */
  close(): Promise<void>
}
