/**
 * The one retry policy: every place that reruns work after contention or a lost connection (a
 * request's unit, an import batch, a migration racing another instance, waiting for a database at
 * start) goes through `withRetry`, with full-jitter exponential backoff and per-reason limits.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface RetryPolicy {
  /** Why `err` may be retried (`'pg_40001'`, `'sqlite_busy'`, …), or null when it may not. */
  readonly reasonOf: (err: unknown) => string | null
  /** Most attempts in all (default 100). */
  readonly maxAttempts?: number
  /** Most attempts for a given reason, e.g. `{ connection_lost: 11 }`. */
  readonly limits?: Readonly<Record<string, number>>
  /** Stop retrying once this long has passed since the first attempt (ms). */
  readonly deadlineMs?: number
  /** Backoff: the n-th retry waits `random(0, min(capMs, baseMs × 2^n))` ms (default 1 and 50). */
  readonly baseMs?: number
  readonly capMs?: number
  /** `false`: wait the full backoff instead of a random share of it (start-up waits). */
  readonly jitter?: boolean
  /** True when retrying is pointless (the store is closing). */
  readonly stopped?: () => boolean
  /** Called before each rerun. */
  readonly onRetry?: (reason: string, attempt: number, err: unknown) => void
  /** The error to throw when a retryable failure is given up on. */
  readonly exhausted?: (err: unknown, attempts: number, reason: string) => unknown
}

/**
 * Runs `work(attempt)` until it succeeds, or fails in a way the policy does not retry, or a limit
 * is reached. `attempt` counts from 0.
 *
 * @example
 * await withRetry((attempt) => runOnce(attempt > 0), { reasonOf: (e) => (isBusy(e) ? 'sqlite_busy' : null) })
 */
export async function withRetry<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const started = Date.now()
  const counts = new Map<string, number>()
  const maxAttempts = policy.maxAttempts ?? 100
  const base = policy.baseMs ?? 1
  const cap = policy.capMs ?? 50
  for (let attempt = 0; ; attempt++) {
    try {
      return await work(attempt)
    } catch (err) {
      const reason = policy.reasonOf(err)
      if (reason === null) throw err
      const count = (counts.get(reason) ?? 0) + 1
      counts.set(reason, count)
      const limit = policy.limits?.[reason] ?? maxAttempts
      const late = policy.deadlineMs !== undefined && Date.now() - started >= policy.deadlineMs
      if (count >= limit || attempt + 1 >= maxAttempts || late || policy.stopped?.()) {
        throw policy.exhausted ? policy.exhausted(err, attempt + 1, reason) : err
      }
      policy.onRetry?.(reason, attempt, err)
      const ceiling = Math.min(cap, base * 2 ** attempt)
      await sleep(policy.jitter === false ? ceiling : Math.random() * ceiling)
    }
  }
}
