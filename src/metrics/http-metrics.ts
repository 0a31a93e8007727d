/**
 * HTTP request metrics: a counter by route pattern, method and status, and a latency histogram by
 * route pattern and method. Label sets are bounded (routes are the registered patterns, unmatched
 * paths are `unmatched`, unusual methods are `other`) and the label objects are made once per
 * series, so counting a request hashes two small objects and allocates nothing.
 */
import { Counter, Histogram, type Registry } from 'prom-client'

/** The route label of a request that matched no route (a 404 by path or method). */
export const UNMATCHED_ROUTE = 'unmatched'

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

// The service answers in well under a millisecond; the top buckets catch lock waits and overload.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface Series {
  readonly labels: { route: string; method: string }
  /** status → the counter's label object. */
  readonly byStatus: Map<number, { route: string; method: string; status: string }>
}

export class HttpMetrics {
  readonly #requests: Counter<'route' | 'method' | 'status'>
  readonly #duration: Histogram<'route' | 'method'>
  /** route → method → series. Routes are bounded by the app's routes, methods by METHODS. */
  readonly #series = new Map<string, Map<string, Series>>()

  constructor(registry: Registry) {
    this.#requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    })
    this.#duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its answer, by route pattern and method.',
      labelNames: ['route', 'method'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    })
  }

  /**
   * Counts one answered request. `route` is the matched pattern (`/identities/:contactId`), never a
   * URL; undefined for a request that matched no route.
   *
   * @example
   * http.request(request.routeOptions.url, request.method, reply.statusCode, reply.elapsedTime / 1000)
   */
  request(route: string | undefined, method: string, status: number, seconds: number): void {
    const series = this.#seriesFor(route ?? UNMATCHED_ROUTE, METHODS.has(method) ? method : 'other')
    let labels = series.byStatus.get(status)
    if (labels === undefined) {
      labels = { ...series.labels, status: String(status) }
      series.byStatus.set(status, labels)
    }
    this.#requests.inc(labels)
    this.#duration.observe(series.labels, seconds)
  }

  #seriesFor(route: string, method: string): Series {
    let byMethod = this.#series.get(route)
    if (byMethod === undefined) {
      byMethod = new Map()
      this.#series.set(route, byMethod)
    }
    let series = byMethod.get(method)
    if (series === undefined) {
      series = { labels: { route, method }, byStatus: new Map() }
      byMethod.set(method, series)
    }
    return series
  }
}
