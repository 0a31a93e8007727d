/**
 * PostgreSQL import sink. Each batch is one SERIALIZABLE transaction, like each request of
 * PostgresStore (src/store/postgres.ts): it reads, in one statement, every identity holding any
 * email or phone number of the batch (`prefetch`), the engine applies the rows in file order to
 * that picture in memory, and `commit` writes the outcome in a few multi-row statements — ids
 * drawn from the table's own sequence in creation order, new contacts in one INSERT, relinked
 * identities in one UPDATE — then commits. A batch that loses a race with the service (40001,
 * 40P01, or the same fact inserted twice) is rolled back whole and rerun by the engine on fresh
 * reads. Nothing read in an earlier batch is trusted: every batch reports `changed`.
 */
import type pg from 'pg'
import type { Contact } from '../identity/contact.ts'
import type { NewContact } from '../identity/reconcile.ts'
import { CONTACT_COLUMNS, type ContactRow, ms, toContact } from '../store/postgres.ts'
import { isContention } from '../store/postgres-errors.ts'
import type { BatchStart, ImportSink } from './sink.ts'

// Until commit, a contact created in the batch carries a stand-in id above every real one (real ids
// stay below 2^52), counted up in creation order. The rules compare ids only to break createdAt ties,
// and the stand-ins compare like the ids they become: every id we draw is above every id our
// snapshot can see, and we draw them in creation order.
const PENDING_BASE = 2 ** 52

// As in src/store/postgres.ts: epoch milliseconds computed by the server, ids as text (int8).

// Every live contact of every identity holding one of the values: the store's LOAD_TOUCHED for a
// whole batch. Each value names at most one root (I2); contact_root reads each identity in one range.
// Under SERIALIZABLE the index ranges read here (those of absent values too) are what a concurrent
// request's insert or relink conflicts with.
const PREFETCH = `
  SELECT ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) IN (
      SELECT coalesce(linked_id, id) FROM contact WHERE email = ANY($1::text[]) AND deleted_at IS NULL
      UNION
      SELECT coalesce(linked_id, id) FROM contact WHERE phone_number = ANY($2::text[]) AND deleted_at IS NULL)
    AND deleted_at IS NULL`

const ROOTS_BY = (column: string) =>
  `SELECT coalesce(linked_id, id)::text AS root FROM contact WHERE ${column} = $1 AND deleted_at IS NULL LIMIT 1`

const IDENTITY = `SELECT ${CONTACT_COLUMNS} FROM contact WHERE coalesce(linked_id, id) = $1 AND deleted_at IS NULL`

// The contacts of the batch, final links already resolved; explicit ids from ALLOCATE. The foreign
// key on linked_id is checked at the end of the statement, so a secondary may name a primary
// inserted by the same statement.
const INSERT = `
  INSERT INTO contact (id, email, phone_number, linked_id, link_precedence, created_at, updated_at)
  SELECT t.id, t.email, t.phone_number, t.linked_id, t.link_precedence,
    timestamptz 'epoch' + t.created_ms * interval '1 millisecond',
    timestamptz 'epoch' + t.created_ms * interval '1 millisecond'
  FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::float8[])
    AS t(id, email, phone_number, linked_id, link_precedence, created_ms)`

// Rule 2 for identities that existed before the batch: each demoted root's whole identity moves
// under the root it ended up in (the store's DEMOTE, for many roots at once).
const DEMOTE = `
  UPDATE contact SET linked_id = m.to_id, link_precedence = 'secondary', updated_at = statement_timestamp()
  FROM unnest($1::int8[], $2::int8[]) AS m(from_id, to_id)
  WHERE coalesce(contact.linked_id, contact.id) = m.from_id AND contact.deleted_at IS NULL`

/**
 * @example
 * const client = new pg.Client({ connectionString: url })
 * await client.connect()
 * const stats = await importRecords(new PostgresSink(client), source.records)
 */
export class PostgresSink implements ImportSink {
  readonly engine = 'postgres'
  readonly #client: pg.ClientBase
  #sequence: string | null = null
  /** The id sequence's value after our own last allocation: anything else means others inserted. */
  #expectedLast: string | null = null
  #inTransaction = false
  /** Contacts created in this batch, in creation order; index i has the stand-in id PENDING_BASE + i. */
  #created: NewContact[] = []
  /** Each root demoted in this batch → the root it was folded into (which may be demoted later). */
  #folded = new Map<number, number>()

  constructor(client: pg.ClientBase) {
    this.#client = client
  }

  async begin(): Promise<BatchStart> {
    this.#reset()
    if (this.#sequence === null) {
      const seq = await this.#client.query<{ seq: string | null }>(
        "SELECT pg_get_serial_sequence('contact', 'id') AS seq",
      )
      const name = seq.rows[0]?.seq
      if (!name) throw new Error('contact.id has no sequence; is the schema migrated?')
      this.#sequence = name
    }
    // The sequence is read outside the transaction (it is not transactional anyway): it only tells
    // whether someone else inserted since our last batch, which sizes batches, never decides a row.
    const seen = await this.#client.query<{ last: string }>(`SELECT last_value::text AS last FROM ${this.#sequence}`)
    const last = seen.rows[0]?.last ?? null
    const othersWrote = this.#expectedLast !== null && last !== this.#expectedLast
    this.#expectedLast = last
    await this.#client.query('BEGIN ISOLATION LEVEL SERIALIZABLE')
    this.#inTransaction = true
    // The database's clock, as the store stamps requests, so instances and importer share one timeline.
    const clock = await this.#client.query<{ now: number }>(`SELECT ${ms('statement_timestamp()')} AS now`)
    return { changed: true, empty: false, newestCreatedAt: 0, othersWrote, clock: clock.rows[0]?.now ?? Date.now() }
  }

  async prefetch(emails: readonly string[], phoneNumbers: readonly string[]): Promise<Contact[]> {
    const result = await this.#client.query<ContactRow>(PREFETCH, [emails, phoneNumbers])
    return result.rows.map(toContact)
  }

  async rootsOf(field: 'email' | 'phoneNumber', value: string): Promise<number[]> {
    const result = await this.#client.query<{ root: string }>(ROOTS_BY(field === 'email' ? 'email' : 'phone_number'), [
      value,
    ])
    return result.rows.map((r) => this.#current(Number(r.root)))
  }

  async identity(root: number): Promise<Contact[]> {
    // Only identities as they stood before the batch can be asked for; the engine holds the rest.
    const result = await this.#client.query<ContactRow>(IDENTITY, [root])
    return result.rows.map(toContact)
  }

  demote(primaryId: number, demotedId: number): void {
    this.#folded.set(demotedId, primaryId)
  }

  insert(contact: NewContact): number {
    this.#created.push(contact)
    return PENDING_BASE + this.#created.length - 1
  }

  isRetryable(err: unknown): boolean {
    return isContention(err)
  }

  async commit(): Promise<void> {
    const created = this.#created
    // Real ids from the table's sequence, drawn in one statement: ascending, so the k-th contact
    // created in the batch gets the k-th smallest.
    let ids: number[] = []
    if (created.length > 0) {
      const drawn = await this.#client.query<{ id: string }>(
        'SELECT nextval($1::regclass)::text AS id FROM generate_series(1, $2)',
        [this.#sequence, created.length],
      )
      ids = drawn.rows.map((r) => Number(r.id)).sort((a, b) => a - b)
      this.#expectedLast = String(ids[ids.length - 1])
    }
    const real = (id: number) => (id >= PENDING_BASE ? (ids[id - PENDING_BASE] as number) : id)
    if (created.length > 0) {
      const linked: (number | null)[] = []
      const precedence: string[] = []
      created.forEach((c, i) => {
        const own = PENDING_BASE + i
        const root = this.#current(c.linkedId ?? own)
        linked.push(root === own ? null : real(root))
        precedence.push(root === own ? 'primary' : 'secondary')
      })
      await this.#client.query(INSERT, [
        ids,
        created.map((c) => c.email),
        created.map((c) => c.phoneNumber),
        linked,
        precedence,
        created.map((c) => c.createdAt),
      ])
    }
    const from: number[] = []
    const to: number[] = []
    for (const demoted of this.#folded.keys()) {
      if (demoted >= PENDING_BASE) continue // created in this batch: its final link is already written
      from.push(demoted)
      to.push(real(this.#current(demoted)))
    }
    if (from.length > 0) await this.#client.query(DEMOTE, [from, to])
    await this.#client.query('COMMIT')
    this.#inTransaction = false
    this.#reset()
  }

  async rollback(): Promise<void> {
    this.#reset()
    if (!this.#inTransaction) return
    this.#inTransaction = false
    await this.#client.query('ROLLBACK')
  }

  /** The root an identity ended up under after this batch's merges so far. */
  #current(root: number): number {
    let current = root
    for (let next = this.#folded.get(current); next !== undefined; next = this.#folded.get(current)) current = next
    return current
  }

  #reset(): void {
    this.#created = []
    this.#folded = new Map()
  }
}
