/**
 * Helpers for the CLI and importer tests: write request rows in each input format (remembering the
 * line each row lands on), apply the same rows one by one through the store's own `identify` as
 * the reference, compare stores row by row, give property runs an empty store per run on every
 * engine, and run the CLI as a child.
 */
import assert from 'node:assert/strict'
import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { normalizeIdentifyInput } from '../../src/identity/normalize.ts'
import { type ImportOptions, type ImportStats, importRecords, type Reject } from '../../src/import/engine.ts'
import type { ImportFormat } from '../../src/import/record.ts'
import { openSource } from '../../src/import/source.ts'
import type { Store } from '../../src/store/port.ts'
import { PostgresStore } from '../../src/store/postgres.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'
import type { EngineCase } from '../support/engines.ts'
import { identifyIn } from '../support/store.ts'

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
 * The reference: each body through normalizeIdentifyInput and the store's own identify, in order.
 * Returns the indexes of the rows that were rejected.
 */
export async function applyOneByOne(store: Store, bodies: readonly unknown[]): Promise<number[]> {
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
    await identifyIn(store, input)
  }
  return rejected
}

/** Imports a file in-process into `store`, collecting the rejects. */
export async function importFile(
  store: Store,
  path: string,
  options: ImportOptions = {},
): Promise<{ stats: ImportStats; rejects: Reject[] }> {
  const rejects: Reject[] = []
  const source = await openSource(path)
  const stats = await importRecords(store, source.records, {
    ...options,
    onReject: (r) => {
      rejects.push(r)
    },
  })
  return { stats, rejects }
}

/** Runs `work` with a connection to `store`'s database (PostgreSQL only). */
export async function withClient<T>(store: Store, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  if (!(store instanceof PostgresStore)) throw new TypeError(`${store.engine} has no pg client`)
  const client = await store.pool.connect()
  try {
    return await work(client)
  } finally {
    client.release()
  }
}

/**
 * Empty stores for property runs, one per `next()`. SQLite: a new in-memory database each time.
 * PostgreSQL: creating a database per run takes seconds, so one database per test is emptied
 * instead (TRUNCATE … RESTART IDENTITY: ids start at 1 again, as in a new database).
 */
export interface StorePool {
  /** An empty store; the one returned before must no longer be used. */
  next(): Promise<Store>
  close(): Promise<void>
}

export async function storePool(engine: EngineCase): Promise<StorePool> {
  if (engine.name === 'sqlite') {
    let current: SqliteStore | null = null
    return {
      async next() {
        await current?.close()
        current = new SqliteStore({ path: ':memory:' })
        return current
      },
      async close() {
        await current?.close()
      },
    }
  }
  const db = await engine.open()
  return {
    async next() {
      await emptyPostgres(db.store)
      return db.store
    },
    close: () => db.drop(),
  }
}

/** Removes every contact, link, event and blocked value and restarts ids at 1, as in a new database. */
export async function emptyPostgres(store: Store): Promise<void> {
  await withClient(store, (client) =>
    client.query(`TRUNCATE contact, link, event, event_contact, blocked_value, unheld_link_value RESTART IDENTITY;
      UPDATE blocklist_version SET version = version + 1`),
  )
}

/** The columns the equivalence is judged on. */
export async function snapshot(store: Store) {
  return (await store.listContacts()).map(({ id, email, phoneNumber, linkedId, linkPrecedence, deletedAt }) => ({
    id,
    email,
    phoneNumber,
    linkedId,
    linkPrecedence,
    deletedAt,
  }))
}

/** Links and the event log, without what differs between runs (times, request ids). */
export async function history(store: Store) {
  return {
    links: (await store.listLinks()).map(({ id, email, phoneNumber }) => ({ id, email, phoneNumber })),
    events: (await store.listEvents()).map(({ type, contacts, data }) => ({ type, contacts, data })),
  }
}

/** Same contacts, links and events (types, order, contact ids and data). */
export async function assertSameStore(actual: Store, expected: Store): Promise<void> {
  assert.deepEqual(await snapshot(actual), await snapshot(expected))
  assert.deepEqual(await history(actual), await history(expected))
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
