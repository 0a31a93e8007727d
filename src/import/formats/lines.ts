/**
 * Splits decoded text chunks into physical lines (LF or CRLF), numbered from 1. Hand-rolled
 * rather than `readline` because it is several times faster on million-row files.
 */

export interface Line {
  readonly line: number
  readonly text: string
}

/**
 * @example
 * for await (const { line, text } of lines(chunks)) console.log(line, text)
 */
export async function* lines(chunks: AsyncIterable<string>): AsyncGenerator<Line> {
  let rest = ''
  let line = 0
  for await (const chunk of chunks) {
    const buffer = rest === '' ? chunk : rest + chunk
    let start = 0
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n', start)) {
      const end = nl > start && buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
      yield { line: ++line, text: buffer.slice(start, end) }
      start = nl + 1
    }
    rest = buffer.slice(start)
  }
  if (rest !== '') yield { line: ++line, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest }
}
