/**
 * Streaming: memory follows the number of distinct emails and phone numbers, not the file. A
 * 200,000-row CSV larger than the whole heap allowed (each row padded with an ignored column)
 * imports in a child process limited to a 64 MiB old generation.
 */
import assert from 'node:assert/strict'
import { createWriteStream, statSync } from 'node:fs'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { test } from 'node:test'
import { runCli, tempDir } from './helpers.ts'

const ROWS = 200_000
const HEAP_MB = 64

test(`${ROWS} rows, a file bigger than the heap, under --max-old-space-size=${HEAP_MB}`, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'big.csv')
  const out = createWriteStream(file)
  const pad = 'x'.repeat(400)
  out.write('email,phoneNumber,note\n')
  let chunk = ''
  for (let i = 0; i < ROWS; i++) {
    const k = (i * 7919) % 5000 // 5,000 customers coming back 40 times each
    chunk += `c${k}@x.io,${k % 3000},${pad}\n`
    if (chunk.length > 1 << 16) {
      out.write(chunk)
      chunk = ''
    }
  }
  out.end(chunk)
  await finished(out)
  const fileBytes = statSync(file).size
  assert.ok(fileBytes > HEAP_MB * 2 ** 20, 'the file alone would not fit in the heap')

  const run = runCli(['import', file, '--json', '--quiet'], {
    env: { DATABASE_URL: `sqlite:${join(dir, 'contacts.db')}` },
    nodeArgs: [`--max-old-space-size=${HEAP_MB}`],
  })
  assert.equal(run.status, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  assert.equal(summary.rowsRead, ROWS)
  assert.equal(summary.rejected, 0)
  assert.ok(summary.peakHeapBytes < HEAP_MB * 2 ** 20)
  t.diagnostic(
    `file ${(fileBytes / 2 ** 20).toFixed(0)} MiB, peak heap ${(summary.peakHeapBytes / 2 ** 20).toFixed(1)} MiB, ` +
      `${summary.contactsCreated} contacts, ${summary.rowsPerSecond} rows/s`,
  )
})
