/**
 * The PostgreSQL adapter's statements (src/store/postgres.ts, postgres-tx.ts). Timestamps are
 * computed by the server as epoch milliseconds (float8, exact for TIMESTAMPTZ(3)); ids are int8,
 * which pg returns as strings, converted by the row mappers below (exact up to 2^53).
 *
 * Email lookups compare `coalesce(email, '')`, the leading column of `contact_fact`, which then
 * serves both the lookup and I4's guard (blank emails are never stored, so the two agree).
 */
import type { Contact, Link, StoredContact } from '../identity/contact.ts'
import type { EventRole, StoredEvent } from '../identity/events.ts'

export const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`

export const CONTACT_COLUMNS = `id, email, phone_number, linked_id, link_precedence, ${ms('created_at')} AS created_ms`
export const STORED_COLUMNS = `${CONTACT_COLUMNS}, ${ms('updated_at')} AS updated_ms,
  CASE WHEN deleted_at IS NULL THEN NULL ELSE ${ms('deleted_at')} END AS deleted_ms`

const ROOT_OF_EMAIL = (param: string) =>
  `(SELECT coalesce(linked_id, id) FROM contact WHERE coalesce(email, '') = ${param} AND deleted_at IS NULL LIMIT 1)`
const ROOT_OF_PHONE = (param: string) =>
  `(SELECT coalesce(linked_id, id) FROM contact WHERE phone_number = ${param} AND deleted_at IS NULL LIMIT 1)`

// Each value names at most one root (I2), and one range of the `contact_root` expression index per
// root reads the whole identity. Unknown values must not probe `contact_root` at all: a probe for
// NULL lands on the index's last page, where every new primary is inserted, and SSI would then see
// each pair of concurrent new customers as a conflict (measured: 10,000 retries for 6,000 commits).
// An empty array is never searched. Under SERIALIZABLE, the index ranges read here (those of
// absent values too) are what a concurrent insert or relink conflicts with.
export const touchedWhere = (email: string, phone: string) => `
  coalesce(linked_id, id) = ANY(array_remove(ARRAY[${ROOT_OF_EMAIL(email)}, ${ROOT_OF_PHONE(phone)}], NULL))
  AND deleted_at IS NULL`

export const LOAD_TOUCHED = {
  name: 'identity_load_touched',
  text: `SELECT ${CONTACT_COLUMNS} FROM contact WHERE ${touchedWhere('$1::text', '$2::text')}`,
}

/**
 * An import batch's read: every live contact of every identity holding one of the values. The roots
 * are read first (through `contact_fact` and `contact_phone_number`) and handed over as an array, so
 * the identities are read through `contact_root` too: a join here was planned as a scan of the whole
 * table, whose table-wide SIRead lock made every batch conflict with every concurrent write.
 */
export const prefetchWhere = (emails: string, phones: string) => `
  coalesce(linked_id, id) = ANY(ARRAY(
      SELECT coalesce(linked_id, id) FROM contact WHERE coalesce(email, '') = ANY(${emails}) AND deleted_at IS NULL
      UNION
      SELECT coalesce(linked_id, id) FROM contact WHERE phone_number = ANY(${phones}) AND deleted_at IS NULL))
  AND deleted_at IS NULL`

/** The prefetch, with the database's clock as one more row (`kind = 'clock'`, in `created_ms`). */
export const PREFETCH = {
  name: 'import_prefetch',
  text: `SELECT 'contact' AS kind, ${CONTACT_COLUMNS} FROM contact WHERE ${prefetchWhere('$1::text[]', '$2::text[]')}
    UNION ALL
    SELECT 'clock', NULL, NULL, NULL, NULL, NULL, ${ms('statement_timestamp()')}`,
}

/** `fingerprint` of the rows a prefetch returns, recomputed by the statement that writes the batch. */
export const prefetchFingerprint = (emails: string, phones: string) =>
  `(SELECT coalesce(string_agg(id::text || ':' || coalesce(linked_id::text, ''), ',' ORDER BY id), '')
    FROM contact WHERE ${prefetchWhere(emails, phones)})`

/**
 * The check an optimistic write repeats in its own statement (postgres-tx.ts): the touched rows'
 * ids and links, in the form `fingerprint` computes from the rows the first statement read.
 */
export const touchedFingerprint = (email: string, phone: string) =>
  `(SELECT coalesce(string_agg(id::text || ':' || coalesce(linked_id::text, ''), ',' ORDER BY id), '')
    FROM contact WHERE ${touchedWhere(email, phone)})`

/** `touchedFingerprint`, computed in JavaScript from rows as `CONTACT_COLUMNS` returns them. */
export function fingerprint(rows: readonly ContactRow[]): string {
  return rows
    .map((r) => [Number(r.id), r.linked_id === null ? '' : String(r.linked_id)] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([id, linked]) => `${id}:${linked}`)
    .join(',')
}

// One identity, by contact id or value, and the links naming any of its values, in one statement
// (one snapshot, one round trip): the operator reads cost what `/identify`'s read costs.
const identityBy = (root: string) => ({
  text: `WITH c AS (
      SELECT ${STORED_COLUMNS} FROM contact WHERE coalesce(linked_id, id) = ${root} AND deleted_at IS NULL)
    SELECT 'contact' AS kind, c.* FROM c
    UNION ALL
    SELECT 'link', l.id, l.email, l.phone_number, NULL, NULL, ${ms('l.created_at')}, NULL, NULL FROM link l
    WHERE l.email IN (SELECT email FROM c WHERE email IS NOT NULL)
       OR l.phone_number IN (SELECT phone_number FROM c WHERE phone_number IS NOT NULL)
    ORDER BY kind, created_ms, id`,
})
export const IDENTITY_BY = {
  contactId: {
    name: 'identity_by_contact',
    ...identityBy('(SELECT coalesce(linked_id, id) FROM contact WHERE id = $1::int8 AND deleted_at IS NULL)'),
  },
  email: { name: 'identity_by_email', ...identityBy(ROOT_OF_EMAIL('$1::text')) },
  phoneNumber: { name: 'identity_by_phone', ...identityBy(ROOT_OF_PHONE('$1::text')) },
} as const

export const CONTACT_BY_ID = { name: 'contact_by_id', text: `SELECT ${STORED_COLUMNS} FROM contact WHERE id = $1` }

export const LINEAGE = {
  name: 'event_lineage',
  text: `SELECT id::text AS event_id, members FROM event
    WHERE id IN (SELECT event_id FROM event_contact
      WHERE contact_id = ANY($1::int8[]) AND lineage = 1 AND event_id < $2::int8)
    ORDER BY id`,
}

const EVENT_COLUMNS = `id, type, ${ms('at')} AS at_ms, request_id, contacts, data`

/** Events of any of `scopes` scopes (each contact ids and a bound), above a cursor, ascending. */
export function eventsInScopes(scopes: number): string {
  const conditions = Array.from(
    { length: scopes },
    (_, i) => `(contact_id = ANY($${2 * i + 1}::int8[]) AND event_id < $${2 * i + 2}::int8)`,
  )
  const after = 2 * scopes + 1
  return `SELECT ${EVENT_COLUMNS} FROM event WHERE id IN (
      SELECT event_id FROM event_contact WHERE (${conditions.join(' OR ')}) AND event_id > $${after}::int8)
    ORDER BY id LIMIT $${after + 1}`
}

// Rule 2: all demoted primaries and their secondaries in one statement. Clock: the database's, so
// instances with skewed clocks still stamp one timeline.
export const RELINK = {
  name: 'identity_relink',
  text: `UPDATE contact SET linked_id = $1, link_precedence = 'secondary', updated_at = statement_timestamp()
    WHERE coalesce(linked_id, id) = $2 AND deleted_at IS NULL`,
}

/** The database's clock, but never older than `$5` (epoch ms): the identity's newest contact (I3). */
export const stampNotBefore = (param: string) =>
  `greatest(statement_timestamp(), timestamptz 'epoch' + ${param} * interval '1 millisecond')`

export const INSERT_CONTACT = {
  name: 'identity_insert_contact',
  text: `INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
    SELECT $1, $2, $3, $4, t, t FROM (SELECT ${stampNotBefore('$5::float8')} AS t) s
    RETURNING id::text AS id, ${ms('created_at')} AS created_ms`,
}

export const INSERT_LINK = {
  name: 'identity_insert_link',
  text: 'INSERT INTO link (email, phone_number, created_at) VALUES ($1, $2, statement_timestamp())',
}

/** One event and the rows that index it by contact ($5: contact ids, $6: 1 for members). */
export const INSERT_EVENT = {
  name: 'identity_insert_event',
  text: `WITH e AS (
      INSERT INTO event (type, at, request_id, contacts, members, data)
      VALUES ($1, statement_timestamp(), $2, $3, $4, $7) RETURNING id)
    INSERT INTO event_contact (contact_id, event_id, lineage)
    SELECT c.id, e.id, max(c.lineage) FROM e, unnest($5::int8[], $6::int2[]) AS c(id, lineage)
    GROUP BY c.id, e.id`,
}

// Export: every live contact and every link both of whose values its identity holds, grouped by
// identity root, contacts oldest first then links, from the cursor's one snapshot.
export const EXPORT_ROWS = `
  SELECT 'contact' AS kind, coalesce(linked_id, id) AS root, id, email, phone_number,
    link_precedence, ${ms('created_at')} AS created_ms, 0 AS ord
  FROM contact WHERE deleted_at IS NULL
  UNION ALL
  SELECT 'link', root, id, email, phone_number, NULL, created_ms, 1 FROM (
    SELECT l.id, l.email, l.phone_number, ${ms('l.created_at')} AS created_ms,
      ${ROOT_OF_EMAIL('l.email')} AS root, ${ROOT_OF_PHONE('l.phone_number')} AS phone_root
    FROM link l) r
  WHERE root IS NOT NULL AND root = phone_root
  ORDER BY root, ord, created_ms, id`

/** A contact row as `CONTACT_COLUMNS` selects it. */
export interface ContactRow {
  id: string | number
  email: string | null
  phone_number: string | null
  linked_id: string | number | null
  link_precedence: Contact['linkPrecedence']
  created_ms: number
}

export interface StoredRow extends ContactRow {
  updated_ms: number
  deleted_ms: number | null
}

export interface EventRow {
  id: string | number
  type: StoredEvent['type']
  at_ms: number
  request_id: string | null
  contacts: string
  data: string
}

/** The rules' view of a row. */
export function toContact(r: ContactRow): Contact {
  return {
    id: Number(r.id),
    email: r.email,
    phoneNumber: r.phone_number,
    linkedId: r.linked_id === null ? null : Number(r.linked_id),
    linkPrecedence: r.link_precedence,
    createdAt: r.created_ms,
  }
}

export function toStored(r: StoredRow): StoredContact {
  return { ...toContact(r), updatedAt: r.updated_ms, deletedAt: r.deleted_ms }
}

export function toLink(r: { id: string | number; email: string; phone_number: string; created_ms: number }): Link {
  return { id: Number(r.id), email: r.email, phoneNumber: r.phone_number, createdAt: r.created_ms }
}

export function toStoredEvent(r: EventRow): StoredEvent {
  return {
    id: Number(r.id),
    type: r.type,
    at: r.at_ms,
    requestId: r.request_id,
    contacts: (JSON.parse(r.contacts) as [number, EventRole][]).map(([id, role]) => ({ id: Number(id), role })),
    data: JSON.parse(r.data) as StoredEvent['data'],
  }
}
