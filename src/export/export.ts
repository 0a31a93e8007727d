/**
 * `export`: every identity, in primary-id order, one line per live contact (primary first, then
 * its secondaries oldest first), streamed from one read snapshot: SQLite's `.iterate()` here,
 * PostgreSQL's cursor in postgres-rows.ts. Both hand over the same rows in the same order.
 *
 * The lines are written so that importing them replays the identity: each line is an `/identify`
 * body (its `email` and `phoneNumber`). Replaying an identity's contacts in creation order creates
 * every one of them again, but identities that were joined by a request which created nothing (an
 * email of one and a phone number of another) share no value among their stored contacts; for
 * each such join the export adds a `link` line — an email from one part and a phone number from
 * the other — which merges them on import and creates nothing, exactly like the original request.
 */
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type Database from 'better-sqlite3'

export type ExportFormat = 'csv' | 'ndjson'

export const EXPORT_COLUMNS = ['primaryId', 'id', 'email', 'phoneNumber', 'linkPrecedence', 'createdAt'] as const

/** One exported line. `link` lines carry no id or createdAt: they are requests, not contacts. */
export interface ExportLine {
  readonly primaryId: number
  readonly id: number | null
  readonly email: string | null
  readonly phoneNumber: string | null
  readonly linkPrecedence: 'primary' | 'secondary' | 'link'
  /** ISO 8601, UTC. */
  readonly createdAt: string | null
}

export interface ExportStats {
  identities: number
  contacts: number
  links: number
}

export interface ExportRow {
  readonly id: number
  readonly email: string | null
  readonly phoneNumber: string | null
  readonly linkPrecedence: 'primary' | 'secondary'
  readonly createdAt: number
  readonly root: number
}

/**
 * Every live contact from one SQLite read snapshot (the statement's), grouped by identity in
 * primary-id order, each identity oldest first.
 *
 * @example
 * await exportIdentities(sqliteExportRows(store.db), process.stdout, 'csv')
 */
export function sqliteExportRows(db: Database.Database): Iterable<ExportRow> {
  return db
    .prepare<[], ExportRow>(
      `SELECT id, email, phone_number AS phoneNumber, link_precedence AS linkPrecedence,
         created_at AS createdAt, coalesce(linked_id, id) AS root
       FROM contact WHERE deleted_at IS NULL
       ORDER BY root, created_at, id`,
    )
    .iterate()
}

/**
 * Writes every identity to `out` and resolves when it has all been handed to the stream. `rows`
 * must come grouped by `root` in ascending order, each group oldest first (as both engines' row
 * sources give them).
 *
 * @example
 * await exportIdentities(sqliteExportRows(store.db), process.stdout, 'ndjson')
 */
export async function exportIdentities(
  rows: Iterable<ExportRow> | AsyncIterable<ExportRow>,
  out: Writable,
  format: ExportFormat,
): Promise<ExportStats> {
  const stats: ExportStats = { identities: 0, contacts: 0, links: 0 }
  let pending = format === 'csv' ? `${EXPORT_COLUMNS.join(',')}\n` : ''
  let group: ExportRow[] = []
  const flush = async (): Promise<void> => {
    if (group.length === 0) return
    stats.identities++
    for (const line of identityLines(group)) {
      if (line.id === null) stats.links++
      else stats.contacts++
      pending += format === 'csv' ? csvLine(line) : `${JSON.stringify(line)}\n`
    }
    group = []
    if (pending.length >= 1 << 16) {
      const chunk = pending
      pending = ''
      if (!out.write(chunk)) await once(out, 'drain')
    }
  }
  for await (const row of rows) {
    if (group.length > 0 && (group[0] as ExportRow).root !== row.root) await flush()
    group.push(row)
  }
  await flush()
  if (pending !== '' && !out.write(pending)) await once(out, 'drain')
  return stats
}

/**
 * One identity's lines: its contacts oldest first, then the `link` lines its import needs.
 * Replaying contact lines joins a contact to the parts holding its values (union by value); any
 * part left apart from the primary's is then linked by an email–phone pair across the two.
 */
export function identityLines(contacts: readonly ExportRow[]): ExportLine[] {
  const primaryId = (contacts[0] as ExportRow).root
  const lines: ExportLine[] = contacts.map((c) => ({
    primaryId,
    id: c.id,
    email: c.email,
    phoneNumber: c.phoneNumber,
    linkPrecedence: c.linkPrecedence,
    createdAt: new Date(c.createdAt).toISOString(),
  }))
  if (contacts.length < 2) return lines

  const parent = new Map<string, string>()
  const find = (key: string): string => {
    let root = key
    for (let next = parent.get(root); next !== undefined && next !== root; next = parent.get(root)) root = next
    parent.set(key, root)
    return root
  }
  const keysOf = (c: ExportRow) => [
    ...(c.email === null ? [] : [`e${c.email}`]),
    ...(c.phoneNumber === null ? [] : [`p${c.phoneNumber}`]),
  ]
  for (const c of contacts) {
    const [a, b] = keysOf(c)
    if (a !== undefined) find(a)
    if (a !== undefined && b !== undefined && find(a) !== find(b)) parent.set(find(a), find(b))
  }
  // Each part, with one email and one phone number it holds, in the order its first contact appears.
  const parts = new Map<string, { email: string | null; phone: string | null }>()
  for (const c of contacts) {
    const part = find(keysOf(c)[0] as string)
    const seen = parts.get(part) ?? { email: null, phone: null }
    seen.email ??= c.email
    seen.phone ??= c.phoneNumber
    parts.set(part, seen)
  }
  const [main, ...rest] = [...parts.values()]
  if (main === undefined) return lines
  let waiting = rest
  while (waiting.length > 0) {
    const left: typeof rest = []
    for (const part of waiting) {
      const link =
        main.email !== null && part.phone !== null
          ? { email: main.email, phoneNumber: part.phone }
          : part.email !== null && main.phone !== null
            ? { email: part.email, phoneNumber: main.phone }
            : null
      if (link === null) {
        left.push(part)
        continue
      }
      lines.push({ primaryId, id: null, ...link, linkPrecedence: 'link', createdAt: null })
      main.email ??= part.email
      main.phone ??= part.phone
    }
    // A part that no email–phone pair can reach cannot have been joined by requests; leave it.
    if (left.length === waiting.length) break
    waiting = left
  }
  return lines
}

function csvLine(line: ExportLine): string {
  return `${line.primaryId},${line.id ?? ''},${csvField(line.email)},${csvField(line.phoneNumber)},${line.linkPrecedence},${line.createdAt ?? ''}\n`
}

function csvField(value: string | null): string {
  if (value === null) return ''
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}
