/**
 * JSON schemas shared by the routes: they validate requests, serialise responses (fast-json-stringify)
 * and generate the OpenAPI document, so the three never disagree. Each response carries its own
 * description and example, which is what the document shows for that status.
 */
import type { ErrorCode } from '../errors.ts'
import { errorBody } from './errors.ts'

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error has this shape; match on `code`, show `message` to a person.',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', example: 400 },
    code: { type: 'string', example: 'ERR_INVALID_INPUT' },
    error: { type: 'string', example: 'Bad Request' },
    message: { type: 'string', example: 'email must contain exactly one "@"' },
  },
} as const

export const identifyBodySchema = {
  type: 'object',
  description: 'At least one of `email` and `phoneNumber` must be present and non-blank.',
  properties: {
    email: {
      type: ['string', 'null'],
      description: 'Trimmed and lower-cased; one "@", at most 254 characters. Blank counts as absent.',
      example: 'mcfly@hillvalley.edu',
    },
    phoneNumber: {
      type: ['string', 'number', 'null'],
      description:
        'Spaces, dashes, dots and parentheses are removed; a leading "+" is kept; at most 20 digits. ' +
        'A JSON number must be a whole number no larger than 2^53 - 1. Blank counts as absent.',
      example: '123456',
    },
  },
} as const

export const identityResponseSchema = {
  type: 'object',
  description:
    'The whole identity the request belongs to, as it stands right after the change the request made (if any); the change is committed.',
  required: ['contact'],
  examples: [
    {
      contact: {
        primaryContatctId: 1,
        emails: ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu'],
        phoneNumbers: ['123456'],
        secondaryContactIds: [23],
      },
    },
  ],
  properties: {
    contact: {
      type: 'object',
      required: ['primaryContatctId', 'emails', 'phoneNumbers', 'secondaryContactIds'],
      properties: {
        primaryContatctId: {
          type: 'integer',
          description: 'The primary contact of the identity (spelt as the original task spells it).',
          example: 1,
        },
        emails: {
          type: 'array',
          items: { type: 'string' },
          description: "The primary's email first, then the others in creation order.",
          example: ['lorraine@hillvalley.edu', 'mcfly@hillvalley.edu'],
        },
        phoneNumbers: {
          type: 'array',
          items: { type: 'string' },
          description: "The primary's phone number first, then the others in creation order.",
          example: ['123456'],
        },
        secondaryContactIds: {
          type: 'array',
          items: { type: 'integer' },
          description: 'Ascending.',
          example: [23],
        },
      },
    },
  },
} as const

/**
 * A documented error response: the shared `Error` schema with its own description and example.
 *
 * @example
 * response: { 400: errorResponse('The body is invalid.', 'ERR_INVALID_INPUT', 'email must contain exactly one "@"') }
 */
export function errorResponse(description: string, code: ErrorCode, message: string) {
  // The media-type form: next to a bare $ref the example would be dropped from the document.
  return {
    description,
    content: { 'application/json': { schema: { $ref: 'Error#' }, example: errorBody(code, message) } },
  }
}

/** The error responses every route can give. */
export const commonErrorResponses = {
  500: errorResponse(
    'A fault of the service itself, never something the client sent; the message names the request id to look up in the log.',
    'ERR_INTERNAL',
    'the service failed; its log has the details under request id 4f0c2a2e-6a1b-4f7e-9a53-1c1b2d3e4f50',
  ),
  default: errorResponse(
    'Any other error, in the same shape: 404 ERR_NOT_FOUND for a path or method not listed here, and what the ' +
      'HTTP layer refuses before a route is reached (400 ERR_MALFORMED_REQUEST, 408, 417, 431; see docs/errors.md).',
    'ERR_NOT_FOUND',
    'there is no route GET /identify',
  ),
} as const
