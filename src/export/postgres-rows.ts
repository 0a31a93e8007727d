/**
 * PostgreSQL side of `export`: the same rows in the same order as the SQLite source, streamed with
 * a server-side cursor (`DECLARE … CURSOR`, `FETCH` in chunks) inside one
 * `SERIALIZABLE READ ONLY DEFERRABLE` transaction. DEFERRABLE waits for a snapshot no concurrent
 * writer can make inconsistent, after which the export runs without predicate locks and can neither
 * fail on nor slow down the service's transactions; memory stays at one chunk.
 */
import type pg from 'pg'
import type { ExportRow } from './export.ts'

const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`

const DECLARE = `DECLARE export_rows NO SCROLL CURSOR FOR
  SELECT id::text, email, phone_number, link_precedence, ${ms('created_at')} AS created_ms,
    coalesce(linked_id, id)::text AS root
  FROM contact WHERE deleted_at IS NULL
  ORDER BY coalesce(linked_id, id), created_at, id`

interface Row {
  id: string
  email: string | null
  phone_number: string | null
  link_precedence: ExportRow['linkPrecedence']
  created_ms: number
  root: string
}

/**
 * Every live contact, grouped by identity in primary-id order, oldest first within one. The
 * transaction is closed when the iteration ends, early or not; `client` is then free again.
 *
 * @example
 * await exportIdentities(postgresExportRows(client), process.stdout, 'csv')
 */
export async function* postgresExportRows(client: pg.ClientBase, fetchSize = 5000): AsyncGenerator<ExportRow> {
  await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE')
  let open = true
  try {
    await client.query(DECLARE)
    for (;;) {
      const { rows } = await client.query<Row>(`FETCH ${fetchSize} FROM export_rows`)
      for (const r of rows) {
        yield {
          id: Number(r.id),
          email: r.email,
          phoneNumber: r.phone_number,
          linkPrecedence: r.link_precedence,
          createdAt: r.created_ms,
          root: Number(r.root),
        }
      }
      if (rows.length < fetchSize) break
    }
    open = false
    await client.query('COMMIT')
  } finally {
    if (open) await client.query('ROLLBACK').catch(() => undefined)
  }
}
