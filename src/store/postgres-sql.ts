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
//
// A value nobody holds may still be named by a link whose other value someone does hold: that
// identity is touched too (SPEC §6), and the link is returned with it (`kind = 'link'`, the link's id
// in `id`, the identity's root in `linked_id`). The block list's version is one more row
// (`kind = 'version'`, in `id`), so one statement reads everything the unit decides on.
const touchedCte = (email: string, phone: string) => `
  WITH r AS (SELECT ${ROOT_OF_EMAIL(email)} AS er, ${ROOT_OF_PHONE(phone)} AS pr),
  lk AS (
    SELECT l.id, l.email, l.phone_number, ${ROOT_OF_PHONE('l.phone_number')} AS root, 0 AS side FROM link l
    WHERE l.email = ${email} AND (SELECT er FROM r) IS NULL
      AND EXISTS (SELECT 1 FROM unheld_link_value WHERE kind = 'email' AND value = ${email})
    UNION ALL
    SELECT l.id, l.email, l.phone_number, ${ROOT_OF_EMAIL('l.email')}, 1 FROM link l
    WHERE l.phone_number = ${phone} AND (SELECT pr FROM r) IS NULL
      AND EXISTS (SELECT 1 FROM unheld_link_value WHERE kind = 'phoneNumber' AND value = ${phone}))`

const TOUCHED_ROWS = `
  SELECT 0 AS ord, 'contact' AS kind, ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) = ANY(array_remove(
      ARRAY[(SELECT er FROM r), (SELECT pr FROM r)] || ARRAY(SELECT root FROM lk WHERE root IS NOT NULL), NULL))
    AND deleted_at IS NULL
  UNION ALL
  SELECT 1, 'link', id, email, phone_number, root, NULL, side FROM lk WHERE root IS NOT NULL
  UNION ALL
  SELECT 2, 'version', version, NULL, NULL, NULL, NULL, NULL FROM blocklist_version`

export const LOAD_TOUCHED = {
  name: 'identity_load_touched',
  text: `${touchedCte('$1::text', '$2::text')} ${TOUCHED_ROWS}`,
}

/**
 * What an optimistic write's check recomputes in its own statement (postgres-tx.ts): the rows' kinds,
 * ids and links, in the form `fingerprint` computes from the rows the first statement read. A
 * contact's email, phone and creation time never change, nor a link's values, so ids and links
 * (and the block list's version) are all that can.
 */
const fingerprintSql = (rows: string) =>
  `coalesce(string_agg(kind || '|' || coalesce(id::text, '') || '|' || coalesce(linked_id::text, ''), ','
     ORDER BY ord, id, created_ms), '')
   FROM (${rows}) t`

export const touchedFingerprint = (email: string, phone: string) =>
  `(${touchedCte(email, phone)} SELECT ${fingerprintSql(TOUCHED_ROWS)})`

/** A row of `LOAD_TOUCHED` or `PREFETCH`. */
export interface TouchedRow extends ContactRow {
  ord: number
  kind: 'contact' | 'link' | 'version' | 'clock'
}

/** `fingerprintSql`, computed in JavaScript from the rows (the `clock` row does not count). */
export function fingerprint(rows: readonly TouchedRow[]): string {
  return rows
    .filter((r) => r.kind !== 'clock')
    .map((r) => ({
      ord: Number(r.ord),
      id: Number(r.id),
      // A link row's `created_ms` is its side: 0 matched by its email, 1 by its phone number.
      side: r.kind === 'link' ? Number(r.created_ms) : 0,
      key: `${r.kind}|${r.id ?? ''}|${r.linked_id ?? ''}`,
    }))
    .sort((a, b) => a.ord - b.ord || a.id - b.id || a.side - b.side)
    .map((r) => r.key)
    .join(',')
}

/** The block list and its version in one statement. */
export const BLOCKLIST = {
  name: 'blocklist',
  text: `SELECT (SELECT version FROM blocklist_version)::text AS version,
    coalesce((SELECT json_agg(json_build_object('id', id, 'kind', kind, 'value', value, 'pattern', pattern,
      'source', source, 'createdAt', ${ms('created_at')}) ORDER BY id) FROM blocked_value), '[]')::text AS entries`,
}

/**
 * An import batch's read: every live contact of every identity holding one of the values, or joined
 * by a link to one of them, with those links, the block list's version and the database's clock. The
 * root of each value is one index probe (`LIMIT 1`: a value names one identity, I2), and the roots are
 * handed over as an array, so the identities are read through `contact_root` too. Written as
 * `= ANY($1)` or a join, the planner chose a scan of the whole table for a few hundred values, whose
 * table-wide SIRead lock made every batch conflict with every concurrent write.
 */
const prefetchCte = (emails: string, phones: string) => `
  WITH lk AS (
    SELECT l.id, l.email, l.phone_number, ${ROOT_OF_PHONE('l.phone_number')} AS root, 0 AS side FROM link l
    WHERE l.email = ANY(ARRAY(SELECT value FROM unheld_link_value WHERE kind = 'email' AND value = ANY(${emails})))
    UNION ALL
    SELECT l.id, l.email, l.phone_number, ${ROOT_OF_EMAIL('l.email')}, 1 FROM link l
    WHERE l.phone_number = ANY(ARRAY(
      SELECT value FROM unheld_link_value WHERE kind = 'phoneNumber' AND value = ANY(${phones})))),
  roots AS (
    SELECT ${ROOT_OF_EMAIL('v.value')} AS root FROM unnest(${emails}) AS v(value)
    UNION
    SELECT ${ROOT_OF_PHONE('v.value')} FROM unnest(${phones}) AS v(value)
    UNION
    SELECT root FROM lk WHERE root IS NOT NULL)`

const PREFETCH_ROWS = `
  SELECT 0 AS ord, 'contact' AS kind, ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) = ANY(ARRAY(SELECT root FROM roots WHERE root IS NOT NULL)) AND deleted_at IS NULL
  UNION ALL
  SELECT 1, 'link', id, email, phone_number, root, NULL, side FROM lk WHERE root IS NOT NULL
  UNION ALL
  SELECT 2, 'version', version, NULL, NULL, NULL, NULL, NULL FROM blocklist_version`

export const PREFETCH = {
  name: 'import_prefetch',
  text: `${prefetchCte('$1::text[]', '$2::text[]')} ${PREFETCH_ROWS}
    UNION ALL
    SELECT 3, 'clock', NULL, NULL, NULL, NULL, NULL, ${ms('statement_timestamp()')}`,
}

export const prefetchFingerprint = (emails: string, phones: string) =>
  `(${prefetchCte(emails, phones)} SELECT ${fingerprintSql(PREFETCH_ROWS)})`

// One identity, by contact id or value, and the links naming any of its values, in one statement
// (one snapshot, one round trip): the operator reads cost what `/identify`'s read costs. `= ANY(ARRAY(…))`,
// not `IN (SELECT …)`: an OR of two hashed subplans can only be a scan of every link, which also
// took a table-wide predicate lock that every merge (it inserts a link) conflicted with.
const identityBy = (root: string) => ({
  text: `WITH c AS (
      SELECT ${STORED_COLUMNS} FROM contact WHERE coalesce(linked_id, id) = ${root} AND deleted_at IS NULL)
    SELECT 'contact' AS kind, c.* FROM c
    UNION ALL
    SELECT 'link', l.id, l.email, l.phone_number, NULL, NULL, ${ms('l.created_at')}, NULL, NULL FROM link l
    WHERE l.email = ANY(ARRAY(SELECT email FROM c WHERE email IS NOT NULL))
       OR l.phone_number = ANY(ARRAY(SELECT phone_number FROM c WHERE phone_number IS NOT NULL))
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

export const LINK_BY_ID = {
  name: 'link_by_id',
  text: `SELECT id, email, phone_number, ${ms('created_at')} AS created_ms FROM link WHERE id = $1`,
}
export const LINKS_NAMING = {
  email: `SELECT id, email, phone_number, ${ms('created_at')} AS created_ms FROM link WHERE email = ANY($1::text[]) ORDER BY id`,
  phoneNumber: `SELECT id, email, phone_number, ${ms('created_at')} AS created_ms FROM link
    WHERE phone_number = ANY($1::text[]) ORDER BY id`,
} as const
export const HOLDERS = {
  email: `SELECT ${CONTACT_COLUMNS} FROM contact WHERE coalesce(email, '') = ANY($1::text[]) AND deleted_at IS NULL`,
  phoneNumber: `SELECT ${CONTACT_COLUMNS} FROM contact WHERE phone_number = ANY($1::text[]) AND deleted_at IS NULL`,
} as const
export const DISTINCT_VALUES = {
  email: 'SELECT DISTINCT email AS value FROM contact WHERE deleted_at IS NULL AND email IS NOT NULL',
  phoneNumber:
    'SELECT DISTINCT phone_number AS value FROM contact WHERE deleted_at IS NULL AND phone_number IS NOT NULL',
} as const
export const HUB_VALUES = `SELECT kind, value, contacts::int AS contacts FROM (
    SELECT 'email' AS kind, email AS value, count(*) AS contacts FROM contact
    WHERE deleted_at IS NULL AND email IS NOT NULL GROUP BY email
    UNION ALL
    SELECT 'phoneNumber', phone_number, count(*) FROM contact
    WHERE deleted_at IS NULL AND phone_number IS NOT NULL GROUP BY phone_number) v
  ORDER BY contacts DESC, kind, value LIMIT $1`
export const HUB_IDENTITIES = `SELECT coalesce(linked_id, id) AS root, count(*)::int AS contacts FROM contact
  WHERE deleted_at IS NULL GROUP BY coalesce(linked_id, id) ORDER BY contacts DESC, root LIMIT $1`
export const SOFT_DELETE = `UPDATE contact SET deleted_at = statement_timestamp(), updated_at = statement_timestamp()
  WHERE id = $1 AND deleted_at IS NULL`
export const SET_LINKS = `UPDATE contact SET linked_id = c.linked,
    link_precedence = CASE WHEN c.linked IS NULL THEN 'primary' ELSE 'secondary' END, updated_at = statement_timestamp()
  FROM unnest($1::int8[], $2::int8[]) AS c(id, linked)
  WHERE contact.id = c.id AND contact.deleted_at IS NULL`
export const DELETE_LINKS = 'DELETE FROM link WHERE id = ANY($1::int8[])'
/** Rows outside the erased set that still name an erased contact as primary (deleted ones) let go first. */
export const UNLINK_ERASED = `UPDATE contact SET linked_id = NULL
  WHERE linked_id = ANY($1::int8[]) AND NOT id = ANY($1::int8[])`
export const ERASE_CONTACTS = 'DELETE FROM contact WHERE id = ANY($1::int8[])'
export const REWRITE_EVENTS = `UPDATE event SET data = c.data FROM unnest($1::int8[], $2::text[]) AS c(id, data)
  WHERE event.id = c.id`
export const INSERT_BLOCKED = `INSERT INTO blocked_value (kind, value, pattern, source, created_at)
  VALUES ($1, $2, $3, $4, statement_timestamp())
  RETURNING id, kind, value, pattern, source, ${ms('created_at')} AS created_ms`
export const DELETE_BLOCKED = 'DELETE FROM blocked_value WHERE id = $1'
export const BUMP_BLOCKLIST = 'UPDATE blocklist_version SET version = version + 1'
export const MARK_UNHELD = `INSERT INTO unheld_link_value (kind, value) SELECT $1, v FROM unnest($2::text[]) AS v
  ON CONFLICT DO NOTHING`
export const CLEAR_UNHELD = 'DELETE FROM unheld_link_value WHERE kind = $1 AND value = ANY($2::text[])'

// Rule 2: all demoted primaries and their secondaries in one statement. Clock: the database's, so
// instances with skewed clocks still stamp one timeline.
export const RELINK = {
  name: 'identity_relink',
  text: `UPDATE contact SET linked_id = $1, link_precedence = 'secondary', updated_at = statement_timestamp()
    WHERE coalesce(linked_id, id) = $2 AND deleted_at IS NULL`,
}

/**
 * The database's clock, but never older than `param` (epoch ms: the identity's newest contact, I3).
 * `clock_timestamp()`, read as the row is made — after its id was drawn — not the statement's start:
 * two concurrent statements then stamp in the order they drew their ids, to the millisecond.
 */
export const stampNotBefore = (param: string) =>
  `greatest(clock_timestamp(), timestamptz 'epoch' + ${param} * interval '1 millisecond')`

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
