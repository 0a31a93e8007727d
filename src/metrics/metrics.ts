/**
 * `createMetrics()`: one Prometheus registry per app, holding the HTTP, identify and store metrics,
 * plus the process metrics (memory, CPU, GC, event-loop lag) shared by every registry of the process.
 * Never the global default registry: tests build many apps, and each must count only its own requests.
 */
import { Counter, collectDefaultMetrics, Registry } from 'prom-client'
import { type ErrorCode, errorCodes } from '../errors.ts'
import { IDENTIFY_OUTCOMES, type IdentifyOutcome } from '../identity/outcome.ts'
import { HttpMetrics } from './http-metrics.ts'
import { type CommitStats, type PoolStats, StoreMetrics, type StoreObserver } from './store-metrics.ts'

export interface Metrics {
  readonly registry: Registry
  readonly http: HttpMetrics
  /** Hand this to the store; it reports units of work, retries and lock waits through it. */
  readonly store: StoreObserver
  /**
   * Counts one `/identify` result. A refusal carries its error code (a bounded label: the codes of
   * `src/errors.ts`).
   *
   * @example
   * metrics.identifyOutcome('merge')
   * metrics.identifyOutcome('refused', 'ERR_INVALID_INPUT')
   */
  identifyOutcome(outcome: IdentifyOutcome): void
  identifyOutcome(outcome: 'refused', code: ErrorCode): void
  /** Where the PostgreSQL pool gauges read from at scrape time (see StoreMetrics.setPoolSource). */
  setPoolSource(source: () => PoolStats): void
  /** Where the SQLite commit counters read from at scrape time (see StoreMetrics.setCommitSource). */
  setCommitSource(source: () => CommitStats): void
  /** The Prometheus text exposition of everything above. */
  text(): Promise<string>
  readonly contentType: string
}

let processRegistry: Registry | undefined

/**
 * The default process metrics, collected once per process: prom-client's collectors (a GC observer,
 * an event-loop delay monitor) cannot be stopped, so one set per app would pile up in tests.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/**
 * @example
 * const metrics = createMetrics()
 * const app = await buildApp({ config, store, metrics })
 * console.log(await metrics.text())
 */
export function createMetrics(): Metrics {
  // A new registry that shares the process metrics' objects and owns everything registered below.
  const registry = Registry.merge([processMetrics()])
  const http = new HttpMetrics(registry)
  const store = new StoreMetrics(registry)
  const outcomes = new Counter({
    name: 'identify_outcomes_total',
    help: 'POST /identify results: new_primary, new_secondary, merge, nothing_new, or refused (with the error code).',
    labelNames: ['outcome', 'code'],
    registers: [registry],
  })
  // Label objects made once; outcomes start at 0 so that rate() sees the first one.
  const outcomeLabels = new Map(IDENTIFY_OUTCOMES.map((outcome) => [outcome, { outcome }]))
  for (const labels of outcomeLabels.values()) outcomes.inc(labels, 0)
  const refusedLabels = new Map(
    Object.keys(errorCodes).map((code) => [code, { outcome: 'refused', code }] as const),
  ) as Map<string, { outcome: string; code: string }>

  return {
    registry,
    http,
    store,
    identifyOutcome(outcome: IdentifyOutcome | 'refused', code?: ErrorCode): void {
      const labels =
        outcome === 'refused'
          ? (refusedLabels.get(code as string) ?? refusedLabels.get('ERR_INTERNAL'))
          : outcomeLabels.get(outcome)
      if (labels !== undefined) outcomes.inc(labels)
    },
    setPoolSource: (source) => store.setPoolSource(source),
    setCommitSource: (source) => store.setCommitSource(source),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  }
}
