/**
 * An identity as a graph (SPEC §2 I2 with §6's links): contacts are joined by a shared email, a
 * shared phone number, or a link naming an email of one and a phone number of the other. Pure
 * functions over an identity's live contacts and links: its connected components (regrouping), the
 * shortest chain between two contacts (explain), and the links that would reconstruct the joins of
 * an identity stored before links existed (migration).
 */
import { byAge, type Contact, type Link } from './contact.ts'

/** What a step of a chain shares with the step before. */
export type Via =
  | { readonly email: string }
  | { readonly phoneNumber: string }
  | { readonly link: { readonly email: string; readonly phoneNumber: string } }

export interface PathStep {
  readonly contactId: number
  /** Absent on the first step. */
  readonly via?: Via
}

/** Decides which values may join contacts; a blocked value (SPEC §9) joins nothing. Default: all. */
export interface JoinPolicy {
  joins(kind: 'email' | 'phoneNumber', value: string): boolean
}

const JOIN_ALL: JoinPolicy = { joins: () => true }

type LinkLike = Pick<Link, 'email' | 'phoneNumber'>

/** Contacts by the values they hold, and links by each of their values: the graph's adjacency. */
class Adjacency {
  readonly byEmail = new Map<string, Contact[]>()
  readonly byPhone = new Map<string, Contact[]>()
  readonly linksByEmail = new Map<string, LinkLike[]>()
  readonly linksByPhone = new Map<string, LinkLike[]>()

  constructor(contacts: readonly Contact[], links: readonly LinkLike[], policy: JoinPolicy) {
    for (const c of [...contacts].sort(byAge)) {
      if (c.email !== null && policy.joins('email', c.email)) push(this.byEmail, c.email, c)
      if (c.phoneNumber !== null && policy.joins('phoneNumber', c.phoneNumber)) push(this.byPhone, c.phoneNumber, c)
    }
    for (const l of links) {
      if (!policy.joins('email', l.email) || !policy.joins('phoneNumber', l.phoneNumber)) continue
      push(this.linksByEmail, l.email, l)
      push(this.linksByPhone, l.phoneNumber, l)
    }
  }

  /** Every contact one step from `c`, with what the step shares; value steps first, oldest first. */
  *neighbours(c: Contact): Generator<[Contact, Via]> {
    const email = c.email === null ? undefined : this.byEmail.get(c.email)
    const phone = c.phoneNumber === null ? undefined : this.byPhone.get(c.phoneNumber)
    if (email !== undefined) for (const n of email) if (n !== c) yield [n, { email: c.email as string }]
    if (phone !== undefined) for (const n of phone) if (n !== c) yield [n, { phoneNumber: c.phoneNumber as string }]
    if (email !== undefined) {
      for (const l of this.linksByEmail.get(c.email as string) ?? []) {
        for (const n of this.byPhone.get(l.phoneNumber) ?? [])
          if (n !== c) yield [n, { link: { email: l.email, phoneNumber: l.phoneNumber } }]
      }
    }
    if (phone !== undefined) {
      for (const l of this.linksByPhone.get(c.phoneNumber as string) ?? []) {
        for (const n of this.byEmail.get(l.email) ?? [])
          if (n !== c) yield [n, { link: { email: l.email, phoneNumber: l.phoneNumber } }]
      }
    }
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/**
 * The connected components of `contacts` under shared values and `links` (I2), each oldest first,
 * ordered by their oldest contact. Each component's first contact is the primary it should have (I3).
 *
 * @example
 * components([a, b, c], [])            // [[a, b], [c]] when a and b share a value
 */
export function components(
  contacts: readonly Contact[],
  links: readonly LinkLike[],
  policy: JoinPolicy = JOIN_ALL,
): Contact[][] {
  const graph = new Adjacency(contacts, links, policy)
  const seen = new Set<number>()
  const groups: Contact[][] = []
  for (const start of [...contacts].sort(byAge)) {
    if (seen.has(start.id)) continue
    seen.add(start.id)
    const group = [start]
    for (let i = 0; i < group.length; i++) {
      for (const [n] of graph.neighbours(group[i] as Contact)) {
        if (seen.has(n.id)) continue
        seen.add(n.id)
        group.push(n)
      }
    }
    groups.push(group.sort(byAge))
  }
  return groups
}

/**
 * The shortest chain from contact `fromId` to contact `toId` (fewest steps), each step naming what it
 * shares with the one before; null when they are not joined. Ties go to value steps before link
 * steps, then to older contacts, so the answer is deterministic.
 *
 * @example
 * shortestPath(contacts, links, 1, 9)
 * // [{ contactId: 1 }, { contactId: 7, via: { email: 'a@x.io' } }, { contactId: 9, via: { link: … } }]
 */
export function shortestPath(
  contacts: readonly Contact[],
  links: readonly LinkLike[],
  fromId: number,
  toId: number,
  policy: JoinPolicy = JOIN_ALL,
): PathStep[] | null {
  const from = contacts.find((c) => c.id === fromId)
  if (from === undefined || !contacts.some((c) => c.id === toId)) return null
  const graph = new Adjacency(contacts, links, policy)
  const cameFrom = new Map<number, { previous: number; via: Via } | null>([[from.id, null]])
  const queue: Contact[] = [from]
  for (let i = 0; i < queue.length && !cameFrom.has(toId); i++) {
    const c = queue[i] as Contact
    for (const [n, via] of graph.neighbours(c)) {
      if (cameFrom.has(n.id)) continue
      cameFrom.set(n.id, { previous: c.id, via })
      queue.push(n)
    }
  }
  if (!cameFrom.has(toId)) return null
  const path: PathStep[] = []
  for (let id: number | undefined = toId; id !== undefined; ) {
    const step = cameFrom.get(id)
    path.push(step ? { contactId: id, via: step.via } : { contactId: id })
    id = step?.previous
  }
  return path.reverse()
}

/** A link `missingLinks` found: the pair, and the part of the identity it joins to the primary's. */
export interface MissingLink {
  readonly email: string
  readonly phoneNumber: string
  readonly part: readonly Contact[]
}

/**
 * For one identity stored before links existed: the (email, phoneNumber) pairs that join the parts
 * its contacts alone leave apart, as the merging requests did. Each part is joined to the primary's
 * part by an email of one and a phone number of the other; a part no such pair can reach (it would
 * need two emails or two phones) is left out, since no request could have joined it.
 *
 * @example
 * missingLinks([{ id: 1, email: 'a@x', phoneNumber: null, … }, { id: 2, email: null, phoneNumber: '5', … }])
 * // [{ email: 'a@x', phoneNumber: '5', part: [contact 2] }]
 */
export function missingLinks(contacts: readonly Contact[]): MissingLink[] {
  const [main, ...rest] = components(contacts, []).map((part) => ({
    part,
    email: part.find((c) => c.email !== null)?.email ?? null,
    phoneNumber: part.find((c) => c.phoneNumber !== null)?.phoneNumber ?? null,
  }))
  if (main === undefined) return []
  const links: MissingLink[] = []
  let waiting = rest
  while (waiting.length > 0) {
    const left: typeof rest = []
    for (const other of waiting) {
      const pair =
        main.email !== null && other.phoneNumber !== null
          ? { email: main.email, phoneNumber: other.phoneNumber }
          : other.email !== null && main.phoneNumber !== null
            ? { email: other.email, phoneNumber: main.phoneNumber }
            : null
      if (pair === null) {
        left.push(other)
        continue
      }
      links.push({ ...pair, part: other.part })
      main.email ??= other.email
      main.phoneNumber ??= other.phoneNumber
    }
    if (left.length === waiting.length) break
    waiting = left
  }
  return links
}

/** How one identity falls apart once something that joined it is gone (SPEC §8). */
export interface Regrouping {
  /** The parts, oldest primary first; each part oldest first, its first contact its primary (I3). */
  readonly parts: Contact[][]
  /** The contacts whose link must change so that each part is a flat tree under its primary (I1). */
  readonly relinks: readonly { readonly id: number; readonly linkedId: number | null }[]
}

/**
 * Regroups an identity's remaining live contacts by I2 — shared values and links, under `policy`
 * (blocked values join nothing) — into the identities they now form. The same function serves
 * deleting a contact or a link, blocking a value and, over several identities, unblocking one.
 *
 * @example
 * regroup(contactsWithoutTheBridge, links) // { parts: [[1, 2], [3]], relinks: [{ id: 3, linkedId: null }] }
 */
export function regroup(
  contacts: readonly Contact[],
  links: readonly LinkLike[],
  policy: JoinPolicy = JOIN_ALL,
): Regrouping {
  const parts = components(contacts, links, policy)
  const relinks: { id: number; linkedId: number | null }[] = []
  for (const part of parts) {
    const primary = part[0] as Contact
    for (const c of part) {
      const linkedId = c === primary ? null : primary.id
      if (c.linkedId !== linkedId) relinks.push({ id: c.id, linkedId })
    }
  }
  return { parts, relinks }
}
