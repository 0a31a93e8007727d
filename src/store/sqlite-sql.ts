/**
 * The SQL the SQLite store and the SQLite import sink share, so that an imported row is read and
 * written exactly as a request would be (src/store/sqlite.ts, src/import/sqlite-sink.ts).
 */

/** Columns of a contact, aliased to the rules' `Contact` shape. */
export const CONTACT_COLUMNS = `id, email, phone_number AS phoneNumber, linked_id AS linkedId,
  link_precedence AS linkPrecedence, created_at AS createdAt`

/**
 * The root (primary id) of the identity holding a value. All contacts sharing a value share a
 * primary (I2), so one row answers.
 */
export const ROOT_OF = (column: 'email' | 'phone_number', param: string) =>
  `(SELECT coalesce(linked_id, id) FROM contact WHERE ${column} = ${param} AND deleted_at IS NULL LIMIT 1)`

/** Every live contact of the identity rooted at `?`: one range of the `contact_root` index. */
export const IDENTITY = `SELECT ${CONTACT_COLUMNS} FROM contact WHERE coalesce(linked_id, id) = ? AND deleted_at IS NULL`

/** Rule 2: the primary rooted at the third `?` and its secondaries become secondaries of the first. */
export const DEMOTE = `UPDATE contact SET linked_id = ?, link_precedence = 'secondary', updated_at = ?
  WHERE coalesce(linked_id, id) = ? AND deleted_at IS NULL`

/** Rules 1 and 3: one new contact; `created_at` doubles as `updated_at`. */
export const INSERT = `INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?)`
