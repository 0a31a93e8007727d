/**
 * The process logger: pino, JSON to stdout, object first and message second, errors under `err`.
 * Request logs carry the method, route, status and time, never bodies, addresses or query strings.
 */
import pino, { type Logger } from 'pino'

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}
