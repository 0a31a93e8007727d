/**
 * The operator's read units (SPEC §7): an identity by contact or value, a contact, an identity's
 * history, and the chain that joins two contacts. None of them writes.
 */
import { AppError } from '../errors.ts'
import { shortestPath } from '../identity/graph.ts'
import type { HistoryScope, IdentityRecord, IdentitySelector, Tx } from '../store/port.ts'
import { eventJson, type IdentityJson, identityJson, storedContactJson } from './views.ts'

export const HISTORY_DEFAULT_LIMIT = 50
export const HISTORY_MAX_LIMIT = 500

function describe(selector: IdentitySelector): string {
  if ('contactId' in selector) return `no live contact has id ${selector.contactId}`
  if ('email' in selector) return 'no live contact has that email'
  return 'no live contact has that phone number'
}

async function mustFind(tx: Tx, selector: IdentitySelector): Promise<IdentityRecord> {
  const record = await tx.identity(selector)
  if (record === null) throw new AppError('ERR_NOT_FOUND', describe(selector))
  return record
}

/**
 * @example
 * await store.run((tx) => readIdentity(tx, { email: 'doc@hillvalley.edu' }), { mode: 'read' })
 */
export async function readIdentity(tx: Tx, selector: IdentitySelector): Promise<IdentityJson> {
  const record = await mustFind(tx, selector)
  const json = identityJson(record)
  // A value joins everyone who holds it (I2) unless it is blocked: then several identities may hold
  // it, and the answer (the oldest holder's) names the others rather than hide them.
  const [kind, value] =
    'email' in selector
      ? (['email', selector.email] as const)
      : 'phoneNumber' in selector
        ? (['phoneNumber', selector.phoneNumber] as const)
        : [null, null]
  if (kind !== null && tx.blocklist().blocks(kind, value)) {
    const primary = json.contact.primaryContatctId
    const others = new Set((await tx.holders(kind, [value])).map((c) => c.linkedId ?? c.id))
    others.delete(primary)
    if (others.size > 0) json.otherIdentities = [...others].sort((a, b) => a - b)
  }
  return json
}

export async function readContact(tx: Tx, id: number) {
  const contact = await tx.contact(id)
  if (contact === null) throw new AppError('ERR_NOT_FOUND', `there is no contact with id ${id}`)
  return storedContactJson(contact)
}

/**
 * The scopes of an identity's history: its contacts' events, and for every event that recorded the
 * members of an identity it came from (a split, a deletion), those members' events from before it,
 * recursively. So each part of a split keeps the whole history from before, and no part sees the
 * other's events after (SPEC §7).
 */
export async function historyScopes(tx: Tx, contactIds: readonly number[]): Promise<HistoryScope[]> {
  const scopes: HistoryScope[] = [{ contactIds, before: null }]
  const expanded = new Set<number>()
  for (let i = 0; i < scopes.length; i++) {
    for (const { eventId, members } of await tx.lineage(scopes[i] as HistoryScope)) {
      if (expanded.has(eventId)) continue
      expanded.add(eventId)
      scopes.push({ contactIds: members, before: eventId })
    }
  }
  return scopes
}

export interface HistoryPage {
  events: Record<string, unknown>[]
  next: number | null
}

/**
 * One page of the history of the identity holding `contactId`, oldest first, after the cursor.
 *
 * @example
 * const { events, next } = await store.run((tx) => readHistory(tx, 7, { after: 0, limit: 50 }), { mode: 'read' })
 */
export async function readHistory(
  tx: Tx,
  contactId: number,
  page: { after: number; limit: number },
): Promise<HistoryPage> {
  const record = await mustFind(tx, { contactId })
  const scopes = await historyScopes(
    tx,
    record.contacts.map((c) => c.id),
  )
  const events = await tx.events(scopes, page.after, page.limit + 1)
  const more = events.length > page.limit
  const shown = more ? events.slice(0, page.limit) : events
  return { events: shown.map(eventJson), next: more ? (shown.at(-1)?.id ?? null) : null }
}

/**
 * The shortest chain joining two live contacts of one identity (SPEC §7 "Explain").
 *
 * @example
 * await store.run((tx) => explain(tx, 1, 9), { mode: 'read' }) // { path: [{ contactId: 1 }, …] }
 */
export async function explain(tx: Tx, fromId: number, toId: number) {
  const record = await mustFind(tx, { contactId: fromId })
  if (!record.contacts.some((c) => c.id === toId)) {
    const other = await tx.identity({ contactId: toId })
    if (other === null) throw new AppError('ERR_NOT_FOUND', `no live contact has id ${toId}`)
    throw new AppError(
      'ERR_NOT_SAME_IDENTITY',
      `contacts ${fromId} and ${toId} belong to different identities (primaries ${record.contacts[0]?.id} and ${other.contacts[0]?.id})`,
    )
  }
  const path = shortestPath(record.contacts, record.links, fromId, toId)
  if (path === null) {
    // I2 says one identity is one component; a store that breaks it is a fault, not the client's.
    throw new Error(`contacts ${fromId} and ${toId} share a primary but no chain joins them`)
  }
  return { path }
}
