/**
 * The operator commands of the CLI (`delete-contact`, `delete-link`, `erase`, `block`, `unblock`,
 * `blocked`, `hubs`) as child processes on a SQLite file: the same units as the routes, JSON on
 * stdout, exit 1 with `CODE: message` on stderr for a refusal.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCli, tempDir } from './helpers.ts'

test('operator commands over the same service as the routes', (t) => {
  const dir = tempDir(t)
  const env = { DATABASE_URL: `sqlite:${join(dir, 'c.db')}` }
  const file = join(dir, 'in.ndjson')
  writeFileSync(
    file,
    [
      { email: 'a@x.io', phoneNumber: '1' },
      { email: 'test@test.com', phoneNumber: '1' },
      { email: 'test@test.com', phoneNumber: '2' },
      { email: 'b@x.io', phoneNumber: '2' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  )
  assert.equal(runCli(['import', file, '--quiet'], { env }).status, 0)
  const json = (args: string[]) => {
    const run = runCli(args, { env })
    assert.equal(run.status, 0, run.stderr)
    return JSON.parse(run.stdout)
  }

  const hubs = json(['hubs', '--limit', '1'])
  assert.deepEqual(hubs.values, [{ kind: 'email', value: 'test@test.com', contacts: 2, blocked: false }])
  assert.deepEqual(hubs.identities, [{ primaryContatctId: 1, contacts: 4 }])

  const entry = json(['block', 'email', ' TEST@test.com '])
  assert.equal(entry.value, 'test@test.com')
  assert.equal(json(['blocked']).blockedValues.length, 1)
  // The hub joined 1–2 with 3–4; blocked, they are apart.
  assert.equal(json(['hubs']).identities[0].contacts, 2)
  const unblocked = json(['unblock', String(entry.id)])
  assert.deepEqual(
    unblocked.identities.map((i: { primaryContatctId: number }) => i.primaryContatctId),
    [1],
  )

  const pattern = json(['block', 'phoneNumber', '^9+$', '--pattern'])
  assert.equal(pattern.pattern, '^9+$')

  // Contact 2 bridged 1 (phone 1) and 3 (the hub email): without it, 1 | 3–4.
  const split = json(['delete-contact', '2'])
  assert.deepEqual(
    split.identities.map((i: { primaryContatctId: number }) => i.primaryContatctId),
    [1, 3],
  )
  const erased = json(['erase', '4'])
  assert.ok(erased.erasedContactIds.includes(4))

  const missing = runCli(['erase', '999'], { env })
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /^error: ERR_NOT_FOUND: /)
  const bad = runCli(['block', 'email', '(a)\\1', '--pattern'], { env })
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /ERR_INVALID_INPUT: pattern/)
})
