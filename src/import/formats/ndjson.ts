/**
 * NDJSON reader: one JSON value per line, each the body of one `/identify` request. Blank lines are
 * skipped; a line that is not JSON becomes a rejected row, never a failed import.
 */
import type { SourceRecord } from '../record.ts'
import { lines } from './lines.ts'

/**
 * @example
 * for await (const r of readNdjson(chunks)) if (r.error === undefined) console.log(r.line, r.body)
 */
export async function* readNdjson(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  for await (const { line, text } of lines(chunks)) {
    if (text.trim() === '') continue
    try {
      yield { line, body: JSON.parse(text) }
    } catch (err) {
      yield { line, error: `not valid JSON (${(err as Error).message})` }
    }
  }
}
