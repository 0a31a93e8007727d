/**
 * `POST /identify` (SPEC §3): normalise, then let the store apply the rules in one transaction.
 */
import type { FastifyInstance } from 'fastify'
import { type NormalizeOptions, normalizeIdentifyInput } from '../identity/normalize.ts'
import type { ContactStore } from '../store/store.ts'
import { identifyBodySchema, identityResponseSchema } from './schemas.ts'

export function identifyRoutes(app: FastifyInstance, store: ContactStore, options: NormalizeOptions = {}): void {
  app.post(
    '/identify',
    {
      schema: {
        summary: 'Find or create the identity a contact belongs to',
        description:
          'Links every contact that shares an email or a phone number into one identity whose primary ' +
          'is its oldest contact, and answers with the whole identity.',
        tags: ['identity'],
        body: identifyBodySchema,
        response: {
          200: identityResponseSchema,
          400: { $ref: 'Error#' },
          413: { $ref: 'Error#' },
          415: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
    },
    async (request) => {
      const input = normalizeIdentifyInput(request.body, options)
      const contact = await store.identify(input)
      // LEAD (issue 12): pass the service's outcome here; the metrics and the request log read it.
      // request.identifyOutcome = outcome // 'new_primary' | 'new_secondary' | 'merge' | 'nothing_new'
      return { contact }
    },
  )
}
