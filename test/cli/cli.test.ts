/**
 * The `identity` command as a user runs it, in child processes (`node --import tsx src/cli.ts`):
 * help on every command, migrate, import from a file and from standard input with rejects and a
 * JSON summary, exit codes, export, an unreachable PostgreSQL, import and export on PostgreSQL, and
 * an import while the service is serving requests on the same SQLite file.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { normalizeIdentifyInput } from '../../src/identity/normalize.ts'
import { SqliteStore } from '../../src/store/sqlite.ts'
import { createPostgresDatabase, POSTGRES_SKIP_REASON, testDatabaseUrl } from '../support/engines.ts'
import { assertInvariants } from '../support/invariants.ts'
import { startServer } from '../support/server-process.ts'
import { CLI, runCli, tempDir } from './helpers.ts'

describe('identity CLI', () => {
  test('--help on the program and on every command', () => {
    for (const args of [
      ['--help'],
      ['serve', '--help'],
      ['migrate', '--help'],
      ['import', '--help'],
      ['export', '--help'],
    ]) {
      const run = runCli(args)
      assert.equal(run.status, 0, run.stderr)
      assert.match(run.stdout, /Usage: identity/)
    }
  })

  test('--rejects at a path that cannot be written: one error line, exit 1, nothing imported (issue 11, item 9)', (t) => {
    const dir = tempDir(t)
    const file = join(dir, 'in.csv')
    writeFileSync(file, 'email\ndoc@hv.edu\nnot-an-email\n')
    const db = join(dir, 'c.db')
    for (const rejects of [join(dir, 'no', 'such', 'folder', 'rejects.ndjson'), dir]) {
      const run = runCli(['import', file, '--rejects', rejects], { env: { DATABASE_URL: `sqlite:${db}` } })
      assert.equal(run.status, 1, run.stderr)
      const lines = run.stderr.trim().split('\n')
      assert.equal(lines.length, 1, run.stderr)
      assert.match(lines[0]!, /^error: ERR_INVALID_INPUT: cannot write the rejects file /)
      if (existsSync(db)) {
        const store = new SqliteStore({ path: db })
        assert.equal(store.db.prepare('SELECT count(*) FROM contact').pluck().get(), 0, 'nothing imported')
        store.db.close()
      }
    }
  })

  test('without --rejects the first 10 rejects are printed, then exactly how many more there were', (t) => {
    const dir = tempDir(t)
    const file = join(dir, 'in.csv')
    writeFileSync(file, `email\n${Array.from({ length: 13 }, (_, i) => `bad${i}`).join('\n')}\nfine@x.io\n`)
    const run = runCli(['import', file], { env: { DATABASE_URL: `sqlite:${join(dir, 'c.db')}` } })
    assert.equal(run.status, 2, run.stderr)
    const shown = run.stderr.split('\n').filter((l) => /^line \d+: /.test(l))
    assert.deepEqual(
      shown.map((l) => Number(l.split(':')[0]!.slice(5))),
      Array.from({ length: 10 }, (_, i) => i + 2),
    )
    assert.match(run.stderr, /^… 3 more rejected rows not shown \(use --rejects FILE to get them all\)$/m)
  })

  test('a stray quote on row 2 of 20,002 costs that row only: the 20,000 after it are imported', (t) => {
    const dir = tempDir(t)
    const file = join(dir, 'stray.csv')
    const rows = Array.from({ length: 20000 }, (_, i) => `u${i}@x.io,${100000 + i}`)
    writeFileSync(file, `email,phone\n"stray@x.io,1\n${rows.join('\n')}\n`)
    const run = runCli(['import', file, '--json', '--quiet'], { env: { DATABASE_URL: `sqlite:${join(dir, 'c.db')}` } })
    assert.equal(run.status, 2, run.stderr)
    const summary = JSON.parse(run.stdout)
    assert.deepEqual([summary.rowsRead, summary.rejected, summary.contactsCreated], [20001, 1, 20000])
  })

  test('migrate, import with rejects and --json (exit 2), import again (exit 0, nothing new), export', (t) => {
    const dir = tempDir(t)
    const env = { DATABASE_URL: `sqlite:${join(dir, 'db', 'contacts.db')}` }
    const migrate = runCli(['migrate'], { env })
    assert.equal(migrate.status, 0, migrate.stderr)
    assert.ok(existsSync(join(dir, 'db', 'contacts.db')))

    const file = join(dir, 'in.csv')
    writeFileSync(file, 'Email,Phone\ndoc@hv.edu,123456\nnot-an-email,1\nmarty@hv.edu,123456\n,\n')
    const rejects = join(dir, 'rejects.ndjson')
    const first = runCli(['import', file, '--rejects', rejects, '--json'], { env })
    assert.equal(first.status, 2, first.stderr)
    const summary = JSON.parse(first.stdout)
    assert.equal(summary.format, 'csv')
    assert.equal(summary.rowsRead, 4)
    assert.equal(summary.rejected, 2)
    assert.equal(summary.contactsCreated, 2)
    assert.match(first.stderr, /4 rows read, 2 rejected, 2 contacts created/)
    const rejected = readFileSync(rejects, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(
      rejected.map((r) => [r.line, r.code]),
      [
        [3, 'ERR_INVALID_INPUT'],
        [5, 'ERR_INVALID_INPUT'],
      ],
    )
    assert.match(rejected[0].reason, /exactly one "@"/)

    const clean = join(dir, 'clean.csv')
    writeFileSync(clean, 'email,phoneNumber\ndoc@hv.edu,123456\n')
    const again = runCli(['import', clean, '--json', '--quiet'], { env })
    assert.equal(again.status, 0, again.stderr)
    assert.equal(again.stderr, '')
    assert.equal(JSON.parse(again.stdout).contactsCreated, 0)

    const exported = runCli(['export', '--format', 'ndjson'], { env })
    assert.equal(exported.status, 0, exported.stderr)
    assert.deepEqual(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map(({ primaryId, id, email, phoneNumber, linkPrecedence }) => ({
          primaryId,
          id,
          email,
          phoneNumber,
          linkPrecedence,
        })),
      [
        { primaryId: 1, id: 1, email: 'doc@hv.edu', phoneNumber: '123456', linkPrecedence: 'primary' },
        { primaryId: 1, id: 2, email: 'marty@hv.edu', phoneNumber: '123456', linkPrecedence: 'secondary' },
      ],
    )
  })

  test('import - reads standard input (NDJSON and JSON array sniffed); numbers are phone numbers', (t) => {
    const dir = tempDir(t)
    const env = { DATABASE_URL: `sqlite:${join(dir, 'contacts.db')}` }
    const ndjson = runCli(['import', '-', '--json'], {
      env,
      input: '{"email":"a@x.io","phoneNumber":123}\n{"email":"b@x.io","phoneNumber":"123"}\n',
    })
    assert.equal(ndjson.status, 0, ndjson.stderr)
    assert.equal(JSON.parse(ndjson.stdout).format, 'ndjson')
    const json = runCli(['import', '-', '--json'], { env, input: '[{"email":"c@x.io","phoneNumber":123}]' })
    assert.equal(json.status, 0, json.stderr)
    assert.equal(JSON.parse(json.stdout).format, 'json')
    const csv = runCli(['export'], { env })
    assert.equal(csv.stdout.trim().split('\n').length, 4)
  })

  test('failures exit 1 with a message: unreachable PostgreSQL, a missing file, a CSV without the columns', (t) => {
    const dir = tempDir(t)
    for (const command of [['import', 'x.csv'], ['export']]) {
      const pg = runCli(command, { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } })
      assert.equal(pg.status, 1)
      assert.match(pg.stderr, /^error: ERR_STORAGE_UNAVAILABLE: PostgreSQL at 127\.0\.0\.1:1\/none is unreachable/)
    }
    const env = { DATABASE_URL: `sqlite:${join(dir, 'contacts.db')}` }
    const missing = runCli(['import', join(dir, 'nope.csv')], { env })
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /ERR_INVALID_INPUT: cannot read/)
    const headerless = join(dir, 'h.csv')
    writeFileSync(headerless, 'a,b\n1,2\n')
    const bad = runCli(['import', headerless], { env })
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /names neither/)
  })

  test('PostgreSQL: import (exit 2 with rejects), import again (nothing new), export in primary-id order', {
    skip: testDatabaseUrl === undefined ? POSTGRES_SKIP_REASON : false,
  }, async (t) => {
    const dir = tempDir(t)
    const db = await createPostgresDatabase()
    t.after(db.drop)
    const env = { DATABASE_URL: db.url }
    const file = join(dir, 'in.csv')
    writeFileSync(
      file,
      'email,phone\ndoc@hv.edu,123456\nnot-an-email,1\nmarty@hv.edu,123456\nbiff@hv.edu,999\nbiff@hv.edu,123456\n',
    )
    const first = runCli(['import', file, '--json', '--quiet'], { env })
    assert.equal(first.status, 2, first.stderr)
    const summary = JSON.parse(first.stdout)
    assert.deepEqual(
      [summary.rowsRead, summary.rejected, summary.contactsCreated, summary.identitiesMerged],
      [5, 1, 3, 1],
    )
    const again = runCli(['import', file, '--json', '--quiet'], { env })
    assert.equal(again.status, 2, again.stderr)
    assert.equal(JSON.parse(again.stdout).contactsCreated, 0)

    const exported = runCli(['export'], { env })
    assert.equal(exported.status, 0, exported.stderr)
    assert.deepEqual(
      exported.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(',').slice(0, 5).join(',')),
      [
        'primaryId,id,email,phoneNumber,linkPrecedence',
        '1,1,doc@hv.edu,123456,primary',
        '1,2,marty@hv.edu,123456,secondary',
        '1,3,biff@hv.edu,999,secondary',
        // biff's identity was joined to doc's by a row that created nothing.
        '1,1,biff@hv.edu,123456,link',
      ],
    )
    assert.match(exported.stderr, /export: 1 identities, 3 contacts, 1 link lines/)
  })

  test('import while the service serves requests on the same file: invariants hold for every request', async (t) => {
    const dir = tempDir(t)
    const dbPath = join(dir, 'contacts.db')
    const env = { DATABASE_URL: `sqlite:${dbPath}` }
    const server = await startServer(env)
    t.after(() => server.stop())

    const rows: { email: string | null; phoneNumber: string | null }[] = []
    for (let i = 0; i < 20000; i++) {
      const k = i % 3000
      rows.push(
        i % 3 === 0 ? { email: `c${k}@x.io`, phoneNumber: null } : { email: `c${k}@x.io`, phoneNumber: `${k % 2000}` },
      )
    }
    const file = join(dir, 'rows.ndjson')
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`)
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'import', file, '--json', '--batch-size', '500'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    const exited = once(child, 'exit')

    const requests: { email: string | null; phoneNumber: string | null }[] = []
    for (let i = 0; i < 300; i++) {
      const k = (i * 7) % 3500
      const body = { email: `c${k}@x.io`, phoneNumber: `${(k * 3) % 2500}` }
      requests.push(body)
      const res = await fetch(`${server.url}/identify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      assert.equal(res.status, 200)
    }
    const [code] = await exited
    assert.equal(code, 0)
    const summary = JSON.parse(stdout)
    assert.equal(summary.rowsRead, rows.length)

    const check = new SqliteStore({ path: dbPath })
    t.after(() => check.close())
    assertInvariants(
      await check.listContacts(),
      [...rows, ...requests].map((r) => normalizeIdentifyInput(r)),
    )
  })
})
