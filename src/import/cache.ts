/**
 * The importer's identity cache: a `Tx` in front of an import batch's transaction that answers
 * `loadTouched` from memory for identities it has already read or written, and passes every write
 * through (mirroring it). The identify unit runs over it unchanged, so a row is decided exactly as a
 * request would be; only the reads it saves differ.
 *
 * The cache is only trusted while it mirrors the store: the importer drops it whenever the batch
 * transaction reports that someone else may have written since (BatchStart.cacheValid), and a value
 * it does not know is looked up in the store — or known absent when the store was empty when the
 * cache was started and only we have written since, or when a prefetch for the batch did not find it.
 */
import type { BlockKind } from '../identity/blocklist.ts'
import type { Contact } from '../identity/contact.ts'
import type { NewEvent } from '../identity/events.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import type { Created, NewContact } from '../identity/reconcile.ts'
import type { HistoryScope, IdentitySelector, LinkPartner, Prefetched, Touched, Tx } from '../store/port.ts'

// Values map to the primary id of the identity holding them; ABSENT marks a value known to be
// missing from the store (ids start at 1).
const ABSENT = 0

/**
 * A copy of `value` that does not pin the text it was cut from. V8 represents a substring as a
 * slice of its parent, so a value kept in the cache would keep its whole 1 MiB read chunk alive,
 * and memory would grow with the file instead of with the distinct values. Concatenating then
 * slicing flattens into a string of the value's own size.
 */
function detach(value: string): string {
  return `${value} `.slice(0, -1)
}

const emailKey = (value: string) => `e:${value}`
const phoneKey = (value: string) => `p:${value}`

export class IdentityCache {
  readonly #byEmail = new Map<string, number>()
  readonly #byPhone = new Map<string, number>()
  /** Primary id → every live contact of that identity. */
  readonly #members = new Map<number, Contact[]>()
  /** For a value nobody holds: the links naming it, with the root of their other value's holder. */
  readonly #linked = new Map<string, LinkPartner[]>()
  /** Roots merged into another during this cache's life → the root they went under. */
  readonly #folded = new Map<number, number>()
  /** Every live contact of the store is here, so a miss means absent. */
  #complete = false

  /** Distinct values held. */
  get size(): number {
    return this.#byEmail.size + this.#byPhone.size
  }

  /** Forgets everything; `complete` when the store is known to be empty. */
  clear(complete: boolean): void {
    this.#byEmail.clear()
    this.#byPhone.clear()
    this.#members.clear()
    this.#linked.clear()
    this.#folded.clear()
    this.#complete = complete
  }

  /**
   * Registers whole identities and links read from the store (a prefetch), and marks the values of
   * `asked` nobody holds as absent.
   */
  fill(
    found: Prefetched,
    asked: { readonly emails: readonly string[]; readonly phoneNumbers: readonly string[] },
  ): void {
    const groups = new Map<number, Contact[]>()
    for (const c of found.contacts) {
      const root = c.linkedId ?? c.id
      const group = groups.get(root)
      if (group === undefined) groups.set(root, [c])
      else group.push(c)
    }
    for (const [root, group] of groups) if (!this.#members.has(root)) this.#hold(root, group)
    for (const email of asked.emails) if (!this.#byEmail.has(email)) this.#byEmail.set(detach(email), ABSENT)
    for (const phone of asked.phoneNumbers) if (!this.#byPhone.has(phone)) this.#byPhone.set(detach(phone), ABSENT)
    for (const l of found.links) {
      const key = l.side === 'email' ? emailKey(l.email) : phoneKey(l.phoneNumber)
      const known = this.#linked.get(key) ?? []
      if (!known.some((k) => k.email === l.email && k.phoneNumber === l.phoneNumber)) known.push(l)
      this.#linked.set(detach(key), known)
    }
  }

  /** Values of `inputs` the cache cannot answer for: what a prefetch should ask the store. */
  unknown(inputs: readonly IdentifyInput[]): { emails: string[]; phoneNumbers: string[] } {
    const emails = new Set<string>()
    const phoneNumbers = new Set<string>()
    for (const { email, phoneNumber } of inputs) {
      if (email !== null && this.#root(this.#byEmail, email) === undefined) emails.add(email)
      if (phoneNumber !== null && this.#root(this.#byPhone, phoneNumber) === undefined) phoneNumbers.add(phoneNumber)
    }
    return { emails: [...emails], phoneNumbers: [...phoneNumbers] }
  }

  /** A `Tx` that reads through this cache and writes through to `inner`. */
  over(inner: Tx): Tx {
    return new CachedTx(this, inner)
  }

  /** The root holding `value`: a number (ABSENT for none), or undefined when only the store can tell. */
  #root(map: Map<string, number>, value: string): number | undefined {
    const hit = map.get(value)
    if (hit !== undefined) return hit
    return this.#complete ? ABSENT : undefined
  }

  /** The root an identity ended up under after the merges this cache has seen. */
  #current(root: number): number {
    let current = root
    for (let next = this.#folded.get(current); next !== undefined; next = this.#folded.get(current)) current = next
    return current
  }

  #hold(root: number, contacts: Contact[]): void {
    this.#members.set(root, contacts)
    for (const c of contacts) this.#register(c, root)
  }

  #register(c: Contact, root: number): void {
    if (c.email !== null) this.#byEmail.set(detach(c.email), root)
    if (c.phoneNumber !== null) this.#byPhone.set(detach(c.phoneNumber), root)
  }

  /** `loadTouched` from memory; undefined when the store must be asked. */
  touched(input: IdentifyInput): Touched | undefined {
    const byEmail = input.email === null ? ABSENT : this.#root(this.#byEmail, input.email)
    const byPhone = input.phoneNumber === null ? ABSENT : this.#root(this.#byPhone, input.phoneNumber)
    if (byEmail === undefined || byPhone === undefined) return undefined
    const roots = new Set<number>()
    if (byEmail !== ABSENT) roots.add(byEmail)
    if (byPhone !== ABSENT) roots.add(byPhone)
    // A value nobody holds: the identities its links reach (SPEC §6), as the store would find them.
    const throughLinks: LinkPartner[] = []
    for (const key of [
      byEmail === ABSENT && input.email !== null ? emailKey(input.email) : null,
      byPhone === ABSENT && input.phoneNumber !== null ? phoneKey(input.phoneNumber) : null,
    ]) {
      if (key === null) continue
      for (const l of this.#linked.get(key) ?? []) {
        const root = this.#current(l.root)
        if (!this.#members.has(root)) return undefined
        throughLinks.push({ ...l, root })
        roots.add(root)
      }
    }
    const contacts: Contact[] = []
    for (const root of roots) contacts.push(...(this.#members.get(root) ?? []))
    return { contacts, throughLinks }
  }

  /** Registers what the store answered for `input` (whole identities and links, or nothing: absent). */
  loaded(input: IdentifyInput, found: Touched): void {
    this.fill(
      { contacts: found.contacts, links: found.throughLinks },
      {
        emails: input.email === null ? [] : [input.email],
        phoneNumbers: input.phoneNumber === null ? [] : [input.phoneNumber],
      },
    )
  }

  relinked(fromRoot: number, toPrimary: number): void {
    const moved = this.#members.get(fromRoot) ?? []
    const target = this.#members.get(toPrimary) ?? []
    for (const c of moved) {
      const relinked: Contact = { ...c, linkedId: toPrimary, linkPrecedence: 'secondary' }
      target.push(relinked)
      this.#register(relinked, toPrimary)
    }
    this.#members.delete(fromRoot)
    this.#members.set(toPrimary, target)
    this.#folded.set(fromRoot, toPrimary)
  }

  inserted(c: NewContact, created: Created): void {
    const contact: Contact = {
      id: created.id,
      email: c.email === null ? null : detach(c.email),
      phoneNumber: c.phoneNumber === null ? null : detach(c.phoneNumber),
      linkedId: c.linkedId,
      linkPrecedence: c.linkPrecedence,
      createdAt: created.createdAt,
    }
    const root = c.linkedId ?? created.id
    const members = this.#members.get(root)
    if (members === undefined) this.#members.set(root, [contact])
    else members.push(contact)
    this.#register(contact, root)
  }
}

function refuse(): never {
  throw new TypeError('only the identify unit runs through the import cache')
}

class CachedTx implements Tx {
  readonly engine: Tx['engine']
  readonly requestId: string | null
  readonly #cache: IdentityCache
  readonly #inner: Tx

  constructor(cache: IdentityCache, inner: Tx) {
    this.#cache = cache
    this.#inner = inner
    this.engine = inner.engine
    this.requestId = inner.requestId
  }

  loadTouched(input: IdentifyInput): Touched | Promise<Touched> {
    const cached = this.#cache.touched(input)
    if (cached !== undefined) return cached
    const loaded = this.#inner.loadTouched(input)
    if (loaded instanceof Promise) {
      return loaded.then((found) => {
        this.#cache.loaded(input, found)
        return this.#cache.touched(input) ?? found
      })
    }
    this.#cache.loaded(input, loaded)
    return this.#cache.touched(input) ?? loaded
  }

  blocklist() {
    return this.#inner.blocklist()
  }

  // The rest is the identify unit's business only in reads above; everything else passes through.
  identity(selector: IdentitySelector) {
    return this.#inner.identity(selector)
  }

  contact(id: number) {
    return this.#inner.contact(id)
  }

  lineage(scope: HistoryScope) {
    return this.#inner.lineage(scope)
  }

  events(scopes: readonly HistoryScope[], after: number, limit: number) {
    return this.#inner.events(scopes, after, limit)
  }

  link(id: number) {
    return this.#inner.link(id)
  }

  holders(kind: BlockKind, values: readonly string[]) {
    return this.#inner.holders(kind, values)
  }

  distinctValues(kind: BlockKind) {
    return this.#inner.distinctValues(kind)
  }

  linksNaming(kind: BlockKind, values: readonly string[]) {
    return this.#inner.linksNaming(kind, values)
  }

  blockedValues() {
    return this.#inner.blockedValues()
  }

  hubs(limit: number) {
    return this.#inner.hubs(limit)
  }

  // Writes other than the identify unit's would leave the cache behind the store: refuse them.
  softDeleteContact(): never {
    return refuse()
  }

  setLinks(): never {
    return refuse()
  }

  deleteLinks(): never {
    return refuse()
  }

  eraseContacts(): never {
    return refuse()
  }

  rewriteEventData(): never {
    return refuse()
  }

  markUnheld(): never {
    return refuse()
  }

  clearUnheld(): never {
    return refuse()
  }

  insertBlockedValue(): never {
    return refuse()
  }

  deleteBlockedValue(): never {
    return refuse()
  }

  async relink(fromRoot: number, toPrimary: number): Promise<void> {
    await this.#inner.relink(fromRoot, toPrimary)
    this.#cache.relinked(fromRoot, toPrimary)
  }

  async insertContact(contact: NewContact): Promise<Created> {
    const created = await this.#inner.insertContact(contact)
    this.#cache.inserted(contact, created)
    return created
  }

  insertLink(email: string, phoneNumber: string) {
    return this.#inner.insertLink(email, phoneNumber)
  }

  appendEvent(event: NewEvent) {
    return this.#inner.appendEvent(event)
  }
}
