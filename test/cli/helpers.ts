/**
 * Helpers for the CLI and importer tests: write request rows in each input format (remembering the
 * line each row lands on), apply the same rows one by one through the service's own
 * SqliteStore.identify as the reference, compare stores row by row, and run the CLI as a child.
 */
import assert from 'node:assert/strict'
import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { normalizeIdentifyInput } from '../../src/identity/normalize.ts'
import { type ImportOptions, type ImportStats, importRecords, type Reject } from '../../src/import/engine.ts'
import type { ImportFormat } from '../../src/import/record.ts'
import { openSource } from '../../src/import/source.ts'
import { SqliteSink } from '../../src/import/sqlite-sink.ts'
import type { SqliteStore } from '../../src/store/sqlite.ts'

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

/** A row as a client would post it; `raw` is a line that is not JSON at all (NDJSON/JSON only). */
export type Row = { email?: string | null; phoneNumber?: string | number | null } | { raw: string }

export interface WrittenFile {
  readonly path: string
  /** For each row, the body the reference applies (CSV turns every cell into a string). */
  readonly bodies: unknown[]
  /** For each row, the 1-based line it starts on. */
  readonly lines: number[]
}

/** A fresh temp directory, removed after the test. */
export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'identity-cli-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Writes `rows` in `format`; with `blankLines`, blank lines are sprinkled in (never rows). */
export function writeRows(dir: string, rows: readonly Row[], format: ImportFormat, blankEvery = 0): WrittenFile {
  const bodies: unknown[] = []
  const lines: number[] = []
  const out: string[] = []
  const push = (text: string) => {
    out.push(text)
    if (blankEvery > 0 && out.length % blankEvery === 0) out.push('')
  }
  if (format === 'csv') push('Email,PHONE')
  if (format === 'json') push('[')
  rows.forEach((row, i) => {
    const last = i === rows.length - 1
    if ('raw' in row) {
      lines.push(out.length + 1)
      bodies.push(RAW)
      push(format === 'json' ? `${row.raw}${last ? '' : ','}` : row.raw)
      return
    }
    lines.push(out.length + 1)
    if (format === 'csv') {
      const email = row.email ?? ''
      const phone = row.phoneNumber === null || row.phoneNumber === undefined ? '' : String(row.phoneNumber)
      bodies.push({ email, phoneNumber: phone })
      push(`${csvCell(email)},${csvCell(phone)}`)
    } else {
      bodies.push(row)
      push(`${JSON.stringify(row)}${format === 'json' && !last ? ',' : ''}`)
    }
  })
  if (format === 'json') out.push(']')
  const path = join(dir, `rows-${Math.random().toString(36).slice(2)}.${format === 'ndjson' ? 'ndjson' : format}`)
  writeFileSync(path, `${out.join('\n')}\n`)
  return { path, bodies, lines }
}

/** Marks a row the reader itself must reject (not JSON). */
export const RAW = Symbol('raw')

function csvCell(value: string): string {
  return /[",\n]/.test(value) || value.startsWith(' ') ? `"${value.replaceAll('"', '""')}"` : value
}

/**
 * The reference: each body through normalizeIdentifyInput and SqliteStore.identify, in order.
 * Returns the indexes of the rows that were rejected.
 */
export async function applyOneByOne(store: SqliteStore, bodies: readonly unknown[]): Promise<number[]> {
  const rejected: number[] = []
  for (const [i, body] of bodies.entries()) {
    if (body === RAW) {
      rejected.push(i)
      continue
    }
    let input: ReturnType<typeof normalizeIdentifyInput>
    try {
      input = normalizeIdentifyInput(body)
    } catch {
      rejected.push(i)
      continue
    }
    await store.identify(input)
  }
  return rejected
}

/** Imports a file in-process, collecting the rejects. */
export async function importFile(
  store: SqliteStore,
  path: string,
  options: ImportOptions = {},
): Promise<{ stats: ImportStats; rejects: Reject[] }> {
  const rejects: Reject[] = []
  const source = await openSource(path)
  const stats = await importRecords(new SqliteSink(store.db), source.records, {
    ...options,
    onReject: (r) => {
      rejects.push(r)
    },
  })
  return { stats, rejects }
}

/** The columns the equivalence is judged on. */
export async function snapshot(store: SqliteStore) {
  return (await store.listContacts()).map(({ id, email, phoneNumber, linkedId, linkPrecedence, deletedAt }) => ({
    id,
    email,
    phoneNumber,
    linkedId,
    linkPrecedence,
    deletedAt,
  }))
}

export async function assertSameStore(actual: SqliteStore, expected: SqliteStore): Promise<void> {
  assert.deepEqual(await snapshot(actual), await snapshot(expected))
}

/** Runs the CLI (`node --import tsx src/cli.ts …`) as a child process. */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; nodeArgs?: readonly string[] } = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', CLI, ...args], {
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: 'utf8',
    timeout: 60000,
    maxBuffer: 64 * 1024 * 1024,
  })
}
