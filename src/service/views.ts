/**
 * The operator API's JSON shapes (SPEC §7): contacts, links and events as clients see them, with
 * ISO 8601 UTC timestamps. One place, so every route and the CLI print the same objects.
 */
import type { Link, StoredContact } from '../identity/contact.ts'
import type { StoredEvent } from '../identity/events.ts'
import { toIdentityView } from '../identity/reconcile.ts'
import type { IdentityRecord } from '../store/port.ts'

export interface ContactJson {
  id: number
  email: string | null
  phoneNumber: string | null
  linkedId: number | null
  linkPrecedence: 'primary' | 'secondary'
  createdAt: string
  updatedAt: string
}

export interface LinkJson {
  id: number
  email: string
  phoneNumber: string
  createdAt: string
}

export interface IdentityJson {
  contact: ReturnType<typeof toIdentityView>
  contacts: ContactJson[]
  links: LinkJson[]
  /** Looked up by a blocked value that contacts of several identities hold: the others' primaries. */
  otherIdentities?: number[]
}

export const iso = (ms: number): string => new Date(ms).toISOString()

/** A contact inside an identity (live by definition). */
export function contactJson(c: StoredContact): ContactJson {
  return {
    id: c.id,
    email: c.email,
    phoneNumber: c.phoneNumber,
    linkedId: c.linkedId,
    linkPrecedence: c.linkPrecedence,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  }
}

/** `GET /contacts/{id}`: the contact itself, live or deleted. */
export function storedContactJson(c: StoredContact): ContactJson & { deletedAt: string | null } {
  return { ...contactJson(c), deletedAt: c.deletedAt === null ? null : iso(c.deletedAt) }
}

export function linkJson(l: Link): LinkJson {
  return { id: l.id, email: l.email, phoneNumber: l.phoneNumber, createdAt: iso(l.createdAt) }
}

/** `GET /identities/…`: the `/identify` view, the contacts oldest first, and the links. */
export function identityJson(record: IdentityRecord): IdentityJson {
  return {
    contact: toIdentityView(record.contacts),
    contacts: record.contacts.map(contactJson),
    links: record.links.map(linkJson),
  }
}

/**
 * One history event: id, type, time, request id and the contacts it concerns, then the fields of
 * its type named after the roles (`survivorId`, `mergedPrimaryId`, `primaryBefore`, …) and its data.
 */
export function eventJson(e: StoredEvent): Record<string, unknown> {
  const ids = (role: string) => e.contacts.filter((c) => c.role === role).map((c) => c.id)
  const one = (role: string) => ids(role)[0] ?? null
  const roles: Record<string, unknown> = {}
  switch (e.type) {
    case 'contact.created':
      roles.contactId = one('created')
      roles.linkedId = one('primary')
      break
    case 'identity.merged':
      roles.survivorId = one('survivor')
      roles.mergedPrimaryId = one('merged')
      break
    case 'contact.deleted':
      roles.contactId = one('deleted')
      break
    case 'identity.split':
      roles.primaryBefore = one('before')
      roles.primariesAfter = ids('after')
      break
  }
  const { migrated, ...data } = e.data as Record<string, unknown>
  return {
    id: e.id,
    type: e.type,
    at: iso(e.at),
    requestId: e.requestId,
    contactIds: [...new Set(e.contacts.map((c) => c.id))].sort((a, b) => a - b),
    ...roles,
    ...data,
    ...(migrated === true ? { migrated: true } : {}),
  }
}
