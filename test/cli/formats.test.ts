/**
 * The format readers: header names, quoting, CRLF, byte-order mark, multi-line fields, numbers as
 * phone numbers, sniffing, and the line each row (and each rejected row) is reported on.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import type { SourceRecord } from '../../src/import/record.ts'
import { openSource } from '../../src/import/source.ts'
import { tempDir } from './helpers.ts'

async function read(path: string, stdin?: string) {
  const source = await openSource(stdin === undefined ? path : '-', {
    stdin: stdin === undefined ? undefined : Readable.from([Buffer.from(stdin)]),
  })
  const records: SourceRecord[] = []
  for await (const r of source.records) records.push(r)
  return { format: source.format, records }
}

describe('CSV', () => {
  test('header names in any case, phone for phoneNumber, extra columns ignored, CRLF and BOM', async (t) => {
    const path = join(tempDir(t), 'a.csv')
    writeFileSync(path, '\uFEFFnote,PHONE,Email\r\nx,123,Doc@HV.edu\r\n\r\ny,,marty@hv.edu\r\n')
    const { format, records } = await read(path)
    assert.equal(format, 'csv')
    assert.deepEqual(records, [
      { line: 2, body: { email: 'Doc@HV.edu', phoneNumber: '123' } },
      { line: 4, body: { email: 'marty@hv.edu', phoneNumber: '' } },
    ])
  })

  test('quoted fields: commas, doubled quotes, a field over two lines; later lines keep their numbers', async (t) => {
    const path = join(tempDir(t), 'q.csv')
    writeFileSync(
      path,
      'email,phoneNumber\n"a,""b""@x.io","1 2"\n"multi\nline@x.io",3\nc@x.io,4\n"bad"x,5\n"never closed,6\n',
    )
    const { records } = await read(path)
    assert.deepEqual(records, [
      { line: 2, body: { email: 'a,"b"@x.io', phoneNumber: '1 2' } },
      { line: 3, body: { email: 'multi\nline@x.io', phoneNumber: '3' } },
      { line: 5, body: { email: 'c@x.io', phoneNumber: '4' } },
      { line: 6, error: 'malformed CSV: text after a closing quote' },
      { line: 7, error: 'malformed CSV: a quoted field is never closed' },
    ])
  })

  test('an unclosed quote rejects its own row only: the lines after it are rows again (issue 11, item 7)', async (t) => {
    const path = join(tempDir(t), 'stray.csv')
    writeFileSync(path, 'email,phone\n"a@b.io,1\nc@x.io,2\nd@x.io,3\n')
    const { records } = await read(path)
    assert.deepEqual(records, [
      { line: 2, error: 'malformed CSV: a quoted field is never closed' },
      { line: 3, body: { email: 'c@x.io', phoneNumber: '2' } },
      { line: 4, body: { email: 'd@x.io', phoneNumber: '3' } },
    ])
  })

  test('a quoted field may run over at most 100 lines; a longer one is rejected and reading resumes on its next line', async (t) => {
    const path = join(tempDir(t), 'long.csv')
    const inner = (n: number) => Array.from({ length: n }, (_, i) => `part${i}`).join('\n')
    // Line 2 opens a field that closes on line 101 (100 lines: allowed); line 102 opens one that
    // would close on line 202 (101 lines: refused), so lines 103… are read as rows of their own.
    writeFileSync(path, `email,phone\n"${inner(100)}",1\n"${inner(101)}",2\nlast@x.io,3\n`)
    const { records } = await read(path)
    assert.deepEqual(records[0], { line: 2, body: { email: inner(100), phoneNumber: '1' } })
    assert.deepEqual(records[1], {
      line: 102,
      error: 'malformed CSV: a quoted field is not closed within 100 lines',
    })
    assert.deepEqual(records[2], { line: 103, body: { email: 'part1', phoneNumber: null } })
    assert.deepEqual(records.at(-2), { line: 202, body: { email: 'part100"', phoneNumber: '2' } })
    assert.deepEqual(records.at(-1), { line: 203, body: { email: 'last@x.io', phoneNumber: '3' } })
    assert.equal(records.length, 1 + 1 + 100 + 1)
  })

  test('a stray quote every 101 lines: each costs its own row, every other row is read', async (t) => {
    const path = join(tempDir(t), 'quotes.csv')
    const block = (b: number) => [`"stray${b}@x.io,1`, ...Array.from({ length: 100 }, (_, i) => `r${b}.${i}@x.io,2`)]
    const blocks = Array.from({ length: 30 }, (_, b) => block(b))
    writeFileSync(path, `email,phone\n${blocks.flat().join('\n')}\n`)
    const { records } = await read(path)
    assert.equal(records.length, 30 * 101)
    assert.deepEqual(
      records.filter((r) => r.error !== undefined).map((r) => r.line),
      Array.from({ length: 30 }, (_, b) => 2 + b * 101),
    )
  })

  test('a header without email or phone is refused', async (t) => {
    const path = join(tempDir(t), 'h.csv')
    writeFileSync(path, 'name,age\nx,1\n')
    await assert.rejects(read(path), { code: 'ERR_INVALID_INPUT', message: /neither an "email" nor a "phoneNumber"/ })
  })
})

describe('NDJSON and JSON arrays', () => {
  test('NDJSON: blank lines skipped, bad JSON rejected on its line, numbers kept as numbers', async (t) => {
    const path = join(tempDir(t), 'a.ndjson')
    writeFileSync(path, '{"email":"a@x.io"}\n\n  \n{"phoneNumber":123456}\n{oops\n')
    const { records } = await read(path)
    assert.deepEqual(records.slice(0, 2), [
      { line: 1, body: { email: 'a@x.io' } },
      { line: 4, body: { phoneNumber: 123456 } },
    ])
    assert.equal(records[2]?.line, 5)
    assert.match(records[2]?.error ?? '', /not valid JSON/)
  })

  test('JSON array: each element on the line it starts, nested and multi-line elements, bad element rejected', async (t) => {
    const path = join(tempDir(t), 'a.json')
    writeFileSync(
      path,
      '[\n  {"email": "a@x.io", "x": [1, {"y": "],"}]},\n  {\n    "phoneNumber": 1\n  },\n  {"email": nope},\n  "s"\n]\n',
    )
    const { format, records } = await read(path)
    assert.equal(format, 'json')
    assert.deepEqual(records[0], { line: 2, body: { email: 'a@x.io', x: [1, { y: '],' }] } })
    assert.deepEqual(records[1], { line: 3, body: { phoneNumber: 1 } })
    assert.equal(records[2]?.line, 6)
    assert.match(records[2]?.error ?? '', /not valid JSON/)
    assert.deepEqual(records[3], { line: 7, body: 's' })
  })

  test('standard input is sniffed: [ is a JSON array, { is NDJSON, anything else CSV', async () => {
    assert.equal((await read('', '  [{"email":"a@x.io"}]')).format, 'json')
    assert.equal((await read('', '{"email":"a@x.io"}\n')).format, 'ndjson')
    assert.equal((await read('', 'email\na@x.io\n')).format, 'csv')
  })
})
