/**
 * Liveness and readiness: `/healthz` says the process answers; `/readyz` says storage answers too.
 */
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/port.ts'
import { commonErrorResponses, errorResponse } from './schemas.ts'

function statusSchema(description: string, status: string) {
  return {
    type: 'object',
    description,
    required: ['status'],
    properties: { status: { type: 'string' } },
    examples: [{ status }],
  } as const
}

export function healthRoutes(app: FastifyInstance, store: Store): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is alive',
        tags: ['operations'],
        response: {
          200: statusSchema('The process is up and answering HTTP.', 'ok'),
          ...commonErrorResponses,
        },
      },
    },
    async () => ({ status: 'ok' }),
  )
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The process can reach its storage',
        tags: ['operations'],
        response: {
          200: statusSchema('The process answers and its database answers a trivial query.', 'ready'),
          503: errorResponse(
            'The database cannot be reached (or the process is shutting down): send no traffic here for now.',
            'ERR_STORAGE_UNAVAILABLE',
            'PostgreSQL at db.internal:5432/identity is unreachable (ECONNREFUSED)',
          ),
          ...commonErrorResponses,
        },
      },
    },
    async () => {
      await store.ping()
      return { status: 'ready' }
    },
  )
}
