/**
 * The contact as the reconciliation rules see it (SPEC §2). Timestamps are epoch milliseconds so
 * that every engine and the batch importer compare them the same way.
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
