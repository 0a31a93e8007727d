/**
 * `/identify` as a unit of work (SPEC §3, §6, §7): load the identities the request touches, apply
 * the pure rules, write the relinks, the link and the new contact, append their events, answer.
 * The HTTP route and the batch importer both run exactly this.
 */
import type { IdentityView } from '../identity/contact.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import { applyDecision, type Created, decide, toIdentityView } from '../identity/reconcile.ts'
import type { Tx } from '../store/port.ts'

/** What a request did, for metrics and logs. */
export type IdentifyOutcome = 'new_primary' | 'new_secondary' | 'merge' | 'nothing_new'

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
export async function identify(tx: Tx, input: IdentifyInput): Promise<IdentifyResult> {
  const touched = await tx.loadTouched(input)
  const decision = decide(input, touched)
  const { primaryId, demotedPrimaryIds, create } = decision
  if (primaryId !== null && demotedPrimaryIds.length > 0) {
    // Each value belongs to one identity at most (I2), so two identities meet only when the email
    // names one and the phone number the other: the pair is the link that records why (SPEC §6).
    const { email, phoneNumber } = input
    if (email === null || phoneNumber === null) throw new TypeError('a merge needs both an email and a phone number')
    for (const demoted of demotedPrimaryIds) {
      await tx.relink(demoted, primaryId)
      await tx.appendEvent({
        type: 'identity.merged',
        contacts: [
          { id: primaryId, role: 'survivor' },
          { id: demoted, role: 'merged' },
        ],
        data: { via: { link: { email, phoneNumber } } },
      })
    }
    await tx.insertLink(email, phoneNumber)
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
  const outcome: IdentifyOutcome =
    demotedPrimaryIds.length > 0
      ? 'merge'
      : create === null
        ? 'nothing_new'
        : create.linkPrecedence === 'primary'
          ? 'new_primary'
          : 'new_secondary'
  return { view: toIdentityView(applyDecision(touched, decision, created)), outcome }
}
