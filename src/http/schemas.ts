/**
 * JSON schemas shared by the routes: they validate requests, serialise responses (fast-json-stringify)
 * and generate the OpenAPI document, so the three never disagree.
 */

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
  required: ['contact'],
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
