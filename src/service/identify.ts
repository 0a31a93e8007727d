/**
 * `/identify` as a unit of work (SPEC §3, §6, §7): load the identities the request touches, apply
 * the pure rules, write the relinks, the link and the new contact, append their events, answer.
 * The HTTP route and the batch importer both run exactly this.
 */
import { AppError } from '../errors.ts'
import type { BlockList } from '../identity/blocklist.ts'
import type { Contact, IdentityView } from '../identity/contact.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import { type IdentifyOutcome, outcomeOf } from '../identity/outcome.ts'
import { applyDecision, type Created, decide, toIdentityView } from '../identity/reconcile.ts'
import type { Touched, Tx } from '../store/port.ts'

export type { IdentifyOutcome }

export interface IdentifyResult {
  readonly view: IdentityView
  readonly outcome: IdentifyOutcome
}

/**
 * Rules 1–3 for one normalised request, inside `tx`.
 *
 * @example
 * const { view } = await store.run((tx) => identify(tx, input), { mode: 'write' })
 */
export async function identify(tx: Tx, asked: IdentifyInput): Promise<IdentifyResult> {
  // SPEC §9: a blocked value counts as absent; the read below confirms the list was current.
  const blocked = tx.blocklist()
  const input: IdentifyInput = {
    email: asked.email !== null && blocked.blocks('email', asked.email) ? null : asked.email,
    phoneNumber:
      asked.phoneNumber !== null && blocked.blocks('phoneNumber', asked.phoneNumber) ? null : asked.phoneNumber,
  }
  const found = await tx.loadTouched(input)
  if (input.email === null && input.phoneNumber === null) {
    const which = [asked.email !== null ? 'email' : null, asked.phoneNumber !== null ? 'phoneNumber' : null]
      .filter((w) => w !== null)
      .join(' and ')
    throw new AppError(
      'ERR_BLOCKED_VALUE',
      `the ${which} of this request ${which.includes(' and ') ? 'are' : 'is'} on the block list; nothing was stored`,
    )
  }
  const touched = reachable(found, input, blocked)
  const decision = decide(input, touched)
  const { primaryId, demotedPrimaryIds, create } = decision
  if (primaryId !== null && demotedPrimaryIds.length > 0) {
    const { email, phoneNumber } = input
    // Each value belongs to one identity at most (I2), so two identities meet when the email names
    // one and the phone number the other: the pair is the link that records why (SPEC §6). When the
    // request also creates a contact (a value of it reached an identity only through a link), that
    // contact is what joins them.
    if (create === null && (email === null || phoneNumber === null)) {
      throw new TypeError('a merge that creates no contact needs both an email and a phone number')
    }
    const via = create === null ? { link: { email, phoneNumber } } : { newContact: { email, phoneNumber } }
    for (const demoted of demotedPrimaryIds) {
      await tx.relink(demoted, primaryId)
      await tx.appendEvent({
        type: 'identity.merged',
        contacts: [
          { id: primaryId, role: 'survivor' },
          { id: demoted, role: 'merged' },
        ],
        data: { via },
      })
    }
    if (create === null) await tx.insertLink(email as string, phoneNumber as string)
  }
  let created: Created | null = null
  if (create !== null) {
    created = await tx.insertContact(create)
    await tx.appendEvent({
      type: 'contact.created',
      contacts:
        create.linkedId === null
          ? [{ id: created.id, role: 'created' }]
          : [
              { id: created.id, role: 'created' },
              { id: create.linkedId, role: 'primary' },
            ],
      data: { email: create.email, phoneNumber: create.phoneNumber, linkPrecedence: create.linkPrecedence },
    })
  }
  const outcome = outcomeOf(decision)
  return { view: toIdentityView(applyDecision(touched, decision, created)), outcome }
}

/**
 * The identities the request really touches: those holding its values, and those reached through a
 * link whose values are not blocked (a blocked value's link joins nothing, SPEC §9).
 */
function reachable(found: Touched, input: IdentifyInput, blocked: BlockList): Contact[] {
  if (found.throughLinks.length === 0) return found.contacts
  const rootOf = (c: Contact) => c.linkedId ?? c.id
  const keep = new Set<number>()
  for (const c of found.contacts) {
    if (
      (input.email !== null && c.email === input.email) ||
      (input.phoneNumber !== null && c.phoneNumber === input.phoneNumber)
    ) {
      keep.add(rootOf(c))
    }
  }
  for (const l of found.throughLinks) {
    if (!blocked.blocks('email', l.email) && !blocked.blocks('phoneNumber', l.phoneNumber)) keep.add(l.root)
  }
  return found.contacts.filter((c) => keep.has(rootOf(c)))
}
