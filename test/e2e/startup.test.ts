/**
 * A server that cannot start says why in one clean line and exits 1 (issue 11, item 15): a JSON log
 * line, like everything else the server prints, naming the setting, with no stack trace — whether
 * it is started as `node src/server.ts` or `identity serve`.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url))
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

function start(entry: string[], env: Record<string, string>) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', ...entry], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', DATABASE_URL: 'sqlite::memory:', ...env },
    encoding: 'utf8',
    // A server that wrongly starts must not hang the test.
    timeout: 10000,
    killSignal: 'SIGKILL',
  })
  const lines = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.trim() !== '')
  return { status: run.status, lines }
}

function assertOneCleanLine(run: ReturnType<typeof start>, pattern: RegExp): Record<string, unknown> {
  assert.equal(run.status, 1, run.lines.join('\n'))
  assert.equal(run.lines.length, 1, `one line, not:\n${run.lines.join('\n')}`)
  const line = JSON.parse(run.lines[0]!) as Record<string, unknown>
  assert.equal(line.level, 60)
  assert.match(String(line.msg), pattern)
  assert.doesNotMatch(run.lines[0]!, /\\n\s+at |"stack"/, 'no stack trace')
  return line
}

const dir = mkdtempSync(join(tmpdir(), 'identity-startup-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const aFile = join(dir, 'not-a-folder')
writeFileSync(aFile, '')

const cases: [string, Record<string, string>, RegExp][] = [
  ['PORT=abc', { PORT: 'abc' }, /^could not start: PORT must be a whole number/],
  ['PHONE_DEFAULT_COUNTRY=XX', { PHONE_DEFAULT_COUNTRY: 'XX' }, /PHONE_DEFAULT_COUNTRY.*unknown country code/],
  ['CORS_ORIGINS=not a url', { CORS_ORIGINS: 'not a url' }, /CORS_ORIGINS/],
  ['HOST=999.1.1.1', { HOST: '999.1.1.1' }, /HOST "999\.1\.1\.1"/],
  [
    'a file where the data folder should be',
    { DATABASE_URL: `sqlite:${aFile}/contacts.db` },
    /not-a-folder.*a part of that path is a file, not a folder/,
  ],
  [
    'a folder where the database file should be',
    { DATABASE_URL: `sqlite:${dir}` },
    /that is a folder: DATABASE_URL must name a file/,
  ],
]
for (const [name, env, pattern] of cases) {
  test(`the server refuses ${name} in one clean line`, () => {
    const line = assertOneCleanLine(start([SERVER], env), pattern)
    assert.equal((String(line.msg).match(/EEXIST/g) ?? []).length <= 1, true, 'the cause is said once')
  })
}

test('`identity serve` reports a bad setting the same way', () => {
  assertOneCleanLine(start([CLI, 'serve'], { PORT: 'abc' }), /^could not start: PORT must be a whole number/)
})

test('a port in use is named', async () => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  const { port } = blocker.address() as AddressInfo
  try {
    assertOneCleanLine(start([SERVER], { PORT: String(port) }), new RegExp(`PORT ${port} is already in use`))
  } finally {
    blocker.close()
  }
})
