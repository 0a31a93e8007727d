/**
 * `GET /metrics` (Prometheus text format, behind the operator keys unless METRICS_PUBLIC=true) and
 * the hook that counts every answered request: by route pattern, method and status, its latency,
 * and for `POST /identify` its outcome or, when refused, its error code.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { operatorGuard } from './operator-auth.ts'

const IDENTIFY_ROUTE = '/identify'

export interface MetricsPluginOptions {
  readonly config: Config
  readonly metrics: Metrics
}

async function metricsPlugin(app: FastifyInstance, { config, metrics }: MetricsPluginOptions): Promise<void> {
  // onResponse runs after the answer is sent, off the client's critical path; `elapsedTime` is the
  // timer Fastify keeps anyway, so measuring costs no clock read of our own.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url
    metrics.http.request(route, request.method, reply.statusCode, reply.elapsedTime / 1000)
    if (request.identifyOutcome !== null) metrics.identifyOutcome(request.identifyOutcome)
    else if (request.errorCode !== null && route === IDENTIFY_ROUTE && request.method === 'POST') {
      metrics.identifyOutcome('refused', request.errorCode)
    }
    done()
  })

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
