/**
 * `GET /metrics` (Prometheus text format, behind the operator keys unless METRICS_PUBLIC=true) and
 * `countRequest`, which counts every answered request: by route pattern, method and status, its
 * latency, and for `POST /identify` its outcome or, when refused, its error code.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { operatorGuard } from './operator-auth.ts'

const IDENTIFY_ROUTE = '/identify'

export interface MetricsPluginOptions {
  readonly config: Config
  readonly metrics: Metrics
}

/**
 * Counts one answered request. Called by the request log when Fastify reports the request complete
 * (after the answer is sent), so counting needs no onResponse hook of its own: the hook runner alone
 * cost about a microsecond a request.
 *
 * @example
 * countRequest(metrics, request, reply.statusCode, reply.elapsedTime)
 */
export function countRequest(metrics: Metrics, request: FastifyRequest, statusCode: number, ms: number): void {
  const route = request.routeOptions.url
  metrics.http.request(route, request.method, statusCode, ms / 1000)
  if (request.identifyOutcome !== null) metrics.identifyOutcome(request.identifyOutcome)
  else if (request.errorCode !== null && route === IDENTIFY_ROUTE && request.method === 'POST') {
    metrics.identifyOutcome('refused', request.errorCode)
  }
}

async function metricsPlugin(app: FastifyInstance, { config, metrics }: MetricsPluginOptions): Promise<void> {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        description:
          'HTTP, identify, store and process metrics in the Prometheus text format. Needs an ADMIN_API_KEYS ' +
          'bearer key unless METRICS_PUBLIC=true.',
        tags: ['operations'],
        response: { 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } },
      },
      onRequest: config.metricsPublic
        ? []
        : [operatorGuard(config, ', or set METRICS_PUBLIC=true to serve /metrics without a key')],
    },
    async (_request, reply) => {
      void reply.type(metrics.contentType)
      return metrics.text()
    },
  )
}

/**
 * @example
 * await app.register(metricsHttpPlugin, { config, metrics })
 */
export const metricsHttpPlugin = fp(metricsPlugin, {
  name: 'metrics',
  fastify: '5.x',
  dependencies: ['request-state'],
})
