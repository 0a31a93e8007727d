/**
 * The reconciliation rules (SPEC §3, rules 1–3), pure: given a normalised request and every live
 * contact of every identity it touches, decide what to change. The service applies the decision in
 * the request's unit of work (src/service/identify.ts); the batch importer runs that same unit.
 */
import { byAge, type Contact, type IdentityView } from './contact.ts'
import type { IdentifyInput } from './normalize.ts'

/** A contact to insert; the store assigns its id and stamps its creation time. */
export interface NewContact {
  readonly email: string | null
  readonly phoneNumber: string | null
  readonly linkedId: number | null
  readonly linkPrecedence: Contact['linkPrecedence']
  /**
   * The earliest creation time the store may stamp: the newest contact of the identity it joins, so
   * a secondary is never older than its primary (I3) nor than its identity's other contacts, whatever
   * the clocks do. 0 for a new primary.
   */
  readonly notBefore: number
}

/** What one request changes. */
export interface Decision {
  /** The surviving primary, or null when the request starts a new identity (rule 1). */
  readonly primaryId: number | null
  /** Primaries of other identities that become secondaries of `primaryId`, with their secondaries (rule 2). */
  readonly demotedPrimaryIds: readonly number[]
  /** The contact to create (rule 1 or 3), or null when the request brings nothing new. */
  readonly create: NewContact | null
}

/**
 * Decides rules 1–3 for one request.
 *
 * `touched` must hold every live contact of every identity that shares the request's email or
 * phone number (the identities, whole, not just the matching rows); an empty list means no match.
 *
 * @example
 * decide({ email: 'a@x.io', phoneNumber: null }, [])
 * // { primaryId: null, demotedPrimaryIds: [], create: { email: 'a@x.io', …, linkPrecedence: 'primary' } }
 */
export function decide(input: IdentifyInput, touched: readonly Contact[]): Decision {
  const primaries = touched.filter((c) => c.linkedId === null)
  if (primaries.length === 0) {
    return {
      primaryId: null,
      demotedPrimaryIds: [],
      create: { ...input, linkedId: null, linkPrecedence: 'primary', notBefore: 0 },
    }
  }
  primaries.sort(byAge)
  const survivor = primaries[0] as Contact
  const demotedPrimaryIds = primaries.slice(1).map((c) => c.id)

  const bringsNewEmail = input.email !== null && !touched.some((c) => c.email === input.email)
  const bringsNewPhone = input.phoneNumber !== null && !touched.some((c) => c.phoneNumber === input.phoneNumber)
  let create: NewContact | null = null
  if (bringsNewEmail || bringsNewPhone) {
    let notBefore = 0
    for (const c of touched) if (c.createdAt > notBefore) notBefore = c.createdAt
    create = { ...input, linkedId: survivor.id, linkPrecedence: 'secondary', notBefore }
  }
  return { primaryId: survivor.id, demotedPrimaryIds, create }
}

/** The contact the store created for a decision: its id and the time it stamped. */
export interface Created {
  readonly id: number
  readonly createdAt: number
}

/**
 * The identity's contacts once `decision` is applied to `touched` and its new contact (if any) was
 * stored as `created`. Lets a unit answer without reading back.
 */
export function applyDecision(touched: readonly Contact[], decision: Decision, created: Created | null): Contact[] {
  const { create } = decision
  const stored = (c: NewContact, made: Created | null): Contact => {
    if (made === null) throw new TypeError('the created contact needs its id')
    return {
      id: made.id,
      email: c.email,
      phoneNumber: c.phoneNumber,
      linkedId: c.linkedId,
      linkPrecedence: c.linkPrecedence,
      createdAt: made.createdAt,
    }
  }
  if (decision.primaryId === null) {
    if (create === null) throw new TypeError('a new identity needs its created contact')
    return [stored(create, created)]
  }
  const primaryId = decision.primaryId
  const demoted = new Set(decision.demotedPrimaryIds)
  const contacts = touched.map((c): Contact => {
    if (demoted.has(c.id) || (c.linkedId !== null && demoted.has(c.linkedId))) {
      return { ...c, linkedId: primaryId, linkPrecedence: 'secondary' }
    }
    return c
  })
  if (create !== null) contacts.push(stored(create, created))
  return contacts
}

/**
 * The `/identify` answer for one identity's live contacts: primary's values first, the others in
 * creation order, no nulls or repeats; secondary ids ascending.
 *
 * @example
 * toIdentityView(contacts).primaryContatctId // 1
 */
export function toIdentityView(contacts: readonly Contact[]): IdentityView {
  const ordered = [...contacts].sort(byAge)
  const primary = ordered.find((c) => c.linkedId === null)
  if (primary === undefined) throw new TypeError('an identity must have a primary contact')
  // The primary is the oldest contact (I3), so creation order already puts its values first.
  const emails = new Set<string>()
  const phoneNumbers = new Set<string>()
  const secondaryContactIds: number[] = []
  for (const c of ordered) {
    if (c.email !== null) emails.add(c.email)
    if (c.phoneNumber !== null) phoneNumbers.add(c.phoneNumber)
    if (c !== primary) secondaryContactIds.push(c.id)
  }
  secondaryContactIds.sort((a, b) => a - b)
  return {
    primaryContatctId: primary.id,
    emails: [...emails],
    phoneNumbers: [...phoneNumbers],
    secondaryContactIds,
  }
}
