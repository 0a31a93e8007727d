/**
 * The SQLite adapter's statements (src/store/sqlite.ts). Timestamps are epoch milliseconds.
 * Email lookups compare `coalesce(email, '')`, the leading column of the `contact_fact` index, so that
 * one index serves both the lookup and I4's guard (blank emails are never stored, so the two agree).
 */

/** Columns of a contact, aliased to the rules' `Contact` shape. */
export const CONTACT_COLUMNS = `id, email, phone_number AS phoneNumber, linked_id AS linkedId,
  link_precedence AS linkPrecedence, created_at AS createdAt`

/** The same, with the bookkeeping columns of a stored row. */
export const STORED_COLUMNS = `${CONTACT_COLUMNS}, updated_at AS updatedAt, deleted_at AS deletedAt`

/**
 * The root (primary id) of the identity holding a value. All contacts sharing a value share a
 * primary (I2), so one row answers.
 */
// A column compared with the expression must lose its TEXT affinity (`+col`), or SQLite scans the index.
const ROOT_OF_EMAIL = (param: string) =>
  `(SELECT coalesce(linked_id, id) FROM contact WHERE coalesce(email, '') = ${param} AND deleted_at IS NULL LIMIT 1)`
const ROOT_OF_PHONE = (param: string) =>
  `(SELECT coalesce(linked_id, id) FROM contact WHERE phone_number = ${param} AND deleted_at IS NULL LIMIT 1)`
const ROOT_OF_CONTACT = '(SELECT coalesce(linked_id, id) FROM contact WHERE id = ? AND deleted_at IS NULL)'

// Every live contact of every identity that shares the email or the phone number: each value names
// at most one root, and one range scan of `contact_root` per root reads the identity. The cost
// follows the size of the identities touched, never the size of the table.
// The block list's version comes with it, as one more row (`kind = 'version'`, in `id`), so one
// statement both reads the identities and confirms the list the request was filtered with.
export const LOAD_TOUCHED = `SELECT 'contact' AS kind, ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) IN (${ROOT_OF_EMAIL('@email')}, ${ROOT_OF_PHONE('@phoneNumber')})
    AND deleted_at IS NULL
  UNION ALL
  SELECT 'version', version, NULL, NULL, NULL, NULL, NULL FROM blocklist_version`

/**
 * The identities links join to a request value no live contact holds (SPEC §6: a link joins again
 * once a contact holds its value — the request's new one will). Asked only for such values.
 */
export const LINK_PARTNERS = `
  SELECT ${ROOT_OF_PHONE('l.phone_number')} AS root, l.email, l.phone_number AS phoneNumber, 'email' AS side
  FROM link l
  WHERE l.email = @email AND EXISTS (SELECT 1 FROM unheld_link_value WHERE kind = 'email' AND value = @email)
  UNION ALL
  SELECT ${ROOT_OF_EMAIL('+l.email')}, l.email, l.phone_number, 'phoneNumber' FROM link l
  WHERE l.phone_number = @phoneNumber
    AND EXISTS (SELECT 1 FROM unheld_link_value WHERE kind = 'phoneNumber' AND value = @phoneNumber)`

export const MARK_UNHELD = 'INSERT OR IGNORE INTO unheld_link_value (kind, value) VALUES (?, ?)'
export const CLEAR_UNHELD = 'DELETE FROM unheld_link_value WHERE kind = ? AND value = ?'

export const BLOCKLIST_VERSION = 'SELECT version FROM blocklist_version'
export const BUMP_BLOCKLIST = 'UPDATE blocklist_version SET version = version + 1'
const BLOCKED_COLUMNS = 'id, kind, value, pattern, source, created_at AS createdAt'
export const BLOCKED_VALUES = `SELECT ${BLOCKED_COLUMNS} FROM blocked_value ORDER BY id`
export const INSERT_BLOCKED = `INSERT INTO blocked_value (kind, value, pattern, source, created_at)
  VALUES (?, ?, ?, ?, ?) RETURNING ${BLOCKED_COLUMNS}`
export const DELETE_BLOCKED = 'DELETE FROM blocked_value WHERE id = ?'

const LINK_COLUMNS = 'id, email, phone_number AS phoneNumber, created_at AS createdAt'
export const LINK_BY_ID = `SELECT ${LINK_COLUMNS} FROM link WHERE id = ?`
export const LINKS_NAMING = {
  email: `SELECT ${LINK_COLUMNS} FROM link WHERE email IN (SELECT value FROM json_each(?)) ORDER BY id`,
  phoneNumber: `SELECT ${LINK_COLUMNS} FROM link WHERE phone_number IN (SELECT value FROM json_each(?)) ORDER BY id`,
} as const
export const HOLDERS = {
  email: `SELECT ${CONTACT_COLUMNS} FROM contact
    WHERE coalesce(email, '') IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL`,
  phoneNumber: `SELECT ${CONTACT_COLUMNS} FROM contact
    WHERE phone_number IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL`,
} as const
export const DISTINCT_VALUES = {
  email: `SELECT DISTINCT coalesce(email, '') FROM contact WHERE deleted_at IS NULL AND email IS NOT NULL`,
  phoneNumber: 'SELECT DISTINCT phone_number FROM contact WHERE deleted_at IS NULL AND phone_number IS NOT NULL',
} as const

/** The values held by the most live contacts, and the largest identities (full scans: an operator report). */
export const HUB_VALUES = `SELECT kind, value, contacts FROM (
    SELECT 'email' AS kind, email AS value, count(*) AS contacts FROM contact
    WHERE deleted_at IS NULL AND email IS NOT NULL GROUP BY coalesce(email, '')
    UNION ALL
    SELECT 'phoneNumber', phone_number, count(*) FROM contact
    WHERE deleted_at IS NULL AND phone_number IS NOT NULL GROUP BY phone_number)
  ORDER BY contacts DESC, kind, value LIMIT ?`
export const HUB_IDENTITIES = `SELECT coalesce(linked_id, id) AS primaryContatctId, count(*) AS contacts FROM contact
  WHERE deleted_at IS NULL GROUP BY coalesce(linked_id, id) ORDER BY contacts DESC, primaryContatctId LIMIT ?`

export const SOFT_DELETE = 'UPDATE contact SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL'
export const SET_LINK = `UPDATE contact SET linked_id = @linkedId,
  link_precedence = CASE WHEN @linkedId IS NULL THEN 'primary' ELSE 'secondary' END, updated_at = @now
  WHERE id = @id AND deleted_at IS NULL`
export const DELETE_LINK = 'DELETE FROM link WHERE id = ?'
/** Rows outside the erased set that still name an erased contact as primary (deleted ones) let go first. */
export const UNLINK_ERASED = `UPDATE contact SET linked_id = NULL
  WHERE linked_id IN (SELECT value FROM json_each(@ids)) AND id NOT IN (SELECT value FROM json_each(@ids))`
export const ERASE_CONTACTS = 'DELETE FROM contact WHERE id IN (SELECT value FROM json_each(?))'
export const REWRITE_EVENT = 'UPDATE event SET data = ? WHERE id = ?'

/** Every live contact of one identity, oldest first, found by a contact id, an email or a phone. */
export const IDENTITY_BY = {
  contactId: `SELECT ${STORED_COLUMNS} FROM contact
    WHERE coalesce(linked_id, id) = ${ROOT_OF_CONTACT} AND deleted_at IS NULL ORDER BY created_at, id`,
  email: `SELECT ${STORED_COLUMNS} FROM contact
    WHERE coalesce(linked_id, id) = ${ROOT_OF_EMAIL('?')} AND deleted_at IS NULL ORDER BY created_at, id`,
  phoneNumber: `SELECT ${STORED_COLUMNS} FROM contact
    WHERE coalesce(linked_id, id) = ${ROOT_OF_PHONE('?')} AND deleted_at IS NULL ORDER BY created_at, id`,
} as const

/** Every live contact of the identity rooted at `?` (the importer's identity read). */
export const IDENTITY_OF_ROOT = `SELECT ${CONTACT_COLUMNS} FROM contact
  WHERE coalesce(linked_id, id) = ? AND deleted_at IS NULL`

/** Links naming any of the emails or phone numbers (JSON arrays), oldest first. */
export const LINKS_OF = `SELECT id, email, phone_number AS phoneNumber, created_at AS createdAt FROM link
  WHERE email IN (SELECT value FROM json_each(?)) OR phone_number IN (SELECT value FROM json_each(?))
  ORDER BY id`

export const CONTACT_BY_ID = `SELECT ${STORED_COLUMNS} FROM contact WHERE id = ?`

/** The newest contact's creation time: ids and times agree, so the last id has it. */
export const NEWEST_CREATED_AT = 'SELECT created_at FROM contact ORDER BY id DESC LIMIT 1'

/** Rule 2: the primary rooted at the third `?` and its secondaries become secondaries of the first. */
export const RELINK = `UPDATE contact SET linked_id = ?, link_precedence = 'secondary', updated_at = ?
  WHERE coalesce(linked_id, id) = ? AND deleted_at IS NULL`

/** Rules 1 and 3: one new contact; `created_at` doubles as `updated_at`. */
export const INSERT_CONTACT = `INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?)`

export const INSERT_LINK = 'INSERT INTO link (email, phone_number, created_at) VALUES (?, ?, ?)'

export const INSERT_EVENT = `INSERT INTO event (type, at, request_id, contacts, members, data)
  VALUES (?, ?, ?, ?, ?, ?)`

/** A member row wins over a plain one for the same contact (it is the one lineage reads). */
export const INSERT_EVENT_CONTACT = `INSERT INTO event_contact (contact_id, event_id, lineage) VALUES (?, ?, ?)
  ON CONFLICT (contact_id, event_id) DO UPDATE SET lineage = max(lineage, excluded.lineage)`

/** Splitting events concerning any contact of a JSON array, below a bound. */
export const LINEAGE = `SELECT e.id AS eventId, e.members FROM event e
  WHERE e.id IN (SELECT event_id FROM event_contact
    WHERE contact_id IN (SELECT value FROM json_each(?)) AND lineage = 1 AND event_id < ?)
  ORDER BY e.id`

export const EVENT_COLUMNS = 'id, type, at, request_id AS requestId, contacts, data'

/** Events of any of `scopes` scopes (each a JSON array of contact ids and a bound), above a cursor. */
export function eventsInScopes(scopes: number): string {
  const scope = '(contact_id IN (SELECT value FROM json_each(?)) AND event_id < ?)'
  return `SELECT ${EVENT_COLUMNS} FROM event WHERE id IN (
      SELECT event_id FROM event_contact WHERE (${Array(scopes).fill(scope).join(' OR ')}) AND event_id > ?)
    ORDER BY id LIMIT ?`
}

// Export: every live contact and every link both of whose values its identity holds, grouped by
// identity root, contacts oldest first then links, in one statement (one snapshot).
export const EXPORT_ROWS = `
  SELECT 'contact' AS kind, coalesce(linked_id, id) AS root, id, email, phone_number AS phoneNumber,
    link_precedence AS linkPrecedence, created_at AS createdAt, 0 AS ord
  FROM contact WHERE deleted_at IS NULL
  UNION ALL
  SELECT 'link', root, id, email, phone_number, NULL, created_at, 1 FROM (
    SELECT l.id, l.email, l.phone_number, l.created_at, ${ROOT_OF_EMAIL('+l.email')} AS root,
      ${ROOT_OF_PHONE('l.phone_number')} AS phone_root
    FROM link l)
  WHERE root IS NOT NULL AND root = phone_root
  ORDER BY root, ord, createdAt, id`
