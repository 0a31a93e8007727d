/**
 * How a unit of work runs on PostgreSQL. One `Tx` class, in one of four phases:
 *
 * - `single` (read units): the first statement runs on its own, which the session default makes a
 *   serializable transaction; a unit that needs a second statement is restarted in `transaction`.
 *   A lookup is one round trip.
 * - `optimistic` (write units): the unit's one read runs on its own, its writes are buffered, and
 *   one final statement re-checks that read (same rows, same links) and applies every write only if
 *   it still holds. A statement is atomic and serializable, so the unit takes effect exactly as if it
 *   had run at that statement's snapshot; a failed check reruns the unit. A unit that changes
 *   nothing is one round trip, one that writes two. Any other read restarts it in `transaction`.
 * - `transaction`: BEGIN SERIALIZABLE … COMMIT, every statement executed as it comes.
 * - `batch` (imports): `optimistic` for a whole batch of rows: one prefetch reads every identity
 *   the batch touches, the importer's cache answers every other read, and the final statement
 *   checks the prefetch and writes the batch. No transaction stays open between round trips, so a
 *   batch neither holds locks nor waits while the service keeps writing.
 *
 * Buffered contacts get stand-in ids above every real id (real ids stay below 2^52), counted up in
 * creation order; the final statement draws real ids from the sequence in that order, and the
 * runner maps stand-ins in the unit's result to them (`resolveIds`). The rules compare ids only to
 * break `createdAt` ties, and stand-ins compare like the ids they become: every id drawn is above
 * every id the snapshot can see.
 */
import type pg from 'pg'
import type { BlockedValue, BlockKind, BlockList } from '../identity/blocklist.ts'
import type { Contact, Link, StoredContact } from '../identity/contact.ts'
import type { EventData, NewEvent, StoredEvent } from '../identity/events.ts'
import type { IdentifyInput } from '../identity/normalize.ts'
import type { Created, NewContact } from '../identity/reconcile.ts'
import type { BlocklistState } from './blocklist-state.ts'
import {
  type BatchStart,
  type BatchTx,
  BlocklistChanged,
  type HistoryScope,
  type Hubs,
  type IdentityRecord,
  type IdentitySelector,
  type LineageEvent,
  type LinkPartner,
  type NewBlockedValue,
  type Prefetched,
  type Touched,
  type Tx,
} from './port.ts'
import * as SQL from './postgres-sql.ts'

export type Phase = 'single' | 'optimistic' | 'transaction' | 'batch'

export const PENDING_BASE = 2 ** 52
const NO_BOUND = '9223372036854775807'

/** Thrown inside a unit when it needs a real transaction; the runner reruns it in `transaction`. */
export class RestartInTransaction extends Error {
  constructor() {
    super('the unit needs a transaction')
    this.name = 'RestartInTransaction'
  }
}

/** An optimistic write's check failed: what it read changed before it could write. Rerun it. */
export class StaleRead extends Error {
  readonly code = 'STALE_READ'
  constructor() {
    super('the rows the unit read changed before its write')
    this.name = 'StaleRead'
  }
}

interface BufferedContact {
  email: string | null
  phoneNumber: string | null
  linkedId: number | null
  linkPrecedence: Contact['linkPrecedence']
  notBefore: number
}

interface BufferedEvent {
  type: string
  data: string
  requestId: string | null
  contacts: { id: number; role: string }[]
}

/** Writes waiting for the final statement, shared by every view of one transaction. */
export class WriteBuffer {
  readonly contacts: BufferedContact[] = []
  /** Each existing root demoted → the root it was folded into (which may be demoted later). */
  readonly folded = new Map<number, number>()
  readonly links: { email: string; phoneNumber: string }[] = []
  readonly events: BufferedEvent[] = []
  /** Checked reads: the SQL of a fingerprint, its parameters, and the value it must still have. */
  readonly checks: { sql: (p: Params) => string; expected: string }[] = []

  get empty(): boolean {
    return this.contacts.length === 0 && this.folded.size === 0 && this.links.length === 0 && this.events.length === 0
  }

  relink(fromRoot: number, toPrimary: number): void {
    if (fromRoot >= PENDING_BASE) {
      // A primary created in this transaction: rewrite it and its secondaries before they are written.
      for (let i = 0; i < this.contacts.length; i++) {
        const c = this.contacts[i] as BufferedContact
        if (PENDING_BASE + i === fromRoot || c.linkedId === fromRoot) {
          c.linkedId = toPrimary
          c.linkPrecedence = 'secondary'
        }
      }
      return
    }
    this.folded.set(fromRoot, toPrimary)
    // Contacts created in this transaction under the demoted root follow it.
    for (const c of this.contacts) if (c.linkedId === fromRoot) c.linkedId = toPrimary
  }

  /** The root an existing identity ended up under after this transaction's merges so far. */
  current(root: number): number {
    let current = root
    for (let next = this.folded.get(current); next !== undefined; next = this.folded.get(current)) current = next
    return current
  }
}

/** Builds a parameter list: `p(value, 'int8[]')` returns `$n::int8[]`. */
export class Params {
  readonly values: unknown[] = []
  add(value: unknown, type: string): string {
    this.values.push(value)
    return `$${this.values.length}::${type}`
  }
}

const resolve = (expr: string) =>
  `CASE WHEN ${expr} >= ${PENDING_BASE} THEN (SELECT id FROM cid WHERE ord = ${expr} - ${PENDING_BASE} + 1) ELSE ${expr} END`

/**
 * The one statement that applies a buffer: checks first, then new contacts with ids drawn in
 * creation order, relinks, links, events and their index rows, every write guarded by the check.
 * Returns `{ ok, ids }` (the real ids of the buffered contacts, in order).
 */
export async function flush(client: pg.ClientBase, buffer: WriteBuffer, sequence: string): Promise<number[] | null> {
  const p = new Params()
  const checks = buffer.checks.map((c) => `${c.sql(p)} = ${p.add(c.expected, 'text')}`)
  const ok = checks.length === 0 ? 'true' : checks.join(' AND ')
  const guard = 'WHERE (SELECT ok FROM chk)'
  const parts = [`chk AS (SELECT ${ok} AS ok)`]
  const n = buffer.contacts.length
  parts.push(`cid AS (SELECT row_number() OVER (ORDER BY n) AS ord, n AS id FROM (
      SELECT nextval(${p.add(sequence, 'regclass')}) AS n FROM generate_series(1, ${p.add(n, 'int4')}) ${guard}) s)`)
  if (n > 0) {
    const cs = buffer.contacts
    // A secondary's primary may be an existing root that a later merge folded into another.
    const linked = cs.map((c) =>
      c.linkedId === null || c.linkedId >= PENDING_BASE ? c.linkedId : buffer.current(c.linkedId),
    )
    parts.push(`nc AS (INSERT INTO contact (id, email, phone_number, linked_id, link_precedence, created_at, updated_at)
      SELECT cid.id, t.email, t.phone, ${resolve('t.linked')}, t.prec, s.at, s.at
      FROM unnest(${p.add(
        cs.map((c) => c.email),
        'text[]',
      )}, ${p.add(
        cs.map((c) => c.phoneNumber),
        'text[]',
      )}, ${p.add(linked, 'int8[]')}, ${p.add(
        cs.map((c) => c.linkPrecedence),
        'text[]',
      )}, ${p.add(
        cs.map((c) => c.notBefore),
        'float8[]',
      )}) WITH ORDINALITY AS t(email, phone, linked, prec, not_before, ord)
      JOIN cid USING (ord)
      CROSS JOIN LATERAL (SELECT ${SQL.stampNotBefore('t.not_before')} AS at) s)`)
  }
  if (buffer.folded.size > 0) {
    const from = [...buffer.folded.keys()]
    const fromIds = p.add(from, 'int8[]')
    const toIds = p.add(
      from.map((f) => buffer.current(f)),
      'int8[]',
    )
    // `= ANY` rather than a join with unnest: a plan that does not know the array's length (a
    // generic one) still reads the folded identities through contact_root instead of hashing the
    // whole table, which under SERIALIZABLE would also lock every row against every other writer.
    parts.push(`rl AS (UPDATE contact
      SET linked_id = (${toIds})[array_position(${fromIds}, coalesce(contact.linked_id, contact.id))],
        link_precedence = 'secondary', updated_at = statement_timestamp()
      WHERE coalesce(contact.linked_id, contact.id) = ANY(${fromIds}) AND contact.deleted_at IS NULL AND (SELECT ok FROM chk))`)
  }
  if (buffer.links.length > 0) {
    parts.push(`lk AS (INSERT INTO link (email, phone_number, created_at)
      SELECT t.email, t.phone, statement_timestamp() FROM unnest(${p.add(
        buffer.links.map((l) => l.email),
        'text[]',
      )}, ${p.add(
        buffer.links.map((l) => l.phoneNumber),
        'text[]',
      )}) AS t(email, phone) ${guard})`)
  }
  if (buffer.events.length > 0) {
    const es = buffer.events
    const rows = es.flatMap((e, i) => e.contacts.map((c) => ({ ...c, event: i + 1 })))
    parts.push(`eid AS (SELECT row_number() OVER (ORDER BY n) AS ord, n AS id FROM (
        SELECT nextval(pg_get_serial_sequence('event', 'id')) AS n FROM generate_series(1, ${p.add(es.length, 'int4')}) ${guard}) s)`)
    parts.push(`ecr AS (SELECT r.event, ${resolve('r.contact')} AS contact_id, r.role, r.n
      FROM unnest(${p.add(
        rows.map((r) => r.id),
        'int8[]',
      )}, ${p.add(
        rows.map((r) => r.event),
        'int4[]',
      )}, ${p.add(
        rows.map((r) => r.role),
        'text[]',
      )}) WITH ORDINALITY AS r(contact, event, role, n))`)
    parts.push(`ev AS (INSERT INTO event (id, type, at, request_id, contacts, members, data)
      SELECT eid.id, t.type, statement_timestamp(), t.request_id,
        (SELECT coalesce(json_agg(json_build_array(r.contact_id, r.role) ORDER BY r.n), '[]')::text
          FROM ecr r WHERE r.event = t.ord AND r.role <> 'member'),
        NULL, t.data
      FROM unnest(${p.add(
        es.map((e) => e.type),
        'text[]',
      )}, ${p.add(
        es.map((e) => e.requestId),
        'text[]',
      )}, ${p.add(
        es.map((e) => e.data),
        'text[]',
      )}) WITH ORDINALITY AS t(type, request_id, data, ord)
      JOIN eid USING (ord))`)
    parts.push(`ec AS (INSERT INTO event_contact (contact_id, event_id, lineage)
      SELECT r.contact_id, eid.id, max(CASE WHEN r.role = 'member' THEN 1 ELSE 0 END)::int2
      FROM ecr r JOIN eid ON eid.ord = r.event ${guard}
      GROUP BY r.contact_id, eid.id)`)
  }
  const text = `WITH ${parts.join(',\n')}
    SELECT (SELECT ok FROM chk) AS ok, (SELECT coalesce(json_agg(id::text ORDER BY ord), '[]')::text FROM cid) AS ids`
  let result: pg.QueryResult<{ ok: boolean; ids: string }>
  try {
    result = await client.query<{ ok: boolean; ids: string }>({ name: statementName(text), text, values: p.values })
  } catch (err) {
    throw await unlessRaced(client, err, buffer)
  }
  const row = result.rows[0]
  if (row === undefined || !row.ok) return null
  return (JSON.parse(row.ids) as string[]).map(Number)
}

/** Names given to the final statement's shapes, so that each connection parses and plans one once. */
const statementNames = new Map<string, string>()
/**
 * The final statement's text depends only on the buffer's shape (which parts, how many checks), so
 * a handful of shapes cover nearly every request: each is prepared once per connection and
 * PostgreSQL may keep its plan, instead of parsing and planning ~1.7 ms of CTE on every write.
 * Shapes past the first 256 (large merges, unusual batches) run unnamed, so a connection never
 * holds more than 256 prepared statements of these.
 */
function statementName(text: string): string | undefined {
  const known = statementNames.get(text)
  if (known !== undefined || statementNames.size >= 256) return known
  const name = `flush_${statementNames.size + 1}`
  statementNames.set(text, name)
  return name
}

/**
 * A unique violation on `contact_fact` is a race — another statement inserted the same fact first,
 * and the rerun will find it — only if a fresh read shows that fact stored. If it does not (the
 * stored value and ours compare differently, e.g. text the database converted), rerunning would
 * fail the same way a hundred times: it is a fault to report at once, not contention.
 */
async function unlessRaced(client: pg.ClientBase, err: unknown, buffer: WriteBuffer): Promise<unknown> {
  const { code, constraint } = err as { code?: unknown; constraint?: unknown }
  if (code !== '23505' || constraint !== 'contact_fact' || buffer.contacts.length === 0) return err
  const found = await client.query<{ n: number }>({
    text: `SELECT count(*)::int AS n FROM contact c JOIN unnest($1::text[], $2::text[]) AS f(email, phone)
      ON coalesce(c.email, '') = coalesce(f.email, '') AND coalesce(c.phone_number, '') = coalesce(f.phone, '')
      WHERE c.deleted_at IS NULL`,
    values: [buffer.contacts.map((c) => c.email), buffer.contacts.map((c) => c.phoneNumber)],
  })
  if ((found.rows[0]?.n ?? 0) > 0) return err
  return new Error('a unique violation on contact_fact for a fact no stored contact matches: not a race', {
    cause: err,
  })
}

/**
 * Replaces stand-in ids in a unit's result by the ids the final statement drew: any number in the
 * stand-in range, anywhere in plain arrays and objects.
 */
export function resolveIds<T>(value: T, ids: readonly number[]): T {
  if (typeof value === 'number') {
    if (value < PENDING_BASE) return value
    const real = ids[value - PENDING_BASE]
    if (real === undefined) throw new Error(`stand-in id ${value} was not drawn`)
    return real as T
  }
  if (Array.isArray(value)) return value.map((v) => resolveIds(v, ids)) as T
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = resolveIds(v, ids)
    return out as T
  }
  return value
}

/**
 * Splits a read's rows into contacts and links, and confirms its block-list version row: a version
 * that moved since the store read the list fails the unit (it is rerun with the new list).
 */
export function splitTouched(rows: readonly SQL.TouchedRow[], blocklist: BlocklistState): Prefetched {
  const contacts: Contact[] = []
  const links: LinkPartner[] = []
  for (const r of rows) {
    if (r.kind === 'contact') contacts.push(SQL.toContact(r))
    else if (r.kind === 'link') {
      links.push({
        root: Number(r.linked_id),
        email: r.email ?? '',
        phoneNumber: r.phone_number ?? '',
        side: Number(r.created_ms) === 0 ? 'email' : 'phoneNumber',
      })
    } else if (r.kind === 'version' && Number(r.id) !== blocklist.version) {
      blocklist.stale = true
      throw new BlocklistChanged()
    }
  }
  return { contacts, links }
}

export class PgTx implements Tx {
  readonly engine = 'postgres'
  protected statements = 0

  constructor(
    protected readonly client: pg.ClientBase,
    readonly phase: Phase,
    readonly requestId: string | null,
    readonly buffer: WriteBuffer | null,
    protected readonly blocklistState: BlocklistState,
  ) {}

  blocklist(): BlockList {
    return this.blocklistState.list
  }

  /** Runs a read; in `single` only the first, in `optimistic` none but loadTouched. */
  protected async read<R extends pg.QueryResultRow>(query: pg.QueryConfig): Promise<R[]> {
    if (this.phase === 'optimistic') throw new RestartInTransaction()
    if (this.phase === 'single' && this.statements > 0) throw new RestartInTransaction()
    this.statements++
    return (await this.client.query<R>(query)).rows
  }

  async loadTouched(input: IdentifyInput): Promise<Touched> {
    const query = { ...SQL.LOAD_TOUCHED, values: [input.email, input.phoneNumber] }
    let rows: SQL.TouchedRow[]
    if (this.phase !== 'optimistic') rows = await this.read<SQL.TouchedRow>(query)
    else {
      if (this.statements > 0) throw new RestartInTransaction()
      this.statements++
      rows = (await this.client.query<SQL.TouchedRow>(query)).rows
      // The write's check repeats this read (the block list's version included): if anything moved,
      // nothing is written.
      this.buffer?.checks.push({
        sql: (p) => SQL.touchedFingerprint(p.add(input.email, 'text'), p.add(input.phoneNumber, 'text')),
        expected: SQL.fingerprint(rows),
      })
    }
    const { contacts, links } = splitTouched(rows, this.blocklistState)
    return { contacts, throughLinks: links }
  }

  async identity(selector: IdentitySelector): Promise<IdentityRecord | null> {
    const [query, value] =
      'contactId' in selector
        ? [SQL.IDENTITY_BY.contactId, selector.contactId]
        : 'email' in selector
          ? [SQL.IDENTITY_BY.email, selector.email]
          : [SQL.IDENTITY_BY.phoneNumber, selector.phoneNumber]
    const rows = await this.read<SQL.StoredRow & { kind: 'contact' | 'link' }>({ ...query, values: [value] })
    const contacts: StoredContact[] = []
    const links = []
    for (const r of rows) {
      if (r.kind === 'contact') contacts.push(SQL.toStored(r))
      else links.push(SQL.toLink(r as unknown as Parameters<typeof SQL.toLink>[0]))
    }
    return contacts.length === 0 ? null : { contacts, links }
  }

  async contact(id: number): Promise<StoredContact | null> {
    const rows = await this.read<SQL.StoredRow>({ ...SQL.CONTACT_BY_ID, values: [id] })
    return rows[0] === undefined ? null : SQL.toStored(rows[0])
  }

  async lineage(scope: HistoryScope): Promise<LineageEvent[]> {
    const rows = await this.read<{ event_id: string; members: string | null }>({
      ...SQL.LINEAGE,
      values: [scope.contactIds, scope.before ?? NO_BOUND],
    })
    return rows.map((r) => ({
      eventId: Number(r.event_id),
      members: r.members === null ? [] : (JSON.parse(r.members) as number[]),
    }))
  }

  async events(scopes: readonly HistoryScope[], after: number, limit: number): Promise<StoredEvent[]> {
    if (scopes.length === 0) return []
    const values: unknown[] = []
    for (const s of scopes) values.push(s.contactIds, s.before ?? NO_BOUND)
    values.push(after, limit)
    const rows = await this.read<SQL.EventRow>({ text: SQL.eventsInScopes(scopes.length), values })
    return rows.map(SQL.toStoredEvent)
  }

  async link(id: number): Promise<Link | null> {
    const rows = await this.read<Parameters<typeof SQL.toLink>[0]>({ ...SQL.LINK_BY_ID, values: [id] })
    return rows[0] === undefined ? null : SQL.toLink(rows[0])
  }

  async holders(kind: BlockKind, values: readonly string[]): Promise<Contact[]> {
    if (values.length === 0) return []
    return (await this.read<SQL.ContactRow>({ text: SQL.HOLDERS[kind], values: [values] })).map(SQL.toContact)
  }

  async distinctValues(kind: BlockKind): Promise<string[]> {
    return (await this.read<{ value: string }>({ text: SQL.DISTINCT_VALUES[kind] })).map((r) => r.value)
  }

  async linksNaming(kind: BlockKind, values: readonly string[]): Promise<Link[]> {
    if (values.length === 0) return []
    const rows = await this.read<Parameters<typeof SQL.toLink>[0]>({ text: SQL.LINKS_NAMING[kind], values: [values] })
    return rows.map(SQL.toLink)
  }

  async blockedValues(): Promise<BlockedValue[]> {
    const rows = await this.read<{ version: string; entries: string }>(SQL.BLOCKLIST)
    return JSON.parse(rows[0]?.entries ?? '[]') as BlockedValue[]
  }

  async hubs(limit: number): Promise<Hubs> {
    const values = await this.read<Hubs['values'][number]>({ text: SQL.HUB_VALUES, values: [limit] })
    const identities = await this.read<{ root: string; contacts: number }>({
      text: SQL.HUB_IDENTITIES,
      values: [limit],
    })
    return { values, identities: identities.map((r) => ({ primaryContatctId: Number(r.root), contacts: r.contacts })) }
  }

  /** Operator writes run inside a real transaction, one statement each. */
  protected async write(query: pg.QueryConfig): Promise<pg.QueryResult> {
    if (this.phase === 'optimistic') throw new RestartInTransaction()
    if (this.phase !== 'transaction') throw new TypeError(`a ${this.phase} unit cannot run operator writes`)
    return this.client.query(query)
  }

  async softDeleteContact(id: number): Promise<void> {
    await this.write({ text: SQL.SOFT_DELETE, values: [id] })
  }

  async setLinks(changes: readonly { readonly id: number; readonly linkedId: number | null }[]): Promise<void> {
    if (changes.length === 0) return
    await this.write({ text: SQL.SET_LINKS, values: [changes.map((c) => c.id), changes.map((c) => c.linkedId)] })
  }

  async deleteLinks(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.write({ text: SQL.DELETE_LINKS, values: [ids] })
  }

  async eraseContacts(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return
    await this.write({ text: SQL.UNLINK_ERASED, values: [ids] })
    await this.write({ text: SQL.ERASE_CONTACTS, values: [ids] })
  }

  async rewriteEventData(changes: readonly { readonly id: number; readonly data: EventData }[]): Promise<void> {
    if (changes.length === 0) return
    await this.write({
      text: SQL.REWRITE_EVENTS,
      values: [changes.map((c) => c.id), changes.map((c) => JSON.stringify(c.data))],
    })
  }

  async markUnheld(kind: BlockKind, values: readonly string[]): Promise<void> {
    if (values.length > 0) await this.write({ text: SQL.MARK_UNHELD, values: [kind, values] })
  }

  async clearUnheld(kind: BlockKind, values: readonly string[]): Promise<void> {
    if (values.length > 0) await this.write({ text: SQL.CLEAR_UNHELD, values: [kind, values] })
  }

  async insertBlockedValue(entry: NewBlockedValue): Promise<BlockedValue> {
    const result = await this.write({
      text: SQL.INSERT_BLOCKED,
      values: [entry.kind, entry.value, entry.pattern, entry.source],
    })
    await this.write({ text: SQL.BUMP_BLOCKLIST })
    this.blocklistState.stale = true
    const r = result.rows[0] as {
      id: string
      kind: BlockKind
      value: string | null
      pattern: string | null
      source: BlockedValue['source']
      created_ms: number
    }
    return {
      id: Number(r.id),
      kind: r.kind,
      value: r.value,
      pattern: r.pattern,
      source: r.source,
      createdAt: r.created_ms,
    }
  }

  async deleteBlockedValue(id: number): Promise<void> {
    await this.write({ text: SQL.DELETE_BLOCKED, values: [id] })
    await this.write({ text: SQL.BUMP_BLOCKLIST })
    this.blocklistState.stale = true
  }

  /** Writes go to the buffer when there is one, else straight to the database. */
  protected direct(): boolean {
    if (this.phase === 'single') throw new TypeError('a read unit tried to write')
    return this.buffer === null
  }

  async relink(fromRoot: number, toPrimary: number): Promise<void> {
    if (!this.direct()) return this.buffer?.relink(fromRoot, toPrimary)
    await this.client.query({ ...SQL.RELINK, values: [toPrimary, fromRoot] })
  }

  async insertContact(c: NewContact): Promise<Created> {
    if (!this.direct()) {
      const buffer = this.buffer as WriteBuffer
      buffer.contacts.push({ ...c })
      return { id: PENDING_BASE + buffer.contacts.length - 1, createdAt: Math.max(this.clock(), c.notBefore) }
    }
    const result = await this.client.query<{ id: string; created_ms: number }>({
      ...SQL.INSERT_CONTACT,
      values: [c.email, c.phoneNumber, c.linkedId, c.linkPrecedence, c.notBefore],
    })
    const row = result.rows[0]
    if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
    return { id: Number(row.id), createdAt: row.created_ms }
  }

  /** The time a buffered contact is assumed to get (the database stamps the real one). */
  protected clock(): number {
    return Date.now()
  }

  async insertLink(email: string, phoneNumber: string): Promise<void> {
    if (!this.direct()) {
      this.buffer?.links.push({ email, phoneNumber })
      return
    }
    await this.client.query({ ...SQL.INSERT_LINK, values: [email, phoneNumber] })
  }

  async appendEvent(event: NewEvent): Promise<void> {
    if (!this.direct()) {
      this.buffer?.events.push({
        type: event.type,
        data: JSON.stringify(event.data),
        requestId: this.requestId,
        contacts: event.contacts.map((c) => ({ id: c.id, role: c.role })),
      })
      return
    }
    const shown = event.contacts.filter((c) => c.role !== 'member')
    const members = event.contacts.filter((c) => c.role === 'member').map((c) => c.id)
    await this.client.query({
      ...SQL.INSERT_EVENT,
      values: [
        event.type,
        this.requestId,
        JSON.stringify(shown.map((c) => [c.id, c.role])),
        members.length === 0 ? null : JSON.stringify(members),
        [...members, ...shown.map((c) => c.id)],
        [...members.map(() => 1), ...shown.map(() => 0)],
        JSON.stringify(event.data),
      ],
    })
  }
}

/** An import batch: one checked prefetch, writes buffered for the final statement. */
export class PgBatchTx extends PgTx implements BatchTx {
  #clock = Date.now()

  constructor(
    client: pg.ClientBase,
    readonly start: BatchStart,
    buffer: WriteBuffer,
    blocklist: BlocklistState,
    requestId: string | null = null,
    private readonly parent: PgBatchTx | null = null,
  ) {
    super(client, 'batch', requestId, buffer, blocklist)
  }

  forRequest(requestId: string): Tx {
    return new PgBatchTx(
      this.client,
      this.start,
      this.buffer as WriteBuffer,
      this.blocklistState,
      requestId,
      this.parent ?? this,
    )
  }

  override async loadTouched(): Promise<Touched> {
    // The store cannot see buffered rows; the importer's cache answers for every value of a batch.
    throw new Error('an import batch read the store outside its prefetch; its cache should have answered')
  }

  async prefetch(emails: readonly string[], phoneNumbers: readonly string[]): Promise<Prefetched> {
    if (this.statements++ > 0) throw new Error('an import batch prefetches once')
    // Not serializable: the final statement's check validates it, and a serializable read of a whole
    // batch's identities would record predicate locks that make concurrent requests fail (measured:
    // three times the request retries while an import ran).
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const { rows } = await this.client.query<SQL.TouchedRow>({ ...SQL.PREFETCH, values: [emails, phoneNumbers] })
    await this.client.query('COMMIT')
    const found = splitTouched(rows, this.blocklistState)
    // The database's clock, as requests are stamped, so instances and importer share one timeline.
    this.#clock = rows.find((r) => r.kind === 'clock')?.created_ms ?? this.#clock
    this.buffer?.checks.push({
      sql: (p) => SQL.prefetchFingerprint(p.add(emails, 'text[]'), p.add(phoneNumbers, 'text[]')),
      expected: SQL.fingerprint(rows),
    })
    return found
  }

  protected override clock(): number {
    return this.parent?.clock() ?? this.#clock
  }
}
