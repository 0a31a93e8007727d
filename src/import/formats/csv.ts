/**
 * CSV reader (RFC 4180: comma-separated, `"` quotes, `""` inside quotes, quoted fields may span
 * lines). The header row names the columns: `email` and `phoneNumber` (or `phone`,
 * `phone_number`), any case; other columns are ignored, so an export reads back as it is.
 * Hand-rolled because csv-parse spent a quarter of the import's time budget on a million rows;
 * unquoted lines take a `split(',')` fast path.
 */
import { AppError } from '../../errors.ts'
import type { SourceRecord } from '../record.ts'
import { lines } from './lines.ts'

const EMAIL_HEADERS = new Set(['email'])
const PHONE_HEADERS = new Set(['phonenumber', 'phone', 'phone_number'])

/**
 * Reads CSV text into `/identify` bodies (`{ email, phoneNumber }`, strings; a missing or empty
 * cell is absent). Throws `ERR_INVALID_INPUT` when the header names neither column.
 *
 * @example
 * // email,phone\nDoc@x.io,123 → { line: 2, body: { email: 'Doc@x.io', phoneNumber: '123' } }
 */
export async function* readCsv(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  let emailAt = -1
  let phoneAt = -1
  let header = true
  let pending = ''
  let pendingLine = 0
  for await (const { line, text } of lines(chunks)) {
    let record = text
    let startLine = line
    if (pending !== '') {
      record = `${pending}\n${text}`
      startLine = pendingLine
    } else if (text.trim() === '') {
      continue
    }
    const parsed = record.includes('"') ? parseQuoted(record) : record.split(',')
    if (parsed === INCOMPLETE) {
      pending = record
      pendingLine = startLine
      continue
    }
    pending = ''
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
  if (pending !== '') yield { line: pendingLine, error: 'malformed CSV: a quoted field is never closed' }
}

const INCOMPLETE = Symbol('incomplete')

/** Fields of one record with quotes; `INCOMPLETE` when a quoted field runs past the text; a reason when malformed. */
function parseQuoted(text: string): string[] | string | typeof INCOMPLETE {
  const fields: string[] = []
  let i = 0
  const n = text.length
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let value = ''
      i++
      for (;;) {
        const close = text.indexOf('"', i)
        if (close === -1) return INCOMPLETE
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
