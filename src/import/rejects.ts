/**
 * Where `identity import` reports rejected rows: with `--rejects FILE`, one JSON object per line in
 * that file, opened before anything is imported so that a path that cannot be written fails the
 * command at once; without it, the first few on standard error and, at the end, how many more.
 */
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { resolve } from 'node:path'
import { finished } from 'node:stream/promises'
import { AppError } from '../errors.ts'
import type { Reject } from './engine.ts'

/** How many rejects are printed on standard error without `--rejects`. */
export const SHOWN_REJECTS = 10

export interface RejectsReport {
  /** Reports one rejected row; the promise, when there is one, waits for the file to catch up. */
  add(reject: Reject): Promise<void> | undefined
  /** Closes the file, or prints how many rejects were not shown. Safe to call again. */
  finish(): Promise<void>
}

export interface RejectsOptions {
  /** `--rejects FILE`; undefined prints on `stderr` instead. */
  readonly path?: string
  /** The file being imported (`-`: standard input), which the rejects file must not overwrite. */
  readonly input: string
  readonly stderr: NodeJS.WritableStream
  readonly quiet?: boolean
}

/**
 * @example
 * const rejects = await openRejects({ path: opts.rejects, input: file, stderr: process.stderr })
 * await importRecords(sink, records, { onReject: (r) => rejects.add(r) })
 * await rejects.finish()
 */
export async function openRejects(options: RejectsOptions): Promise<RejectsReport> {
  const { path } = options
  if (path === undefined) return printed(options.stderr, options.quiet ?? false)
  const refused = (reason: string, cause?: unknown) =>
    new AppError('ERR_INVALID_INPUT', `cannot write the rejects file ${path}: ${reason}`, { cause })
  if (options.input !== '-' && resolve(path) === resolve(options.input)) throw refused('it is the file being imported')
  const out = createWriteStream(path)
  try {
    await once(out, 'open')
  } catch (err) {
    throw refused((err as Error).message, err)
  }
  let failure: AppError | null = null
  // A write that fails later (disk full) ends the import with that reason, not an unhandled 'error'.
  out.on('error', (err) => {
    failure ??= refused(err.message, err)
  })
  return {
    add(reject) {
      if (failure !== null) throw failure
      if (out.write(`${JSON.stringify(reject)}\n`)) return undefined
      return once(out, 'drain').then(
        () => undefined,
        (err: Error) => {
          throw failure ?? refused(err.message, err)
        },
      )
    },
    async finish() {
      if (!out.writableEnded) out.end()
      await finished(out).catch(() => undefined)
      if (failure !== null) throw failure
    },
  }
}

function printed(stderr: NodeJS.WritableStream, quiet: boolean): RejectsReport {
  let count = 0
  let done = false
  return {
    add(reject) {
      count++
      if (!quiet && count <= SHOWN_REJECTS) stderr.write(`line ${reject.line}: ${reject.reason}\n`)
      return undefined
    },
    async finish() {
      const hidden = count - SHOWN_REJECTS
      if (!done && !quiet && hidden > 0) {
        stderr.write(
          `… ${hidden} more rejected row${hidden === 1 ? '' : 's'} not shown (use --rejects FILE to get them all)\n`,
        )
      }
      done = true
    },
  }
}
