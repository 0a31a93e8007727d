/**
 * Request logging: one line per request, when it completes, with method, route pattern, status,
 * the error code of an error answer, and time. No bodies, client addresses or query strings: those
 * can be personal data.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'
import { sentErrorCode } from './errors.ts'

export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const code = sentErrorCode(reply)
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      statusCode: reply.statusCode,
      ...(code === undefined ? {} : { code }),
      ms: Math.round(reply.elapsedTime * 100) / 100,
    }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
