/**
 * The engines every store and HTTP test runs against. SQLite always; PostgreSQL when
 * TEST_DATABASE_URL is set (CI sets it). Each `open()` gives a fresh, empty database.
 *
 * @example
 * for (const engine of engines()) {
 *   describe(engine.name, () => { test('…', async (t) => { const db = await engine.open(); t.after(db.drop) }) })
 * }
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../../src/store/sqlite.ts'
import type { ContactStore, Engine } from '../../src/store/store.ts'

export interface TestDatabase {
  readonly store: ContactStore
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

export function engines(): EngineCase[] {
  return [sqliteEngine]
}
