/**
 * Schema 2's code step: a database written before links existed holds identities merged by requests
 * that left no row. For each such identity this plans the links those requests must have stored
 * (`missingLinks`), each with an `identity.merged` event marked migrated, so that I2 holds over
 * stored data from the first start. The adapters read the identities and write the plan.
 */
import type { StoredContact } from '../identity/contact.ts'
import type { NewEvent } from '../identity/events.ts'
import { missingLinks } from '../identity/graph.ts'

export interface PlannedLink {
  readonly email: string
  readonly phoneNumber: string
  /** When the merge happened at the latest known: the last relink of the part it joined (`updatedAt`). */
  readonly createdAt: number
  readonly event: NewEvent
}

/**
 * The links one identity (its live contacts, any order) needs.
 *
 * @example
 * planLinks(contactsOfIdentity) // [] for an identity its contacts already join
 */
export function planLinks(identity: readonly StoredContact[]): PlannedLink[] {
  if (identity.length < 2) return []
  const primary = identity.find((c) => c.linkedId === null)
  if (primary === undefined) return []
  return missingLinks(identity).map(({ email, phoneNumber, part }) => {
    const merged = part[0] as StoredContact
    let createdAt = 0
    for (const c of part as readonly StoredContact[]) createdAt = Math.max(createdAt, c.updatedAt)
    return {
      email,
      phoneNumber,
      createdAt,
      event: {
        type: 'identity.merged',
        contacts: [
          { id: primary.id, role: 'survivor' },
          { id: merged.id, role: 'merged' },
        ],
        data: { via: { link: { email, phoneNumber } }, migrated: true },
      },
    }
  })
}

/**
 * Feeds `planLinks` from rows ordered by identity root, one identity in memory at a time.
 *
 * @example
 * for (const link of linksToReconstruct(rowsByRoot)) insert(link)
 */
export function* linksToReconstruct(rows: Iterable<StoredContact>): Generator<PlannedLink> {
  let group: StoredContact[] = []
  let root: number | null = null
  for (const row of rows) {
    const rowRoot = row.linkedId ?? row.id
    if (rowRoot !== root) {
      yield* planLinks(group)
      group = []
      root = rowRoot
    }
    group.push(row)
  }
  yield* planLinks(group)
}
