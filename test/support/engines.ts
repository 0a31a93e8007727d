/**
 * The engines every store and HTTP test runs against. SQLite always; PostgreSQL when
 * TEST_DATABASE_URL is set (CI sets it). Each `open()` gives a fresh, empty database.
 *
 * @example
 * for (const engine of engines()) {
 *   describe(engine.name, () => { test('…', async (t) => { const db = await engine.open(); t.after(db.drop) }) })
 * }
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import pg from 'pg'
import type { Engine, Store } from '../../src/store/port.ts'
import { openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'

export interface TestDatabase {
  readonly store: Store
  /** A DATABASE_URL naming the same database, for child processes. */
  readonly databaseUrl: string
  /** Closes the store and removes the database. */
  drop(): Promise<void>
}

export interface EngineCase {
  readonly name: Engine
  /** A fresh database with a store opened on it. `file` asks SQLite for a file instead of memory. */
  open(options?: { file?: boolean }): Promise<TestDatabase>
}

export const sqliteEngine: EngineCase = {
  name: 'sqlite',
  async open(options) {
    if (!options?.file) {
      const store = new SqliteStore({ path: ':memory:' })
      return { store, databaseUrl: 'sqlite::memory:', drop: () => store.close() }
    }
    const dir = mkdtempSync(join(tmpdir(), 'identity-test-'))
    const path = join(dir, 'contacts.db')
    const store = new SqliteStore({ path })
    return {
      store,
      databaseUrl: `sqlite:${path}`,
      async drop() {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
}

/** The admin URL PostgreSQL tests create their databases through, or undefined to skip them. */
export const testDatabaseUrl: string | undefined = process.env.TEST_DATABASE_URL?.trim() || undefined

export const POSTGRES_SKIP_REASON = 'TEST_DATABASE_URL not set: PostgreSQL tests skipped'

/**
 * A new, uniquely named, empty PostgreSQL database on the TEST_DATABASE_URL server, and a function
 * that drops it (closing whatever is still connected). For tests that open several stores or
 * servers on one database.
 *
 * @example
 * const { url, drop } = await createPostgresDatabase()
 * t.after(drop)
 */
export async function createPostgresDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (testDatabaseUrl === undefined) throw new Error(POSTGRES_SKIP_REASON)
  const admin = testDatabaseUrl
  // Unique across concurrent test processes and developers sharing the server.
  const name = `identity_test_${process.pid}_${randomBytes(4).toString('hex')}`
  // template0: nobody connects to it, so concurrent CREATE DATABASE never finds the template busy.
  await adminQuery(admin, `CREATE DATABASE ${name} TEMPLATE template0`)
  const url = new URL(admin)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: () => adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** PostgreSQL: a fresh database per `open()`, dropped (WITH (FORCE)) by `drop()`. */
export const postgresEngine: EngineCase = {
  name: 'postgres',
  async open() {
    const db = await createPostgresDatabase()
    let store: Awaited<ReturnType<typeof openPostgresStore>>
    try {
      store = await openPostgresStore({ url: db.url, poolSize: 10, ...postgresTestOptions })
    } catch (err) {
      await db.drop()
      throw err
    }
    return {
      store,
      databaseUrl: db.url,
      async drop() {
        await store.close()
        await db.drop()
      },
    }
  },
}

/** Options every test store shares; tests may override. */
export const postgresTestOptions: Partial<PostgresStoreOptions> = { statementTimeoutMs: 10000 }

let skipReported = false

/**
 * The engines to loop over: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. Without it, the
 * first call registers a skipped test whose reason says so, so the run's summary shows the gap.
 */
export function engines(): EngineCase[] {
  if (testDatabaseUrl !== undefined) return [sqliteEngine, postgresEngine]
  if (!skipReported) {
    skipReported = true
    test('postgres engine', { skip: POSTGRES_SKIP_REASON }, () => {})
  }
  return [sqliteEngine]
}
