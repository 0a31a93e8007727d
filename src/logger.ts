/**
 * The process logger: pino, JSON lines on stdout, object first and message second, errors under
 * `err`. Request logs carry method, route, status and time, never bodies, addresses or queries.
 *
 * Lines are buffered (up to 4 KiB, or 500 ms at low traffic) and written asynchronously: a write(2)
 * per request line cost about a sixth of the service's throughput. pino writes what is left when the process exits; a
 * `kill -9` can lose the last few lines, never data. Lines that supervisors and tests wait for
 * (ready, shutting down) are pushed out at once with `flushLogger`.
 */
import pino, { type Logger } from 'pino'

export function createLogger(level: string, options: { readonly dest?: 1 | 2 } = {}): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    // periodicFlush: at low traffic the buffer would hold lines for seconds; written at least every 500 ms.
    pino.destination({ dest: options.dest ?? 1, sync: false, minLength: 4096, periodicFlush: 500 }),
  )
}

/**
 * Writes every buffered line now, synchronously. (`logger.flush()` does nothing while an
 * asynchronous write is under way, which can leave a line in the buffer until the next 4 KiB.)
 *
 * @example
 * logger.info({ port }, 'identity service ready')
 * flushLogger(logger)
 */
export function flushLogger(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym]
  try {
    stream?.flushSync?.()
  } catch {
    // Not open yet or already closed: pino's exit handler writes what is left.
  }
}
