/**
 * The operator's write units (SPEC §8–§9): delete a contact or a link and regroup what it joined,
 * erase an identity, block and unblock values, and the hubs report. One mechanism serves deletion
 * and blocking: recompute the identity from what still joins it (live contacts, unblocked values,
 * links) with `regroup`, and let each part that is no longer joined become its own identity.
 */
import { AppError } from '../errors.ts'
import { type BlockedValue, type BlockKind, BlockList, compilePattern, entryMatches } from '../identity/blocklist.ts'
import type { Contact, IdentityView, Link } from '../identity/contact.ts'
import type { EventContact, EventData } from '../identity/events.ts'
import { components, regroup } from '../identity/graph.ts'
import { toIdentityView } from '../identity/reconcile.ts'
import type { Tx } from '../store/port.ts'
import { historyScopes } from './reads.ts'
import { iso } from './views.ts'

export interface Remaining {
  /** The identities left where the one that was changed stood, oldest primary first. */
  identities: IdentityView[]
}

const rootOf = (c: Contact) => c.linkedId ?? c.id
const members = (contacts: readonly Contact[]): EventContact[] => contacts.map((c) => ({ id: c.id, role: 'member' }))

/** The block list as stored now, inside the unit (not the engine's copy, which may lag). */
async function currentList(tx: Tx): Promise<BlockList> {
  return new BlockList(await tx.blockedValues())
}

/**
 * Regroups one identity's remaining contacts, writes the relinks and, when it fell apart, an
 * `identity.split` recording its members before (so each part keeps the history from before).
 */
async function regroupIdentity(
  tx: Tx,
  contacts: readonly Contact[],
  links: readonly Link[],
  list: BlockList,
  before: { primaryId: number; members: readonly Contact[]; cause: EventData },
): Promise<IdentityView[]> {
  const { parts, relinks } = regroup(contacts, links, list)
  await tx.setLinks(relinks)
  if (parts.length > 1) {
    await tx.appendEvent({
      type: 'identity.split',
      contacts: [
        { id: before.primaryId, role: 'before' },
        ...parts.map((p) => ({ id: (p[0] as Contact).id, role: 'after' as const })),
        ...members(before.members),
      ],
      data: before.cause,
    })
  }
  return parts.map(asIdentity).map(toIdentityView)
}

/** A part as the flat tree regrouping makes of it: its oldest contact primary, the rest under it. */
function asIdentity(part: readonly Contact[]): Contact[] {
  const primary = part[0] as Contact
  return part.map((c) =>
    c === primary
      ? { ...c, linkedId: null, linkPrecedence: 'primary' }
      : { ...c, linkedId: primary.id, linkPrecedence: 'secondary' },
  )
}

/**
 * `DELETE /contacts/{id}`: soft-deletes one live contact and regroups the rest of its identity.
 *
 * @example
 * await store.run((tx) => deleteContact(tx, 7), { mode: 'write' }) // { identities: [<view>, <view>] }
 */
export async function deleteContact(tx: Tx, id: number): Promise<Remaining> {
  const record = await tx.identity({ contactId: id })
  if (record === null) {
    const contact = await tx.contact(id)
    throw new AppError(
      'ERR_NOT_FOUND',
      contact === null ? `there is no contact with id ${id}` : `contact ${id} is already deleted`,
    )
  }
  const list = await currentList(tx)
  const primaryId = (record.contacts[0] as Contact).id
  await tx.softDeleteContact(id)
  await tx.appendEvent({
    type: 'contact.deleted',
    contacts: [{ id, role: 'deleted' }, ...members(record.contacts)],
    data: { primaryBefore: primaryId },
  })
  const remaining = record.contacts.filter((c) => c.id !== id)
  await noteUnheld(tx, record.contacts.find((c) => c.id === id) as Contact)
  const identities = await regroupIdentity(tx, remaining, record.links, list, {
    primaryId,
    members: record.contacts,
    cause: { cause: { contactDeleted: id } },
  })
  return { identities }
}

/**
 * A deleted contact's values that no live contact holds any more but a link names: a request that
 * brings one of them later joins the link's other side again (SPEC §6), so it is listed for the
 * identify read to look up.
 */
async function noteUnheld(tx: Tx, deleted: Contact): Promise<void> {
  for (const [kind, value] of [
    ['email', deleted.email],
    ['phoneNumber', deleted.phoneNumber],
  ] as const) {
    if (value === null) continue
    if ((await tx.holders(kind, [value])).length > 0) continue
    if ((await tx.linksNaming(kind, [value])).length > 0) await tx.markUnheld(kind, [value])
  }
}

/**
 * `DELETE /links/{id}`: removes a merge that should not have been and regroups the identities that
 * hold its values.
 */
export async function deleteLink(tx: Tx, id: number): Promise<Remaining> {
  const link = await tx.link(id)
  if (link === null) throw new AppError('ERR_NOT_FOUND', `there is no link with id ${id}`)
  const list = await currentList(tx)
  const records = []
  const seen = new Set<number>()
  for (const selector of [{ email: link.email }, { phoneNumber: link.phoneNumber }]) {
    const record = await tx.identity(selector)
    if (record === null || seen.has((record.contacts[0] as Contact).id)) continue
    seen.add((record.contacts[0] as Contact).id)
    records.push(record)
  }
  await tx.deleteLinks([id])
  // A value no link names any more has nothing to wait for.
  if ((await tx.linksNaming('email', [link.email])).length === 0) await tx.clearUnheld('email', [link.email])
  if ((await tx.linksNaming('phoneNumber', [link.phoneNumber])).length === 0) {
    await tx.clearUnheld('phoneNumber', [link.phoneNumber])
  }
  await tx.appendEvent({
    type: 'link.deleted',
    contacts: records.flatMap((r) => members(r.contacts)),
    data: { link: { email: link.email, phoneNumber: link.phoneNumber } },
  })
  const identities: IdentityView[] = []
  for (const record of records) {
    const parts = await regroupIdentity(
      tx,
      record.contacts,
      record.links.filter((l) => l.id !== id),
      list,
      {
        primaryId: (record.contacts[0] as Contact).id,
        members: record.contacts,
        cause: { cause: { linkDeleted: { email: link.email, phoneNumber: link.phoneNumber } } },
      },
    )
    identities.push(...parts)
  }
  identities.sort((a, b) => a.primaryContatctId - b.primaryContatctId)
  return { identities }
}

/** Event data with every email and phone number gone: what erasure leaves (ids, types, times stay). */
export function scrubbed(data: EventData): EventData {
  const kept: Record<string, unknown> = { erased: true }
  for (const key of ['linkPrecedence', 'kind', 'blockedValueId', 'migrated', 'primaryBefore'] as const) {
    if (key in data) kept[key] = data[key]
  }
  return kept
}

/**
 * `DELETE /identities/{contactId}`: erasure for a privacy request. Its contacts — with the deleted
 * ones that were last part of it — and every link naming one of their values that no other contact
 * holds are removed for good; every event of its history keeps its id, type, time and contact ids
 * but loses its data. A value another person's contact also holds stays theirs, with its links.
 */
export async function eraseIdentity(tx: Tx, contactId: number): Promise<{ erasedContactIds: number[] }> {
  const record = await tx.identity({ contactId })
  if (record === null) throw new AppError('ERR_NOT_FOUND', `no live contact has id ${contactId}`)
  const scopes = await historyScopes(
    tx,
    record.contacts.map((c) => c.id),
  )
  const events = await tx.events(scopes, 0, Number.MAX_SAFE_INTEGER)
  const erased: Contact[] = [...record.contacts]
  const deletedIds = new Set<number>()
  for (const e of events) {
    if (e.type === 'contact.deleted') for (const c of e.contacts) if (c.role === 'deleted') deletedIds.add(c.id)
  }
  for (const id of deletedIds) {
    const contact = await tx.contact(id)
    if (contact !== null && contact.deletedAt !== null) erased.push(contact)
  }
  const erasedContactIds = erased.map((c) => c.id).sort((a, b) => a - b)
  const gone = new Set(erasedContactIds)
  // A value goes with the customer unless someone else still holds it (the same phone number at
  // another person's contact): then it is theirs too, and so are the links naming it.
  const onlyTheirs = async (kind: 'email' | 'phoneNumber', values: Iterable<string>) => {
    const out: string[] = []
    for (const v of new Set(values)) {
      if ((await tx.holders(kind, [v])).every((h) => gone.has(h.id))) out.push(v)
    }
    return out
  }
  const emails = await onlyTheirs(
    'email',
    erased.flatMap((c) => (c.email === null ? [] : [c.email])),
  )
  const phones = await onlyTheirs(
    'phoneNumber',
    erased.flatMap((c) => (c.phoneNumber === null ? [] : [c.phoneNumber])),
  )
  const links = new Map<number, Link>()
  for (const l of [...(await tx.linksNaming('email', emails)), ...(await tx.linksNaming('phoneNumber', phones))]) {
    links.set(l.id, l)
  }
  await tx.deleteLinks([...links.keys()])
  await tx.clearUnheld('email', emails)
  await tx.clearUnheld('phoneNumber', phones)
  await tx.eraseContacts(erasedContactIds)
  await tx.rewriteEventData(events.map((e) => ({ id: e.id, data: scrubbed(e.data) })))
  await tx.appendEvent({
    type: 'identity.erased',
    contacts: erasedContactIds.map((id) => ({ id, role: 'erased' })),
    data: { contacts: erasedContactIds.length, links: links.size },
  })
  return { erasedContactIds }
}

/** What to block: an exact normalised value or a pattern, of one kind. */
export interface BlockSpec {
  readonly kind: BlockKind
  readonly value?: string | null
  readonly pattern?: string | null
  readonly source?: BlockedValue['source']
}

export interface BlockedValueJson {
  id: number
  kind: BlockKind
  value?: string
  pattern?: string
  createdAt: string
  builtin?: true
}

export function blockedValueJson(e: BlockedValue): BlockedValueJson {
  return {
    id: e.id,
    kind: e.kind,
    ...(e.value !== null ? { value: e.value } : { pattern: e.pattern as string }),
    createdAt: iso(e.createdAt),
    ...(e.source === 'builtin' ? { builtin: true as const } : {}),
  }
}

/** The values an entry matches among those live contacts hold. */
async function matchedValues(tx: Tx, entry: BlockedValue): Promise<string[]> {
  if (entry.value !== null) return [entry.value]
  return (await tx.distinctValues(entry.kind)).filter((v) => entryMatches(entry, v))
}

/**
 * `POST /blocked-values`: stores the entry and regroups every identity a matching value bridged.
 * Blocking what is already blocked changes nothing and answers the existing entry.
 */
export async function blockValue(tx: Tx, spec: BlockSpec): Promise<{ entry: BlockedValue; created: boolean }> {
  const value = spec.value ?? null
  const pattern = spec.pattern ?? null
  if ((value === null) === (pattern === null)) {
    throw new AppError('ERR_INVALID_INPUT', 'give exactly one of value and pattern')
  }
  if (pattern !== null) compilePattern(pattern)
  const entries = await tx.blockedValues()
  const existing = entries.find((e) => e.kind === spec.kind && e.value === value && e.pattern === pattern)
  if (existing !== undefined) return { entry: existing, created: false }
  const entry = await tx.insertBlockedValue({ kind: spec.kind, value, pattern, source: spec.source ?? 'operator' })
  const list = new BlockList([...entries, entry])
  const holders = await tx.holders(spec.kind, await matchedValues(tx, entry))
  await tx.appendEvent({
    type: 'value.blocked',
    contacts: holders.map((h) => ({ id: h.id, role: 'holder' })),
    data: { kind: entry.kind, ...(value !== null ? { value } : { pattern }), blockedValueId: entry.id },
  })
  for (const root of new Set(holders.map(rootOf))) {
    const record = await tx.identity({ contactId: root })
    if (record === null) continue
    await regroupIdentity(tx, record.contacts, record.links, list, {
      primaryId: root,
      members: record.contacts,
      cause: { cause: { blockedValueId: entry.id } },
    })
  }
  return { entry, created: true }
}

/**
 * `DELETE /blocked-values/{id}`: removes the entry; the identities its values (and the links
 * naming them) join again become one, under their oldest contact.
 */
export async function unblockValue(tx: Tx, id: number): Promise<{ entry: BlockedValue; identities: IdentityView[] }> {
  const entries = await tx.blockedValues()
  const entry = entries.find((e) => e.id === id)
  if (entry === undefined) throw new AppError('ERR_NOT_FOUND', `there is no blocked value with id ${id}`)
  await tx.deleteBlockedValue(id)
  const list = new BlockList(entries.filter((e) => e.id !== id))
  const values = await matchedValues(tx, entry)
  const holders = await tx.holders(entry.kind, values)
  // A link naming the value joins again too: the identities holding its other value take part.
  const other: BlockKind = entry.kind === 'email' ? 'phoneNumber' : 'email'
  const links = await tx.linksNaming(entry.kind, values)
  const across = await tx.holders(
    other,
    links.map((l) => (other === 'email' ? l.email : l.phoneNumber)),
  )
  await tx.appendEvent({
    type: 'value.unblocked',
    contacts: holders.map((h) => ({ id: h.id, role: 'holder' })),
    data: {
      kind: entry.kind,
      ...(entry.value !== null ? { value: entry.value } : { pattern: entry.pattern }),
      blockedValueId: id,
    },
  })
  const contacts = new Map<number, Contact>()
  const allLinks = new Map<number, Link>()
  for (const root of new Set([...holders, ...across].map(rootOf))) {
    const record = await tx.identity({ contactId: root })
    if (record === null) continue
    for (const c of record.contacts) contacts.set(c.id, c)
    for (const l of record.links) allLinks.set(l.id, l)
  }
  const joined: IdentityView[] = []
  for (const group of components([...contacts.values()], [...allLinks.values()], list)) {
    const roots = [...new Set(group.map(rootOf))]
    if (roots.length < 2) continue
    const survivor = group[0] as Contact
    const changes = group
      .filter((c) => c !== survivor && c.linkedId !== survivor.id)
      .map((c) => ({ id: c.id, linkedId: survivor.id }))
    await tx.setLinks(changes)
    for (const merged of roots.filter((r) => r !== survivor.id).sort((a, b) => a - b)) {
      await tx.appendEvent({
        type: 'identity.merged',
        contacts: [
          { id: survivor.id, role: 'survivor' },
          { id: merged, role: 'merged' },
        ],
        data: {
          via: {
            unblocked: {
              kind: entry.kind,
              ...(entry.value !== null ? { value: entry.value } : { pattern: entry.pattern }),
            },
          },
        },
      })
    }
    joined.push(toIdentityView(asIdentity(group)))
  }
  return { entry, identities: joined }
}

export async function listBlocked(tx: Tx): Promise<{ blockedValues: BlockedValueJson[] }> {
  return { blockedValues: (await tx.blockedValues()).map(blockedValueJson) }
}

export const HUBS_DEFAULT_LIMIT = 20
export const HUBS_MAX_LIMIT = 500

/** `GET /insights/hubs`: the values held by the most live contacts and the largest identities. */
export async function hubs(tx: Tx, limit: number) {
  const list = await currentList(tx)
  const found = await tx.hubs(limit)
  return {
    values: found.values.map((v) => ({ ...v, blocked: list.blocks(v.kind, v.value) })),
    identities: found.identities,
  }
}
