/**
 * `POST /identify` (SPEC §3): normalise, then run the service's identify unit.
 */
import type { FastifyInstance } from 'fastify'
import { type NormalizeOptions, normalizeIdentifyInput } from '../identity/normalize.ts'
import type { IdentityService } from '../service/service.ts'
import { identifyBodySchema, identityResponseSchema } from './schemas.ts'

export interface IdentifyRouteOptions {
  readonly apiKeys: readonly string[]
  readonly normalize: NormalizeOptions
}

export function identifyRoutes(app: FastifyInstance, service: IdentityService, options: IdentifyRouteOptions): void {
  // API_KEYS is checked by the protection plugin, before the body is read (src/http/protection.ts).
  const guarded = options.apiKeys.length > 0
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
        ...(guarded ? { security: [{ apiKey: [] }] } : {}),
        response: {
          200: identityResponseSchema,
          400: { $ref: 'Error#' },
          ...(guarded ? { 401: { $ref: 'Error#' } } : {}),
          413: { $ref: 'Error#' },
          415: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
    },
    async (request) => {
      const input = normalizeIdentifyInput(request.body, options.normalize)
      const { view, outcome } = await service.identify(input, { requestId: request.id })
      // The metrics and the request log read it (src/http/request-state.ts).
      request.identifyOutcome = outcome
      return { contact: view }
    },
  )
}
