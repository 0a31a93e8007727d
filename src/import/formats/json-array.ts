/**
 * JSON array reader, streaming: the array is split into its elements without holding the file,
 * each element parsed on its own, so one bad element is one rejected row and memory stays bounded
 * by the largest element. The structure around the elements (`[`, `,`, `]`) must be valid.
 */
import { AppError } from '../../errors.ts'
import type { SourceRecord } from '../record.ts'

const OPEN_BRACE = 123
const CLOSE_BRACE = 125
const OPEN_BRACKET = 91
const CLOSE_BRACKET = 93
const QUOTE = 34
const BACKSLASH = 92
const COMMA = 44
const NEWLINE = 10

/**
 * @example
 * // [\n {"email":"a@b.io"},\n {"phoneNumber":123}\n] → lines 2 and 3
 */
export async function* readJsonArray(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  let line = 1
  let state = 'before' as 'before' | 'between' | 'element' | 'after'
  let depth = 0
  let inString = false
  let escaped = false
  let element = ''
  let elementLine = 0
  for await (const chunk of chunks) {
    let start = 0
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i)
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false
          else if (c === BACKSLASH) escaped = true
          else if (c === QUOTE) inString = false
          else if (c === NEWLINE) line++
          continue
        }
        if (c === QUOTE) inString = true
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++
        else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && depth > 0) depth--
        else if (depth === 0 && (c === COMMA || c === CLOSE_BRACKET)) {
          element += chunk.slice(start, i)
          yield parseElement(element, elementLine)
          element = ''
          state = c === COMMA ? 'between' : 'after'
        } else if (c === NEWLINE) line++
        continue
      }
      if (c === NEWLINE) {
        line++
        continue
      }
      if (c === 32 || c === 9 || c === 13 || c === 0xfeff) continue
      if (state === 'before') {
        if (c !== OPEN_BRACKET)
          throw new AppError('ERR_INVALID_INPUT', `line ${line}: a JSON array must start with "["`)
        state = 'between'
      } else if (state === 'between') {
        // `]` closes the array, after `[` or after a trailing comma too.
        if (c === CLOSE_BRACKET) state = 'after'
        else if (c === COMMA) {
          yield { line, error: 'empty array element' }
        } else {
          state = 'element'
          elementLine = line
          depth = c === OPEN_BRACE || c === OPEN_BRACKET ? 1 : 0
          inString = c === QUOTE
          escaped = false
          start = i
        }
      } else {
        throw new AppError('ERR_INVALID_INPUT', `line ${line}: unexpected text after the end of the JSON array`)
      }
    }
    if (state === 'element') element += chunk.slice(start)
  }
  if (state === 'element') yield { line: elementLine, error: 'the JSON array is never closed' }
  else if (state !== 'after') throw new AppError('ERR_INVALID_INPUT', 'the JSON array is never closed')
}

function parseElement(text: string, line: number): SourceRecord {
  try {
    return { line, body: JSON.parse(text) }
  } catch (err) {
    return { line, error: `not valid JSON (${(err as Error).message})` }
  }
}
