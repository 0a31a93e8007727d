/**
 * Storage metrics: the observer the store calls as it works (units of work, retries, the SQLite
 * write-lock wait) and the PostgreSQL pool gauges, read at scrape time from the pool itself.
 * Labels are bounded here, whatever a caller passes: unknown reasons and surplus kinds become `other`.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export type StoreEngine = 'sqlite' | 'postgres'

/**
 * What the store reports. Calls are cheap (no allocation on the common path); the store may call
 * them from any unit of work, including the import batches and operator operations.
 *
 * @example
 * const started = performance.now()
 * // … run the unit …
 * observer.unit('postgres', 'identify', (performance.now() - started) / 1000, true)
 */
export interface StoreObserver {
  /** One unit of work finished (a request's transaction, an operator operation, an import batch). */
  unit(engine: 'sqlite' | 'postgres', kind: string, seconds: number, ok: boolean): void
  /** A unit was rerun; reason is one of a bounded set: 'sqlite_busy', 'sqlite_busy_snapshot', 'pg_40001', 'pg_40P01', 'pg_23505', 'pg_stale_read', 'pg_out_of_locks', 'connection_lost', 'other' (and 'blocklist_changed'). */
  retry(engine: 'sqlite' | 'postgres', reason: string): void
  /** SQLite: time a unit waited for another process's write lock. */
  lockWait(seconds: number): void
}

export const RETRY_REASONS = [
  'sqlite_busy',
  'sqlite_busy_snapshot',
  'pg_40001',
  'pg_40P01',
  'pg_23505',
  'pg_stale_read',
  'pg_out_of_locks',
  // The block list changed while a unit ran (SPEC §9): main's store reruns it for that.
  'blocklist_changed',
  'connection_lost',
  'other',
] as const

export type RetryReason = (typeof RETRY_REASONS)[number]

/** For stores that run without metrics (the CLI, tests of the store alone). */
export const silentStoreObserver: StoreObserver = {
  unit() {},
  retry() {},
  lockWait() {},
}

/** A PostgreSQL pool's state at one moment (`pg.Pool`'s totalCount, idleCount, waitingCount). */
export interface PoolStats {
  readonly total: number
  readonly idle: number
  readonly waiting: number
}

/** An SQLite store's commit counters since it opened (`SqliteStore.stats`). */
export interface CommitStats {
  readonly commits: number
  readonly units: number
  readonly largestGroup: number
}

const ENGINES: readonly StoreEngine[] = ['sqlite', 'postgres']

// Kinds come from code, not from clients, but a label set must stay bounded even if a caller builds
// kinds from data by mistake: past this many distinct kinds, the rest are counted as `other`.
const MAX_KINDS = 32
const KIND_PATTERN = /^[a-z][a-z0-9_]{0,39}$/

// Units run from ~50 µs (an SQLite read) to the 15 s lock wait limit.
const UNIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15]
const LOCK_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15]

interface Labels {
  engine: StoreEngine
  kind: string
}

export class StoreMetrics implements StoreObserver {
  readonly #unitDuration: Histogram<'engine' | 'kind'>
  readonly #unitErrors: Counter<'engine' | 'kind'>
  readonly #retries: Counter<'engine' | 'reason'>
  readonly #lockWait: Histogram
  readonly #registry: Registry
  /** engine → kind → the label object, made once per pair so the hot path allocates nothing. */
  readonly #labels = new Map<StoreEngine, Map<string, Labels>>(
    ENGINES.map((engine) => [engine, new Map([['other', { engine, kind: 'other' }]])]),
  )
  #kinds = 0
  #poolSource: (() => PoolStats) | null = null
  #commitSource: (() => CommitStats) | null = null

  constructor(registry: Registry) {
    this.#registry = registry
    this.#unitDuration = new Histogram({
      name: 'store_unit_duration_seconds',
      help: 'Time one unit of work took in the store (transaction, operator operation or import batch), retries included.',
      labelNames: ['engine', 'kind'],
      buckets: UNIT_BUCKETS,
      registers: [registry],
    })
    this.#unitErrors = new Counter({
      name: 'store_unit_errors_total',
      help: 'Units of work that failed after their retries.',
      labelNames: ['engine', 'kind'],
      registers: [registry],
    })
    this.#retries = new Counter({
      name: 'store_retries_total',
      help: 'Units of work rerun because of contention or a lost connection, by reason.',
      labelNames: ['engine', 'reason'],
      registers: [registry],
    })
    this.#lockWait = new Histogram({
      name: 'store_write_lock_wait_seconds',
      help: "SQLite: time a unit waited for another process's write lock.",
      buckets: LOCK_WAIT_BUCKETS,
      registers: [registry],
    })
  }

  unit(engine: StoreEngine, kind: string, seconds: number, ok: boolean): void {
    const labels = this.#labelsFor(engine, kind)
    this.#unitDuration.observe(labels, seconds)
    if (!ok) this.#unitErrors.inc(labels)
  }

  retry(engine: StoreEngine, reason: string): void {
    this.#retries.inc({ engine, reason: (RETRY_REASONS as readonly string[]).includes(reason) ? reason : 'other' })
  }

  lockWait(seconds: number): void {
    this.#lockWait.observe(seconds)
  }

  /**
   * Where the pool gauges read from at each scrape. The gauges exist only once a source is set, so
   * an SQLite service shows no pool.
   *
   * @example
   * metrics.setPoolSource(() => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }))
   */
  setPoolSource(source: () => PoolStats): void {
    const first = this.#poolSource === null
    this.#poolSource = source
    if (!first) return
    const read = () => this.#poolSource?.() ?? { total: 0, idle: 0, waiting: 0 }
    new Gauge({
      name: 'store_pool_connections',
      help: 'PostgreSQL connections of this instance, by state.',
      labelNames: ['state'],
      registers: [this.#registry],
      collect() {
        const { total, idle } = read()
        this.set({ state: 'in_use' }, Math.max(0, total - idle))
        this.set({ state: 'idle' }, idle)
      },
    })
    new Gauge({
      name: 'store_pool_waiting_requests',
      help: 'Units of work waiting for a free PostgreSQL connection.',
      registers: [this.#registry],
      collect() {
        this.set(read().waiting)
      },
    })
  }

  /**
   * Where the SQLite commit counters read from at each scrape (the store's own `stats`): how many
   * transactions committed and how many units they carried, so `units / commits` is the mean group
   * size of the group commit. They exist only once a source is set.
   *
   * @example
   * metrics.setCommitSource(() => store.stats)
   */
  setCommitSource(source: () => CommitStats): void {
    const first = this.#commitSource === null
    this.#commitSource = source
    if (!first) return
    const read = () => this.#commitSource?.() ?? { commits: 0, units: 0, largestGroup: 0 }
    new Counter({
      name: 'store_sqlite_commits_total',
      help: 'SQLite transactions committed by this process (a group commit is one).',
      registers: [this.#registry],
      collect() {
        this.reset()
        this.inc(read().commits)
      },
    })
    new Counter({
      name: 'store_sqlite_committed_units_total',
      help: 'Units of work those transactions committed; divided by store_sqlite_commits_total, the mean group size.',
      registers: [this.#registry],
      collect() {
        this.reset()
        this.inc(read().units)
      },
    })
    new Gauge({
      name: 'store_sqlite_largest_group_units',
      help: 'The most units one SQLite transaction has committed since the process started.',
      registers: [this.#registry],
      collect() {
        this.set(read().largestGroup)
      },
    })
  }

  #labelsFor(engine: StoreEngine, kind: string): Labels {
    const byKind = this.#labels.get(engine) as Map<string, Labels>
    const known = byKind.get(kind)
    if (known !== undefined) return known
    if (!KIND_PATTERN.test(kind) || this.#kinds >= MAX_KINDS) return byKind.get('other') as Labels
    this.#kinds++
    const labels = { engine, kind }
    byKind.set(kind, labels)
    return labels
  }
}
