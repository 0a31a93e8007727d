/**
 * Request logging: one line per request, when it completes, with method, route pattern, status,
 * time, and when they apply the error `code` it was answered with and the identify `outcome`. No
 * bodies, client addresses, query strings or keys: those can be personal data or secrets.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { UNMATCHED_ROUTE } from '../metrics/http-metrics.ts'

export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? UNMATCHED_ROUTE,
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      // undefined drops the field from the line: a success carries no code, a non-identify no outcome.
      code: request.errorCode ?? undefined,
      outcome: request.identifyOutcome ?? undefined,
    }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
