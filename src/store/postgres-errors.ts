/**
 * What a PostgreSQL failure means for the caller: contention to retry in a new transaction, a lost
 * connection to retry on a fresh one, storage that is unavailable (`503`), or a fault of our own.
 * SQLSTATE codes are the contract here; PostgreSQL, CockroachDB and YugabyteDB share them.
 */
import { AppError } from '../errors.ts'

/**
 * Unique indexes two transactions race on when they insert the same fact: `contact_fact` (I4) and
 * `link_fact` (two requests storing one merge's link).
 */
export const FACT_INDEXES = new Set(['contact_fact', 'link_fact'])

/**
 * SQLSTATEs that mean "another transaction got in the way; run yours again":
 * 40001 serialization_failure, 40P01 deadlock_detected, 40003 statement_completion_unknown
 * (CockroachDB's ambiguous commit: safe to rerun because `/identify` is idempotent).
 */
const CONTENTION = new Set(['40001', '40P01', '40003'])

/** Node socket errors and pg client messages that mean the connection is gone, not the data wrong. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])
const LOST_MESSAGES =
  /Connection terminated|Client has encountered a connection error|connection timeout|Query read timeout|Client was closed|not queryable/i

interface PgLikeError {
  code?: unknown
  constraint?: unknown
  message?: unknown
}

function fields(err: unknown): PgLikeError {
  return typeof err === 'object' && err !== null ? (err as PgLikeError) : {}
}

/**
 * True when the transaction lost a race and a fresh attempt will decide again on newer data.
 *
 * @example
 * isContention({ code: '40001' }) // true
 * isContention({ code: '23505', constraint: 'contact_fact' }) // true: a concurrent insert of the same fact
 */
export function isContention(err: unknown): boolean {
  const { code, constraint } = fields(err)
  if (typeof code !== 'string') return false
  return CONTENTION.has(code) || (code === '23505' && typeof constraint === 'string' && FACT_INDEXES.has(constraint))
}

/**
 * The retry reason for a failure worth rerunning, as metrics label it, or null.
 *
 * @example
 * retryReason({ code: '40P01' }) // 'pg_40P01'
 */
export function retryReason(err: unknown): string | null {
  if (isConnectionLost(err)) return 'connection_lost'
  const { code } = fields(err)
  // Out of predicate-lock memory, which every serializable session of the server shares: freed as
  // the others commit, so worth a few more tries (limited by the store).
  if (code === '53200') return 'pg_out_of_locks'
  if (!isContention(err)) return null
  return code === '23505' ? 'pg_23505' : code === '40P01' ? 'pg_40P01' : 'pg_40001'
}

/**
 * True when the connection (not the statement) failed: the server terminated the session
 * (`pg_terminate_backend`, restart, failover), the socket broke, or a timeout fired. The client
 * that saw it must be discarded, not returned to the pool.
 *
 * @example
 * isConnectionLost({ code: '57P01' }) // true: terminating connection due to administrator command
 */
export function isConnectionLost(err: unknown): boolean {
  const { code, message } = fields(err)
  if (typeof code === 'string') {
    // 08: connection exception; 57P01–57P05: admin/crash shutdown, cannot connect now, idle timeouts.
    if (code.startsWith('08') || /^57P0[1-5]$/.test(code)) return true
    if (SOCKET_CODES.has(code)) return true
  }
  if (err instanceof AggregateError) return err.errors.some(isConnectionLost)
  return typeof message === 'string' && LOST_MESSAGES.test(message)
}

/**
 * True when the failure is the database's state rather than our SQL: unreachable, shutting down,
 * out of resources, timed out, misconfigured (wrong database or password). These answer `503`.
 * Syntax errors, data errors and unexpected constraint violations are faults of ours and stay `500`.
 */
export function isUnavailable(err: unknown): boolean {
  if (isConnectionLost(err)) return true
  const { code } = fields(err)
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false
  // 53 insufficient resources, 57 operator intervention (57014: statement timeout), 58 system
  // error, XX internal error, 3D invalid catalog (no such database), 28 invalid authorization,
  // 25006 read-only transaction (a standby after failover), 55P03 lock not available.
  return /^(53|57|58|XX|3D|28)/.test(code) || code === '25006' || code === '55P03' || CONTENTION.has(code)
}

/**
 * Wraps a storage failure as `ERR_STORAGE_UNAVAILABLE` (a `503` with a message a person can act on),
 * and passes anything else through unchanged.
 *
 * @example
 * throw toStorageError(err, 'PostgreSQL at db:5432/identity is unreachable')
 */
export function toStorageError(err: unknown, message: string): Error {
  if (err instanceof AppError) return err
  if (!isUnavailable(err)) return err instanceof Error ? err : new Error(String(err))
  return new AppError('ERR_STORAGE_UNAVAILABLE', `${message} (${reason(err)})`, { cause: err })
}

/** A short reason for logs and messages: the SQLSTATE or socket code and the first line of text. */
export function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reason(err.errors[0])
  const { code, message } = fields(err)
  const text = typeof message === 'string' ? message.split('\n')[0] : String(err)
  return typeof code === 'string' && code !== '' && !text?.includes(code) ? `${code}: ${text}` : (text ?? '')
}
