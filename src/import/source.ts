/**
 * Opens what `import` reads — a file, or standard input for `-` — as decoded text, counts the bytes
 * read (for progress), and picks the format: `--format`, else the extension, else a sniff of the
 * first non-blank character (`[` JSON array, `{` NDJSON, anything else CSV).
 */
import { createReadStream, statSync } from 'node:fs'
import { extname } from 'node:path'
import type { Readable } from 'node:stream'
import { AppError } from '../errors.ts'
import { readCsv } from './formats/csv.ts'
import { readJsonArray } from './formats/json-array.ts'
import { readNdjson } from './formats/ndjson.ts'
import type { ImportFormat, SourceRecord } from './record.ts'

export interface ImportSource {
  readonly format: ImportFormat
  /** The file's size in bytes, when known (not for standard input). */
  readonly totalBytes: number | null
  /** Bytes read so far. */
  bytesRead(): number
  readonly records: AsyncIterable<SourceRecord>
}

const BY_EXTENSION: Record<string, ImportFormat> = {
  '.csv': 'csv',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
}

/**
 * @example
 * const source = await openSource('contacts.csv')
 * for await (const record of source.records) …
 */
export async function openSource(
  path: string,
  options: { format?: ImportFormat; stdin?: Readable } = {},
): Promise<ImportSource> {
  let stream: Readable
  let totalBytes: number | null = null
  if (path === '-') {
    stream = options.stdin ?? process.stdin
  } else {
    try {
      totalBytes = statSync(path).size
    } catch (err) {
      throw new AppError('ERR_INVALID_INPUT', `cannot read ${path}: ${(err as Error).message}`)
    }
    stream = createReadStream(path, { highWaterMark: 1 << 20 })
  }
  let bytes = 0
  const text = decode(stream, (n) => {
    bytes += n
  })
  const head = await peek(text)
  const format =
    options.format ?? (path === '-' ? undefined : BY_EXTENSION[extname(path).toLowerCase()]) ?? sniff(head.first)
  const read = format === 'csv' ? readCsv : format === 'ndjson' ? readNdjson : readJsonArray
  return { format, totalBytes, bytesRead: () => bytes, records: read(head.chunks) }
}

function sniff(first: string): ImportFormat {
  if (first === '[') return 'json'
  if (first === '{') return 'ndjson'
  return 'csv'
}

async function* decode(stream: Readable, count: (n: number) => void): AsyncGenerator<string> {
  // TextDecoder drops a leading byte-order mark and keeps multi-byte characters split across chunks whole.
  const decoder = new TextDecoder('utf-8')
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      count(chunk.length)
      const text = decoder.decode(chunk, { stream: true })
      if (text !== '') yield text
    }
  } catch (err) {
    throw new AppError('ERR_INVALID_INPUT', `cannot read the input: ${(err as Error).message}`)
  }
  const tail = decoder.decode()
  if (tail !== '') yield tail
}

/** Reads until the first non-blank character and hands back a stream that still starts at the beginning. */
async function peek(text: AsyncGenerator<string>): Promise<{ first: string; chunks: AsyncIterable<string> }> {
  const seen: string[] = []
  let first = ''
  while (first === '') {
    const next = await text.next()
    if (next.done) break
    seen.push(next.value)
    first = next.value.trimStart().charAt(0)
  }
  async function* replay(): AsyncGenerator<string> {
    yield* seen
    yield* text
  }
  return { first, chunks: replay() }
}
