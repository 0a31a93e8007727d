/**
 * What is reported when a request completes: one log line with method, route pattern, status, time,
 * and when they apply the error `code` it was answered with and the identify `outcome`; and, given
 * the app's metrics, its count. No bodies, client addresses, query strings or keys: those can be
 * personal data or secrets.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { UNMATCHED_ROUTE } from '../metrics/http-metrics.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { countRequest } from './metrics-plugin.ts'

export class RequestLog extends LogController {
  readonly #metrics: Metrics | null

  /** @param metrics counted for every completed request (null: log only). */
  constructor(metrics: Metrics | null = null) {
    super()
    this.#metrics = metrics
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // One clock read for both: elapsedTime reads the clock each time it is asked.
    const ms = reply.elapsedTime
    if (this.#metrics !== null) countRequest(this.#metrics, request, reply.statusCode, ms)
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? UNMATCHED_ROUTE,
      statusCode: reply.statusCode,
      ms: Math.round(ms * 100) / 100,
      // undefined drops the field from the line: a success carries no code, a non-identify no outcome.
      code: request.errorCode ?? undefined,
      outcome: request.identifyOutcome ?? undefined,
    }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
