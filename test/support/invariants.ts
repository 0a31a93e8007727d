/**
 * SPEC §2 invariants I1–I4 checked on stored rows. I2 counts links (SPEC §6): a request that names
 * an email of one identity and a phone number of another joins them without storing a new contact,
 * and leaves a link. Passing the store's links checks that stored data alone explains every join;
 * passing the requests (a superset of the links) checks the contract against what clients sent.
 */
import assert from 'node:assert/strict'
import type { StoredContact } from '../../src/identity/contact.ts'

/** Union-find over string keys. */
export class Components {
  readonly #parent = new Map<string, string>()

  find(key: string): string {
    let root = key
    for (let next = this.#parent.get(root); next !== undefined && next !== root; next = this.#parent.get(root)) {
      root = next
    }
    this.#parent.set(key, root)
    return root
  }

  union(a: string, b: string): void {
    const ra = this.find(a)
    const rb = this.find(b)
    if (ra !== rb) this.#parent.set(ra, rb)
  }
}

const emailKey = (email: string) => `e:${email}`
const phoneKey = (phone: string) => `p:${phone}`

/** An email–phone pair that joins the holders of its two values: a link, or a request. */
export interface Evidence {
  readonly email: string | null
  readonly phoneNumber: string | null
}

/**
 * Asserts I1–I4 over `rows` (every stored row; deleted ones are ignored). With `evidence` (the
 * store's links, or the requests sent), I2 is checked both ways: contacts share a primary exactly
 * when a chain of values (stored contacts and the evidence's email–phone pairs) joins them. Without,
 * only "shared value ⇒ same primary".
 */
export function assertInvariants(
  rows: readonly StoredContact[],
  evidence?: readonly Evidence[],
  blocked: Blocked = () => false,
): void {
  const requests = evidence
  // SPEC §9: a blocked value joins nothing, so only the others count as shared.
  const valueKeys = (c: { email: string | null; phoneNumber: string | null }) =>
    allValueKeys(c).filter((k) => !blocked(k.startsWith('e:') ? 'email' : 'phoneNumber', k.slice(2)))
  const live = rows.filter((r) => r.deletedAt === null)
  const byId = new Map(live.map((r) => [r.id, r]))
  const primaryOf = (r: StoredContact) => r.linkedId ?? r.id

  // I1 flat tree.
  for (const r of live) {
    if (r.linkPrecedence === 'primary') {
      assert.equal(r.linkedId, null, `I1: primary ${r.id} has linkedId ${r.linkedId}`)
    } else {
      assert.equal(r.linkPrecedence, 'secondary', `I1: contact ${r.id} has precedence ${r.linkPrecedence}`)
      assert.notEqual(r.linkedId, null, `I1: secondary ${r.id} has no linkedId`)
      const target = byId.get(r.linkedId as number)
      assert.ok(target, `I1: secondary ${r.id} links to ${r.linkedId}, which is not a live contact`)
      assert.equal(target.linkPrecedence, 'primary', `I1: secondary ${r.id} links to secondary ${target.id}`)
    }
    assert.ok(r.email !== null || r.phoneNumber !== null, `contact ${r.id} has neither email nor phone`)
  }

  // I2, first half: contacts sharing a value share a primary.
  const firstByValue = new Map<string, StoredContact>()
  for (const r of live) {
    for (const key of valueKeys(r)) {
      const other = firstByValue.get(key)
      if (other === undefined) firstByValue.set(key, r)
      else {
        assert.equal(
          primaryOf(r),
          primaryOf(other),
          `I2: contacts ${other.id} and ${r.id} share ${key} but have primaries ${primaryOf(other)} and ${primaryOf(r)}`,
        )
      }
    }
  }

  // I2, second half: everything under one primary is joined by a chain of values.
  if (requests !== undefined) {
    const chains = new Components()
    for (const r of live) linkValues(chains, r, valueKeys)
    // Evidence joins two values only while live contacts hold them both (SPEC §6).
    const held = new Set(live.flatMap(valueKeys))
    for (const q of requests) {
      const keys = valueKeys(q)
      if (keys.length === allValueKeys(q).length && keys.every((k) => held.has(k))) linkValues(chains, q, valueKeys)
    }
    const componentOfPrimary = new Map<number, string>()
    for (const r of live) {
      // A contact whose every value is blocked joins nothing: a component of its own.
      const component = chains.find(valueKeys(r)[0] ?? `c:${r.id}`)
      const seen = componentOfPrimary.get(primaryOf(r))
      if (seen === undefined) componentOfPrimary.set(primaryOf(r), component)
      else assert.equal(component, seen, `I2: contact ${r.id} is linked to ${primaryOf(r)} without a chain`)
    }
    const primaryOfComponent = new Map<string, number>()
    for (const [primary, component] of componentOfPrimary) {
      const other = primaryOfComponent.get(component)
      assert.equal(other, undefined, `I2: primaries ${other} and ${primary} are joined by a chain`)
      primaryOfComponent.set(component, primary)
    }
  }

  // I3 oldest wins.
  for (const r of live) {
    const primary = byId.get(primaryOf(r)) as StoredContact
    const older = r.createdAt < primary.createdAt || (r.createdAt === primary.createdAt && r.id < primary.id)
    assert.ok(!older, `I3: contact ${r.id} is older than its primary ${primary.id}`)
  }

  // I4 no duplicate facts.
  const facts = new Set<string>()
  for (const r of live) {
    const fact = JSON.stringify([r.email, r.phoneNumber])
    assert.ok(!facts.has(fact), `I4: (${r.email}, ${r.phoneNumber}) is stored twice`)
    facts.add(fact)
  }
}

/**
 * Time follows id: a contact made later never has an earlier `createdAt` than one made before it
 * (every row, deleted ones too), so "oldest" (I3) means the same by time as by id. SQLite gives this
 * exactly across processes: each write transaction stamps no earlier than the newest stored contact.
 */
export function assertTimeFollowsId(rows: readonly StoredContact[]): void {
  const byId = [...rows].sort((a, b) => a.id - b.id)
  for (let i = 1; i < byId.length; i++) {
    const [before, after] = [byId[i - 1] as StoredContact, byId[i] as StoredContact]
    assert.ok(
      after.createdAt >= before.createdAt,
      `contact ${after.id} (createdAt ${after.createdAt}) is stamped before contact ${before.id} (${before.createdAt})`,
    )
  }
}

/** Whether a value is blocked (and so joins nothing). */
export type Blocked = (kind: 'email' | 'phoneNumber', value: string) => boolean

function allValueKeys(c: { email: string | null; phoneNumber: string | null }): string[] {
  const keys: string[] = []
  if (c.email !== null) keys.push(emailKey(c.email))
  if (c.phoneNumber !== null) keys.push(phoneKey(c.phoneNumber))
  return keys
}

function linkValues(
  components: Components,
  c: { email: string | null; phoneNumber: string | null },
  valueKeys: (c: { email: string | null; phoneNumber: string | null }) => string[],
): void {
  const [a, b] = valueKeys(c)
  if (a !== undefined) components.find(a)
  if (a !== undefined && b !== undefined) components.union(a, b)
}

/** Live contacts grouped by primary id. */
export function identities(rows: readonly StoredContact[]): Map<number, StoredContact[]> {
  const groups = new Map<number, StoredContact[]>()
  for (const r of rows) {
    if (r.deletedAt !== null) continue
    const key = r.linkedId ?? r.id
    const group = groups.get(key) ?? []
    group.push(r)
    groups.set(key, group)
  }
  return groups
}
