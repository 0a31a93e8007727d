/**
 * `POST /identify` (SPEC §3): normalise, then run the service's identify unit.
 */
import type { FastifyInstance } from 'fastify'
import { type NormalizeOptions, normalizeIdentifyInput } from '../identity/normalize.ts'
import type { IdentityService } from '../service/service.ts'
import { commonErrorResponses, errorResponse, identifyBodySchema, identityResponseSchema } from './schemas.ts'

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
          400: errorResponse(
            'The body is not a JSON object, is not valid UTF-8 or JSON, or a value in it is invalid (the message says which); nothing was stored.',
            'ERR_INVALID_INPUT',
            'email must contain exactly one "@"',
          ),
          ...(guarded
            ? {
                401: errorResponse(
                  'API_KEYS is set and the request carries none of its keys; nothing was stored.',
                  'ERR_UNAUTHORIZED',
                  'send "Authorization: Bearer <key>" with a key from API_KEYS',
                ),
              }
            : {}),
          413: errorResponse(
            'The body is larger than BODY_LIMIT (64 KiB by default); nothing was stored.',
            'ERR_PAYLOAD_TOO_LARGE',
            'the body is larger than the limit of 65536 bytes',
          ),
          415: errorResponse(
            'The body is not sent as application/json; nothing was stored.',
            'ERR_UNSUPPORTED_MEDIA_TYPE',
            'send the body as JSON with "Content-Type: application/json" (got "text/plain")',
          ),
          503: errorResponse(
            'Storage is unavailable or shutting down; nothing was stored. Retry later; /readyz says when it is back.',
            'ERR_STORAGE_UNAVAILABLE',
            'the database is closed (shutting down)',
          ),
          ...commonErrorResponses,
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
