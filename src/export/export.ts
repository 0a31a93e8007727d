/**
 * `export`: every identity, in primary-id order — its live contacts (primary first, then its
 * secondaries oldest first), then its links — streamed from one read snapshot of the store
 * (`Store.exportRows`). Each line is an `/identify` body (its `email` and `phoneNumber`), so
 * importing the file replays the identities: contact lines create the contacts again, and each
 * `link` line is the stored link of a merge (SPEC §6), which joins the parts it joined before and
 * creates nothing, exactly like the original request. Only links both of whose values the identity
 * still holds are written (the others join nothing now).
 */
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type { ExportRow } from '../store/port.ts'

export type ExportFormat = 'csv' | 'ndjson'

export const EXPORT_COLUMNS = ['primaryId', 'id', 'email', 'phoneNumber', 'linkPrecedence', 'createdAt'] as const

/** One exported line. For a `link` line, `id` and `createdAt` are the link's own. */
export interface ExportLine {
  readonly primaryId: number
  readonly id: number
  readonly email: string | null
  readonly phoneNumber: string | null
  readonly linkPrecedence: 'primary' | 'secondary' | 'link'
  /** ISO 8601, UTC. */
  readonly createdAt: string
}

export interface ExportStats {
  identities: number
  contacts: number
  links: number
}

/**
 * Writes every identity to `out` and resolves when it has all been handed to the stream. `rows`
 * come grouped by `root` in ascending order (as `Store.exportRows` gives them).
 *
 * @example
 * await exportIdentities(store.exportRows(), process.stdout, 'ndjson')
 */
export async function exportIdentities(
  rows: AsyncIterable<ExportRow>,
  out: Writable,
  format: ExportFormat,
): Promise<ExportStats> {
  const stats: ExportStats = { identities: 0, contacts: 0, links: 0 }
  let pending = format === 'csv' ? `${EXPORT_COLUMNS.join(',')}\n` : ''
  let root: number | null = null
  for await (const row of rows) {
    if (row.root !== root) {
      stats.identities++
      root = row.root
    }
    const line: ExportLine = {
      primaryId: row.root,
      id: row.id,
      email: row.email,
      phoneNumber: row.phoneNumber,
      linkPrecedence: row.kind === 'link' ? 'link' : row.linkPrecedence,
      createdAt: new Date(row.createdAt).toISOString(),
    }
    if (row.kind === 'link') stats.links++
    else stats.contacts++
    pending += format === 'csv' ? csvLine(line) : `${JSON.stringify(line)}\n`
    if (pending.length >= 1 << 16) {
      const chunk = pending
      pending = ''
      if (!out.write(chunk)) await once(out, 'drain')
    }
  }
  if (pending !== '' && !out.write(pending)) await once(out, 'drain')
  return stats
}

function csvLine(line: ExportLine): string {
  return `${line.primaryId},${line.id},${csvField(line.email)},${csvField(line.phoneNumber)},${line.linkPrecedence},${line.createdAt}\n`
}

function csvField(value: string | null): string {
  if (value === null) return ''
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}
