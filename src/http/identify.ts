/**
 * `POST /identify` (SPEC §3): normalise, then let the store apply the rules in one transaction.
 */
import type { FastifyInstance } from 'fastify'
import { type NormalizeOptions, normalizeIdentifyInput } from '../identity/normalize.ts'
import type { ContactStore } from '../store/store.ts'
import { commonErrorResponses, errorResponse, identifyBodySchema, identityResponseSchema } from './schemas.ts'

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
          400: errorResponse(
            'The body is not a JSON object, is not valid UTF-8 or JSON, or a value in it is invalid (the message says which); nothing was stored.',
            'ERR_INVALID_INPUT',
            'email must contain exactly one "@"',
          ),
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
      const input = normalizeIdentifyInput(request.body, options)
      return { contact: await store.identify(input) }
    },
  )
}
