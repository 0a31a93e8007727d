/**
 * CSV reader (RFC 4180: comma-separated, `"` quotes, `""` inside quotes, quoted fields may span
 * lines). The header row names the columns: `email` and `phoneNumber` (or `phone`,
 * `phone_number`), any case; other columns are ignored, so an export reads back as it is.
 * Hand-rolled because csv-parse spent a quarter of the import's time budget on a million rows;
 * unquoted lines take a `split(',')` fast path.
 */
import { AppError } from '../../errors.ts'
import type { SourceRecord } from '../record.ts'
import { type Line, lines } from './lines.ts'

const EMAIL_HEADERS = new Set(['email'])
const PHONE_HEADERS = new Set(['phonenumber', 'phone', 'phone_number'])

/** How many physical lines one record (a quoted field running over line ends) may span. */
export const MAX_RECORD_LINES = 100

/**
 * Reads CSV text into `/identify` bodies (`{ email, phoneNumber }`, strings; a missing or empty
 * cell is absent). Throws `ERR_INVALID_INPUT` when the header names neither column.
 *
 * A quoted field may run over at most `MAX_RECORD_LINES` lines. One that is not closed by then (or
 * by the end of the file), such as a stray `"` opening a cell, costs only its own row: the row is
 * rejected on the line it starts and the lines after it are read again as rows of their own. A line
 * read again cannot reopen a field that ran over it (it would need an odd number of quotes to open
 * one, and had an even number to keep the other open), so each line is scanned at most twice.
 *
 * @example
 * // email,phone\nDoc@x.io,123 → { line: 2, body: { email: 'Doc@x.io', phoneNumber: '123' } }
 */
export async function* readCsv(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  let emailAt = -1
  let phoneAt = -1
  let header = true
  // Lines of the record whose quoted field is still open, and lines to read again after giving up on one.
  let open: { lines: Line[]; fields: string[]; value: string } | null = null
  const again: Line[] = []
  const input = lines(chunks)[Symbol.asyncIterator]()
  let inputDone = false
  for (;;) {
    let next = again.shift()
    if (next === undefined && !inputDone) {
      const read = await input.next()
      if (read.done) inputDone = true
      else next = read.value
    }
    let parsed: string[] | string | Open
    let startLine: number
    if (next === undefined) {
      if (open === null) break
      parsed = 'a quoted field is never closed'
      startLine = open.lines[0]!.line
      again.unshift(...open.lines.slice(1))
      open = null
    } else if (open !== null) {
      open.lines.push(next)
      startLine = open.lines[0]!.line
      parsed = parseFields(next.text, open.fields, `${open.value}\n`)
    } else {
      if (next.text.trim() === '') continue
      startLine = next.line
      parsed = next.text.includes('"') ? parseFields(next.text, [], null) : next.text.split(',')
    }
    if (parsed instanceof Open) {
      const spanned: Line[] = open?.lines ?? [next as Line]
      if (spanned.length < MAX_RECORD_LINES) {
        open = { lines: spanned, fields: parsed.fields, value: parsed.value }
        continue
      }
      parsed = `a quoted field is not closed within ${MAX_RECORD_LINES} lines`
      again.unshift(...spanned.slice(1))
    }
    open = null
    if (typeof parsed === 'string') {
      if (header) throw new AppError('ERR_INVALID_INPUT', `the CSV header on line ${startLine} is malformed: ${parsed}`)
      yield { line: startLine, error: `malformed CSV: ${parsed}` }
      continue
    }
    if (header) {
      header = false
      parsed.forEach((name, i) => {
        const key = name.trim().toLowerCase()
        if (emailAt === -1 && EMAIL_HEADERS.has(key)) emailAt = i
        if (phoneAt === -1 && PHONE_HEADERS.has(key)) phoneAt = i
      })
      if (emailAt === -1 && phoneAt === -1) {
        throw new AppError(
          'ERR_INVALID_INPUT',
          `the CSV header on line ${startLine} names neither an "email" nor a "phoneNumber" (or "phone") column`,
        )
      }
      continue
    }
    yield {
      line: startLine,
      body: {
        email: emailAt === -1 ? null : (parsed[emailAt] ?? null),
        phoneNumber: phoneAt === -1 ? null : (parsed[phoneAt] ?? null),
      },
    }
  }
}

/** A record whose quoted field runs past the end of the line: the fields before it and its text so far. */
class Open {
  constructor(
    readonly fields: string[],
    readonly value: string,
  ) {}
}

/**
 * Parses one line of a record into `fields`. `value` is the text of a quoted field continued from
 * the line before (null: the line starts a field). Returns the fields, `Open` when a quoted field
 * runs past the line, or a reason when the record is malformed.
 */
function parseFields(text: string, fields: string[], value: string | null): string[] | string | Open {
  let i = 0
  const n = text.length
  for (;;) {
    if (value !== null || text.charCodeAt(i) === 34) {
      if (value === null) {
        value = ''
        i++
      }
      for (;;) {
        const close = text.indexOf('"', i)
        if (close === -1) return new Open(fields, value + text.slice(i))
        value += text.slice(i, close)
        if (text.charCodeAt(close + 1) === 34) {
          value += '"'
          i = close + 2
          continue
        }
        i = close + 1
        break
      }
      if (i < n && text.charCodeAt(i) !== 44) return 'text after a closing quote'
      fields.push(value)
      value = null
    } else {
      // A quote inside an unquoted field is taken literally, as most spreadsheets write it.
      let comma = text.indexOf(',', i)
      if (comma === -1) comma = n
      fields.push(text.slice(i, comma))
      i = comma
    }
    if (i >= n) return fields
    i++
    if (i === n) {
      fields.push('')
      return fields
    }
  }
}
