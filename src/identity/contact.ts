/**
 * The contact and the link as the reconciliation rules see them (SPEC §2, §6). Timestamps are epoch
 * milliseconds so that every engine and the batch importer compare them the same way.
 */

export type LinkPrecedence = 'primary' | 'secondary'

export interface Contact {
  readonly id: number
  readonly email: string | null
  readonly phoneNumber: string | null
  readonly linkedId: number | null
  readonly linkPrecedence: LinkPrecedence
  readonly createdAt: number
}

/** A stored row: the rules' view plus bookkeeping. */
export interface StoredContact extends Contact {
  readonly updatedAt: number
  readonly deletedAt: number | null
}

/**
 * The evidence a merge leaves (SPEC §6): the request's email and phone number, which belonged to two
 * identities. It joins a live contact holding `email` with one holding `phoneNumber`.
 */
export interface Link {
  readonly id: number
  readonly email: string
  readonly phoneNumber: string
  readonly createdAt: number
}

/** The `/identify` answer for one identity, key spelt as the task spells it. */
export interface IdentityView {
  readonly primaryContatctId: number
  readonly emails: string[]
  readonly phoneNumbers: string[]
  readonly secondaryContactIds: number[]
}

/** Oldest first: `createdAt`, then `id` (I3's order). */
export function byAge(a: Contact, b: Contact): number {
  return a.createdAt - b.createdAt || a.id - b.id
}
