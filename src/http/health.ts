/**
 * Liveness and readiness: `/healthz` says the process answers; `/readyz` says storage answers too.
 */
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/port.ts'

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' } },
} as const

export function healthRoutes(app: FastifyInstance, store: Store): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is alive',
        tags: ['operations'],
        response: { 200: statusSchema },
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
        response: { 200: statusSchema, 503: { $ref: 'Error#' } },
      },
    },
    async () => {
      await store.ping()
      return { status: 'ready' }
    },
  )
}
